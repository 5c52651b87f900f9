"""Stable signing links: `/sign/{token}` is signed by us, valid as long as the envelope is open, and
mints a fresh DocuSign recipient view (single use, 5 minutes) at every click. `/signed` is where
DocuSign sends the signer back."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from chalicelib.aws import get_secret
from chalicelib.config import settings
from chalicelib.contracts.lifecycle import ENVELOPE_OPEN, Status
from chalicelib.errors import ApiError, NotFound, RetryableError
from chalicelib.store import contracts as store
from chalicelib.store.models import ContractRecord

# Codes DocuSign answers a recipient view with when the signer may not sign *yet*.
NOT_YET_CODES = frozenset({"RECIPIENT_NOT_IN_SEQUENCE"})


@dataclass(frozen=True)
class LinkClaims:
    tenant_id: str
    contract_id: str
    signer: int
    envelope_id: str
    expires_at: int | None = None  # epoch seconds: the envelope's expiry when the link was made


def _key() -> bytes:
    return get_secret(settings().signing_link_secret).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(claims: LinkClaims) -> str:
    body: dict[str, Any] = {"t": claims.tenant_id, "c": claims.contract_id, "s": claims.signer,
                            "e": claims.envelope_id}
    if claims.expires_at is not None:
        body["x"] = claims.expires_at
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    signature = _b64(hmac.new(_key(), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def read_token(token: str) -> LinkClaims | None:
    """The claims of an untampered token; None for anything we did not sign."""
    try:
        payload, signature = token.split(".", 1)
        expected = _b64(hmac.new(_key(), payload.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature):
            return None
        data = json.loads(_unb64(payload))
        expires = data.get("x")
        return LinkClaims(str(data["t"]), str(data["c"]), int(data["s"]), str(data["e"]),
                          int(expires) if expires is not None else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def envelope_expiry(record: ContractRecord) -> datetime:
    """When the contract's envelope expires: sent time + the expireAfter it was sent with."""
    sent_at: datetime | None = None
    days: int | None = None
    for event in store.timeline(record.tenant_id, record.contract_id):
        if event.type in ("envelope_sent", "envelope_created"):
            sent_at = sent_at or event.at
            value = (event.detail or {}).get("expire_after_days")
            if days is None and isinstance(value, int):
                days = value
    if days is None:
        from chalicelib.esign.signing_settings import for_tenant

        days = for_tenant(record.tenant_id).expire_after_days
    return (sent_at or record.created_at) + timedelta(days=days)


def signing_link(record: ContractRecord, signer: str | None) -> dict[str, Any]:
    # Plain digits only (int() would also take " 2", "+2", "1_0" and other scripts' digits), and
    # at most 9 of them: the OpenAPI document's integer 1..999999999.
    if not re.fullmatch(r"[0-9]{1,9}", signer or "") or int(signer or "0") < 1:
        raise ApiError("signer must be the signer's 1-based position in signers[]", status=400,
                       code="bad_request", details=[{"path": "signer", "message": "an integer from 1"}])
    position = int(signer or "0")
    if not 1 <= position <= len(record.signers):
        raise NotFound(f"the contract has no signer {position}")
    if record.envelope_id is None or record.status not in ENVELOPE_OPEN:
        raise ApiError(f"the contract is {record.status}: there is nothing to sign", status=409, code="conflict")
    expires = envelope_expiry(record)
    token = make_token(LinkClaims(record.tenant_id, record.contract_id, position, record.envelope_id,
                                  int(expires.timestamp())))
    return {"url": f"{settings().public_base_url.rstrip('/')}/sign/{token}", "signer": position,
            "expires_at": expires.isoformat()}


@dataclass(frozen=True)
class Page:
    status: int
    html: str | None = None
    redirect: str | None = None


def open_link(token: str, accept_language: str | None) -> Page:
    """Resolves a click on a signing link: a redirect to DocuSign, or a page saying why not."""
    claims = read_token(token)
    if claims is None:
        return _page(404, "invalid", _locale(None, accept_language))
    record = store.find_contract(claims.tenant_id, claims.contract_id)
    if record is None or record.envelope_id != claims.envelope_id:
        return _page(404, "invalid", _locale(None, accept_language))
    locale = _locale(record, accept_language)
    signer = next((s for s in record.signers if int(s.position) == claims.signer), None)
    if signer is None:
        return _page(404, "invalid", locale)
    expired = claims.expires_at is not None and datetime.now(UTC).timestamp() >= claims.expires_at
    if record.status not in ENVELOPE_OPEN:
        status = Status(record.status)
        if status == Status.VOIDED and (expired or "expir" in (record.status_reason or "").lower()):
            return _page(410, "expired", locale, record)
        reason = {Status.COMPLETED: "completed", Status.ACTIVE: "completed", Status.EXPIRING: "completed",
                  Status.RENEWED: "completed", Status.EXPIRED: "completed", Status.TERMINATED: "completed",
                  Status.DECLINED: "declined", Status.VOIDED: "voided"}.get(status, "closed")
        return _page(410, reason, locale, record)
    if expired:  # DocuSign has voided it; its message may not have reached us yet
        return _page(410, "expired", locale, record)
    if signer.status in ("signed", "completed"):
        return _page(410, "already_signed", locale, record)
    if signer.status == "declined":
        return _page(410, "declined", locale, record)
    if signer.delivery != "embedded":
        return _page(409, "by_email", locale, record)
    from chalicelib.esign import envelopes
    from chalicelib.jobs.send import signer_specs

    spec = next(s for s in signer_specs(record) if s.position == claims.signer)
    return_url = (f"{settings().public_base_url.rstrip('/')}/signed?"
                  + urlencode({"lang": locale, "contract": record.number}))
    try:
        url = envelopes.recipient_view(record.envelope_id, spec, return_url)
    except envelopes.EnvelopeRejected as err:
        return _page(409, "not_your_turn" if err.code.upper() in NOT_YET_CODES else "closed", locale, record)
    except RetryableError:  # DocuSign unreachable or overloaded: the same link works again later
        return _page(503, "unavailable", locale, record)
    return Page(302, redirect=url)


def _locale(record: ContractRecord | None, accept_language: str | None) -> str:
    if record is not None and record.locale in ("zh-CN", "en"):
        return record.locale
    return "zh-CN" if (accept_language or "").lower().startswith("zh") else "en"


def _page(status: int, reason: str, locale: str, record: ContractRecord | None = None) -> Page:
    return Page(status, html=render_page("link", reason, locale, record.number if record else None))


def signed_page(event: str | None, lang: str | None, number: str | None) -> Page:
    locale = lang if lang in ("zh-CN", "en") else "en"
    return Page(200, html=render_page("return", event or "unknown", locale, number))


def render_page(page: str, reason: str, locale: str, number: str | None) -> str:
    from chalicelib.rendering.environment import get_environment

    return get_environment().get_template(f"pages/signing.{locale}.html.j2").render(
        page=page, reason=reason, number=number)
