"""How long one invocation of the reminder run may keep starting work: the Lambda's remaining time
minus a safety margin, so that the item in hand (claim, SES with botocore's retries, mark sent)
finishes before Lambda's timeout, and what was not reached is handed on instead of being killed.

Settings (read when an invocation starts):
- SIGNBRIDGE_REMINDER_SAFETY_MARGIN_SECONDS (default 20): what one item can take in the worst
  ordinary case (three SES attempts with botocore's backoff, a few DynamoDB writes);
- SIGNBRIDGE_REMINDER_BUDGET_SECONDS (unset by default): a cap on the budget, for tests and for
  trying the hand-over locally; 0 means "spent from the start" (one item per invocation).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

DEFAULT_SAFETY_MARGIN_SECONDS = 20.0
# Without a Lambda context (a script, a test calling the function directly): the configured timeout.
DEFAULT_REMAINING_SECONDS = 60.0


@dataclass(frozen=True)
class Budget:
    deadline: float  # time.monotonic() after which no new item is started

    @classmethod
    def seconds(cls, seconds: float) -> Budget:
        return cls(time.monotonic() + max(0.0, seconds))

    @classmethod
    def for_invocation(cls, context: Any = None) -> Budget:
        """From the Lambda context's get_remaining_time_in_millis() when there is one."""
        remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        remaining = remaining_ms() / 1000 if callable(remaining_ms) else DEFAULT_REMAINING_SECONDS
        usable = remaining - _float_env("SIGNBRIDGE_REMINDER_SAFETY_MARGIN_SECONDS", DEFAULT_SAFETY_MARGIN_SECONDS)
        cap = os.environ.get("SIGNBRIDGE_REMINDER_BUDGET_SECONDS", "").strip()
        if cap:
            usable = min(usable, float(cap))
        return cls.seconds(usable)

    def spent(self) -> bool:
        return time.monotonic() >= self.deadline

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


def _float_env(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default
