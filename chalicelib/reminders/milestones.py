"""Execution tracking: payments received (in full or in part) and deliveries done, per milestone.

`POST /v1/contracts/{id}/milestones/{milestone_id}` and a CRM update both end up in
`record_execution`: it validates the request against the contract (what is planned, what has been
paid), stores the milestone's settlement on the contract (its `milestones`, `store.record_milestones`: a
write conditional on the item's version), appends a timeline event and re-plans the reminders, so a
paid milestone's reminders stop and a partly paid one keeps its overdue ladder with the amount
still open.

This module is pure (parsing, the money arithmetic, the view); `record_execution`, which stores
and re-plans, is in chalicelib/reminders/execution.py.

Stored shape, per milestone id:
`{"status": "paid" | "partially_paid" | "delivered", "paid_amount": "49600.00",
  "payments": [{"amount": "40000.00", "paid_on": "2027-02-20", "recorded_at": "…", "reference": "…",
                "source": "api"}],
  "delivered_on": "2027-01-15", "updated_at": "…"}`
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.contracts.money import decimal_to_str, fraction_digits, minor_units, parse_amount
from chalicelib.core.errors import Conflict, MalformedBody, ValidationFailed
from chalicelib.core.jsonbody import parse_json

from .planning import SettledState

__all__ = [
    "ExecutionRequest",
    "MilestoneRef",
    "apply_execution",
    "find_milestone",
    "milestones_view",
    "parse_execution",
    "settled_states",
]

PAID = "paid"
PARTIALLY_PAID = "partially_paid"
DELIVERED = "delivered"
OPEN = "open"
MAX_REFERENCE_LENGTH = 200
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class MilestoneRef:
    """A milestone as the contract plans it."""

    id: str
    kind: str  # "payment" | "delivery"
    name: str
    due_date: date
    amount: Decimal | None  # payment milestones only
    index: int  # position in contract.<kind>.milestones[]


@dataclass(frozen=True)
class ExecutionRequest:
    status: str  # "paid" | "delivered"
    amount: Decimal | None = None  # None with "paid": whatever is still open
    on: date | None = None  # paid_on / delivered_on; None: today in the contract's zone
    reference: str | None = None  # a payment's own id (bank transfer, CRM record): repeats are ignored


def find_milestone(document: Mapping[str, Any], milestone_id: str) -> MilestoneRef | None:
    for kind in ("payment", "delivery"):
        block = document.get(kind)
        if not isinstance(block, Mapping):
            continue
        for index, ms in enumerate(block.get("milestones") or []):
            if isinstance(ms, Mapping) and ms.get("id") == milestone_id:
                amount = ms.get("amount")
                return MilestoneRef(
                    id=milestone_id,
                    kind=kind,
                    name=str(ms.get("name") or milestone_id),
                    due_date=date.fromisoformat(str(ms["due_date"])),
                    amount=parse_amount(str(amount)) if amount is not None and kind == "payment" else None,
                    index=index,
                )
    return None


def parse_execution(body: object) -> ExecutionRequest:
    """The request body, checked on its own (422 listing every problem; 400 if not an object)."""
    if isinstance(body, bytes | str):
        body = parse_json(body or b"null")
    if not isinstance(body, Mapping):
        raise MalformedBody('send a JSON object, e.g. {"status": "paid", "amount": "100.00", "paid_on": "2027-02-01"}')
    problems: list[dict[str, str]] = []
    status = body.get("status")
    if status not in (PAID, DELIVERED):
        problems.append({"path": "status", "message": f"must be 'paid' or 'delivered', got {status!r}"})
    amount: Decimal | None = None
    on: date | None = None
    date_field = "delivered_on" if status == DELIVERED else "paid_on"
    if status == PAID and body.get("amount") is not None:
        raw = body["amount"]
        try:
            if not isinstance(raw, str | int) or isinstance(raw, bool):
                raise TypeError
            amount = parse_amount(raw)
        except (TypeError, ValueError):
            problems.append({"path": "amount", "message": f"not a decimal amount string like '100.00': {raw!r}"})
        else:
            if amount <= 0:
                problems.append({"path": "amount", "message": f"must be greater than 0, got {raw!r}"})
    if status == DELIVERED and body.get("amount") is not None:
        problems.append({"path": "amount", "message": "a delivery has no amount"})
    if body.get(date_field) is not None:
        raw_date = body[date_field]
        try:
            # YYYY-MM-DD only: fromisoformat alone also takes 2027-W05-1 (ten characters too).
            on = date.fromisoformat(raw_date) if isinstance(raw_date, str) and _ISO_DATE.fullmatch(raw_date) else None
        except ValueError:
            on = None
        if on is None:
            problems.append({"path": date_field, "message": f"not a date like '2027-02-01': {raw_date!r}"})
    other = "paid_on" if date_field == "delivered_on" else "delivered_on"
    if status in (PAID, DELIVERED) and body.get(other) is not None:
        problems.append({"path": other, "message": f"not used with status {status!r}; send {date_field}"})
    reference = body.get("reference")
    if reference is not None and (not isinstance(reference, str) or not reference.strip()
                                  or len(reference) > MAX_REFERENCE_LENGTH):
        problems.append({"path": "reference", "message": f"must be a non-empty string of at most "
                                                         f"{MAX_REFERENCE_LENGTH} characters"})
    if problems:
        raise ValidationFailed(_count(problems), problems)
    return ExecutionRequest(status=str(status), amount=amount, on=on,
                            reference=reference.strip() if isinstance(reference, str) else None)


def paid_amount(state: Mapping[str, Any] | None) -> Decimal:
    if not state or state.get("paid_amount") is None:
        return Decimal(0)
    return parse_amount(str(state["paid_amount"]))


def apply_execution(
    ref: MilestoneRef,
    state: Mapping[str, Any] | None,
    request: ExecutionRequest,
    *,
    currency: str,
    today: date,
    recorded_at: datetime,
    source: str = "api",
) -> tuple[dict[str, Any] | None, str]:
    """The milestone's new settlement and the timeline event type; (None, "duplicate") when the
    request repeats one already recorded (same payment reference, same delivery date).

    Raises Conflict when the request, valid on its own (`parse_execution`), does not fit this
    milestone: the wrong kind, an amount above what is still open (nothing is, once paid in full) or
    finer than the contract currency's minor unit, a delivery already recorded on another date. 409
    and not 422, because the same body is right for another milestone or at another time: 422 is
    kept for a body the OpenAPI document itself calls invalid."""
    previous = dict(state or {})
    if request.status == PAID:
        if ref.kind != "payment":
            raise Conflict(f"milestone {ref.id!r} is a delivery milestone: record it as 'delivered'",
                                   [{"path": "status", "message": "a delivery milestone cannot be paid"}])
        assert ref.amount is not None
        payments = [dict(p) for p in previous.get("payments") or []]
        if request.reference and any(p.get("reference") == request.reference for p in payments):
            return None, "duplicate"
        already = paid_amount(previous)
        remaining = ref.amount - already
        places = minor_units(currency)
        if remaining <= 0:
            raise Conflict(f"milestone {ref.id!r} is already paid in full", [
                {"path": "amount", "message": f"nothing is open: {currency} {decimal_to_str(ref.amount)} "
                                              f"planned, {decimal_to_str(_scaled(already, places))} paid"}])
        amount = remaining if request.amount is None else request.amount
        if fraction_digits(amount) > places:
            raise Conflict("the amount is finer than the currency allows", [
                {"path": "amount", "message": f"{currency} has {places} decimal places, got {decimal_to_str(amount)}"}])
        if amount > remaining:
            raise Conflict(f"the amount is more than what is still open on {ref.id!r}", [
                {"path": "amount", "message": f"at most {decimal_to_str(_scaled(remaining, places))} is open "
                                              f"(planned {decimal_to_str(ref.amount)}, paid "
                                              f"{decimal_to_str(_scaled(already, places))}), got "
                                              f"{decimal_to_str(amount)}"}])
        paid = _scaled(already + amount, places)
        payment: dict[str, Any] = {"amount": decimal_to_str(_scaled(amount, places)),
                                   "paid_on": (request.on or today).isoformat(),
                                   "recorded_at": recorded_at.isoformat(), "source": source}
        if request.reference:
            payment["reference"] = request.reference
        status = PAID if paid >= ref.amount else PARTIALLY_PAID
        new = {**previous, "status": status, "paid_amount": decimal_to_str(paid), "payments": [*payments, payment],
               "updated_at": recorded_at.isoformat()}
        return new, f"milestone_{status}"
    if ref.kind != "delivery":
        raise Conflict(f"milestone {ref.id!r} is a payment milestone: record it as 'paid'",
                               [{"path": "status", "message": "a payment milestone cannot be delivered"}])
    on = (request.on or today).isoformat()
    if previous.get("status") == DELIVERED:
        if previous.get("delivered_on") == on or request.on is None:
            return None, "duplicate"
        raise Conflict(f"milestone {ref.id!r} was already recorded as delivered on {previous.get('delivered_on')}")
    new = {**previous, "status": DELIVERED, "delivered_on": on, "source": source,
           "updated_at": recorded_at.isoformat()}
    return new, "milestone_delivered"


def settled_states(document: Mapping[str, Any], stored: Mapping[str, Any] | None) -> dict[str, SettledState]:
    """What planning needs to know about each milestone with something recorded."""
    out: dict[str, SettledState] = {}
    for milestone_id, state in (stored or {}).items():
        if not isinstance(state, Mapping):
            continue
        status = state.get("status")
        out[milestone_id] = SettledState(amount_paid=paid_amount(state),
                                         fully_settled=status in (PAID, DELIVERED))
    return out


def milestones_view(document: Mapping[str, Any], stored: Mapping[str, Any] | None,
                    today: date | None = None) -> dict[str, Any]:
    """Paid versus planned, per milestone and in total (the contract's `milestones` section)."""
    stored = stored or {}
    currency = str(document.get("currency") or "")
    places = minor_units(currency) if currency else 2
    payments: list[dict[str, Any]] = []
    planned_total = paid_total = Decimal(0)
    block = document.get("payment") if isinstance(document.get("payment"), Mapping) else {}
    for ms in (block or {}).get("milestones") or []:
        state = stored.get(ms.get("id")) or {}
        planned = parse_amount(str(ms["amount"])) if ms.get("amount") is not None else Decimal(0)
        paid = paid_amount(state)
        remaining = max(planned - paid, Decimal(0))
        planned_total += planned
        paid_total += paid
        due = str(ms.get("due_date"))
        payments.append({
            "id": ms.get("id"), "name": ms.get("name"), "due_date": due,
            "planned_amount": decimal_to_str(_scaled(planned, places)),
            "paid_amount": decimal_to_str(_scaled(paid, places)),
            "remaining": decimal_to_str(_scaled(remaining, places)),
            "status": state.get("status") or OPEN,
            "overdue": bool(today and remaining > 0 and due < today.isoformat()),
            "payments": list(state.get("payments") or []),
        })
    deliveries: list[dict[str, Any]] = []
    block = document.get("delivery") if isinstance(document.get("delivery"), Mapping) else {}
    for ms in (block or {}).get("milestones") or []:
        state = stored.get(ms.get("id")) or {}
        due = str(ms.get("due_date"))
        delivered = state.get("status") == DELIVERED
        deliveries.append({
            "id": ms.get("id"), "name": ms.get("name"), "due_date": due,
            "status": DELIVERED if delivered else OPEN, "delivered_on": state.get("delivered_on"),
            "overdue": bool(today and not delivered and due < today.isoformat()),
        })
    return {
        "payment": payments,
        "delivery": deliveries,
        "totals": {
            "currency": currency or None,
            "planned": decimal_to_str(_scaled(planned_total, places)),
            "paid": decimal_to_str(_scaled(paid_total, places)),
            "remaining": decimal_to_str(_scaled(max(planned_total - paid_total, Decimal(0)), places)),
            "payments_settled": sum(1 for p in payments if p["status"] == PAID),
            "payments_planned": len(payments),
            "deliveries_done": sum(1 for d in deliveries if d["status"] == DELIVERED),
            "deliveries_planned": len(deliveries),
        },
    }


def _scaled(amount: Decimal, places: int) -> Decimal:
    """At least the currency's decimal places ("49600" -> "49600.00"), never rounding."""
    if fraction_digits(amount) > places:
        return amount
    return amount.quantize(Decimal(1).scaleb(-places))


def _count(problems: list[dict[str, str]]) -> str:
    return f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the request"
