"""What goes to DocuSign and what comes back to the signer and the owner: the envelope's content
(document, routing, cc, anchor tabs, hidden contract id, the tenant's reminders and expiry, Connect
settings, embedded or email delivery), data errors that fail the send, the signing link's pages,
expiry, and the document route."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.app_server import AppServer
from tests.support.esign import envelope_api, send, signer, signing_link, submit, webhook_body
from tests.support.stack import StackHarness


def set_signing_settings(stack: StackHarness, signing: dict[str, Any]) -> None:
    from chalicelib.store.registry import clear_cache, get_tenant, put_tenant

    tenant = get_tenant(stack.tenant_id)
    put_tenant(stack.tenant_id, tenant.name, {**tenant.settings, "signing": signing})
    clear_cache()


def open_link(stack: StackHarness, url: str, accept_language: str = "en-US") -> Any:
    return stack.client.http.get(url.split(stack.api_url, 1)[1], headers={"Accept-Language": accept_language})


def page_outcome(response: Any) -> tuple[str, str]:
    html = response.body.decode()
    outcome = html.split('data-outcome="', 1)[1].split('"', 1)[0]
    title = html.split('id="outcome-title">', 1)[1].split("<", 1)[0]
    return outcome, title


def test_the_envelope_carries_the_contract_as_the_tenant_wants_it(stack: StackHarness) -> None:
    set_signing_settings(stack, {"reminder_delay_days": 1, "reminder_frequency_days": 3, "expire_after_days": 10,
                                 "expire_warn_days": 2})
    body = webhook_body("partner.en", crm_record_id="content", signers=[
        signer("Erik Lindqvist", "erik.lindqvist@fjordsecure.example", 1, delivery="email"),
        signer("Sara Holm", "sara.holm@fjordsecure.example", 1),  # parallel with Erik
        signer("Anna Keller", "anna.keller@yunti.example", 2, party="ours"),
    ], cc=[{"name": "Legal", "email": "legal@yunti.example"}])
    contract = send(stack, body)
    contract_id, envelope_id = contract["contract_id"], contract["envelope_id"]
    envelope = stack.sandbox("GET", f"/sandbox/envelopes/{envelope_id}")

    assert envelope["emailSubject"].startswith(contract["number"])
    assert envelope["customFields"]["textCustomFields"][0] | {"fieldId": None} == {
        "name": "contractId", "value": contract_id, "show": "false", "required": "false", "fieldId": None}
    assert envelope["notification"] == {
        "useAccountDefaults": "false",
        "reminders": {"reminderEnabled": "true", "reminderDelay": "1", "reminderFrequency": "3"},
        "expirations": {"expireEnabled": "true", "expireAfter": "10", "expireWarn": "2"},
    }
    connect = envelope["eventNotification"]
    assert connect["url"] == f"{stack.api_url}/v1/esign/docusign/connect"
    assert (connect["deliveryMode"], connect["includeHMAC"], connect["requireAcknowledgment"]) == ("SIM", "true",
                                                                                                   "true")
    assert connect["eventData"] == {"version": "restv2.1", "format": "json",
                                    "includeData": ["custom_fields", "recipients"]}
    assert {"envelope-sent", "envelope-completed", "envelope-declined", "envelope-voided",
            "recipient-completed"} <= set(connect["events"])

    people = {r["email"]: r for r in envelope["recipients"]}
    assert people["erik.lindqvist@fjordsecure.example"]["delivery"] == "email"
    assert "clientUserId" not in people["erik.lindqvist@fjordsecure.example"]
    assert people["sara.holm@fjordsecure.example"]["clientUserId"] == f"{contract_id}-2"
    assert people["legal@yunti.example"]["type"] == "cc"
    # Parallel then sequential: both routing-1 signers have it now, Anna waits.
    assert {e: people[e]["status"] for e in people if people[e]["type"] == "signer"} == {
        "erik.lindqvist@fjordsecure.example": "sent", "sara.holm@fjordsecure.example": "sent",
        "anna.keller@yunti.example": "created"}

    # Anchor tabs per signer, read back through the SDK.
    api, account_id = envelope_api()
    recipients = api.list_recipients(account_id, envelope_id, include_tabs="true", _request_timeout=(3, 30))
    for s in recipients.signers:
        n = int(s.recipient_id)
        assert [t.anchor_string for t in s.tabs.sign_here_tabs] == [f"/sn{n}/"]
        assert [t.anchor_string for t in s.tabs.date_signed_tabs] == [f"/ds{n}/"]
        assert [t.anchor_string for t in s.tabs.full_name_tabs] == [f"/fn{n}/"]
    # The document is the one we rendered and archived (its sha256 is on the contract).
    [document] = api.list_documents(account_id, envelope_id, _request_timeout=(3, 30)).envelope_documents[:1]
    assert document.name.startswith(contract["number"])

    # Signing links: the parallel embedded signer can sign now, the routing-2 one cannot yet, the email
    # signer is told to use DocuSign's email; links are handed out as long as the envelope lives (10
    # days), each one opening for 10 minutes.
    asked = datetime.now(UTC).replace(microsecond=0)
    sara, anna, erik = (signing_link(stack, contract_id, n) for n in (2, 3, 1))
    sent_at = next(e["at"] for e in contract["timeline"] if e["type"] == "envelope_sent")
    assert datetime.fromisoformat(sara["envelope_expires_at"]) == datetime.fromisoformat(sent_at) + timedelta(days=10)
    assert timedelta(0) <= datetime.fromisoformat(sara["expires_at"]) - asked - timedelta(minutes=10) <= timedelta(
        seconds=5)
    assert open_link(stack, sara["url"]).status_code == 302
    early = open_link(stack, anna["url"])
    assert early.status_code == 409 and page_outcome(early) == ("not_your_turn", "It is not your turn yet")
    by_email = open_link(stack, erik["url"])
    assert by_email.status_code == 409 and page_outcome(by_email)[0] == "by_email"


def test_a_tenant_typo_in_signing_settings_falls_back_to_the_defaults(stack: StackHarness) -> None:
    set_signing_settings(stack, {"expire_after_days": "thirty", "reminder_delay_days": 4})
    contract = send(stack, webhook_body("sales.en", crm_record_id="typo",
                                        signers=[signer("Rachel Tan", "rachel.tan@harbourline.example", 1)]))
    notification = stack.sandbox("GET", f"/sandbox/envelopes/{contract['envelope_id']}")["notification"]
    assert notification["expirations"]["expireAfter"] == "30"
    assert notification["reminders"]["reminderDelay"] == "4"


@pytest.fixture
def template_without_signature_block(stack: StackHarness) -> Any:
    from chalicelib.store.templates import delete_template_override, put_template_override

    name = "contracts/sales.en.html.j2"
    put_template_override(stack.tenant_id, name,
                          "<html><body><h1>{{ contract.number }}</h1><p>No signature block.</p></body></html>")
    yield name
    delete_template_override(stack.tenant_id, name)


def test_docusign_refusing_the_contracts_data_fails_the_send_visibly(
        stack: StackHarness, template_without_signature_block: str) -> None:
    # A tenant template without the signature block: DocuSign finds no anchor for the tabs.
    contract_id = submit(stack, webhook_body("sales.en", crm_record_id="no-anchors",
                                             signers=[signer("Rachel Tan", "rachel.tan@harbourline.example", 1)]))
    failed = stack.wait_status(contract_id, "send_failed")
    assert "Anchor" in failed["status_reason"]
    [event] = [e for e in failed["timeline"] if e["type"] == "send_failed"]
    assert event["detail"]["error_code"] == "ANCHOR_TAG_PROCESSING_FAILURE" and event["detail"]["trace_token"]
    assert stack.sandbox_envelopes() == []
    assert [json.loads(b)["job"] for b in stack.job_log] == ["send"]  # not retried


def test_an_expired_envelope_voids_the_contract_and_tells_owner_crm_and_signer(
        stack: StackHarness, crm: tuple[str, Any]) -> None:
    _, receiver = crm
    set_signing_settings(stack, {"expire_after_days": 3, "expire_warn_days": 1})
    contract = send(stack, webhook_body("sales.zh-CN", crm_record_id="expiring",
                                        signers=[signer("李强", "li.qiang@xinhe.example", 1)]))
    link = signing_link(stack, contract["contract_id"], 1)
    stack.settle_connect()
    # Connect delivers the void twice; the owner is still told only once.
    stack.sandbox("POST", "/sandbox/faults", {"connect_duplicate": 1})
    clock = stack.sandbox("POST", "/sandbox/clock", {"advance_days": 4})
    assert clock["expired"] == [contract["envelope_id"]]

    voided = stack.wait_status(contract["contract_id"], "voided")
    assert voided["status_reason"] == "Envelope has expired."
    stack.settle_connect()
    stack.drain_jobs()
    mails = [m for m in stack.sent_emails() if m.subject.startswith("合同已作废")]
    assert len(mails) == 1, [m.subject for m in stack.sent_emails()]
    assert "签署期限已过" in mails[0].subject and mails[0].to == ["wang.min@yunti.example"]
    assert "DocuSign 已将信封作废" in mails[0].text and mails[0].html and "合同编号" in mails[0].html
    assert [e["type"] for e in voided["timeline"]].count("owner_notified") == 1
    stack.wait_until(lambda: any(c["status"] == "voided" for c in receiver.snapshot()["callbacks"]),
                     what="the voided callback")

    # The signer's stable link now says, in Chinese, that the signing period is over.
    expired = open_link(stack, link["url"], accept_language="en-US")
    assert expired.status_code == 410
    assert page_outcome(expired) == ("expired", "签署链接已过期")


def test_signing_link_pages(stack: StackHarness) -> None:
    from chalicelib.esign import envelopes

    contract = send(stack, webhook_body("sales.en", crm_record_id="pages",
                                        signers=[signer("Rachel Tan", "rachel.tan@harbourline.example", 1)]))
    contract_id = contract["contract_id"]
    link = signing_link(stack, contract_id, 1)
    again = signing_link(stack, contract_id, 1)
    assert again["url"] != link["url"]  # each ask mints a new short-lived link, from the same grant
    assert open_link(stack, again["url"]).status_code == 302

    # Unguessable and tamper-proof: any change to the token gives a clear page, never DocuSign.
    token = link["url"].rsplit("/", 1)[1]
    kid, sealed = token.split(".")
    flipped = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    for bad in (f"{kid}.{sealed[:-2]}xx", f"{kid}.{flipped}", f"{'0' * 8}.{sealed}", "nonsense"):
        page = stack.client.http.get(f"/sign/{bad}", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert page.status_code == 404 and page_outcome(page) == ("invalid", "链接无效")
    assert stack.client.http.get(f"/sign/{token}x").status_code == 404

    # A DocuSign outage while minting the view: a "try again" page, and the same link works later.
    stack.sandbox("POST", "/sandbox/faults", {"rest_5xx": 1, "only_path": "/views/recipient"})
    outage = open_link(stack, link["url"])
    assert outage.status_code == 503 and page_outcome(outage)[0] == "unavailable"
    first, second = open_link(stack, link["url"]), open_link(stack, link["url"])
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] != second.headers["Location"]  # a fresh view at every click

    # Asking for a link: bad signer numbers.
    bad = stack.client.http.get(f"/v1/contracts/{contract_id}/signing-link?signer=x", headers=stack.auth())
    assert bad.status_code == 400
    assert stack.client.http.get(f"/v1/contracts/{contract_id}/signing-link?signer=2",
                                 headers=stack.auth()).status_code == 404

    # Voided by the sender: the link explains, and no new link is handed out.
    envelopes.void_envelope(stack.tenant_id, contract["envelope_id"], "Replaced by a new version")
    stack.wait_status(contract_id, "voided")
    gone = open_link(stack, again["url"])
    assert gone.status_code == 410 and page_outcome(gone) == ("voided", "This contract was withdrawn")
    assert stack.client.http.get(f"/v1/contracts/{contract_id}/signing-link?signer=1",
                                 headers=stack.auth()).status_code == 409


@pytest.mark.parametrize(("event", "locale", "title"), [
    ("signing_complete", "en", "Thank you for signing"),
    ("signing_complete", "zh-CN", "签署成功"),
    ("decline", "zh-CN", "您已拒签"),
    ("cancel", "en", "Signing paused"),
    ("session_timeout", "zh-CN", "会话已超时"),
    ("ttl_expired", "en", "This signing page expired"),
    ("viewing_complete", "en", "Viewed"),
    ("exception", "zh-CN", "签署出现问题"),
    ("something_new", "en", "Signing status unknown"),
])
def test_the_return_page_says_what_happened(app_server: AppServer, event: str, locale: str, title: str) -> None:
    response = app_server.client.http.get(f"/signed?event={event}&lang={locale}&contract=HT-1")
    assert response.status_code == 200
    html = response.body.decode()
    assert f'<html lang="{locale}">' in html and f'id="outcome-title">{title}<' in html and "HT-1" in html
    assert response.headers["Cache-Control"] == "no-store"


def test_the_document_route(stack: StackHarness) -> None:
    import requests  # moto answers S3 URLs made by requests, like it answers botocore

    contract = send(stack, webhook_body("sales.en", crm_record_id="documents",
                                        signers=[signer("Rachel Tan", "rachel.tan@harbourline.example", 1)]))
    path = f"/v1/contracts/{contract['contract_id']}/document"

    rendered = stack.client.http.get(f"{path}?version=rendered", headers=stack.auth())
    assert rendered.status_code == 302 and rendered.headers["Cache-Control"] == "no-store"
    url = rendered.headers["Location"]
    query = parse_qs(urlsplit(url).query)
    assert contract["contract_id"] in urlsplit(url).path and query.get("versionId")
    # SigV4 (every region accepts it), valid five minutes at most.
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and int(query["X-Amz-Expires"][0]) <= 300
    fetched = requests.get(url, timeout=10)
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == contract["documents"]["rendered"]["sha256"]
    assert fetched.headers.get("x-amz-server-side-encryption") == "AES256"

    not_yet = stack.client.http.get(f"{path}?version=signed", headers=stack.auth())
    assert not_yet.status_code == 404 and not_yet.json_body["error"]["code"] == "not_found"
    for query_string in ("?version=pdf", ""):
        bad = stack.client.http.get(f"{path}{query_string}", headers=stack.auth())
        assert bad.status_code == 400 and bad.json_body["error"]["details"][0]["path"] == "version"
    assert stack.client.http.get(f"{path}?version=rendered").status_code == 401
    assert stack.client.http.get("/v1/contracts/ctr_nope/document?version=rendered",
                                 headers=stack.auth()).status_code == 404
