"""Term transitions: when a signed contract becomes `expiring`, `expired` or `renewed`. Pure, like
`planning`: no AWS, no clock (the caller passes `now`).

The moments, all at 00:00 in the contract's zone (its `time_zone`, else the tenant's):
- fixed term: `expiring` on the day the expiry notice window opens, `end - max(expiry_ladder_days)`
  (90 days with the defaults; the term's start if the term is shorter than the window; no
  `expiring` at all when the tenant's expiry ladder is empty), then `expired` the day after
  `end_date` — the contract is in force through its last day;
- auto-renewing: `renewed` the day after `end_date`, into `next_term` (same length, whole months
  kept). An auto-renewing contract is never `expiring`: it does not end, and its renewal notices
  already tell the owner how to stop it. If the CRM turns `auto_renew` off, re-planning switches
  the contract to the fixed-term transitions of the term in force.

Transitions are not messages: business hours and days do not apply, and one already past at `now`
is due at `now` (applied by the next hourly run) instead of being dropped. When `expired` is
already due, `expiring` is left out (the contract goes straight to `expired`).

Keys are stable per term (`{contract_id}:transition:{target}:{term end}`), so re-planning the same
term gives the same keys, and a new term (renewal, a changed end date) gives new ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from .planning import Term, contract_zone, next_term
from .settings import TenantSettings

__all__ = ["PlannedTransition", "TransitionTarget", "contract_term", "plan_transitions", "term_from_json",
           "term_to_json"]

_ONE_DAY = timedelta(days=1)


class TransitionTarget:
    EXPIRING = "expiring"
    EXPIRED = "expired"
    RENEWED = "renewed"


@dataclass(frozen=True)
class PlannedTransition:
    key: str
    target: str  # TransitionTarget.*
    due_at: datetime  # aware, UTC
    local_due: datetime  # the same moment in the contract's zone
    term: Term  # the term it is about
    new_term: Term | None = None  # for `renewed`: the term that starts


def contract_term(contract: Mapping[str, Any], stored: Mapping[str, Any] | None = None) -> Term | None:
    """The term in force: the stored one (after a renewal), else the document's own
    (effective date, else signing date, to end date); None without an end date."""
    if stored:
        return term_from_json(stored)
    end = _date(contract.get("end_date"))
    start = _date(contract.get("effective_date")) or _date(contract.get("signing_date"))
    if end is None or start is None or end < start:
        return None
    return Term(start, end)


def term_to_json(term: Term, renewals: int = 0) -> dict[str, Any]:
    return {"start": term.start.isoformat(), "end": term.end.isoformat(), "renewals": renewals}


def term_from_json(data: Mapping[str, Any]) -> Term:
    return Term(date.fromisoformat(data["start"]), date.fromisoformat(data["end"]))


def plan_transitions(
    contract: Mapping[str, Any],
    contract_id: str,
    settings: TenantSettings,
    *,
    term: Term | None = None,
    now: datetime | None = None,
) -> list[PlannedTransition]:
    """The status changes ahead for `term` (default: the contract's own), sorted by due time."""
    if now is not None and now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    term = term or contract_term(contract)
    if term is None:
        return []
    zone = contract_zone(contract, settings)

    def at(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    def planned(target: str, moment: datetime, new_term: Term | None = None) -> PlannedTransition:
        if now is not None and moment < now:
            moment = now.astimezone(UTC)
        return PlannedTransition(
            key=f"{contract_id}:transition:{target}:{term.end.isoformat()}",
            target=target,
            due_at=moment,
            local_due=moment.astimezone(zone),
            term=term,
            new_term=new_term,
        )

    after_end = at(term.end + _ONE_DAY)
    if contract.get("auto_renew") is True:
        return [planned(TransitionTarget.RENEWED, after_end, next_term(contract, term))]
    out: list[PlannedTransition] = []
    expired_is_due = now is not None and after_end <= now
    if settings.expiry_ladder_days and not expired_is_due:
        window_opens = max(term.end - timedelta(days=max(settings.expiry_ladder_days)), term.start)
        out.append(planned(TransitionTarget.EXPIRING, at(window_opens)))
    out.append(planned(TransitionTarget.EXPIRED, after_end))
    return out


def _date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None
