"""created / updated / cancelled, end to end: an update before sending replaces the document and the
send job renders the new one; after sending it is refused with a clear 409 (unless nothing
changed); a cancellation voids the contract, and its envelope at DocuSign when one is out."""

from __future__ import annotations

import json
from typing import Any

from devstack.crm_samples import dumps, load, raw
from tests.integration.test_crm_helpers import post_zoho, stored_document, stored_keys
from tests.support.stack import StackHarness


def zoho_event(event: str, modified: str, **changes: str) -> bytes:
    deal = load("zoho_deal.json") | {"event": event, "Modified_Time": modified, **changes}
    return dumps(deal)


def jobs_of(stack: StackHarness, since: int = 0, kinds: tuple[str, ...] = ("send", "void")) -> list[str]:
    """The intake's jobs (send, void) run since a point; status callbacks are another story."""
    return [job for job in (json.loads(body)["job"] for body in stack.job_log[since:]) if job in kinds]


def rendered_html(stack: StackHarness, contract_id: str) -> str:
    from chalicelib.core.aws import client
    from chalicelib.core.config import settings

    event = [e for e in stack.timeline(contract_id) if e["type"] == "rendered"][-1]
    obj = client("s3").get_object(Bucket=settings().archive_bucket, Key=event["detail"]["s3_key"])
    return obj["Body"].read().decode()


def test_update_before_sending_replaces_the_document_and_is_rendered(stack: StackHarness) -> None:
    created = post_zoho(stack, raw("zoho_deal.json"))
    contract_id = created.json_body["contract_id"]
    update = zoho_event("updated", "2026-11-26T11:02:00+08:00", Amount="108000.00",
                        Payment_Terms="按季度支付, 每季度首月 10 日前支付 27,000.00 元。")
    response = post_zoho(stack, update)
    assert response.status_code == 202, response.body
    assert response.json_body == {"contract_id": contract_id, "status": "received"}
    assert stored_document(stack, contract_id)["amount"] == "108000.00"
    updated = [e for e in stack.timeline(contract_id) if e["type"] == "updated"]
    assert len(updated) == 1 and updated[0]["detail"]["changed"] == ["amount", "payment"]

    # The same update delivered again: a repeat, not a second change.
    again = post_zoho(stack, update)
    assert again.status_code == 200
    assert [e["type"] for e in stack.timeline(contract_id)].count("updated") == 1

    sent = stack.wait_status(contract_id, "sent")
    assert sent["amount"] == "108000.00"
    html = rendered_html(stack, contract_id)
    assert "108,000.00" in html and "96,000.00" not in html


def test_update_after_sending_is_a_clear_409_and_changes_nothing(stack: StackHarness) -> None:
    created = post_zoho(stack, raw("zoho_deal.json"))
    contract_id = created.json_body["contract_id"]
    stack.wait_status(contract_id, "sent")
    stack.settle_connect()  # DocuSign's own events land first; only ours are compared below
    stack.drain_jobs()
    before = stored_document(stack, contract_id)
    jobs_before = len(stack.job_log)

    response = post_zoho(stack, zoho_event("updated", "2026-11-27T09:00:00+08:00", Amount="1.00"))
    assert response.status_code == 409, response.body
    error = response.json_body["error"]
    assert error["code"] == "conflict"
    assert "already sent" in error["message"] and "Cancel it in the CRM" in error["message"]
    assert error["details"] == [{"path": "contract.amount", "message": "changed after the contract was sent"}]
    assert stored_document(stack, contract_id) == before
    assert "updated" not in stack.timeline_types(contract_id)
    stack.drain_jobs()
    assert jobs_of(stack, since=jobs_before) == []

    # CRMs resend a record on any edit: an update that changes nothing in the contract is fine.
    unchanged = post_zoho(stack, zoho_event("updated", "2026-11-27T09:05:00+08:00"))
    assert unchanged.status_code == 200 and unchanged.json_body["status"] == "sent"


def test_update_of_a_contract_docusign_refused_sends_it_again(stack: StackHarness) -> None:
    from chalicelib.contracts.lifecycle import Status
    from chalicelib.store import contracts as store

    created = post_zoho(stack, raw("zoho_deal.json"))
    contract_id = created.json_body["contract_id"]
    record = store.get_contract(stack.tenant_id, contract_id)
    # As if DocuSign had refused the envelope (e.g. a signer's address it does not accept).
    store.move_status(record, Status.SEND_FAILED, event_type="send_failed", reason="INVALID_EMAIL_ADDRESS")
    response = post_zoho(stack, zoho_event("updated", "2026-11-26T12:00:00+08:00",
                                           Contact_Email="chen.jing@hengtai-group.example"))
    assert response.status_code == 202, response.body
    assert response.json_body["status"] == "sending"
    sent = stack.wait_status(contract_id, "sent")
    assert sent["signers"][0]["email"] == "chen.jing@hengtai-group.example"
    assert "resend_requested" in stack.timeline_types(contract_id)


def test_update_for_an_unknown_record_creates_it(stack: StackHarness) -> None:
    response = post_zoho(stack, zoho_event("updated", "2026-11-26T12:00:00+08:00"))
    assert response.status_code == 202, response.body
    assert stack.get_contract(response.json_body["contract_id"])["number"] == "FW-2026-0042"


def cancel(stack: StackHarness, modified: str) -> Any:
    return post_zoho(stack, zoho_event("cancelled", modified))


def test_cancel_before_sending_voids_without_docusign(stack: StackHarness) -> None:
    created = post_zoho(stack, raw("zoho_deal.json"))
    contract_id = created.json_body["contract_id"]
    response = cancel(stack, "2026-11-26T10:30:00+08:00")
    assert response.status_code == 202, response.body
    assert response.json_body == {"contract_id": contract_id, "status": "voided"}
    stack.drain_jobs()  # the queued send job finds it voided
    assert stack.get_contract(contract_id)["status"] == "voided"
    assert stack.sandbox_envelopes(contract_id) == []
    assert jobs_of(stack) == ["send"]  # no void job: nothing was sent


def test_cancel_after_sending_voids_the_envelope_once(stack: StackHarness) -> None:
    created = post_zoho(stack, raw("zoho_deal.json"))
    contract_id = created.json_body["contract_id"]
    envelope_id = stack.wait_status(contract_id, "sent")["envelope_id"]
    response = cancel(stack, "2026-11-28T10:00:00+08:00")
    assert response.status_code == 202, response.body
    assert response.json_body["status"] == "voided"
    stack.drain_jobs()
    envelope = stack.sandbox("GET", f"/sandbox/envelopes/{envelope_id}")
    assert envelope["status"] == "voided"
    stack.settle_connect()
    stack.wait_until(lambda: "envelope_voided" in stack.timeline_types(contract_id), what="envelope voided")

    # The cancellation again (a resend) and a late one with another delivery id: no second void.
    assert cancel(stack, "2026-11-28T10:00:00+08:00").status_code == 200
    late = cancel(stack, "2026-11-28T10:05:00+08:00")
    assert late.status_code == 200 and late.json_body["status"] == "voided"
    jobs_before = len(stack.job_log)
    stack.drain_jobs()
    assert "void" not in jobs_of(stack, since=jobs_before)
    assert stack.timeline_types(contract_id).count("envelope_voided") == 1


def test_void_job_is_idempotent(stack: StackHarness) -> None:
    from chalicelib.jobs import void

    created = post_zoho(stack, raw("zoho_deal.json"))
    contract_id = created.json_body["contract_id"]
    stack.wait_status(contract_id, "sent")
    cancel(stack, "2026-11-28T10:00:00+08:00")
    message = {"job": "void", "tenant_id": stack.tenant_id, "contract_id": contract_id, "reason": "x"}
    first = void.run(message)
    second = void.run(message)
    assert first.startswith("voided ") and second == "already voided"
    stack.drain_jobs()  # the queued copy of the same job
    assert stack.timeline_types(contract_id).count("envelope_voided") == 1


def test_cancel_of_an_unknown_record_is_acknowledged_and_stores_nothing(stack: StackHarness) -> None:
    response = cancel(stack, "2026-11-28T10:00:00+08:00")
    assert response.status_code == 200, response.body
    assert response.json_body["status"] == "ignored"
    assert stored_keys() == []


def test_generic_source_update_and_cancel(stack: StackHarness) -> None:
    from devstack.webhook import sample

    body = sample("sales")
    body["contract"]["crm_record_id"] = "deal-upd-1"
    assert stack.post_webhook(body).status_code == 202
    body["event"] = "contract.updated"
    body["contract"]["title"] = "智能门锁销售合同（修订）"
    updated = stack.post_webhook(body)
    assert updated.status_code == 202, updated.body
    assert stack.get_contract(updated.json_body["contract_id"])["title"] == "智能门锁销售合同（修订）"
    cancelled = stack.post_webhook({"event": "contract.cancelled", "contract": {"crm_record_id": "deal-upd-1"}})
    assert cancelled.status_code == 202 and cancelled.json_body["status"] == "voided"
