"""Per-account API rate limits as DocuSign applies them: an hourly budget and a short burst window.

DocuSign (developers.docusign.com/platform/resource-limits) gives every account an hourly budget
(3,000 calls by default) and a burst limit (500 per 30 s in production, 200 in the developer
environment), reports both on every REST reply (`X-RateLimit-*`, `X-BurstLimit-*`) and refuses a
call over a limit with HTTP 400 (not 429). Counting follows the sandbox clock, so a test moves the
clock to the next hour instead of waiting for it.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .config import SandboxConfig
from .timeutil import Clock

HOURLY_CODE = "HOURLY_APIINVOCATION_LIMIT_EXCEEDED"
HOURLY_MESSAGE = "The maximum number of hourly API invocations has been exceeded."
# Not in our DocuSign sources (they name only the per-envelope Burst_APIInvocation_Envelope_Limit_Exceeded):
# the account-level code follows the hourly one's pattern, which is what clients (ours too) look for.
BURST_CODE = "BURST_APIINVOCATION_LIMIT_EXCEEDED"
BURST_MESSAGE = "The maximum number of burst API invocations has been exceeded."

_SPEC_KEYS = {"hourly", "burst", "burst_window_seconds", "hour_seconds"}


@dataclass(frozen=True)
class LimitSettings:
    hourly: int | None  # calls per clock hour; None: not enforced (headers still show `shown_hourly`)
    burst: int | None  # calls per burst window; None: not enforced
    burst_window_seconds: float
    shown_hourly: int
    shown_burst: int
    # The length of DocuSign's "hour": 3600, aligned on the clock's hours. Tests shrink it (e.g. 8 s)
    # so that a spent budget resets within seconds of real time, without moving the clock.
    hour_seconds: float = 3600.0

    @property
    def hourly_limit(self) -> int:
        return self.hourly if self.hourly is not None else self.shown_hourly

    @property
    def burst_limit(self) -> int:
        return self.burst if self.burst is not None else self.shown_burst


@dataclass
class _Usage:
    hour_start: datetime
    hour_count: int = 0
    burst: deque[float] = field(default_factory=deque)  # sandbox-clock epoch seconds of counted calls
    total: int = 0  # counted calls since the limits were set (benchmarks: calls per contract)
    refused: int = 0  # calls refused over a limit since then
    windows: set[str] = field(default_factory=set)  # the hours (starts) in which a call was counted


@dataclass(frozen=True)
class Verdict:
    headers: dict[str, str]
    refusal: tuple[str, str] | None  # (errorCode, message) when the call is over a limit


def _limit_value(spec: dict[str, Any], key: str) -> int | None:
    value = spec[key]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer or null")
    return value


def _window(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise ValueError("burst_window_seconds must be a number of seconds, more than 0 and at most 3600")
    return float(value)


def _hour_start(when: datetime, hour_seconds: float = 3600.0) -> datetime:
    if hour_seconds == 3600.0:
        return when.replace(minute=0, second=0, microsecond=0)
    stamp = when.timestamp()
    return datetime.fromtimestamp(stamp - stamp % hour_seconds, when.tzinfo)


def _hour_length(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 3600:
        raise ValueError("hour_seconds must be a number of seconds from 1 to 3600")
    return float(value)


class RateLimiter:
    """Counts every authenticated REST call per account; refuses over an enforced limit."""

    def __init__(self, config: SandboxConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._usage: dict[str, _Usage] = {}
        self._settings = self._defaults()

    def _defaults(self) -> LimitSettings:
        c = self._config
        # Checked like a POST body, so a bad config file fails at start, not on the first call.
        spec = {"hourly": c.enforced_hourly_limit, "burst": c.enforced_burst_limit}
        return LimitSettings(
            _limit_value(spec, "hourly"),
            _limit_value(spec, "burst"),
            _window(c.burst_window_seconds),
            c.hourly_rate_limit,
            c.burst_rate_limit,
        )

    # -- control -------------------------------------------------------------------------------

    @property
    def settings(self) -> LimitSettings:
        with self._lock:
            return self._settings

    def configure(self, spec: dict[str, Any]) -> None:
        """Apply a POST /sandbox/limits body: an int enforces, null lifts, an absent key keeps.

        Counting starts afresh, so a test sees Remaining = limit - 1 after its first call.
        """
        unknown = sorted(set(spec) - _SPEC_KEYS)
        if unknown:
            raise ValueError(f"unknown limit keys: {', '.join(unknown)}")
        with self._lock:
            current = self._settings
        hourly = _limit_value(spec, "hourly") if "hourly" in spec else current.hourly
        burst = _limit_value(spec, "burst") if "burst" in spec else current.burst
        window = _window(spec.get("burst_window_seconds", current.burst_window_seconds))
        hour = _hour_length(spec.get("hour_seconds", current.hour_seconds))
        with self._lock:
            self._settings = LimitSettings(hourly, burst, window, current.shown_hourly, current.shown_burst, hour)
            self._usage.clear()

    def lift(self) -> None:
        """DELETE /sandbox/limits: nothing enforced, counts cleared (headers keep the config's values)."""
        with self._lock:
            s = self._settings
            self._settings = LimitSettings(None, None, s.burst_window_seconds, s.shown_hourly, s.shown_burst)  # an hour
            self._usage.clear()

    def reset(self) -> None:
        """POST /sandbox/reset: back to the config's limits, counts cleared."""
        with self._lock:
            self._settings = self._defaults()
            self._usage.clear()

    # -- per request ---------------------------------------------------------------------------

    def _current(self, account: str, now: datetime) -> _Usage:
        """The account's usage, its hour rolled over and its burst window trimmed to `now`."""
        usage = self._usage.get(account)
        start = _hour_start(now, self._settings.hour_seconds)
        if usage is None:
            usage = self._usage[account] = _Usage(start)
        if usage.hour_start != start:  # a new clock hour (also when the clock was moved back)
            usage.hour_start, usage.hour_count = start, 0
        stamp = now.timestamp()
        floor = stamp - self._settings.burst_window_seconds
        # Calls "in the future" (the clock was moved back) no longer count either.
        usage.burst = deque(t for t in usage.burst if floor < t <= stamp)
        return usage

    def _headers(self, usage: _Usage) -> dict[str, str]:
        s = self._settings
        return {
            "X-RateLimit-Limit": str(s.hourly_limit),
            "X-RateLimit-Remaining": str(max(0, s.hourly_limit - usage.hour_count)),
            "X-RateLimit-Reset": str(math.ceil((usage.hour_start + timedelta(seconds=s.hour_seconds)).timestamp())),
            "X-BurstLimit-Limit": str(s.burst_limit),
            "X-BurstLimit-Remaining": str(max(0, s.burst_limit - len(usage.burst))),
        }

    def admit(self, account: str) -> Verdict:
        """Count one call, or refuse it over a limit (a refused call is not counted: it did nothing)."""
        now = self._clock.now()
        with self._lock:
            usage = self._current(account, now)
            s = self._settings
            if s.hourly is not None and usage.hour_count >= s.hourly:
                usage.refused += 1
                return Verdict(self._headers(usage), (HOURLY_CODE, HOURLY_MESSAGE))
            if s.burst is not None and len(usage.burst) >= s.burst:
                usage.refused += 1
                return Verdict(self._headers(usage), (BURST_CODE, BURST_MESSAGE))
            usage.hour_count += 1
            usage.total += 1
            usage.windows.add(usage.hour_start.isoformat())
            usage.burst.append(now.timestamp())
            return Verdict(self._headers(usage), None)

    def peek(self, account: str) -> dict[str, str]:
        """The headers for a reply that was not counted (refused before it reached the account)."""
        now = self._clock.now()
        with self._lock:
            return self._headers(self._current(account, now))

    def snapshot(self) -> dict[str, Any]:
        now = self._clock.now()
        with self._lock:
            s = self._settings
            accounts = {}
            for account in list(self._usage):
                usage = self._current(account, now)
                accounts[account] = {
                    "hour_start": usage.hour_start.isoformat(),
                    "hour_count": usage.hour_count,
                    "total": usage.total,
                    "refused": usage.refused,
                    "windows": len(usage.windows),
                    "first_window": min(usage.windows, default=None),
                    "last_window": max(usage.windows, default=None),
                    "burst_count": len(usage.burst),
                    "headers": self._headers(usage),
                }
            return {
                "hourly": s.hourly,
                "burst": s.burst,
                "burst_window_seconds": s.burst_window_seconds,
                "hour_seconds": s.hour_seconds,
                "shown_hourly": s.shown_hourly,
                "shown_burst": s.shown_burst,
                "accounts": accounts,
            }
