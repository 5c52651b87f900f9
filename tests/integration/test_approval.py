"""The approval gate through the real pieces: a tenant rule holds a big contract in pending_approval
(nothing at DocuSign, the approver emailed), and the API approves, rejects or voids it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import StackHarness

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"
APPROVER = "legal@yunti.example"
RULES = {"approvers": [APPROVER], "amount_over": {"CNY": "100000.00", "USD": "15000.00"}, "types": ["partner"],
         "always": False}


def sales_body(crm_record_id: str) -> dict[str, Any]:
    body = json.loads((SAMPLES / "sales.json").read_text())
    body["contract"]["crm_record_id"] = crm_record_id
    return body


def set_rules(stack: StackHarness, rules: dict[str, Any] | None) -> None:
    from chalicelib.store import registry

    tenant = registry.get_tenant(stack.tenant_id)
    settings = {k: v for k, v in tenant.settings.items() if k != "approval"}
    if rules is not None:
        settings["approval"] = rules
    registry.put_tenant(stack.tenant_id, tenant.name, settings)
    registry.clear_cache()


@pytest.fixture
def gated(stack: StackHarness) -> StackHarness:
    set_rules(stack, RULES)
    return stack


def post(stack: StackHarness, contract_id: str, action: str, body: Any = None,
         headers: dict[str, str] | None = None) -> Any:
    raw = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    return stack.client.http.post(f"/v1/contracts/{contract_id}/{action}", body=raw,
                                  headers={"Content-Type": "application/json", **(headers or stack.auth())})


def pending(stack: StackHarness, crm_record_id: str) -> str:
    response = stack.post_webhook(sales_body(crm_record_id))
    assert response.status_code == 202, response.body
    contract_id = response.json_body["contract_id"]
    stack.drain_jobs()
    contract = stack.get_contract(contract_id)
    assert contract["status"] == "pending_approval", contract["status"]
    return contract_id


def test_big_contract_waits_for_approval_then_is_sent(gated: StackHarness) -> None:
    stack = gated
    contract_id = pending(stack, "deal-approve-1")
    contract = stack.get_contract(contract_id)
    assert contract["envelope_id"] is None
    assert stack.sandbox_envelopes(contract_id) == []
    required = next(e for e in contract["timeline"] if e["type"] == "approval_required")
    assert required["detail"]["reasons"] == ["amount CNY 128000.00 is over CNY 100000.00"]
    from chalicelib.store import contracts as store

    assert store.get_contract(stack.tenant_id, contract_id).approval_required is True

    # One email to the approver, in the contract's locale (zh-CN), naming what they need to decide.
    emails = [m for m in stack.sent_emails() if APPROVER in m.to]
    assert len(emails) == 1
    mail = emails[0]
    assert "HT-2026-0117" in mail.subject and "待审批" in mail.subject
    assert "杭州新禾贸易有限公司" in mail.text and "CNY 128000.00" in mail.text
    assert "合同金额 CNY 128000.00 超过审批限额 CNY 100000.00" in mail.text  # the reason, in the email's locale
    assert f"/v1/contracts/{contract_id}/approve" in mail.text
    assert mail.html and f"/v1/contracts/{contract_id}/approve" in mail.html
    # A repeated send job does not ask again.
    from chalicelib.core.aws import enqueue

    enqueue({"job": "send", "tenant_id": stack.tenant_id, "contract_id": contract_id})
    stack.drain_jobs()
    assert len([m for m in stack.sent_emails() if APPROVER in m.to]) == 1
    assert stack.get_contract(contract_id)["status"] == "pending_approval"

    response = post(stack, contract_id, "approve", {"reason": "within budget"})
    assert response.status_code == 200, response.body
    assert response.json_body["status"] == "approved"
    approved = next(e for e in stack.timeline(contract_id) if e["type"] == "approved")
    # The approval names the version of the document it approved (the contract as the CRM sent it).
    from chalicelib.contracts.approval import document_version

    assert approved["detail"] == {"by": "local stack", "reason": "within budget",
                                  "version": document_version(sales_body("deal-approve-1")["contract"])}

    sent = stack.wait_status(contract_id, "sent")
    assert sent["envelope_id"]
    assert len(stack.sandbox_envelopes(contract_id)) == 1

    # Approving again: it is no longer pending.
    again = post(stack, contract_id, "approve")
    assert again.status_code == 409, again.body
    assert again.json_body["error"]["code"] == "conflict"
    assert "sent" in again.json_body["error"]["message"]


def test_small_contract_is_sent_without_approval(gated: StackHarness) -> None:
    stack = gated
    set_rules(stack, {**RULES, "amount_over": {"CNY": "500000.00"}})
    response = stack.post_webhook(sales_body("deal-approve-small"))
    contract_id = response.json_body["contract_id"]
    stack.wait_status(contract_id, "sent")
    assert not [m for m in stack.sent_emails() if APPROVER in m.to]


def test_approve_without_a_body(gated: StackHarness) -> None:
    stack = gated
    contract_id = pending(stack, "deal-approve-nobody")
    response = post(stack, contract_id, "approve")
    assert response.status_code == 200, response.body
    assert stack.wait_status(contract_id, "sent")["envelope_id"]


def test_reject(gated: StackHarness) -> None:
    stack = gated
    contract_id = pending(stack, "deal-reject-1")

    missing = post(stack, contract_id, "reject", {})
    assert missing.status_code == 422, missing.body
    assert missing.json_body["error"]["code"] == "validation_error"
    assert missing.json_body["error"]["details"][0]["path"] == "reason"
    blank = post(stack, contract_id, "reject")
    assert blank.status_code == 422, blank.body
    assert stack.get_contract(contract_id)["status"] == "pending_approval"

    response = post(stack, contract_id, "reject", {"reason": "价格过低"})
    assert response.status_code == 200, response.body
    assert response.json_body["status"] == "rejected"
    stack.drain_jobs()
    contract = stack.get_contract(contract_id)
    assert contract["status"] == "rejected" and contract["status_reason"] == "价格过低"
    assert stack.sandbox_envelopes(contract_id) == []
    # Rejected is final: approving it now is a conflict.
    late = post(stack, contract_id, "approve")
    assert late.status_code == 409 and "rejected" in late.json_body["error"]["message"]


def test_void_before_sending(gated: StackHarness) -> None:
    stack = gated
    contract_id = pending(stack, "deal-void-early")
    assert post(stack, contract_id, "void").status_code == 422
    response = post(stack, contract_id, "void", {"reason": "deal lost"})
    assert response.status_code == 200, response.body
    assert response.json_body["status"] == "voided"
    stack.drain_jobs()
    assert stack.get_contract(contract_id)["status"] == "voided"
    assert stack.sandbox_envelopes(contract_id) == []
    again = post(stack, contract_id, "void", {"reason": "again"})
    assert again.status_code == 409 and "voided" in again.json_body["error"]["message"]


def test_void_after_sending_voids_the_envelope(stack: StackHarness) -> None:
    response = stack.post_webhook(sales_body("deal-void-late"))
    contract_id = response.json_body["contract_id"]
    envelope_id = stack.wait_status(contract_id, "sent")["envelope_id"]

    voided = post(stack, contract_id, "void", {"reason": "customer withdrew"})
    assert voided.status_code == 200, voided.body
    assert voided.json_body["status"] == "voided"
    stack.wait_until(lambda: stack.sandbox("GET", f"/sandbox/envelopes/{envelope_id}")["status"] == "voided",
                     what="the envelope voided at the sandbox")
    contract = stack.get_contract(contract_id)
    assert contract["status"] == "voided" and contract["status_reason"] == "customer withdrew"
    assert "envelope_voided" in stack.timeline_types(contract_id)


def test_another_tenants_key_sees_nothing(gated: StackHarness) -> None:
    from chalicelib.store import registry

    stack = gated
    contract_id = pending(stack, "deal-other-tenant")
    registry.put_tenant("other", "Other Co.")
    registry.put_api_key("other", "sbk_other_tenant_key", "other")
    other = {"Authorization": "Bearer sbk_other_tenant_key"}
    for action, body in (("approve", None), ("reject", {"reason": "no"}), ("void", {"reason": "no"})):
        response = post(stack, contract_id, action, body, headers=other)
        assert response.status_code == 404, (action, response.body)
    assert post(stack, "no-such-contract", "approve").status_code == 404
    assert post(stack, contract_id, "approve", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert stack.get_contract(contract_id)["status"] == "pending_approval"
