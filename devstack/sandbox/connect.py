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
from .timeutil import Clock

log = logging.getLogger(__name__)

# The longest single wait: a retry due in days is re-checked now and then (a clock change wakes
# the worker anyway).
_MAX_WAIT_SECONDS = 60.0


def _realistic_schedule() -> tuple[float, ...]:
    """DocuSign-like SIM retries (approximate, third-party account): about 15 s first, growing
    exponentially, for up to about 45 attempts or 7 days. Here: 15 s doubling, each wait at most
    6 h, stopped before the retries would pass 7 days."""
    delays: list[float] = []
    delay, total = 15.0, 0.0
    while len(delays) < 44 and total + delay <= 7 * 86400:
        delays.append(delay)
        total += delay
        delay = min(delay * 2, 6 * 3600.0)
    return tuple(delays)


REALISTIC_SCHEDULE = _realistic_schedule()
PRESETS: dict[str, tuple[float, ...] | None] = {"fast": None, "realistic": REALISTIC_SCHEDULE}


def parse_schedule(value: Any) -> tuple[float, ...] | None:
    """A preset name ("fast", "realistic") or a list of delays in seconds; None means "fast"."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in PRESETS:
            raise ValueError(f"unknown Connect retry preset {value!r}; expected one of {', '.join(PRESETS)}")
        return PRESETS[value]
    if not isinstance(value, list | tuple) or len(value) > 1000:
        raise ValueError("schedule_seconds must be a list of at most 1000 numbers")
    delays = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float) or not 0 <= item <= 30 * 86400:
            raise ValueError("every retry delay must be a number of seconds between 0 and 30 days")
        delays.append(float(item))
    return tuple(delays)


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

    def __init__(
        self, config: SandboxConfig, faults: Faults, hmac_keys: Callable[[str], list[str]], clock: Clock
    ) -> None:
        self._config = config
        self._faults = faults
        self._hmac_keys = hmac_keys
        self._clock = clock
        self._cond = threading.Condition()
        # Due in real time (time.monotonic): first deliveries and the quick default retries.
        self._queue: list[tuple[float, int, ConnectMessage]] = []
        # Due on the sandbox clock (epoch seconds): retries of a configured schedule, so a test or
        # a demo moves the clock instead of waiting hours.
        self._clock_queue: list[tuple[float, int, ConnectMessage]] = []
        self._schedule = parse_schedule(config.connect_retry_schedule_seconds)
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

    def _push_on_clock(self, message: ConnectMessage, delay: float) -> None:
        heapq.heappush(self._clock_queue, (self._clock.now().timestamp() + delay, next(self._seq), message))

    def _release_held(self) -> None:
        # Queued after whatever was just pushed, so it arrives after the message that followed it.
        if self._held is not None:
            self._push(self._held[1], 0.0)
            self._held = None

    # -- retry schedule ------------------------------------------------------------------------

    @property
    def schedule(self) -> tuple[float, ...] | None:
        with self._cond:
            return self._schedule

    def set_schedule(self, schedule: tuple[float, ...] | None) -> None:
        """Applies to failures from now on; retries already queued keep their due time."""
        with self._cond:
            self._schedule = schedule

    def wake(self) -> None:
        """The sandbox clock moved: retries due on it may be due now (or later than thought)."""
        with self._cond:
            self._cond.notify_all()

    # -- inspection ----------------------------------------------------------------------------

    def entries(self) -> list[dict[str, Any]]:
        with self._cond:
            return list(self._log)

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._clock_queue) + self._in_flight + (1 if self._held else 0)

    def queued(self) -> list[dict[str, Any]]:
        """Messages waiting, soonest first, each with its due time on the sandbox clock."""
        with self._cond:
            mono, clock = time.monotonic(), self._clock.now().timestamp()
            waiting = [(clock + due - mono, "real-time", m) for due, _, m in self._queue]
            waiting += [(due, "sandbox-clock", m) for due, _, m in self._clock_queue]
            if self._held is not None:
                waiting.append((clock + self._held[0] - mono, "held", self._held[1]))
        waiting.sort(key=lambda item: item[0])
        return [
            {
                "message_id": m.message_id,
                "envelope_id": m.envelope_id,
                "event": m.event,
                "attempt": m.attempt + 1,
                "retry_count": m.attempt,
                "due": datetime.fromtimestamp(due, UTC).isoformat(),
                "timing": timing,
            }
            for due, timing, m in waiting
        ]

    def reset(self) -> None:
        with self._cond:
            self._queue.clear()
            self._clock_queue.clear()
            self._held = None
            self._log.clear()
            self._schedule = parse_schedule(self._config.connect_retry_schedule_seconds)
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
            "sandbox_at": self._clock.now().isoformat(),  # what a retry schedule is measured on
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
                clock = self._clock.now().timestamp()
                if self._held is not None and self._held[0] <= now:
                    self._release_held()
                # Seconds each queue's head is overdue (negative: not yet); the more overdue goes first.
                late: list[tuple[float, int, list[tuple[float, int, ConnectMessage]]]] = []
                if self._queue:
                    late.append((now - self._queue[0][0], -self._queue[0][1], self._queue))
                if self._clock_queue:
                    late.append((clock - self._clock_queue[0][0], -self._clock_queue[0][1], self._clock_queue))
                if self._held is not None:
                    late.append((now - self._held[0], 0, []))
                ready = [item for item in late if item[0] >= 0 and item[2]]
                if ready:
                    _, _, queue = max(ready, key=lambda item: (item[0], item[1]))
                    _, _, message = heapq.heappop(queue)
                    self._in_flight += 1
                    return message, self._generation
                wait = min((-item[0] for item in late), default=None)
                self._cond.wait(timeout=None if wait is None else min(max(0.0, wait), _MAX_WAIT_SECONDS))
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
            keys = self._hmac_keys(message.account_id)  # the sending account's keys
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
        with self._cond:
            schedule = self._schedule
        if schedule is None:
            retry = message.attempt + 1 < self._config.connect_max_attempts
        else:
            retry = message.attempt < len(schedule)
        if not (message.require_ack and retry):
            reason = "no requireAcknowledgment: not retried" if not message.require_ack else "gave up"
            self._record(message, "gave_up" if message.require_ack else "failed", status, error or reason)
            return
        self._record(message, "failed", status, error)
        if schedule is None:
            delay = min(
                self._config.connect_retry_initial_seconds * self._config.connect_retry_factor**message.attempt,
                self._config.connect_retry_max_seconds,
            )
        else:
            delay = schedule[message.attempt]
        message.attempt += 1
        with self._cond:
            if generation == self._generation and not self._stopped:
                if schedule is None:
                    self._push(message, delay)
                else:
                    self._push_on_clock(message, delay)
                self._cond.notify_all()
