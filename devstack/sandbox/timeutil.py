"""The sandbox clock (real time plus a settable offset) and DocuSign date formats."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

_FRACTION = re.compile(r"(\.\d{1,6})\d*")


class Clock:
    """Wall clock shifted by an offset, so tests and the local stack can travel in time."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def set_now(self, when: datetime) -> None:
        with self._lock:
            self._offset = when - datetime.now(UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta(0)

    @property
    def offset_seconds(self) -> float:
        with self._lock:
            return self._offset.total_seconds()


def ds_format(when: datetime) -> str:
    """DocuSign REST style: seven fractional digits and a Z, e.g. 2024-05-01T10:00:00.1234560Z."""
    when = when.astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond:06d}0Z"


def ms_format(when: datetime) -> str:
    """Connect's generatedDateTime style: milliseconds and a Z."""
    when = when.astimezone(UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"


def parse_datetime(value: str) -> datetime:
    """Parse the date forms clients send (ISO with Z/offset/7 digits, a bare date, MM/DD/YYYY).

    Naive values are taken as UTC, as DocuSign does for query parameters.
    """
    text = value.strip()
    if not text:
        raise ValueError("empty date")
    if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", text):
        parsed = datetime.strptime(text, "%m/%d/%Y")
    else:
        text = _FRACTION.sub(lambda m: m.group(1), text, count=1)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
