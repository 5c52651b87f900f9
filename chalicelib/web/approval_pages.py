"""The pages behind an approver's email links: `GET /approval/{token}` shows the contract and a confirm
button (never acts: mail scanners follow links), `POST /approval/{token}` (the form, the token in its
URL as the only credential, no cookie) approves or rejects through chalicelib.lifecycle.approval_links.
In the contract's language (zh-CN or en), else the browser's."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from chalicelib.contracts.approval import ApprovalReason
from chalicelib.contracts.locales import primary_locale_of
from chalicelib.contracts.stored import StoredContract
from chalicelib.lifecycle import approval_links, approvals
from chalicelib.rendering.environment import get_environment
from chalicelib.web.signing import Page

MAX_FORM_BYTES = 16_384
NO_FACTS: dict[str, Any] = {"number": None, "title": "", "counterparty": "", "amount_text": "", "reasons": []}


def _locale(record: StoredContract | None, accept_language: str | None) -> str:
    if record is not None and record.locale in ("zh-CN", "en", "zh-CN+en"):
        return primary_locale_of(record)  # a bilingual contract: its prevailing language
    return "zh-CN" if (accept_language or "").lower().startswith("zh") else "en"


def _facts(record: StoredContract, locale: str) -> dict[str, Any]:
    document = record.document or {}
    reasons = approvals.reasons_for(record) if record.status == "pending_approval" else []
    return {
        "number": record.number,
        "title": document.get("title") or "",
        "counterparty": ((document.get("parties") or {}).get("counterparty") or {}).get("name") or "",
        "amount_text": (f"{document.get('currency') or ''} {document.get('amount')}".strip()
                        if document.get("amount") is not None else ""),
        "reasons": [r.text(locale) if isinstance(r, ApprovalReason) else str(r) for r in reasons],
    }


def _render(outcome: approval_links.Outcome, accept_language: str | None) -> Page:
    record = outcome.record
    locale = _locale(record, accept_language)
    # An expired, invalid or revoked link shows nothing about the contract.
    facts = _facts(record, locale) if record is not None and outcome.page in (
        "ready", "approved", "rejected", "decided", "closed", "superseded") else NO_FACTS
    html = get_environment().get_template(f"pages/approval.{locale}.html.j2").render(
        page=outcome.page, action=outcome.claims.action if outcome.claims else "",
        approver=outcome.claims.approver if outcome.claims else "",
        decision=outcome.decision, status=record.status if record is not None else "",
        reason_missing=bool(outcome.extra.get("reason_missing")), **facts)
    return Page(outcome.status, html=html)


def open_page(token: str, accept_language: str | None, *, now: datetime | None = None) -> Page:
    outcome = approval_links.inspect(token, now=now)
    if outcome.page == "ready":
        approval_links.opened(outcome)
    return _render(outcome, accept_language)


def submit(token: str, raw_body: bytes, accept_language: str | None, *, now: datetime | None = None) -> Page:
    try:
        form = parse_qs(raw_body[:MAX_FORM_BYTES].decode("utf-8", "replace"), max_num_fields=10)
    except ValueError:  # more fields than our form has: not our form, so no reason given
        form = {}
    reason = (form.get("reason") or [""])[0]
    return _render(approval_links.act(token, reason, now=now), accept_language)
