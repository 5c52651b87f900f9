"""Re-planning reconciles what is stored with a fresh plan: new keys are created, changed pending
ones updated, pending ones that left the plan cancelled, sent ones never touched; a key planned
again comes back. `replan_contract(record)` is what the CRM-update intake calls for an active
contract after storing the new document."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.integration.test_reminders_support import (
    active_contract,
    canonical,
    emails_since,
    fire,
    pending_keys,
    sales_2030,
    service_2030,
    stored,
)
from tests.support.stack import StackHarness

NEW_OWNER = "li.na@yunti.example"


def update_document(stack: StackHarness, contract_id: str, change: Callable[[dict[str, Any]], None]) -> Any:
    """What a CRM update of an active contract does to the store, then the re-plan it triggers."""
    from chalicelib.reminders.scheduling import replan_contract
    from chalicelib.store import contracts as store
    from chalicelib.store.models import ContractRecord

    record = store.get_contract(stack.tenant_id, contract_id)
    document = copy.deepcopy(record.document)
    change(document)
    record = store.update_attributes(record, [ContractRecord.document.set(document)])
    return replan_contract(record)


def test_a_crm_update_moves_what_changed_and_leaves_what_was_sent(stack: StackHarness) -> None:
    cid = active_contract(stack, sales_2030()).contract_id
    assert fire(stack, "2030-01-08T01:00")["sent"] == 1  # pay-1, 7 days before

    def change(document: dict[str, Any]) -> None:
        document["owner"] = {"name": "李娜", "email": NEW_OWNER}
        document["payment"]["milestones"][1]["due_date"] = "2030-04-15"  # pay-2: Fri 03-15 -> Mon 04-15

    result = update_document(stack, cid, change)
    items = stored(cid)
    # The sent one is history: same recipient as when it went out.
    sent = items[f"{cid}:payment:pay-1:2030-01-15:before:-7d"]
    assert sent.state == "sent" and list(sent.to) == ["wang.min@yunti.example"]
    # pay-2's old ladder is cancelled, its new one planned (new keys: the due date is in the key).
    old = [k for k in items if ":pay-2:2030-03-15:" in k]
    new = [k for k in items if ":pay-2:2030-04-15:" in k]
    assert len(old) == len(new) == 6
    assert {items[k].state for k in old} == {"cancelled"} and {items[k].state for k in new} == {"pending"}
    # Everything still pending now goes to the new owner.
    assert {tuple(items[k].to) for k in pending_keys(cid) if ":transition:" not in k} == {(NEW_OWNER,)}
    assert (result.created, result.cancelled) == (6, 6)
    assert result.updated == len(pending_keys(cid)) - 6 - 2  # all but the new ones and the 2 transitions

    before = len(stack.sent_emails())
    fire(stack, "2030-03-08T01:00")  # pay-2's old "7 days before"
    assert not [e for e in emails_since(stack, before) if "尾款" in e.subject]
    fire(stack, "2030-04-08T01:00")  # the new one: Mon 04-15 - 7 = Mon 04-08
    [email] = [e for e in emails_since(stack, before) if "尾款" in e.subject]
    assert email.subject == "付款提醒：HT-2030-0001 尾款 将于 2030年4月15日 到期" and email.to == [NEW_OWNER]


def test_replanning_twice_changes_nothing_and_a_date_moved_back_revives_its_keys(stack: StackHarness) -> None:
    from chalicelib.reminders.scheduling import replan_contract
    from chalicelib.store import contracts as store

    cid = active_contract(stack, sales_2030()).contract_id
    again = replan_contract(store.get_contract(stack.tenant_id, cid))
    assert (again.created, again.updated, again.cancelled, again.revived) == (0, 0, 0, 0)
    assert again.unchanged == len(pending_keys(cid))

    def move(day: str) -> Callable[[dict[str, Any]], None]:
        def change(document: dict[str, Any]) -> None:
            document["delivery"]["milestones"][0]["due_date"] = day
        return change

    keys = pending_keys(cid)
    update_document(stack, cid, move("2030-02-27"))
    assert pending_keys(cid) != keys
    back = update_document(stack, cid, move("2030-02-20"))
    assert back.revived == 3 and back.cancelled == 3
    assert pending_keys(cid) == keys


def test_turning_auto_renew_off_plans_expiry_instead_of_renewal(stack: StackHarness) -> None:
    cid = active_contract(stack, service_2030()).contract_id
    assert f"{cid}:transition:renewed:2030-06-30" in pending_keys(cid)

    def stop(document: dict[str, Any]) -> None:
        document["auto_renew"] = False

    update_document(stack, cid, stop)
    keys = pending_keys(cid)
    assert f"{cid}:transition:renewed:2030-06-30" not in keys
    assert not [k for k in keys if ":renewal:" in k]
    # Ends Sun 06-30: the window opens 90 days before, 2030-04-01 00:00 CEST = 2030-03-31T22:00Z.
    expiring = stored(cid)[f"{cid}:transition:expiring:2030-06-30"]
    assert expiring.due_at == datetime(2030, 3, 31, 22, 0, tzinfo=UTC)
    assert {f"{cid}:expiry:2030-06-30:-90d", f"{cid}:transition:expired:2030-06-30"} <= keys


def test_the_plan_uses_the_tenant_settings(stack: StackHarness) -> None:
    from chalicelib.store.registry import clear_cache, put_tenant

    put_tenant("demo", "Demo Co.", {
        "time_zone": "Asia/Shanghai",
        "expiry_ladder_days": [60],
        "payment": {"before_due_days": [], "on_due": False, "overdue_ladder_days": [3],
                    "escalate_after_days": 3, "manager_email": "boss@yunti.example"},
        "delivery": {"before_due_days": [], "overdue_ladder_days": []},
        "business_hours": {"start": "10:00", "end": "17:00"},
        "reminder_cc": ["legal@yunti.example"],
    })
    clear_cache()
    document = canonical(sales_2030())
    cid = active_contract(stack, sales_2030()).contract_id
    items = {k.split(":", 1)[1]: v for k, v in stored(cid).items()}
    assert sorted(k for k, v in items.items() if v.kind != "transition") == [
        "expiry:2030-11-30:-60d", "payment:pay-1:2030-01-15:overdue:+3d", "payment:pay-2:2030-03-15:overdue:+3d"]
    overdue = items["payment:pay-1:2030-01-15:overdue:+3d"]
    assert list(overdue.to) == [document["owner"]["email"], "boss@yunti.example"]
    assert list(overdue.cc) == ["legal@yunti.example"]
    assert overdue.due_at == datetime(2030, 1, 18, 2, 0, tzinfo=UTC)  # Fri 01-18 10:00 +08:00
    # The 60-day window opens on 2030-10-01: expiring at 2030-10-01 00:00 +08:00.
    assert items["transition:expiring:2030-11-30"].due_at == datetime(2030, 9, 30, 16, 0, tzinfo=UTC)
