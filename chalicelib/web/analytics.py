"""`GET /v1/analytics/summary?from=&to=`: one tenant's contracts created in [from, to] (UTC dates,
both included; default the last 90 days), summarised.

- counts by status and by type;
- contract value by currency (all contracts in range, and those signed), Decimal strings;
- time to sign in hours: from the first `envelope_sent` event to the first `envelope_completed`
  (median, and p90 by the nearest-rank method), over the contracts that were signed;
- reminders sent: `reminder_sent` events in those contracts' timelines (whenever they were sent:
  the range selects the contracts, a cohort, like every other figure here);
- overdue payments: payment milestones past due with money still open (`milestones_view`) on
  contracts in force, counted and summed per currency;
- execution log entries per kind recorded on the range's days (all contracts, from the per-day
  counters `store.execution_log` keeps) and the contracts whose feedback is open now.

The aggregation is pure (`contract_facts`, `summarize`); `analytics_summary` reads the tenant's
partition of the contracts table (a query on the tenant's hash key with a created_at filter, never a
scan) and each selected contract's timeline.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.contracts.lifecycle import IN_FORCE, Status
from chalicelib.contracts.money import decimal_to_str, parse_amount
from chalicelib.core.errors import BadRequest
from chalicelib.reminders.milestones import milestones_view
from chalicelib.reminders.planning import contract_zone
from chalicelib.reminders.scheduling import tenant_settings
from chalicelib.store import contracts as store
from chalicelib.store import execution_log

DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366
SIGNED: frozenset[str] = frozenset(s.value for s in (
    Status.COMPLETED, Status.ACTIVE, Status.EXPIRING, Status.RENEWED, Status.EXPIRED, Status.TERMINATED))
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True)
class ContractFacts:
    """What the summary needs of one contract, already read from the store."""

    status: str
    contract_type: str
    currency: str | None
    amount: Decimal | None
    sent_at: datetime | None = None  # the first envelope_sent
    completed_at: datetime | None = None  # the first envelope_completed
    reminders_sent: int = 0
    overdue: tuple[Decimal, ...] = field(default_factory=tuple)  # the open amount of each overdue payment

    @property
    def hours_to_sign(self) -> float | None:
        if self.sent_at is None or self.completed_at is None or self.completed_at < self.sent_at:
            return None
        return (self.completed_at - self.sent_at).total_seconds() / 3600


def parse_range(params: Mapping[str, str] | None, today: date) -> tuple[date, date]:
    params = params or {}
    problems: list[dict[str, str]] = []
    parsed: dict[str, date] = {}
    for name in ("from", "to"):
        raw = params.get(name)
        if raw is None:
            continue
        try:
            if not _ISO_DATE.fullmatch(raw):
                raise ValueError
            parsed[name] = date.fromisoformat(raw)
        except ValueError:
            problems.append({"path": name, "message": f"not an ISO date like 2027-01-31: {raw!r}"})
    for name in sorted(set(params) - {"from", "to"}):
        problems.append({"path": name, "message": "unknown parameter; use from and to"})
    if not problems:
        end = parsed.get("to") or (_shift(parsed["from"], DEFAULT_DAYS) if "from" in parsed else today)
        start = parsed.get("from") or _shift(end, -DEFAULT_DAYS)
        if start > end:
            problems.append({"path": "from", "message": f"from ({start}) is after to ({end})"})
        elif (end - start).days > MAX_DAYS:
            problems.append({"path": "to", "message": f"the range is longer than {MAX_DAYS} days"})
        else:
            return start, end
    raise BadRequest(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the query string", problems)


def _shift(day: date, days: int) -> date:
    """`day` moved by `days`, stopping at the first and last dates there are (any valid date is a
    valid `from` or `to`, 0001-01-01 and 9999-12-31 included)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def contract_facts(status: str, contract_type: str, document: Mapping[str, Any],
                   milestones: Mapping[str, Any] | None, events: Iterable[tuple[str, datetime]],
                   today: date) -> ContractFacts:
    """Facts from a contract's fields, its stored milestone states and its timeline (type, at)."""

    sent_at = completed_at = None
    reminders = 0
    for type_, at in sorted(events, key=lambda e: e[1]):
        if type_ == "envelope_sent" and sent_at is None:
            sent_at = at
        elif type_ == "envelope_completed" and completed_at is None:
            completed_at = at
        elif type_ == "reminder_sent":
            reminders += 1
    overdue: tuple[Decimal, ...] = ()
    if status in IN_FORCE:
        view = milestones_view(document, milestones, today)
        overdue = tuple(Decimal(p["remaining"]) for p in view["payment"] if p["overdue"])
    amount = document.get("amount")
    return ContractFacts(
        status=status, contract_type=contract_type, currency=document.get("currency") or None,
        amount=parse_amount(str(amount)) if amount is not None else None,
        sent_at=sent_at, completed_at=completed_at, reminders_sent=reminders, overdue=overdue,
    )


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (a value that occurred), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)), 1) - 1]


def _money(totals: Mapping[str, Decimal]) -> dict[str, str]:
    return {currency: decimal_to_str(total) for currency, total in sorted(totals.items())}


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def summarize(facts: Iterable[ContractFacts], start: date, end: date) -> dict[str, Any]:
    facts = list(facts)
    by_status = Counter(f.status for f in facts)
    by_type = Counter(f.contract_type for f in facts)
    value: dict[str, Decimal] = {}
    signed_value: dict[str, Decimal] = {}
    overdue_count: Counter[str] = Counter()
    overdue_amount: dict[str, Decimal] = {}
    for f in facts:
        if f.currency and f.amount is not None:
            value[f.currency] = value.get(f.currency, Decimal(0)) + f.amount
            if f.status in SIGNED:
                signed_value[f.currency] = signed_value.get(f.currency, Decimal(0)) + f.amount
        for remaining in f.overdue:
            currency = f.currency or ""
            overdue_count[currency] += 1
            overdue_amount[currency] = overdue_amount.get(currency, Decimal(0)) + remaining
    hours = [h for h in (f.hours_to_sign for f in facts) if h is not None]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "contracts": len(facts),
        "by_status": dict(sorted(by_status.items())),
        "by_type": dict(sorted(by_type.items())),
        "value_by_currency": _money(value),
        "signed_value_by_currency": _money(signed_value),
        "time_to_sign_hours": {
            "count": len(hours),
            "median": _hours(statistics.median(hours) if hours else None),
            "p90": _hours(percentile(hours, 90)),
        },
        "reminders_sent": sum(f.reminders_sent for f in facts),
        "overdue_payments": {
            "count": sum(overdue_count.values()),
            "by_currency": {c: {"count": overdue_count[c], "open_amount": decimal_to_str(overdue_amount[c])}
                            for c in sorted(overdue_amount)},
        },
    }


# --- the store side ----------------------------------------------------------------------------

def _today(record: Any, now: datetime) -> date:
    try:
        return now.astimezone(contract_zone(record.document or {}, tenant_settings(record.tenant_id))).date()
    except ValueError:
        return now.date()


def analytics_summary(tenant_id: str, params: Mapping[str, str] | None) -> dict[str, Any]:
    now = store.now_utc()
    start, end = parse_range(params, now.date())
    lower = datetime.combine(start, time.min, tzinfo=UTC)
    upper = datetime.combine(end, time.max, tzinfo=UTC)
    facts: list[ContractFacts] = []
    for record in store.contracts_created_between(tenant_id, lower, upper):
        events = [(e.type, e.at) for e in store.timeline(tenant_id, record.contract_id)]
        facts.append(contract_facts(record.status, record.contract_type, record.document or {},
                                    getattr(record, "milestones", None), events, _today(record, now)))
    summary = summarize(facts, start, end)
    # Execution entries recorded on the range's days (counters kept as they are written, not a scan);
    # open feedback is as of now: contracts whose latest feedback entry is open.
    summary["execution"] = {"by_kind": execution_log.counts_between(tenant_id, start, end),
                            "open_feedback": execution_log.open_feedback(tenant_id)}
    return summary
