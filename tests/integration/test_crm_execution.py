"""A CRM reports execution of a signed contract through its update event: payments received
(cumulative `paid_amount`) and deliveries done on the milestones. Anything else about a signed
contract stays refused."""

from __future__ import annotations

import copy

from tests.integration.test_reminders_support import active_contract, sales_2030
from tests.support.stack import StackHarness


def update_with(body: dict, **milestone_fields: dict) -> dict:
    update = copy.deepcopy(body)
    update["event"] = "contract.updated"
    for section in ("payment", "delivery"):
        for milestone in update["contract"][section]["milestones"]:
            milestone.update(milestone_fields.get(milestone["id"], {}))
    return update


def milestone(contract: dict, milestone_id: str) -> dict:
    view = contract["milestones"]
    for item in view.get("payment", []) + view.get("delivery", []):
        if item["id"] == milestone_id:
            return item
    raise AssertionError(f"no milestone {milestone_id} in {view}")


def test_crm_reports_a_partial_then_full_payment_and_a_delivery(stack: StackHarness) -> None:
    body = sales_2030("deal-exec")
    record = active_contract(stack, body, now="2030-01-03T00:00:00+00:00")

    partial = update_with(body, **{"pay-1": {"paid_amount": "20000.00", "paid_on": "2030-01-14"}})
    response = stack.post_webhook(partial, webhook_id="exec-1")
    assert response.status_code == 200, response.body
    contract = stack.get_contract(record.contract_id)
    assert milestone(contract, "pay-1")["paid_amount"] == "20000.00"
    assert milestone(contract, "pay-1")["remaining"] == "18400.00"  # 38,400.00 planned

    # The CRM resends the same state (another delivery id): nothing is counted twice.
    assert stack.post_webhook(partial, webhook_id="exec-2").status_code == 200
    assert milestone(stack.get_contract(record.contract_id), "pay-1")["paid_amount"] == "20000.00"

    full = update_with(body, **{"pay-1": {"paid_amount": "38400.00", "paid_on": "2030-01-20"},
                                "dlv-1": {"status": "delivered", "delivered_on": "2030-02-19"}})
    assert stack.post_webhook(full, webhook_id="exec-3").status_code == 200
    contract = stack.get_contract(record.contract_id)
    assert milestone(contract, "pay-1")["status"] == "paid"
    assert milestone(contract, "pay-1")["remaining"] == "0.00"
    assert milestone(contract, "dlv-1")["status"] == "delivered"
    assert contract["milestones"]["totals"]["paid"] == "38400.00"
    crm_events = [e for e in contract["timeline"] if (e.get("detail") or {}).get("source") == "crm"]
    assert [e["detail"]["milestone_id"] for e in crm_events] == ["pay-1", "pay-1", "dlv-1"]


def test_other_changes_to_a_signed_contract_are_refused(stack: StackHarness) -> None:
    body = sales_2030("deal-exec-2")
    record = active_contract(stack, body, now="2030-01-03T00:00:00+00:00")
    changed = update_with(body, **{"pay-1": {"paid_amount": "100.00"}})
    changed["contract"]["title"] = "另一个标题"
    response = stack.post_webhook(changed, webhook_id="exec-x")
    assert response.status_code == 409
    assert {d["path"] for d in response.json_body["error"]["details"]} == {"contract.title"}
    assert milestone(stack.get_contract(record.contract_id), "pay-1")["paid_amount"] == "0.00"


def test_a_garbage_paid_amount_is_a_422_naming_the_path(stack: StackHarness) -> None:
    body = sales_2030("deal-exec-3")
    active_contract(stack, body, now="2030-01-03T00:00:00+00:00")
    response = stack.post_webhook(update_with(body, **{"pay-2": {"paid_amount": "lots"}}), webhook_id="exec-g")
    assert response.status_code == 422
    assert response.json_body["error"]["details"][0]["path"] == "contract.payment.milestones[1].paid_amount"
