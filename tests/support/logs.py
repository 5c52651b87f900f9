"""The app's log lines as CloudWatch would get them: each record formatted by the app's own
Powertools formatter when it is emitted (so the correlation keys of that moment are in it), parsed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class LogLines:
    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._stream.getvalue().splitlines() if line.strip()]

    def named(self, message: str) -> list[dict[str, Any]]:
        return [line for line in self.all() if line.get("message") == message]

    def clear(self) -> None:
        self._stream.seek(0)
        self._stream.truncate()


@contextmanager
def captured_logs(level: str = "INFO") -> Iterator[LogLines]:
    from chalicelib.core.observability import logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    before = logger.log_level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield LogLines(stream)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)
