"""Approval from the inbox: the approve and reject links of an approver's email, and what a click does.

A link's token (`approval_tokens`: sealed with the link key ring) names the tenant, the contract,
the approver, the document version asked about, the action and an expiry. Opening one (GET) only
shows the contract and a confirm button: mail scanners follow links, so only the form's POST acts.
The first POST of a version claims its one decision (`store.approval_decisions`) and then goes the
API's way (`approvals.approve` / `reject`: the contract is sent, or ends rejected); any later click
says who decided. A token for an older version of the document, for an approver no longer in the
rules, or past its expiry opens nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.contracts.approval import document_version
from chalicelib.contracts.lifecycle import Status
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.errors import Conflict
from chalicelib.core.observability import logger
from chalicelib.lifecycle import approvals
from chalicelib.lifecycle.approval_tokens import LinkClaims, allowed_approvers, read_token
from chalicelib.store import approval_decisions
from chalicelib.store import contracts as store
from chalicelib.store.approval_decisions import Decision

MAX_REASON = 1000
OPENED_CLAIM_TTL = timedelta(days=60)


@dataclass(frozen=True)
class Outcome:
    """What a click comes to; `page` names the page (web.approval_pages) and `status` its HTTP status."""

    page: str
    status: int
    claims: LinkClaims | None = None
    record: StoredContract | None = None
    decision: Decision | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def inspect(token: str, *, now: datetime | None = None) -> Outcome:
    """Whether a link may act now, and if not why: invalid, expired, decided, revoked, closed,
    superseded; `ready` shows the confirm form."""
    claims = read_token(token)
    record = store.find_contract(claims.tenant_id, claims.contract_id) if claims else None
    if claims is None or record is None:
        return Outcome("invalid", 404)
    if (now or datetime.now(UTC)).timestamp() >= claims.expires_at:
        return Outcome("expired", 410, claims)  # nothing about the contract for an old link
    decision = approval_decisions.find(claims.tenant_id, claims.contract_id, claims.version)
    if decision is not None:
        return Outcome("decided", 409, claims, record, decision)
    if claims.approver.lower() not in allowed_approvers(approvals.approval_rules(claims.tenant_id)):
        return Outcome("revoked", 410, claims)
    if record.status != Status.PENDING_APPROVAL:
        return Outcome("closed", 409, claims, record)
    if document_version(record.document or {}) != claims.version:
        return Outcome("superseded", 410, claims, record)
    return Outcome("ready", 200, claims, record)


def opened(outcome: Outcome) -> None:
    """The timeline's `approval_link_opened`, once per approver, action and version (a scanner or a
    reload must not flood it)."""
    claims, record = outcome.claims, outcome.record
    if claims is None or record is None:
        return
    who = hashlib.sha256(claims.approver.lower().encode()).hexdigest()[:16]
    key = f"approval-opened#{claims.tenant_id}#{claims.contract_id}#{claims.version}#{who}#{claims.action}"
    if store.claim_once(key, OPENED_CLAIM_TTL, tenant_id=claims.tenant_id, contract_id=claims.contract_id):
        store.append_event(record, "approval_link_opened", {"by": claims.approver, "action": claims.action,
                                                            "version": claims.version})


def act(token: str, reason: str | None, *, now: datetime | None = None) -> Outcome:
    """The confirm button: approve (the contract is then sent) or reject (a reason is required)."""
    outcome = inspect(token, now=now)
    if outcome.page != "ready" or outcome.claims is None or outcome.record is None:
        return outcome
    claims, record = outcome.claims, outcome.record
    text = (reason or "").strip()[:MAX_REASON]
    if claims.action == "reject" and not text:
        return Outcome("ready", 422, claims, record, extra={"reason_missing": True})
    if not approval_decisions.claim(claims.tenant_id, claims.contract_id, claims.version,
                                    Decision(claims.action, claims.approver)):
        return inspect(token, now=now)  # another click won: it says who decided
    try:
        if claims.action == "approve":
            moved = approvals.approve(record, text or None, claims.approver)
        else:
            moved = approvals.reject(record, text, claims.approver)
    except Conflict:  # the contract moved meanwhile (voided, approved through the API)
        approval_decisions.release(claims.tenant_id, claims.contract_id, claims.version)
        return Outcome("closed", 409, claims, store.get_contract(claims.tenant_id, claims.contract_id))
    except Exception:
        approval_decisions.release(claims.tenant_id, claims.contract_id, claims.version)
        raise
    event = "approved_by_email" if claims.action == "approve" else "rejected_by_email"
    store.append_event(moved, event, {"by": claims.approver, "version": claims.version,
                                      **({"reason": text} if text else {})})
    logger.info("approval link used", extra={"contract_id": claims.contract_id, "action": claims.action})
    return Outcome("approved" if claims.action == "approve" else "rejected", 200, claims, moved)
