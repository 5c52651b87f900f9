"""Per-tenant DocuSign signing settings: the envelope's reminders and expiry (its `notification`).

Stored in the tenant's settings under "signing":

    {"signing": {"reminders_enabled": true, "reminder_delay_days": 2, "reminder_frequency_days": 2,
                 "expire_after_days": 30, "expire_warn_days": 5}}

Every key is optional. A value DocuSign would refuse (or that makes no sense, like a warning after
the expiry) is logged and replaced by the default, so a typo in one tenant's settings never blocks
its contracts. Pure: no AWS, no SDK (`for_tenant` reads the registry lazily).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from chalicelib.core.observability import logger
from chalicelib.store.registry import get_tenant

MAX_DAYS = 999  # DocuSign's upper bound for expireAfter, reminderDelay and reminderFrequency


@dataclass(frozen=True)
class SigningSettings:
    reminders_enabled: bool = True
    reminder_delay_days: int = 2  # days after sending before the first reminder
    reminder_frequency_days: int = 2  # days between reminders
    expire_after_days: int = 30  # the envelope (and so every signing link) lives this long
    expire_warn_days: int = 5  # warning email this many days before expiry (0: none)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None, *, tenant_id: str = "") -> SigningSettings:
        defaults = cls()
        if not isinstance(raw, Mapping):
            return defaults
        values: dict[str, Any] = {}
        problems: list[str] = []
        for f in fields(cls):
            if f.name not in raw:
                continue
            value = raw[f.name]
            if f.name == "reminders_enabled":
                if isinstance(value, bool):
                    values[f.name] = value
                else:
                    problems.append(f"{f.name}: not a boolean: {value!r}")
                continue
            minimum = 1 if f.name == "expire_after_days" else 0
            if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_DAYS:
                problems.append(f"{f.name}: must be a whole number from {minimum} to {MAX_DAYS}, got {value!r}")
                continue
            values[f.name] = value
        expire_after = values.get("expire_after_days", defaults.expire_after_days)
        warn = values.get("expire_warn_days", defaults.expire_warn_days)
        if warn >= expire_after:
            problems.append(f"expire_warn_days: must be less than expire_after_days ({expire_after}), got {warn}")
            values["expire_warn_days"] = min(defaults.expire_warn_days, expire_after - 1)
        if problems:
            logger.warning("invalid signing settings; defaults used for those keys",
                           extra={"tenant_id": tenant_id, "problems": problems})
        return cls(**values)


def for_tenant(tenant_id: str) -> SigningSettings:
    return SigningSettings.from_dict(get_tenant(tenant_id).settings.get("signing"), tenant_id=tenant_id)
