"""Fault injection: counted switches that make the next matching events misbehave."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

REST_KINDS = ("rest_5xx", "rate_limit_hourly", "rate_limit_burst")
CONNECT_KINDS = ("connect_drop", "connect_duplicate", "connect_reorder")
_ALL_KEYS = {*REST_KINDS, *CONNECT_KINDS, "slow_ms", "slow_count", "only_path", "only_method"}


@dataclass
class RestFault:
    kind: str  # rest_5xx | rate_limit_hourly | rate_limit_burst | slow
    remaining: int
    only_path: str | None = None
    only_method: str | None = None
    slow_ms: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.only_method and self.only_method.upper() != method.upper():
            return False
        if self.only_path:
            return self.only_path in path
        # Without a filter only the REST API is affected, never OAuth or the sandbox's own pages.
        return path.startswith("/restapi/")


def _count(spec: dict[str, Any], key: str) -> int:
    value = spec.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer")
    return value


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rest: list[RestFault] = []
        self._connect = dict.fromkeys(CONNECT_KINDS, 0)

    def add(self, spec: dict[str, Any]) -> None:
        """Add the switches in `spec` (a POST /sandbox/faults body) to those already armed."""
        unknown = sorted(set(spec) - _ALL_KEYS)
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(unknown)}")
        only_path = spec.get("only_path")
        only_method = spec.get("only_method")
        for name, value in (("only_path", only_path), ("only_method", only_method)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a string")
        new: list[RestFault] = []
        for kind in REST_KINDS:
            if n := _count(spec, kind):
                new.append(RestFault(kind, n, only_path, only_method))
        slow_ms = _count(spec, "slow_ms")
        if slow_ms:
            new.append(RestFault("slow", _count(spec, "slow_count") or 1, only_path, only_method, slow_ms))
        connect = {kind: _count(spec, kind) for kind in CONNECT_KINDS}
        with self._lock:
            self._rest.extend(new)
            for kind, n in connect.items():
                self._connect[kind] += n

    def clear(self) -> None:
        with self._lock:
            self._rest.clear()
            self._connect = dict.fromkeys(CONNECT_KINDS, 0)

    def take_slow(self, method: str, path: str) -> int:
        """Milliseconds to sleep before answering this request (consumes one slow event)."""
        with self._lock:
            for fault in self._rest:
                if fault.kind == "slow" and fault.matches(method, path):
                    fault.remaining -= 1
                    return fault.slow_ms
        return 0

    def take_error(self, method: str, path: str) -> str | None:
        """The error kind to answer this request with, if one is armed (consumes it)."""
        with self._lock:
            for fault in self._rest:
                if fault.kind != "slow" and fault.matches(method, path):
                    fault.remaining -= 1
                    return fault.kind
        return None

    def take_connect(self, kind: str) -> bool:
        with self._lock:
            if self._connect[kind] > 0:
                self._connect[kind] -= 1
                return True
        return False

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rest": [asdict(f) for f in self._rest if f.remaining > 0],
                "connect": dict(self._connect),
            }
