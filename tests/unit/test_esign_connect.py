"""Connect (JSON SIM) messages: HMAC with several keys (rotation) on the raw body, and parsing into
the value the listener applies, with a dedupe key that survives DocuSign's retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from chalicelib.core.errors import MalformedBody, Unauthorized
from chalicelib.esign.connect import parse_message, verify_hmac

OLD_KEY, NEW_KEY, OTHER_KEY = "old-connect-key", "new-connect-key", "someone-elses-key"


def signature(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def message(event: str = "envelope-completed", **data: Any) -> dict[str, Any]:
    return {
        "event": event, "apiVersion": "v2.1", "uri": "/restapi/v2.1/accounts/acc/envelopes/env-1",
        "retryCount": 0, "configurationId": 10001, "generatedDateTime": "2026-12-01T08:00:00.123Z",
        "data": {"accountId": "acc", "userId": "user", "envelopeId": "env-1", **data, "envelopeSummary": {
            "status": event.split("-", 1)[1] if event.startswith("envelope-") else "sent",
            "envelopeId": "env-1", "voidedReason": data.get("voided_reason"),
            "customFields": {"textCustomFields": [
                {"name": "contractId", "value": "ctr_1", "show": "false"},
                {"name": "tenantId", "value": "demo", "show": "false"}]},
            "recipients": {"signers": [
                {"recipientId": "1", "status": "completed", "signedDateTime": "2026-12-01T07:59:00Z"},
                {"recipientId": "2", "status": "declined", "declinedReason": "no"}]},
        }},
    }


BODY = json.dumps(message(), ensure_ascii=False).encode()
COMPACT = json.dumps(message(), separators=(",", ":")).encode()


@pytest.mark.parametrize("headers", [
    {"X-DocuSign-Signature-1": signature(NEW_KEY, BODY)},
    {"x-docusign-signature-1": signature(OLD_KEY, BODY)},  # API Gateway may lowercase header names
    {"X-DocuSign-Signature-1": signature(OTHER_KEY, BODY), "X-DocuSign-Signature-2": signature(NEW_KEY, BODY)},
    {"X-DocuSign-Signature-1": " " + signature(OLD_KEY, BODY) + " "},
])
def test_any_signature_by_any_of_our_keys_is_accepted(headers: dict[str, str]) -> None:
    verify_hmac([OLD_KEY, NEW_KEY], headers, BODY)


@pytest.mark.parametrize(("keys", "headers", "body"), [
    ([NEW_KEY], {"X-DocuSign-Signature-1": signature(OLD_KEY, BODY)}, BODY),  # rotated out
    ([OLD_KEY, NEW_KEY], {"X-DocuSign-Signature-1": signature(OTHER_KEY, BODY)}, BODY),
    ([OLD_KEY], {"X-DocuSign-Signature-1": signature(OLD_KEY, BODY)}, BODY + b" "),  # the raw body changed
    ([OLD_KEY], {"X-DocuSign-Signature-1": signature(OLD_KEY, COMPACT)}, BODY),  # re-serialised, not the raw body
    ([OLD_KEY], {}, BODY),
    ([OLD_KEY], {"X-DocuSign-Signature-1": "garbage"}, BODY),
    ([], {"X-DocuSign-Signature-1": signature(OLD_KEY, BODY)}, BODY),
])
def test_anything_else_is_refused(keys: list[str], headers: dict[str, str], body: bytes) -> None:
    with pytest.raises(Unauthorized):
        verify_hmac(keys, headers, body)


def test_an_envelope_message_is_parsed() -> None:
    parsed = parse_message(BODY)
    assert (parsed.event, parsed.envelope_id, parsed.contract_status) == ("envelope-completed", "env-1",
                                                                          "completed")
    assert (parsed.contract_id, parsed.tenant_id) == ("ctr_1", "demo")
    assert parsed.recipient_id is None and parsed.generated_at == "2026-12-01T08:00:00.123Z"
    assert [r["status"] for r in parsed.recipients] == ["completed", "declined"]


def test_a_recipient_message_moves_no_envelope_status() -> None:
    parsed = parse_message(json.dumps(message("recipient-completed", recipientId="1")).encode())
    assert parsed.recipient_id == "1" and parsed.contract_status is None


def test_the_void_reason_is_kept() -> None:
    parsed = parse_message(json.dumps(message("envelope-voided", voided_reason="Envelope has expired.")).encode())
    assert parsed.contract_status == "voided" and parsed.voided_reason == "Envelope has expired."


def test_the_dedupe_key_ignores_the_retry_count_but_not_the_event() -> None:
    first = message("recipient-completed", recipientId="1")
    retry = {**first, "retryCount": 3}
    other_signer = message("recipient-completed", recipientId="2")
    later = {**first, "generatedDateTime": "2026-12-01T08:00:01.000Z"}
    key = parse_message(json.dumps(first).encode()).dedupe_key
    assert parse_message(json.dumps(retry).encode()).dedupe_key == key
    assert parse_message(json.dumps(other_signer).encode()).dedupe_key != key
    assert parse_message(json.dumps(later).encode()).dedupe_key != key
    assert parse_message(json.dumps(message("envelope-completed")).encode()).dedupe_key != key


def test_configuration_id_may_be_a_string_and_custom_fields_may_be_missing() -> None:
    body = message("envelope-sent")
    body["configurationId"] = "10001"
    del body["data"]["envelopeSummary"]["customFields"]
    parsed = parse_message(json.dumps(body).encode())
    assert parsed.contract_id is None and parsed.contract_status == "sent"


@pytest.mark.parametrize("raw", [b"<xml/>", b"[]", b'{"event": "envelope-sent"}',
                                 json.dumps({"event": "envelope-sent", "data": {}}).encode(), b"\xff"])
def test_malformed_messages_are_400(raw: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_message(raw)
