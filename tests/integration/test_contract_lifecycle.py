"""One sales contract's whole life through the real pieces: webhook → envelope (SDK → sandbox) →
signed on the sandbox's page → Connect → archived PDF → reminder email 30 days before the end."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest

from tests.support.stack import StackHarness, sign_as, timeline_event_count

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"


def sales_body(crm_record_id: str = "deal-88213") -> dict:
    body = json.loads((SAMPLES / "sales.json").read_text())
    body["contract"]["crm_record_id"] = crm_record_id
    return body


def count_items(model: type) -> int:
    return sum(1 for _ in model.scan())


def test_sales_contract_from_webhook_to_reminder(stack: StackHarness) -> None:
    response = stack.post_webhook(sales_body())
    assert response.status_code == 202, response.body
    contract_id = response.json_body["contract_id"]
    assert response.json_body["status"] == "received"

    sent = stack.wait_status(contract_id, "sent")
    envelope_id = sent["envelope_id"]
    assert envelope_id
    # The envelope at "DocuSign" carries our contract id as a hidden custom field, a sign-here
    # anchor per signer and the document we rendered.
    envelope = stack.sandbox("GET", f"/sandbox/envelopes/{envelope_id}")
    assert envelope["customFields"]["textCustomFields"][0]["value"] == contract_id
    rendered = sent["documents"]["rendered"]
    assert len(rendered["sha256"]) == 64

    # Sequential routing: the counterparty (routing 1, email) signs first, then our signer
    # (routing 2, embedded) through our stable signing link.
    status, location = sign_as(stack, contract_id, 1)
    assert status in (200, 302)
    stack.wait_until(lambda: stack.get_contract(contract_id)["signers"][0]["status"] == "signed",
                     what="signer 1 signed")
    status, location = sign_as(stack, contract_id, 2)
    assert status == 302 and location and "/signed?" in location and "event=signing_complete" in location

    active = stack.wait_status(contract_id, "active")
    assert [s["status"] for s in active["signers"]] == ["signed", "signed"]
    signed_sha = active["documents"]["signed"]["sha256"]
    # The archived PDF is the one DocuSign serves, byte for byte.
    from chalicelib.esign.envelopes import combined_pdf

    pdf = combined_pdf(stack.tenant_id, envelope_id)
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == signed_sha

    # The end date is 2027-11-30 (Asia/Shanghai); 30 days before is Sunday 2027-10-31, so the notice
    # waits for Monday 2027-11-01 at the start of business hours: 09:00 +08:00 = 01:00 UTC.
    # Everything due earlier (payments, delivery, the 90-day notice) goes out on an earlier run held
    # in business hours (Friday 2027-10-29, 10:00 in Shanghai).
    stack.fire_schedule("hourly_reminders", "2027-10-29T02:00:00Z")
    before = len(stack.sent_emails())
    stack.fire_schedule("hourly_reminders", "2027-11-01T00:00:00Z")
    assert len(stack.sent_emails()) == before
    result = stack.fire_schedule("hourly_reminders", "2027-11-01T01:00:00Z")
    emails = stack.sent_emails()[before:]
    assert result["sent"] == 1 and len(emails) == 1, [m.subject for m in emails]
    assert "HT-2026-0117" in emails[0].subject and "剩余 29 天" in emails[0].subject
    assert emails[0].to == ["wang.min@yunti.example"]
    assert "壹拾贰万捌仟元整" in emails[0].text
    # Fired again for the same hour (EventBridge may deliver twice): nothing more is sent.
    again = stack.fire_schedule("hourly_reminders", "2027-11-01T01:00:00Z")
    assert again["sent"] == 0 and len(stack.sent_emails()) == before + 1

    timeline = [e["type"] for e in stack.get_contract(contract_id)["timeline"]]
    for expected in ("received", "sending", "rendered", "envelope_sent", "envelope_completed", "archived",
                     "active", "reminder_sent"):
        assert expected in timeline, timeline


def test_same_webhook_twice_gives_one_contract_and_one_envelope(stack: StackHarness) -> None:
    body = sales_body("deal-dup")
    first = stack.post_webhook(body, webhook_id="msg_dup_1")
    second = stack.post_webhook(body, webhook_id="msg_dup_1")
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json_body["contract_id"] == first.json_body["contract_id"]
    stack.wait_status(first.json_body["contract_id"], "sent")
    # A retry after sending answers the same and sends nothing new.
    third = stack.post_webhook(body, webhook_id="msg_dup_1")
    assert third.status_code == 200 and third.json_body["contract_id"] == first.json_body["contract_id"]
    stack.drain_jobs()
    envelopes = stack.sandbox("GET", "/sandbox/envelopes")["envelopes"]
    assert len(envelopes) == 1


def test_same_crm_record_under_a_new_delivery_id_is_not_a_second_contract(stack: StackHarness) -> None:
    first = stack.post_webhook(sales_body("deal-7"), webhook_id="msg_a")
    second = stack.post_webhook(sales_body("deal-7"), webhook_id="msg_b")
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json_body["contract_id"] == second.json_body["contract_id"]


@pytest.mark.parametrize("tamper", ["wrong_secret", "missing_headers", "changed_body", "stale", "garbage_sig"])
def test_bad_signature_is_401_and_stores_nothing(stack: StackHarness, tamper: str) -> None:
    from chalicelib.store.models import ContractRecord, KeyRecord
    from devstack.stack import new_webhook_secret
    from devstack.webhook import signed_headers

    raw = json.dumps(sales_body(), ensure_ascii=False).encode()
    headers = signed_headers(stack.secret, raw)
    if tamper == "wrong_secret":
        headers = signed_headers(new_webhook_secret(), raw)
    elif tamper == "missing_headers":
        headers = {"Content-Type": "application/json"}
    elif tamper == "changed_body":
        raw = raw.replace(b"128000.00", b"1.00")
    elif tamper == "stale":
        import time

        headers = signed_headers(stack.secret, raw, timestamp=int(time.time()) - 301)
    elif tamper == "garbage_sig":
        headers["webhook-signature"] = "not-a-signature"
    response = stack.client.http.post(f"/v1/webhooks/{stack.source_id}", headers=headers, body=raw)
    assert response.status_code == 401, response.body
    error = response.json_body["error"]
    assert error["code"] == "unauthorized" and error["message"]
    assert count_items(ContractRecord) == 0
    assert timeline_event_count() == 0
    assert [k.key for k in KeyRecord.scan() if k.key.startswith(("crm#", "delivery#"))] == []
    assert stack.drain_jobs() == 0


def test_malformed_json_is_400_in_the_error_shape(stack: StackHarness) -> None:
    from chalicelib.store.models import ContractRecord

    response = stack.post_webhook(b'{"event": "contract.created", "contract": {')
    assert response.status_code == 400
    error = response.json_body["error"]
    assert error["code"] == "malformed_body"
    assert "JSON" in error["message"]
    assert count_items(ContractRecord) == 0


def test_missing_required_clause_is_422_naming_the_path(stack: StackHarness) -> None:
    body = sales_body()
    del body["contract"]["delivery"]["place"]
    body["contract"]["payment"]["milestones"][1]["due_date"] = "2027-02-30"
    response = stack.post_webhook(body)
    assert response.status_code == 422
    error = response.json_body["error"]
    assert error["code"] == "validation_error"
    paths = {d["path"] for d in error["details"]}
    assert {"contract.delivery.place", "contract.payment.milestones[1].due_date"} <= paths


def test_unknown_source_is_404(stack: StackHarness) -> None:
    response = stack.post_webhook(sales_body(), source_id="nope")
    assert response.status_code == 404
    assert response.json_body["error"]["code"] == "not_found"


def test_body_over_256_kib_is_413(stack: StackHarness) -> None:
    body = sales_body()
    body["contract"]["after_sales"] = "x" * (256 * 1024)
    response = stack.post_webhook(body)
    assert response.status_code == 413
    assert response.json_body["error"]["code"] == "payload_too_large"


def test_wrong_content_type_is_415(stack: StackHarness) -> None:
    response = stack.post_webhook(sales_body(), headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json_body["error"]["code"] == "unsupported_media_type"


def test_contract_api_needs_a_key_and_is_tenant_scoped(stack: StackHarness) -> None:
    from chalicelib.store.registry import put_api_key, put_tenant

    contract_id = stack.post_webhook(sales_body()).json_body["contract_id"]
    assert stack.client.http.get(f"/v1/contracts/{contract_id}").status_code == 401
    bad = stack.client.http.get(f"/v1/contracts/{contract_id}", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    put_tenant("other", "Other Co.")
    put_api_key("other", "other-key")
    foreign = stack.client.http.get(f"/v1/contracts/{contract_id}", headers={"Authorization": "Bearer other-key"})
    assert foreign.status_code == 404
    assert stack.client.http.get("/v1/contracts/ctr_missing", headers=stack.auth()).status_code == 404


def test_health(stack: StackHarness) -> None:
    response = stack.client.http.get("/health")
    assert response.status_code == 200 and response.json_body == {"status": "ok"}


def test_sample_is_not_mutated() -> None:
    a = sales_body()
    assert copy.deepcopy(a) == a
