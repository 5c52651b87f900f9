"""Envelopes through the real SDK: create, read, list, views, signing, routing, void, expiry."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import docusign_esign as ds
import pytest

from .helpers import (
    CONTRACT_TITLE,
    SandboxHandle,
    api_error,
    definition,
    email_signer,
    embedded_signer,
    http,
    view_request,
)


def create(sandbox: SandboxHandle, envelope: ds.EnvelopeDefinition) -> ds.EnvelopeSummary:
    summary = sandbox.api().create_envelope(sandbox.account_id, envelope_definition=envelope)
    assert isinstance(summary, ds.EnvelopeSummary)
    return summary


def get(sandbox: SandboxHandle, envelope_id: str) -> ds.Envelope:
    envelope = sandbox.api().get_envelope(sandbox.account_id, envelope_id, include="custom_fields,recipients")
    assert isinstance(envelope, ds.Envelope)
    return envelope


def rejected(sandbox: SandboxHandle, call, *args, **kwargs) -> dict:
    with pytest.raises(ds.ApiException) as caught:
        call(sandbox.account_id, *args, **kwargs)
    assert caught.value.status == 400, caught.value.body
    return api_error(caught.value)


def event_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["event"][0]


def test_create_then_read_back_through_sdk_models(sandbox: SandboxHandle) -> None:
    signers = [embedded_signer(1), embedded_signer(2, routing_order=2)]
    cc = ds.CarbonCopy(email="legal@example.cn", name="法务部", recipient_id="9", routing_order="3")
    summary = create(sandbox, definition(signers, carbon_copies=[cc]))
    assert summary.status == "sent"
    assert summary.uri == f"/envelopes/{summary.envelope_id}"
    assert summary.status_date_time.endswith("Z")

    envelope = get(sandbox, summary.envelope_id)
    assert envelope.envelope_id == summary.envelope_id
    assert envelope.status == "sent"
    assert envelope.email_subject.endswith(CONTRACT_TITLE)
    assert envelope.sent_date_time and envelope.status_changed_date_time
    assert envelope.expire_after == "30" and envelope.expire_date_time
    (field,) = envelope.custom_fields.text_custom_fields
    assert (field.name, field.value, field.show) == ("contractId", "C-42", "false")
    first, second = envelope.recipients.signers
    assert isinstance(first, ds.Signer)
    assert (first.recipient_id, first.status, first.client_user_id) == ("1", "sent", "crm-user-1")
    assert (second.recipient_id, second.status) == ("2", "created")
    assert first.tabs is None  # like DocuSign: tabs only with include_tabs
    assert envelope.recipients.carbon_copies[0].status == "created"

    recipients = sandbox.api().list_recipients(sandbox.account_id, summary.envelope_id, include_tabs="true")
    assert isinstance(recipients, ds.Recipients)
    assert recipients.current_routing_order == "1"
    assert recipients.signers[0].tabs.sign_here_tabs[0].anchor_string == "/sn1/"

    fields = sandbox.api().list_custom_fields(sandbox.account_id, summary.envelope_id)
    assert isinstance(fields, ds.CustomFieldsEnvelope)
    assert fields.text_custom_fields[0].value == "C-42"

    notification = sandbox.api().get_notification_settings(sandbox.account_id, summary.envelope_id)
    assert isinstance(notification, ds.Notification)
    assert notification.reminders.reminder_frequency == "2"
    assert notification.expirations.expire_after == "30"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda d: setattr(d, "email_subject", None), "ENVELOPE_IS_INCOMPLETE"),
        (lambda d: setattr(d, "documents", []), "ENVELOPE_IS_INCOMPLETE"),
        (lambda d: setattr(d.documents[0], "document_base64", None), "ENVELOPE_IS_INCOMPLETE"),
        (lambda d: setattr(d.recipients, "signers", []), "ENVELOPE_IS_INCOMPLETE"),
        (lambda d: setattr(d.recipients.signers[0], "email", None), "ENVELOPE_IS_INCOMPLETE"),
        (lambda d: setattr(d.recipients.signers[0], "name", ""), "ENVELOPE_IS_INCOMPLETE"),
        (lambda d: setattr(d.recipients.signers[0], "recipient_id", None), "ENVELOPE_IS_INCOMPLETE"),
        (lambda d: setattr(d.recipients.signers[0], "email", "not-an-email"), "INVALID_EMAIL_ADDRESS_FOR_RECIPIENT"),
        (lambda d: setattr(d.documents[0], "file_extension", "docx"), "FORMAT_CONVERSION_ERROR"),
        (
            lambda d: setattr(d.recipients.signers[0].tabs.sign_here_tabs[0], "anchor_string", "/nowhere/"),
            "ANCHOR_TAG_PROCESSING_FAILURE",
        ),
    ],
)
def test_invalid_envelopes_are_refused_like_docusign(sandbox: SandboxHandle, change, code: str) -> None:
    envelope = definition([embedded_signer(1)])
    change(envelope)
    body = rejected(sandbox, sandbox.api().create_envelope, envelope_definition=envelope)
    assert body["errorCode"] == code
    assert body["message"]
    assert sandbox.control("GET", "/sandbox/envelopes")["envelopes"] == []  # nothing half-written


def test_anchor_rules(sandbox: SandboxHandle) -> None:
    ignored = definition([embedded_signer(1)])
    ignored.recipients.signers[0].tabs.sign_here_tabs[0].anchor_string = "/absent/"
    ignored.recipients.signers[0].tabs.sign_here_tabs[0].anchor_ignore_if_not_present = "true"
    assert create(sandbox, ignored).status == "sent"

    other_case = definition([embedded_signer(1)])
    other_case.recipients.signers[0].tabs.sign_here_tabs[0].anchor_string = "/SN1/"
    assert create(sandbox, other_case).status == "sent"  # anchors are case-insensitive by default
    other_case.recipients.signers[0].tabs.sign_here_tabs[0].anchor_case_sensitive = "true"
    body = rejected(sandbox, sandbox.api().create_envelope, envelope_definition=other_case)
    assert body["errorCode"] == "ANCHOR_TAG_PROCESSING_FAILURE"


def test_draft_is_sent_by_update(sandbox: SandboxHandle) -> None:
    summary = create(sandbox, definition([embedded_signer(1)], status="created"))
    assert summary.status == "created"
    assert get(sandbox, summary.envelope_id).recipients.signers[0].status == "created"
    update = sandbox.api().update(sandbox.account_id, summary.envelope_id, envelope=ds.Envelope(status="sent"))
    assert isinstance(update, ds.EnvelopeUpdateSummary) and update.envelope_id == summary.envelope_id
    envelope = get(sandbox, summary.envelope_id)
    assert envelope.status == "sent" and envelope.recipients.signers[0].status == "sent"


def test_list_status_changes_filters_and_pages(sandbox: SandboxHandle) -> None:
    api = sandbox.api()
    sandbox.control("POST", "/sandbox/clock", {"now": "2027-01-10T00:00:00Z"})
    old = create(sandbox, definition([embedded_signer(1)], contract_id="C-1", expire_after="90"))
    sandbox.control("POST", "/sandbox/clock", {"now": "2027-02-10T00:00:00Z"})
    ids = [create(sandbox, definition([embedded_signer(1)], contract_id=f"C-{n}")).envelope_id for n in (2, 3, 4)]
    api.update(sandbox.account_id, ids[2], envelope=ds.Envelope(status="voided", voided_reason="superseded"))

    everything = api.list_status_changes(sandbox.account_id, from_date="2027-01-01T00:00:00Z")
    assert isinstance(everything, ds.EnvelopesInformation)
    assert everything.total_set_size == "4" and everything.result_set_size == "4"
    assert [e.envelope_id for e in everything.envelopes][0] == old.envelope_id  # oldest change first
    assert everything.last_queried_date_time.startswith("2027-02-10")

    recent = api.list_status_changes(sandbox.account_id, from_date="2027-02-01")
    assert {e.envelope_id for e in recent.envelopes} == set(ids)

    sent = api.list_status_changes(sandbox.account_id, from_date="2027-01-01", status="Sent,DELIVERED")
    assert {e.envelope_id for e in sent.envelopes} == {old.envelope_id, *ids[:2]}

    by_field = api.list_status_changes(
        sandbox.account_id, from_date="2027-01-01", custom_field="contractId=C-3", include="custom_fields"
    )
    (match,) = by_field.envelopes
    assert match.envelope_id == ids[1]
    assert match.custom_fields.text_custom_fields[0].value == "C-3"

    by_id = api.list_status_changes(sandbox.account_id, envelope_ids=f"{ids[0]},{old.envelope_id}")
    assert by_id.total_set_size == "2"

    page = api.list_status_changes(sandbox.account_id, from_date="2027-01-01", count="3", start_position="0")
    assert (page.result_set_size, page.start_position, page.end_position) == ("3", "0", "2")
    assert "start_position=3" in page.next_uri
    rest = api.list_status_changes(sandbox.account_id, from_date="2027-01-01", count="3", start_position="3")
    assert rest.result_set_size == "1" and rest.next_uri == ""

    nothing = api.list_status_changes(sandbox.account_id, from_date="2027-01-01", status="completed")
    assert nothing.result_set_size == "0"
    assert nothing.envelopes is None  # DocuSign leaves the list out when nothing matches

    body = rejected(sandbox, api.list_status_changes)
    assert body["errorCode"] == "INVALID_REQUEST_PARAMETER" and "from_date" in body["message"]


def test_recipient_view_must_match_an_embedded_signer(sandbox: SandboxHandle) -> None:
    signer = embedded_signer(1)
    envelope_id = create(sandbox, definition([signer])).envelope_id

    def view(**changes: str) -> ds.ViewUrl:
        request = {
            "authentication_method": "none",
            "client_user_id": signer.client_user_id,
            "user_name": signer.name,
            "email": signer.email,
            "recipient_id": "1",
            "return_url": "https://app.example/back",
            **changes,
        }
        return sandbox.api().create_recipient_view(
            sandbox.account_id, envelope_id, recipient_view_request=ds.RecipientViewRequest(**request)
        )

    for wrong in ({"user_name": "张 三"}, {"email": "SIGNER1@example.cn"}, {"client_user_id": "crm-user-2"}):
        with pytest.raises(ds.ApiException) as caught:
            view(**wrong)
        assert api_error(caught.value)["errorCode"] == "UNKNOWN_ENVELOPE_RECIPIENT"

    url = view()
    assert isinstance(url, ds.ViewUrl)
    assert url.url.startswith(sandbox.base + "/signing/")


def test_embedded_signing_completes_the_envelope(sandbox: SandboxHandle) -> None:
    signer = embedded_signer(1)
    envelope_id = create(sandbox, definition([signer])).envelope_id
    view = sandbox.api().create_recipient_view(
        sandbox.account_id,
        envelope_id,
        recipient_view_request=view_request(signer, "https://app.example/signed?contract=C-42"),
    )

    page = http("GET", view.url)
    assert page.status == 200
    for needle in ('id="sign"', 'id="decline"', signer.name, CONTRACT_TITLE):
        assert needle in page.text
    envelope = get(sandbox, envelope_id)
    assert envelope.status == "delivered"  # first view marks it delivered
    assert envelope.recipients.signers[0].status == "delivered"

    done = http("POST", view.url, form={"action": "sign"})
    assert done.status == 302
    location = done.headers["Location"]
    assert location.startswith("https://app.example/signed?contract=C-42&")
    assert event_of(location) == "signing_complete"

    envelope = get(sandbox, envelope_id)
    assert envelope.status == "completed" and envelope.completed_date_time
    assert envelope.recipients.signers[0].status == "completed"
    assert envelope.recipients.signers[0].signed_date_time

    again = http("GET", view.url)  # the URL was single use
    assert again.status == 302 and event_of(again.headers["Location"]) == "ttl_expired"
    body = rejected(
        sandbox,
        sandbox.api().create_recipient_view,
        envelope_id,
        recipient_view_request=view_request(signer, "https://app.example/x"),
    )
    assert body["errorCode"] == "ENVELOPE_INVALID_STATUS"


def test_view_url_opened_twice_or_too_late_is_expired(sandbox: SandboxHandle, make_sandbox) -> None:
    signer = embedded_signer(1)
    envelope_id = create(sandbox, definition([signer])).envelope_id
    request = view_request(signer, "https://app/r")
    url = sandbox.api().create_recipient_view(sandbox.account_id, envelope_id, recipient_view_request=request).url
    assert http("GET", url).status == 200
    second = http("GET", url)  # another browser (no session cookie)
    assert second.status == 302 and event_of(second.headers["Location"]) == "ttl_expired"

    stale = make_sandbox(view_ttl_seconds=0)
    envelope_id = create(stale, definition([signer])).envelope_id
    url = stale.api().create_recipient_view(stale.account_id, envelope_id, recipient_view_request=request).url
    late = http("GET", url)
    assert late.status == 302 and event_of(late.headers["Location"]) == "ttl_expired"
    assert get(stale, envelope_id).status == "sent"  # an expired link changes nothing


def test_decline_ends_the_envelope(sandbox: SandboxHandle) -> None:
    signers = [embedded_signer(1), embedded_signer(2)]
    envelope_id = create(sandbox, definition(signers)).envelope_id
    reply = sandbox.sign(envelope_id, signers[1], action="decline", reason="价格有误")
    assert reply.status == 302 and event_of(reply.headers["Location"]) == "decline"
    envelope = get(sandbox, envelope_id)
    assert envelope.status == "declined" and envelope.declined_date_time
    declined = envelope.recipients.signers[1]
    assert (declined.status, declined.declined_reason) == ("declined", "价格有误")
    assert envelope.recipients.signers[0].status == "sent"


def test_sequential_routing_waits_for_the_earlier_signer(sandbox: SandboxHandle, listener) -> None:
    first, second = embedded_signer(1, routing_order=1), embedded_signer(2, routing_order=2)
    envelope_id = create(
        sandbox, definition([first, second], listener_url=listener.url, events=["recipient-sent"])
    ).envelope_id
    sandbox.connect_idle()
    assert [(m["event"], m["data"]["recipientId"]) for m in listener.messages()] == [("recipient-sent", "1")]
    assert get(sandbox, envelope_id).recipients.signers[1].status == "created"
    body = rejected(
        sandbox,
        sandbox.api().create_recipient_view,
        envelope_id,
        recipient_view_request=view_request(second, "https://app/r"),
    )
    assert body["errorCode"] == "RECIPIENT_NOT_IN_SEQUENCE"

    sandbox.sign(envelope_id, first)
    listener.wait(2)
    assert listener.messages()[1]["data"]["recipientId"] == "2"
    envelope = get(sandbox, envelope_id)
    assert envelope.status == "delivered"
    assert [s.status for s in envelope.recipients.signers] == ["completed", "sent"]

    sandbox.sign(envelope_id, second)
    assert get(sandbox, envelope_id).status == "completed"


def test_parallel_signers_are_sent_together(sandbox: SandboxHandle) -> None:
    signers = [embedded_signer(1), embedded_signer(2)]
    envelope_id = create(sandbox, definition(signers)).envelope_id
    assert [s.status for s in get(sandbox, envelope_id).recipients.signers] == ["sent", "sent"]
    sandbox.sign(envelope_id, signers[1])
    assert get(sandbox, envelope_id).status == "delivered"
    sandbox.sign(envelope_id, signers[0])
    envelope = get(sandbox, envelope_id)
    assert envelope.status == "completed"
    assert [s.status for s in envelope.recipients.signers] == ["completed", "completed"]


def test_void_only_in_process_envelopes(sandbox: SandboxHandle) -> None:
    api = sandbox.api()
    signer = email_signer(1)
    envelope_id = create(sandbox, definition([signer])).envelope_id
    link = sandbox.control("GET", f"/sandbox/envelopes/{envelope_id}")["recipients"][0]["signing_url"]

    update = api.update(
        sandbox.account_id, envelope_id, envelope=ds.Envelope(status="voided", voided_reason="客户取消")
    )
    assert isinstance(update, ds.EnvelopeUpdateSummary) and update.envelope_id == envelope_id
    envelope = get(sandbox, envelope_id)
    assert (envelope.status, envelope.voided_reason) == ("voided", "客户取消")
    assert envelope.voided_date_time

    body = rejected(sandbox, api.update, envelope_id, envelope=ds.Envelope(status="voided", voided_reason="x"))
    assert body["errorCode"] == "ENVELOPE_CANNOT_VOID_INVALID_STATE"
    closed = http("GET", link)
    assert closed.status == 200 and "voided" in closed.text and 'id="sign"' not in closed.text


def test_notification_can_be_changed_after_sending(sandbox: SandboxHandle) -> None:
    envelope_id = create(sandbox, definition([embedded_signer(1)])).envelope_id
    changed = sandbox.api().update_notification_settings(
        sandbox.account_id,
        envelope_id,
        envelope_notification_request=ds.EnvelopeNotificationRequest(
            use_account_defaults="false",
            expirations=ds.Expirations(expire_enabled="true", expire_after="60", expire_warn="3"),
        ),
    )
    assert isinstance(changed, ds.Notification)
    assert changed.expirations.expire_after == "60"
    assert changed.reminders.reminder_delay == "2"  # untouched parts stay
    assert get(sandbox, envelope_id).expire_after == "60"


def test_expiry_voids_the_envelope_when_the_clock_passes_it(sandbox: SandboxHandle, listener) -> None:
    sandbox.control("POST", "/sandbox/clock", {"now": "2027-03-01T08:00:00+08:00"})
    short = create(
        sandbox,
        definition([embedded_signer(1)], expire_after="3", listener_url=listener.url, events=["envelope-voided"]),
    ).envelope_id
    defaults = create(
        sandbox, definition([embedded_signer(1)], expire_after="3", use_account_defaults="true")
    ).envelope_id
    assert get(sandbox, defaults).expire_after == "120"  # the envelope's own values are ignored

    clock = sandbox.control("POST", "/sandbox/clock", {"advance_days": 4})
    assert clock["expired"] == [short]
    envelope = get(sandbox, short)
    assert (envelope.status, envelope.voided_reason) == ("voided", "Envelope has expired.")
    assert get(sandbox, defaults).status == "sent"
    (message,) = [r.json() for r in listener.wait(1)]
    assert message["event"] == "envelope-voided"
    assert message["data"]["envelopeSummary"]["voidedReason"] == "Envelope has expired."
    assert message["generatedDateTime"].startswith("2027-03-05T00:00:00")  # 08:00+08:00 is 00:00Z


def test_email_signers_get_links_in_turn(sandbox: SandboxHandle) -> None:
    first, second = email_signer(1, routing_order=1), email_signer(2, routing_order=2)
    envelope_id = create(sandbox, definition([first, second])).envelope_id

    listing = sandbox.control("GET", f"/sandbox/envelopes/{envelope_id}")
    one, two = listing["recipients"]
    assert one["delivery"] == "email" and "signing_url" in one and "signing_url" not in two
    inbox = http("GET", sandbox.base + "/sandbox/inbox")
    assert inbox.status == 200 and one["signing_url"] in inbox.text

    page = http("GET", one["signing_url"])
    assert page.status == 200 and 'id="sign"' in page.text
    document = http("GET", one["signing_url"] + "/documents/1")
    assert CONTRACT_TITLE in document.text and document.headers["Content-Security-Policy"] == "sandbox"
    done = http("POST", one["signing_url"], form={"action": "sign"})
    assert done.status == 200 and "signed" in done.text  # no returnUrl: a "done" page

    two = sandbox.control("GET", f"/sandbox/envelopes/{envelope_id}")["recipients"][1]
    http("POST", two["signing_url"], form={"action": "sign"})
    assert get(sandbox, envelope_id).status == "completed"
    assert "already signed" in http("GET", one["signing_url"]).text


def test_unknown_envelope(sandbox: SandboxHandle) -> None:
    body = rejected(sandbox, sandbox.api().get_envelope, "3c1d5e2a-0000-4000-8000-000000000000")
    assert body["errorCode"] == "ENVELOPE_DOES_NOT_EXIST"


def test_pdf_extension_needs_pdf_bytes(sandbox: SandboxHandle) -> None:
    not_pdf = definition(
        [embedded_signer(1)],
        documents=[
            ds.Document(
                document_base64=base64.b64encode(b"hello").decode(), document_id="1", file_extension="pdf", name="x"
            )
        ],
    )
    assert (
        rejected(sandbox, sandbox.api().create_envelope, envelope_definition=not_pdf)["errorCode"]
        == "FORMAT_CONVERSION_ERROR"
    )


def test_signing_page_escapes_what_the_sender_wrote(sandbox: SandboxHandle) -> None:
    signer = embedded_signer(1)
    signer.name = "<b>Mallory</b>"
    envelope = definition([signer], subject="<script>alert(1)</script>")
    envelope_id = create(sandbox, envelope).envelope_id
    url = (
        sandbox.api()
        .create_recipient_view(
            sandbox.account_id,
            envelope_id,
            recipient_view_request=view_request(signer, "https://app/r"),
        )
        .url
    )
    page = http("GET", url).text
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<b>Mallory" not in page
