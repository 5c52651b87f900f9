"""Signing links: short-lived, opaque tokens minted from a revocable per-signer grant.

`GET /v1/contracts/{id}/signing-link?signer=N` finds (or makes) signer N's grant for the current
envelope and mints a token valid LINK_TOKEN_MINUTES (never past the envelope's expiry). The token is
the grant's reference sealed with AES-GCM under the current key of the ring (`link_keys`): nothing in
it is readable, and any change to it is refused. `/sign/{token}` opens only while that grant is the
signer's live grant and the envelope is open, and then mints a fresh DocuSign recipient view (single
use, 5 minutes) for the click. Void, decline and completion revoke the grants (`revoke_all`, from
every status change); the sender can revoke one (`DELETE …/signing-link?signer=N`), and the next
link asked for comes from a new grant. `/signed` is where DocuSign sends the signer back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from chalicelib.contracts.lifecycle import ENVELOPE_OPEN, Status
from chalicelib.contracts.locales import primary_locale_of
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.config import settings
from chalicelib.core.errors import ApiError, NotFound, RetryableError
from chalicelib.core.link_keys import KeyRing, seal, unseal
from chalicelib.esign import envelopes
from chalicelib.esign.envelopes import signer_specs
from chalicelib.esign.signing_settings import for_tenant
from chalicelib.rendering.environment import get_environment
from chalicelib.store import contracts as store
from chalicelib.store import signing_grants

# Codes DocuSign answers a recipient view with when the signer may not sign *yet*.
NOT_YET_CODES = frozenset({"RECIPIENT_NOT_IN_SEQUENCE"})
LINK_TOKEN_MINUTES = 10  # long enough to click through from the app that asked, short enough to leak little
TOKEN_USE = "signing-link"
MAX_TOKEN_LENGTH = 400  # ours are ~170 characters


@dataclass(frozen=True)
class LinkClaims:
    tenant_id: str
    contract_id: str
    signer: int
    grant_id: str
    expires_at: int  # epoch seconds


def make_token(claims: LinkClaims, ring: KeyRing | None = None) -> str:
    return seal(TOKEN_USE, {"t": claims.tenant_id, "c": claims.contract_id, "s": claims.signer,
                            "g": claims.grant_id, "x": claims.expires_at}, ring)


def read_token(token: str, ring: KeyRing | None = None) -> LinkClaims | None:
    """The claims of a token we sealed with a key still accepted; None for anything else (expiry is
    the caller's to judge, so an expired link can say so)."""
    data = unseal(TOKEN_USE, token, MAX_TOKEN_LENGTH, ring)
    if data is None:
        return None
    try:
        return LinkClaims(str(data["t"]), str(data["c"]), int(data["s"]), str(data["g"]), int(data["x"]))
    except (KeyError, TypeError, ValueError):
        return None


def envelope_expiry(record: StoredContract) -> datetime:
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
        days = for_tenant(record.tenant_id).expire_after_days
    return (sent_at or record.created_at) + timedelta(days=days)


def _position(record: StoredContract, signer: str | None) -> int:
    """The `?signer=N` of a request, a position the contract has (400 not a position, 404 no such signer)."""
    # Plain digits only (int() would also take " 2", "+2", "1_0" and other scripts' digits), and
    # at most 9 of them: the OpenAPI document's integer 1..999999999.
    if not re.fullmatch(r"[0-9]{1,9}", signer or "") or int(signer or "0") < 1:
        raise ApiError("signer must be the signer's 1-based position in signers[]", status=400,
                       code="bad_request", details=[{"path": "signer", "message": "an integer from 1"}])
    position = int(signer or "0")
    if position > len(record.signers):
        raise NotFound(f"the contract has no signer {position}")
    return position


def signing_link(record: StoredContract, signer: str | None, *, now: datetime | None = None) -> dict[str, Any]:
    position = _position(record, signer)
    if record.envelope_id is None or record.status not in ENVELOPE_OPEN:
        raise ApiError(f"the contract is {record.status}: there is nothing to sign", status=409, code="conflict")
    envelope_expires = envelope_expiry(record)
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    if envelope_expires <= at:  # DocuSign voids it any moment: a link would open nothing
        raise ApiError("the envelope has expired: there is nothing to sign", status=409, code="conflict")
    grant = signing_grants.live_grant(record.tenant_id, record.contract_id, position, record.envelope_id,
                                      envelope_expires)
    expires = min(at + timedelta(minutes=LINK_TOKEN_MINUTES), envelope_expires)
    token = make_token(LinkClaims(record.tenant_id, record.contract_id, position, grant.grant_id,
                                  int(expires.timestamp())))
    return {"url": f"{settings().public_base_url.rstrip('/')}/sign/{token}", "signer": position,
            "expires_at": expires.isoformat(), "envelope_expires_at": envelope_expires.isoformat()}


def revoke_link(record: StoredContract, signer: str | None) -> dict[str, Any]:
    """The sender kills signer N's links (one leaked, a wrong recipient): every token minted so far
    stops working; the next link asked for comes from a new grant."""
    position = _position(record, signer)
    revoked = signing_grants.revoke(record.tenant_id, record.contract_id, position, "revoked")
    if revoked:
        store.append_event(record, "signing_link_revoked", {"signer": position, "by": "api"})
    return {"signer": position, "revoked": revoked}


@dataclass(frozen=True)
class Page:
    status: int
    html: str | None = None
    redirect: str | None = None


# Why a grant was revoked → the page that explains it.
_REVOKED_PAGE = {"voided": "voided", "declined": "declined", "completed": "completed", "revoked": "revoked"}


def open_link(token: str, accept_language: str | None, *, now: datetime | None = None) -> Page:
    """Resolves a click on a signing link: a redirect to DocuSign, or a page saying why not."""
    claims = read_token(token)
    if claims is None:
        return _page(404, "invalid", _locale(None, accept_language))
    record = store.find_contract(claims.tenant_id, claims.contract_id)
    if record is None:
        return _page(404, "invalid", _locale(None, accept_language))
    locale = _locale(record, accept_language)
    signer = next((s for s in record.signers if int(s.position) == claims.signer), None)
    if signer is None:
        return _page(404, "invalid", locale)
    envelope_expired = record.status == Status.VOIDED and "expir" in (record.status_reason or "").lower()
    if (now or datetime.now(UTC)).timestamp() >= claims.expires_at:
        # Nothing about the contract for an old token, beyond what ended it.
        return _page(410, "expired" if envelope_expired else "link_expired", locale)
    if record.status not in ENVELOPE_OPEN:
        status = Status(record.status)
        if envelope_expired:
            return _page(410, "expired", locale, record)
        reason = {Status.COMPLETED: "completed", Status.ACTIVE: "completed", Status.EXPIRING: "completed",
                  Status.RENEWED: "completed", Status.EXPIRED: "completed", Status.TERMINATED: "completed",
                  Status.DECLINED: "declined", Status.VOIDED: "voided"}.get(status, "closed")
        return _page(410, reason, locale, record)
    grant = signing_grants.find_grant(record.tenant_id, record.contract_id, claims.signer)
    if grant is None or grant.grant_id != claims.grant_id or grant.envelope_id != record.envelope_id:
        return _page(410, "revoked", locale, record)  # a newer grant replaced it, or another envelope
    if not grant.live:
        return _page(410, _REVOKED_PAGE.get(grant.revoked or "", "revoked"), locale, record)
    if signer.status in ("signed", "completed"):
        return _page(410, "already_signed", locale, record)
    if signer.status == "declined":
        return _page(410, "declined", locale, record)
    if signer.delivery != "embedded":
        return _page(409, "by_email", locale, record)

    spec = next(s for s in signer_specs(record.contract_id, record.signers) if s.position == claims.signer)
    return_url = (f"{settings().public_base_url.rstrip('/')}/signed?"
                  + urlencode({"lang": locale, "contract": record.number}))
    try:
        url = envelopes.recipient_view(record.tenant_id, record.envelope_id, spec, return_url)
    except envelopes.EnvelopeRejected as err:
        return _page(409, "not_your_turn" if err.code.upper() in NOT_YET_CODES else "closed", locale, record)
    except RetryableError:  # DocuSign unreachable or overloaded: the same link works again later
        return _page(503, "unavailable", locale, record)
    return Page(302, redirect=url)


def _locale(record: StoredContract | None, accept_language: str | None) -> str:
    if record is not None and record.locale in ("zh-CN", "en", "zh-CN+en"):
        return primary_locale_of(record)  # a bilingual contract's pages speak its prevailing language
    return "zh-CN" if (accept_language or "").lower().startswith("zh") else "en"


def _page(status: int, reason: str, locale: str, record: StoredContract | None = None) -> Page:
    return Page(status, html=render_page("link", reason, locale, record.number if record else None))


def signed_page(event: str | None, lang: str | None, number: str | None) -> Page:
    locale = lang if lang in ("zh-CN", "en") else "en"
    return Page(200, html=render_page("return", event or "unknown", locale, number))


def render_page(page: str, reason: str, locale: str, number: str | None) -> str:
    return get_environment().get_template(f"pages/signing.{locale}.html.j2").render(
        page=page, reason=reason, number=number)
