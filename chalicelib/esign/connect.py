"""DocuSign Connect (JSON SIM): HMAC check on the raw body and parsing into a small value object.
Pure: no SDK, no AWS."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.core.constant_time import equal
from chalicelib.core.errors import MalformedBody, Unauthorized
from chalicelib.core.jsonbody import parse_json

# Envelope events that move the contract, and the status each one means.
ENVELOPE_EVENT_STATUS = {
    "envelope-sent": "sent",
    "envelope-delivered": "delivered",
    "envelope-completed": "completed",
    "envelope-declined": "declined",
    "envelope-voided": "voided",
}
# A recipient's progress only ever goes up this ladder (out-of-order messages are ignored).
RECIPIENT_RANK = {"created": 0, "sent": 1, "delivered": 2, "autoresponded": 2, "signed": 3, "completed": 3,
                  "declined": 4}


def verify_hmac(keys: Sequence[str], headers: Mapping[str, str], raw_body: bytes) -> None:
    """Accepts the message if any X-DocuSign-Signature-N matches any of our Connect keys (rotation)."""
    signatures = [v for k, v in headers.items() if k.lower().startswith("x-docusign-signature-")]
    if not signatures:
        raise Unauthorized("missing X-DocuSign-Signature header")
    for key in keys:
        expected = base64.b64encode(hmac.new(key.encode(), raw_body, hashlib.sha256).digest()).decode()
        if any(equal(sig.strip(), expected) for sig in signatures):
            return
    raise Unauthorized("Connect signature does not match")


@dataclass(frozen=True)
class ConnectMessage:
    event: str
    envelope_id: str
    generated_at: str  # generatedDateTime, ISO (compared as text: DocuSign's format is fixed-width UTC)
    recipient_id: str | None
    envelope_status: str | None
    contract_id: str | None
    tenant_id: str | None
    voided_reason: str | None
    recipients: tuple[Mapping[str, Any], ...]
    retry_count: int

    @property
    def dedupe_key(self) -> str:
        # DocuSign sends no event id: this triple identifies one message across its retries.
        return f"connect#{self.envelope_id}#{self.event}#{self.recipient_id or '-'}#{self.generated_at}"

    @property
    def contract_status(self) -> str | None:
        return ENVELOPE_EVENT_STATUS.get(self.event)


def _count(value: Any) -> int:
    """retryCount as DocuSign sends it (a number, sometimes a numeric string); anything else is 0:
    it is informational, and a malformed one must not refuse the message."""
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else 0


_RECIPIENT_KEYS = ("recipientId", "status", "signedDateTime", "declinedReason")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    """A scalar as text; anything else (an object, a list) is treated as absent: the signed body is
    DocuSign's, but its shape is still checked rather than trusted."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value) or None


def parse_message(raw_body: bytes) -> ConnectMessage:
    body = parse_json(raw_body, what="the Connect message (configure eventData.format=json)")
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise MalformedBody("Connect message has no data object")
    data = body["data"]
    summary = _dict(data.get("envelopeSummary"))
    envelope_id = _text(data.get("envelopeId")) or _text(summary.get("envelopeId"))
    event = _text(body.get("event"))
    if not envelope_id or not event:
        raise MalformedBody("Connect message lacks event or data.envelopeId")
    fields: dict[str, str | None] = {}
    for item in _list(_dict(summary.get("customFields")).get("textCustomFields")):
        name = _text(_dict(item).get("name"))
        if name is not None:
            fields[name] = _text(_dict(item).get("value"))
    signers = _list(_dict(summary.get("recipients")).get("signers"))
    return ConnectMessage(
        event=event,
        envelope_id=envelope_id,
        generated_at=_text(body.get("generatedDateTime")) or "",
        recipient_id=_text(data.get("recipientId")),
        envelope_status=_text(summary.get("status")),
        contract_id=fields.get("contractId"),
        tenant_id=fields.get("tenantId"),
        voided_reason=_text(summary.get("voidedReason")),
        # What the contract keeps of a signer, as text: an odd shape never reaches the store.
        recipients=tuple({key: _text(s.get(key)) for key in _RECIPIENT_KEYS} for s in signers if isinstance(s, dict)),
        retry_count=_count(body.get("retryCount")),
    )
