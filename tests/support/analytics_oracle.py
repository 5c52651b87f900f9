"""The analytics summary computed the old way, from the contracts and their timelines (one read per
contract): the independent figures the kept counters are checked against. Test code only: the
product reads the counters (chalicelib/web/analytics.py)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.contracts.lifecycle import IN_FORCE, Status
from chalicelib.contracts.money import decimal_to_str, parse_amount
from chalicelib.reminders.milestones import milestones_view
from chalicelib.web.analytics import _hours, percentile

SIGNED: frozenset[str] = frozenset(s.value for s in (
    Status.COMPLETED, Status.ACTIVE, Status.EXPIRING, Status.RENEWED, Status.EXPIRED, Status.TERMINATED))


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


def _money(totals: Mapping[str, Decimal]) -> dict[str, str]:
    return {currency: decimal_to_str(total) for currency, total in sorted(totals.items())}


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


# --- from the counters kept as contracts change -------------------------------------------------
