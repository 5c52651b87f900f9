"""The `replan` job: one contract's reminders and term transitions planned again with the tenant's
settings as they are now. `admin tenants set` enqueues one per contract in force when it changes a
setting planning reads (time zone, business hours and days, holidays, ladders, recipients). The
contract's analytics rows follow (a renewal deadline moves with the calendar and the time zone)."""

from __future__ import annotations

from typing import Any

from chalicelib.contracts.lifecycle import IN_FORCE, Status
from chalicelib.core.errors import RetryableError
from chalicelib.reminders.scheduling import replan_contract
from chalicelib.store import analytics
from chalicelib.store.contracts import find_contract

JOB = "replan"
# What has reminders or transitions to re-plan: signed and in force, or completed and not active yet.
REPLANNED_STATUSES: tuple[str, ...] = tuple(sorted(str(s) for s in IN_FORCE | {Status.COMPLETED}))


def message(tenant_id: str, contract_id: str) -> dict[str, Any]:
    return {"job": JOB, "tenant_id": tenant_id, "contract_id": contract_id}


def run(message: dict[str, Any]) -> str:
    record = find_contract(str(message["tenant_id"]), str(message["contract_id"]))
    if record is None:
        return "no such contract"
    try:
        result = replan_contract(record)
    except TimeoutError as err:  # another re-plan holds the contract's lease: later
        raise RetryableError(str(err)) from err
    rows = analytics.resync_rows(record)
    return f"re-planned: {result.as_dict()}; analytics rows changed: {rows}"
