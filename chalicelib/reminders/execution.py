"""Recording execution: a payment or a delivery against one milestone, stored on the contract and
followed by a re-plan of its reminders (`POST /v1/contracts/{id}/milestones/{milestone_id}` and a
CRM update both come here). The arithmetic is chalicelib/reminders/milestones.py (pure)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.contracts.lifecycle import EXECUTION_OPEN
from chalicelib.contracts.money import decimal_to_str
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.errors import Conflict, NotFound, quoted
from chalicelib.reminders import milestones
from chalicelib.reminders.milestones import (
    find_milestone,
    milestones_view,
    paid_amount,
    parse_execution,
)
from chalicelib.reminders.planning import contract_zone
from chalicelib.reminders.scheduling import replan_contract, tenant_settings
from chalicelib.store import contracts as store

_WRITE_ATTEMPTS = 5


def record_execution(
    tenant_id: str,
    contract_id: str,
    milestone_id: str,
    body: object,
    *,
    source: str = "api",
    by: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Records a payment or a delivery (the API route and the CRM update both call this), then
    re-plans the contract's reminders. Returns the milestone and the contract's milestone totals.

    Accepted from `completed` on (signed, archive maybe still running): the archive job never
    writes `milestones`, and it plans the reminders from a fresh read, so what is recorded meanwhile
    is neither lost nor planned around; the re-plan here (under the same per-contract lease) covers
    the case where the archive job planned just before this write.

    404 unknown contract or milestone; 409 the contract is not signed yet or has ended, or the
    request does not fit the milestone (`apply_execution`); 422 a body invalid on its own (bad
    status, amount or date). `by` names who recorded it on the timeline (a contract-page link's
    recipient)."""
    request = parse_execution(body)
    for _attempt in range(_WRITE_ATTEMPTS):
        record = store.find_contract(tenant_id, contract_id)
        if record is None:
            raise NotFound(f"no contract {quoted(contract_id)}")
        ref = find_milestone(record.document or {}, milestone_id)
        if ref is None:
            raise NotFound(f"contract {quoted(contract_id)} has no milestone {quoted(milestone_id)}")
        if record.status not in EXECUTION_OPEN:
            raise Conflict(f"the contract is {record.status}: execution is recorded only once it is signed and "
                           f"while it is in force (completed, active, expiring or renewed)")
        recorded_at = store.now_utc()
        today = (now or recorded_at).astimezone(contract_zone(record.document, tenant_settings(tenant_id))).date()
        stored = dict(record.milestones or {})
        new, event_type = milestones.apply_execution(ref, stored.get(milestone_id), request,
                                          currency=str(record.document.get("currency") or ""), today=today,
                                          recorded_at=recorded_at, source=source)
        if new is None:
            return _answer(record, milestone_id, today, duplicate=True)
        stored[milestone_id] = new
        try:
            # The version condition makes two concurrent payments add up instead of one overwriting
            # the other (every write of the item, the archive job's included, bumps the version); the
            # status condition keeps an expired or terminated contract untouched.
            record = store.record_milestones(record, stored, recorded_at, [s.value for s in EXECUTION_OPEN])
        except store.StaleStatus:
            continue  # changed under us: read again and re-check against the new state
        detail: dict[str, Any] = {"milestone_id": milestone_id, "kind": ref.kind, "status": new["status"],
                                  "source": source, **({"by": by} if by else {})}
        if ref.kind == "payment":
            last = new["payments"][-1]
            detail.update(amount=last["amount"], paid_on=last["paid_on"], paid_amount=new["paid_amount"],
                          planned_amount=decimal_to_str(ref.amount or Decimal(0)),
                          remaining=decimal_to_str(max((ref.amount or Decimal(0)) - paid_amount(new), Decimal(0))))
        else:
            detail["delivered_on"] = new["delivered_on"]
        store.append_event(record, event_type, detail)
        replan = replan_contract(record, now=now)
        return {**_answer(record, milestone_id, today), "reminders": replan.as_dict()}
    raise Conflict("the contract kept changing while the milestone was recorded; try again")


def _answer(record: StoredContract, milestone_id: str, today: date, duplicate: bool = False) -> dict[str, Any]:
    view = milestones_view(record.document or {}, record.milestones, today)
    milestone = next(m for m in [*view["payment"], *view["delivery"]] if m["id"] == milestone_id)
    answer: dict[str, Any] = {"contract_id": record.contract_id, "milestone": milestone, "totals": view["totals"]}
    if duplicate:
        answer["duplicate"] = True
    return answer
