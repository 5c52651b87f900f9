"""The DocuSign rate governor: one budget per DocuSign account, shared by every Lambda container
through the keys table.

DocuSign gives an account an hourly budget of API calls (3,000 by default) and a burst budget
(500 per 30 s in production, 200 in the developer environment), reports both on every REST answer
(`X-RateLimit-Limit/-Remaining/-Reset`, `X-BurstLimit-Limit/-Remaining`) and, once one is spent,
answers 400 `HOURLY_APIINVOCATION_LIMIT_EXCEEDED` (or a burst code) until it resets. The governor
keeps the newest reading per account (`ratebudget#{account_id}`; a write only replaces an older
reading) and, before a call, refuses it with `RateLimited` when the reading says the budget is spent
(a few calls are kept back for containers already mid-call): the job runner then re-enqueues the job
to run after the reset, without counting an attempt, so a busy hour delays work and never fails it.
A 400 rate-limit answer is the same refusal (another container spent the last call).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import count, logger
from chalicelib.store import keys
from chalicelib.store.contention import StoreError

BURST_WINDOW_SECONDS = 30.0  # DocuSign's burst window
UNKNOWN_RESET_SECONDS = 60.0  # a 400 without a Reset header: look again in a minute


def _reserve(name: str, default: int) -> int:
    try:
        return max(0, int(os.environ.get(name, str(default))))
    except ValueError:
        return default


def hourly_reserve() -> int:
    """Calls kept back from the hourly budget: containers that already passed the check may still
    spend them. SIGNBRIDGE_DOCUSIGN_HOURLY_RESERVE."""
    return _reserve("SIGNBRIDGE_DOCUSIGN_HOURLY_RESERVE", 10)


def burst_reserve() -> int:
    return _reserve("SIGNBRIDGE_DOCUSIGN_BURST_RESERVE", 5)


def burst_window_seconds() -> float:
    """DocuSign's burst window (30 s); SIGNBRIDGE_DOCUSIGN_BURST_WINDOW_SECONDS for a sandbox with a
    shorter one."""
    return float(max(1, _reserve("SIGNBRIDGE_DOCUSIGN_BURST_WINDOW_SECONDS", int(BURST_WINDOW_SECONDS))))


class RateLimited(RetryableError):
    """DocuSign's budget for this account is spent until `retry_after` seconds from now: run the
    work again then (it is not a failure and counts no attempt)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1.0, retry_after)


@dataclass(frozen=True)
class Budget:
    observed_at: float  # epoch seconds, our clock, when DocuSign reported it
    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None  # epoch seconds: when the hourly budget is whole again
    burst_limit: int | None = None
    burst_remaining: int | None = None

    def wait(self, now: float) -> tuple[float, str] | None:
        """How long a call must wait, and why; None when it may go now."""
        if self.remaining is not None and self.remaining <= hourly_reserve():
            reset = self.reset_at if self.reset_at is not None else self.observed_at + UNKNOWN_RESET_SECONDS
            if now < reset:
                return reset - now, f"hourly budget spent ({self.remaining} of {self.limit} left)"
        if self.burst_remaining is not None and self.burst_remaining <= burst_reserve():
            window_end = self.observed_at + burst_window_seconds()
            if now < window_end:
                return window_end - now, f"burst budget spent ({self.burst_remaining} of {self.burst_limit} left)"
        return None


def _key(account_id: str) -> str:
    return f"ratebudget#{account_id}"


def _clock() -> float:
    return time.time()


def current(account_id: str) -> Budget | None:
    item = keys.find_key(_key(account_id), consistent=True)
    if item is None or not isinstance(item.detail, Mapping):
        return None
    try:
        return Budget(**{k: v for k, v in item.detail.items() if k in Budget.__dataclass_fields__})
    except TypeError:
        return None


def check(account_id: str) -> None:
    """Raises RateLimited when the account's budget is spent; a call may go otherwise (also when
    the store cannot say: DocuSign's own refusal is the backstop)."""
    try:
        budget = current(account_id)
    except StoreError as err:
        logger.warning("DocuSign budget unreadable; calling anyway", extra={"error": str(err)[:200]})
        return
    waiting = budget.wait(_clock()) if budget is not None else None
    if waiting is not None:
        seconds, why = waiting
        count("DocuSignRateLimited", reason="governor")
        raise RateLimited(f"DocuSign {why}; retry in {seconds:.0f} s", seconds)


def observe(account_id: str, headers: Any, *, spent: bool = False) -> Budget | None:
    """Records what DocuSign reported with an answer (`spent`: it refused the call for its budget)."""
    now = _clock()
    budget = reading(headers, now)
    if spent:
        budget = Budget(now, budget.limit if budget else None, 0,
                        budget.reset_at if budget and budget.reset_at else now + UNKNOWN_RESET_SECONDS,
                        budget.burst_limit if budget else None, budget.burst_remaining if budget else None)
    if budget is None:
        return None
    expires = datetime.fromtimestamp((budget.reset_at or now) + 3600, UTC)
    try:
        keys.put_key_if_newer(_key(account_id), created_at=datetime.fromtimestamp(now, UTC),
                              detail=asdict(budget), expires_at=expires)
    except StoreError as err:  # pacing is best effort; the call itself has happened
        logger.warning("DocuSign budget not recorded", extra={"error": str(err)[:200]})
    if budget.remaining is not None and budget.limit and budget.remaining <= budget.limit // 10:
        logger.warning("DocuSign budget low", extra={"account_id": account_id, "remaining": budget.remaining,
                                                     "limit": budget.limit})
    return budget


def reading(headers: Any, now: float) -> Budget | None:
    """The budget in DocuSign's headers, None when they carry none."""
    def number(name: str) -> int | None:
        value = _header(headers, name)
        try:
            return int(str(value).strip()) if value is not None else None
        except ValueError:
            return None

    limit, remaining, reset = number("X-RateLimit-Limit"), number("X-RateLimit-Remaining"), number("X-RateLimit-Reset")
    burst_limit, burst_remaining = number("X-BurstLimit-Limit"), number("X-BurstLimit-Remaining")
    if remaining is None and burst_remaining is None:
        return None
    return Budget(now, limit, remaining, float(reset) if reset is not None else None, burst_limit, burst_remaining)


def _header(headers: Any, name: str) -> Any:
    if headers is None:
        return None
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter(name)
    if value is None:
        value = getter(name.lower())
    return value


def retry_after(headers: Any) -> float:
    """Seconds until DocuSign's hourly budget resets, from a refusal's headers."""
    budget = reading(headers, _clock())
    if budget is not None and budget.reset_at is not None:
        return max(1.0, budget.reset_at - _clock())
    return UNKNOWN_RESET_SECONDS



