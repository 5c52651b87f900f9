"""Connect delivery: JSON SIM messages POSTed by a background thread, HMAC-signed, retried."""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .config import SandboxConfig
from .faults import Faults

log = logging.getLogger(__name__)


@dataclass
class ConnectMessage:
    url: str
    envelope_id: str
    event: str
    payload: dict[str, Any]  # the full message; retryCount is rewritten on every attempt
    account_id: str
    include_hmac: bool
    require_ack: bool
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    attempt: int = 0
    duplicate: bool = False

    def body(self) -> bytes:
        payload = dict(self.payload)
        payload["retryCount"] = self.attempt
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def sign_body(key: str, body: bytes) -> str:
    """base64(HMAC-SHA256(key, raw body)), exactly what DocuSign puts in X-DocuSign-Signature-N."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST without following redirects: any non-2xx, a 3xx included, counts as a failure."""
    parts = urlsplit(url)
    conn_cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_cls(parts.hostname or "localhost", parts.port, timeout=timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class ConnectDispatcher:
    """One worker thread, a time-ordered queue; a failing listener does not block other messages."""

    def __init__(self, config: SandboxConfig, faults: Faults, hmac_keys: Callable[[], list[str]]) -> None:
        self._config = config
        self._faults = faults
        self._hmac_keys = hmac_keys
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int, ConnectMessage]] = []
        self._seq = itertools.count()
        self._held: tuple[float, ConnectMessage] | None = None
        self._in_flight = 0
        self._log: deque[dict[str, Any]] = deque(maxlen=config.connect_log_limit)
        self._stopped = False
        self._generation = 0  # bumped by reset() so an in-flight delivery is not re-queued
        self._thread = threading.Thread(target=self._run, name="sandbox-connect", daemon=True)
        self._thread.start()

    # -- producer side -------------------------------------------------------------------------

    def enqueue(self, message: ConnectMessage) -> None:
        if self._faults.take_connect("connect_drop"):
            self._record(message, "dropped", None, "connect_drop fault")
            return
        copies = [message]
        if self._faults.take_connect("connect_duplicate"):
            twin = ConnectMessage(**{**message.__dict__, "message_id": uuid.uuid4().hex, "duplicate": True})
            copies.append(twin)
        with self._cond:
            if self._held is None and self._faults.take_connect("connect_reorder"):
                self._held = (time.monotonic() + self._config.connect_reorder_hold_seconds, copies[0])
                self._record(copies[0], "held", None, "connect_reorder fault")
                copies = copies[1:]
                for copy in copies:
                    self._push(copy, 0.0)
            else:
                for copy in copies:
                    self._push(copy, 0.0)
                self._release_held()
            self._cond.notify_all()

    def skip(self, message: ConnectMessage, reason: str) -> None:
        self._record(message, "skipped", None, reason)

    def _push(self, message: ConnectMessage, delay: float) -> None:
        heapq.heappush(self._queue, (time.monotonic() + delay, next(self._seq), message))

    def _release_held(self) -> None:
        # Queued after whatever was just pushed, so it arrives after the message that followed it.
        if self._held is not None:
            self._push(self._held[1], 0.0)
            self._held = None

    # -- inspection ----------------------------------------------------------------------------

    def entries(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._log)

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._in_flight + (1 if self._held else 0)

    def reset(self) -> None:
        with self._cond:
            self._queue.clear()
            self._held = None
            self._log.clear()
            self._generation += 1
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)

    # -- worker --------------------------------------------------------------------------------

    def _record(self, message: ConnectMessage, outcome: str, status: int | None, error: str | None) -> None:
        entry = {
            "message_id": message.message_id,
            "envelope_id": message.envelope_id,
            "event": message.event,
            "url": message.url,
            "attempt": message.attempt + 1,
            "retry_count": message.attempt,
            "outcome": outcome,
            "http_status": status,
            "error": error,
            "duplicate": message.duplicate,
            "generated": message.payload.get("generatedDateTime"),
            "at": datetime.now(UTC).isoformat(),
        }
        if outcome == "dropped":  # what was lost, so a test can deliver it late (as a DocuSign retry would)
            entry["payload"] = message.payload
        with self._cond:
            self._log.append(entry)

    def _next_due(self) -> tuple[ConnectMessage, int] | None:
        """Block until a message is due; None when stopping."""
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                if self._held is not None and self._held[0] <= now:
                    self._release_held()
                if self._queue and self._queue[0][0] <= now:
                    _, _, message = heapq.heappop(self._queue)
                    self._in_flight += 1
                    return message, self._generation
                deadlines = [self._queue[0][0]] if self._queue else []
                if self._held is not None:
                    deadlines.append(self._held[0])
                self._cond.wait(timeout=max(0.0, min(deadlines) - now) if deadlines else None)
        return None

    def _run(self) -> None:
        while (item := self._next_due()) is not None:
            message, generation = item
            try:
                self._deliver(message, generation)
            except Exception:  # the worker must survive anything a listener does
                log.exception("connect delivery crashed")
            finally:
                with self._cond:
                    self._in_flight -= 1

    def _deliver(self, message: ConnectMessage, generation: int) -> None:
        body = message.body()
        headers = {
            "Content-Type": "application/json",
            "X-DocuSign-AccountId": message.account_id,
            "User-Agent": "DocuSign Connect sandbox",
        }
        if message.include_hmac:
            keys = self._hmac_keys()
            if keys:
                headers["X-Authorization-Digest"] = "HMACSHA256"
            for n, key in enumerate(keys, start=1):
                headers[f"X-DocuSign-Signature-{n}"] = sign_body(key, body)
        status: int | None = None
        error: str | None = None
        try:
            status = _post(message.url, body, headers, self._config.connect_timeout_seconds)
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        if status is not None and 200 <= status < 300:
            self._record(message, "delivered", status, None)
            return
        attempts_done = message.attempt + 1
        retry = message.require_ack and attempts_done < self._config.connect_max_attempts
        if not retry:
            reason = "no requireAcknowledgment: not retried" if not message.require_ack else "gave up"
            self._record(message, "gave_up" if message.require_ack else "failed", status, error or reason)
            return
        self._record(message, "failed", status, error)
        delay = min(
            self._config.connect_retry_initial_seconds * self._config.connect_retry_factor**message.attempt,
            self._config.connect_retry_max_seconds,
        )
        message.attempt += 1
        with self._cond:
            if generation == self._generation and not self._stopped:
                self._push(message, delay)
                self._cond.notify_all()
