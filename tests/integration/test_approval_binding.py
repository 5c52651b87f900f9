"""An approval binds to the version of the document that was approved. The review's finding: a CRM
`contract.updated` that arrives after `approve` and before the send job replaced the document (title,
amounts, signers) and the job sent it without re-approval. Now any change after approval sends the
contract back to `pending_approval` with the reasons, nothing goes to DocuSign, and the timeline says
which version was approved and which was sent."""

from __future__ import annotations

import copy
from typing import Any

from chalicelib.contracts.approval import document_version
from tests.integration.test_approval import APPROVER, RULES, pending, post, sales_body, set_rules
from tests.support.stack import StackHarness


def changed(body: dict[str, Any]) -> dict[str, Any]:
    update = copy.deepcopy(body)
    update["event"] = "contract.updated"
    update["contract"]["title"] = body["contract"]["title"] + " (revised)"
    return update


def events(stack: StackHarness, contract_id: str, type_: str) -> list[dict[str, Any]]:
    return [e for e in stack.timeline(contract_id) if e["type"] == type_]


def approver_emails(stack: StackHarness) -> list[Any]:
    return [e for e in stack.sent_emails() if APPROVER in e.to]


def test_an_update_after_approve_and_before_the_send_job_goes_back_to_the_gate(stack: StackHarness) -> None:
    set_rules(stack, RULES)
    body = sales_body("bind-1")
    contract_id = pending(stack, "bind-1")
    asked_before = len(approver_emails(stack))
    approved = post(stack, contract_id, "approve", {"reason": "ok"})
    assert approved.status_code == 200, approved.body
    send_job = stack.receive_job("send")  # the approval enqueued the send job; it has not run yet

    update = changed(body)
    answer = stack.post_webhook(update)
    assert answer.status_code == 202, answer.body
    assert stack.get_contract(contract_id)["status"] == "pending_approval"

    stack.run_job(send_job)  # the job that was queued by the approval
    stack.drain_jobs()
    contract = stack.get_contract(contract_id)
    assert contract["status"] == "pending_approval"
    assert stack.sandbox_envelopes(contract_id) == []  # nothing went to DocuSign
    v1, v2 = document_version(body["contract"]), document_version(update["contract"])
    assert events(stack, contract_id, "approved")[0]["detail"]["version"] == v1
    back = events(stack, contract_id, "approval_required")[-1]["detail"]
    assert back["approved_version"] == v1 and back["version"] == v2
    assert any("changed after it was approved" in r and "title" in r for r in back["reasons"])
    assert len(approver_emails(stack)) == asked_before + 1  # the approvers are asked about the new version

    # Approved again, this version is sent, and the timeline says so.
    assert post(stack, contract_id, "approve").status_code == 200
    stack.wait_status(contract_id, "sent")
    sending = events(stack, contract_id, "sending")  # the send job's record of what it rendered and sent
    assert len(sending) == 1 and sending[0]["detail"]["version"] == sending[0]["detail"]["approved_version"] == v2
    assert len(stack.sandbox_envelopes(contract_id)) == 1


def test_an_update_while_pending_asks_the_approvers_about_the_new_version(stack: StackHarness) -> None:
    set_rules(stack, RULES)
    body = sales_body("bind-2")
    contract_id = pending(stack, "bind-2")
    asked = len(approver_emails(stack))
    assert stack.post_webhook(changed(body)).status_code == 202
    stack.drain_jobs()
    assert stack.get_contract(contract_id)["status"] == "pending_approval"
    assert len(approver_emails(stack)) == asked + 1
    assert post(stack, contract_id, "approve").status_code == 200
    stack.wait_status(contract_id, "sent")
    detail = events(stack, contract_id, "sending")[0]["detail"]
    assert detail["version"] == detail["approved_version"] == document_version(changed(body)["contract"])


def test_the_send_job_refuses_an_approved_contract_whose_document_is_not_the_approved_one(
        stack: StackHarness) -> None:
    """Defence in depth: a contract marked approved whose stored document is another version (the
    approval read one document, an update landed before the approval's write) is not sent."""
    from chalicelib.store.contracts import get_contract, update_attributes
    from chalicelib.store.models import ContractRecord

    set_rules(stack, RULES)
    contract_id = pending(stack, "bind-3")
    assert post(stack, contract_id, "approve").status_code == 200
    record = get_contract(stack.tenant_id, contract_id)
    update_attributes(record, [ContractRecord.approved_version.set("0000000000000000")])
    stack.drain_jobs()
    assert stack.get_contract(contract_id)["status"] == "pending_approval"
    assert stack.sandbox_envelopes(contract_id) == []
