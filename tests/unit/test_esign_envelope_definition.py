"""The envelope definition the app sends, as the SDK serializes it onto the wire, and the per-tenant
signing settings that shape its notification."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

from chalicelib.esign import envelopes
from chalicelib.esign.signing_settings import SigningSettings

HTML = "<html><body><p>合同 /sn1/ /ds1/ /fn1/ /sn2/ /ds2/ /fn2/ /sn3/ /ds3/ /fn3/</p></body></html>"


def request(**overrides: Any) -> envelopes.EnvelopeRequest:
    values: dict[str, Any] = {
        "tenant_id": "demo", "contract_id": "ctr_1", "subject": "HT-1 销售合同", "document_name": "HT-1 销售合同",
        "document_html": HTML, "cc": [("法务部", "legal@yunti.example")],
        "signers": [
            envelopes.SignerSpec(1, "李强", "li@xinhe.example", 1, False, None),
            envelopes.SignerSpec(2, "孙悦", "sun@xinhe.example", 1, True, "ctr_1-2"),
            envelopes.SignerSpec(3, "王敏", "wang@yunti.example", 2, True, "ctr_1-3"),
        ],
    }
    values.update(overrides)
    return envelopes.EnvelopeRequest(**values)


def wire(req: envelopes.EnvelopeRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from docusign_esign import ApiClient

    from chalicelib.core.config import reset_settings

    monkeypatch.setenv("SIGNBRIDGE_PUBLIC_BASE_URL", "https://api.example/")
    reset_settings()
    try:
        return ApiClient().sanitize_for_serialization(envelopes.envelope_definition(req))
    finally:
        monkeypatch.undo()
        reset_settings()


def test_document_recipients_and_tabs(monkeypatch: pytest.MonkeyPatch) -> None:
    body = wire(request(), monkeypatch)
    assert body["status"] == "sent" and body["emailSubject"] == "HT-1 销售合同"
    [document] = body["documents"]
    assert (document["documentId"], document["fileExtension"], document["name"]) == ("1", "html", "HT-1 销售合同")
    assert base64.b64decode(document["documentBase64"]).decode() == HTML

    signers = body["recipients"]["signers"]
    assert [(s["recipientId"], s["routingOrder"], s.get("clientUserId")) for s in signers] == [
        ("1", "1", None), ("2", "1", "ctr_1-2"), ("3", "2", "ctr_1-3")]  # 1 and 2 in parallel, then 3
    for s in signers:
        n = s["recipientId"]
        tabs = s["tabs"]
        assert {k: [t["anchorString"] for t in v] for k, v in tabs.items()} == {
            "signHereTabs": [f"/sn{n}/"], "dateSignedTabs": [f"/ds{n}/"], "fullNameTabs": [f"/fn{n}/"]}
        for tab in (t for v in tabs.values() for t in v):
            assert tab["anchorUnits"] == "pixels" and tab["anchorIgnoreIfNotPresent"] == "false"
    [cc] = body["recipients"]["carbonCopies"]
    assert (cc["name"], cc["email"], cc["recipientId"], cc["routingOrder"]) == ("法务部", "legal@yunti.example",
                                                                               "4", "2")


def test_hidden_contract_id_notification_and_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    body = wire(request(), monkeypatch)
    assert body["customFields"]["textCustomFields"] == [
        {"name": "contractId", "value": "ctr_1", "show": "false", "required": "false"},
        {"name": "tenantId", "value": "demo", "show": "false", "required": "false"}]
    assert body["notification"] == {
        "useAccountDefaults": "false",
        "reminders": {"reminderEnabled": "true", "reminderDelay": "2", "reminderFrequency": "2"},
        "expirations": {"expireEnabled": "true", "expireAfter": "30", "expireWarn": "5"}}
    connect = body["eventNotification"]
    assert connect["url"] == "https://api.example/v1/esign/docusign/connect"
    assert (connect["deliveryMode"], connect["includeHMAC"], connect["requireAcknowledgment"],
            connect["includeEnvelopeVoidReason"]) == ("SIM", "true", "true", "true")
    assert connect["eventData"] == {"version": "restv2.1", "format": "json",
                                    "includeData": ["custom_fields", "recipients"]}
    assert {"envelope-completed", "envelope-declined", "envelope-voided", "recipient-completed",
            "recipient-declined"} <= set(connect["events"])


def test_the_tenants_signing_settings_shape_the_notification(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = SigningSettings.from_dict({"reminders_enabled": False, "reminder_delay_days": 3,
                                          "reminder_frequency_days": 7, "expire_after_days": 60,
                                          "expire_warn_days": 10})
    body = wire(request(reminders_enabled=settings.reminders_enabled,
                        reminder_delay_days=settings.reminder_delay_days,
                        reminder_frequency_days=settings.reminder_frequency_days,
                        expire_after_days=settings.expire_after_days, expire_warn_days=settings.expire_warn_days),
                monkeypatch)
    assert body["notification"] == {
        "useAccountDefaults": "false",
        "reminders": {"reminderEnabled": "false", "reminderDelay": "3", "reminderFrequency": "7"},
        "expirations": {"expireEnabled": "true", "expireAfter": "60", "expireWarn": "10"}}


def test_a_long_subject_is_cut_to_docusigns_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(wire(request(subject="x" * 300), monkeypatch)["emailSubject"]) == 100


def test_signing_settings_defaults_and_overrides() -> None:
    assert SigningSettings.from_dict(None) == SigningSettings() == SigningSettings.from_dict({})
    assert SigningSettings() == SigningSettings(True, 2, 2, 30, 5)
    custom = SigningSettings.from_dict({"expire_after_days": 90, "expire_warn_days": 0, "unknown": 1})
    assert (custom.expire_after_days, custom.expire_warn_days, custom.reminder_delay_days) == (90, 0, 2)


@pytest.mark.parametrize(("raw", "expected"), [
    ({"expire_after_days": 0}, SigningSettings()),
    ({"expire_after_days": 1000}, SigningSettings()),
    ({"expire_after_days": "30"}, SigningSettings()),
    ({"reminder_delay_days": True}, SigningSettings()),
    ({"reminder_frequency_days": -1}, SigningSettings()),
    ({"reminders_enabled": "yes"}, SigningSettings()),
    ({"expire_after_days": 5, "expire_warn_days": 5}, SigningSettings(expire_after_days=5, expire_warn_days=4)),
    ({"expire_after_days": 1}, SigningSettings(expire_after_days=1, expire_warn_days=0)),
])
def test_invalid_signing_settings_fall_back_and_are_logged(raw: dict[str, Any], expected: SigningSettings,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert SigningSettings.from_dict(raw, tenant_id="t1") == expected
    assert any(getattr(r, "tenant_id", None) == "t1" for r in caplog.records)


def test_every_call_has_a_timeout_the_sdk_honours(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK silently ignores a float: it must be a (connect, read) tuple.
    assert envelopes.request_timeout() == envelopes.REQUEST_TIMEOUT
    assert isinstance(envelopes.REQUEST_TIMEOUT, tuple) and len(envelopes.REQUEST_TIMEOUT) == 2
    assert envelopes.request_timeout(envelopes.DOCUMENT_TIMEOUT)[1] > envelopes.REQUEST_TIMEOUT[1]
    monkeypatch.setenv("DOCUSIGN_READ_TIMEOUT_SECONDS", "0.5")
    assert envelopes.request_timeout() == (envelopes.REQUEST_TIMEOUT[0], 0.5)
    monkeypatch.setenv("DOCUSIGN_READ_TIMEOUT_SECONDS", "soon")
    assert envelopes.request_timeout() == envelopes.REQUEST_TIMEOUT
