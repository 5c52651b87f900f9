"""The approval gate's two ends: asking the tenant's approvers (from the send job), and their answer
(`POST /v1/contracts/{id}/approve` · `/reject` · `/void`, parsed by chalicelib.web.contract_actions).

The send job moves a contract its tenant's rules catch to `pending_approval` and emails the
approvers once; an approve moves it to `approved` and enqueues the send job again, a reject ends it
(`rejected`), a void cancels it exactly like a CRM cancel (the void job voids an open envelope).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from chalicelib.contracts.approval import approvers, document_version, needs_approval
from chalicelib.contracts.lifecycle import Status
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.errors import Conflict, RetryableError
from chalicelib.core.observability import logger
from chalicelib.lifecycle import approval_sla
from chalicelib.lifecycle.approval_tokens import links_for
from chalicelib.lifecycle.cancel import VOIDABLE, void_contract
from chalicelib.lifecycle.sending import enqueue_send
from chalicelib.lifecycle.transitions import transition
from chalicelib.notify import emails, mailer
from chalicelib.store import contracts as store
from chalicelib.store.registry import get_tenant

APPROVAL_EMAIL_CLAIM_TTL = timedelta(days=30)


# --- asking (the send job) --------------------------------------------------------------------


def approval_rules(tenant_id: str) -> dict[str, Any]:
    rules = get_tenant(tenant_id).settings.get("approval")
    return dict(rules) if isinstance(rules, Mapping) else {}


def reasons_for(record: StoredContract) -> list[str]:
    return needs_approval(record.document or {}, approval_rules(record.tenant_id))


def request_approval(record: StoredContract, reasons: list[str]) -> str:
    """Emails each approver of a contract waiting in pending_approval, once per version of the
    document (a claim per approver guards a repeated send job; it is released when SES asks for a
    retry). Each email carries that approver's own approve and reject links (approval_tokens)."""
    rules = approval_rules(record.tenant_id)
    to = approvers(rules)
    if not to:
        logger.warning("approval needed but the tenant has no approvers", extra={"contract_id": record.contract_id})
        store.append_event(record, "approval_request_failed", {"error": "no approvers configured"})
        return "pending approval (no approvers to ask)"
    results = [_ask(record, reasons, address, rules) for address in to]
    if "sent" in results:
        approval_sla.start(record, rules)  # the SLA's clock, for this version (rules with sla_hours)
        return "pending approval"
    if all(r == "asked" for r in results):
        return "pending approval (approvers already asked)"
    if "failed" in results:
        return "pending approval (email failed)"
    return "pending approval (every approver's address is suppressed)"


def _ask(record: StoredContract, reasons: list[str], address: str, rules: dict[str, Any]) -> str:
    # Once per version of the document and approver: a changed contract is put to them again.
    version = document_version(record.document or {})
    who = hashlib.sha256(address.lower().encode()).hexdigest()[:16]
    claim = f"approval-email#{record.tenant_id}#{record.contract_id}#{version}#{who}"
    if not store.claim_once(claim, APPROVAL_EMAIL_CLAIM_TTL, tenant_id=record.tenant_id,
                            contract_id=record.contract_id):
        return "asked"
    email = emails.approval_request(record, reasons, [address], links=links_for(record, address, rules))
    try:
        message_id = mailer.send(email)
    except RetryableError:
        store.release_claim(claim)
        raise
    except mailer.EmailSuppressed as err:  # the claim stays: asking again would be refused again
        store.append_event(record, "approval_request_suppressed", {"to": [address], "suppressed": err.suppressed})
        return "suppressed"
    except Exception as err:  # noqa: BLE001 - a refused address must not retry forever; the timeline shows it
        logger.exception("approval request not sent", extra={"contract_id": record.contract_id})
        store.append_event(record, "approval_request_failed", {"to": [address], "error": str(err)[:300]})
        return "failed"
    store.append_event(record, "approval_requested", {"to": [address], "subject": email.subject,
                                                      "message_id": message_id, "version": version})
    return "sent"


# --- answering (the API, through chalicelib.web.contract_actions) ------------------------------


def approve(record: StoredContract, reason: str | None, actor: str) -> StoredContract:
    check_status(record, {Status.PENDING_APPROVAL}, "approved")
    # The approval binds to the document as read here; the send job sends only this version (a CRM
    # update that lands after this read sends the contract back to the gate).
    version = document_version(record.document or {})
    detail = {"by": actor, "version": version, **({"reason": reason} if reason else {})}
    moved = _move(record, Status.APPROVED, "approved", detail, reason,
                  changes=store.ContractChanges(approved_version=version))
    enqueue_send(moved)
    logger.info("contract approved", extra={"contract_id": record.contract_id, "by": actor})
    return moved


def reject(record: StoredContract, reason: str, actor: str) -> StoredContract:
    check_status(record, {Status.PENDING_APPROVAL}, "rejected")
    moved = _move(record, Status.REJECTED, "rejected", {"by": actor, "reason": reason}, reason)
    logger.info("contract rejected", extra={"contract_id": record.contract_id, "by": actor})
    return moved


def void(record: StoredContract, reason: str, actor: str) -> StoredContract:
    check_status(record, VOIDABLE, "voided")
    try:
        return void_contract(record, "voided", {"by": actor, "via": "api", "reason": reason}, reason=reason)
    except store.StaleStatus as err:
        raise _changed(record, "voided") from err


def check_status(record: StoredContract, allowed: set[Status] | frozenset[Status], action: str) -> None:
    if Status(record.status) not in allowed:
        raise Conflict(f"contract {record.contract_id} ({record.number}) is {record.status}: it cannot be "
                       f"{action} in that status", [{"path": "status", "message": f"current status: {record.status}"}])


def _move(record: StoredContract, target: Status, event_type: str, detail: dict[str, Any],
          reason: str | None, changes: store.ContractChanges = store.NO_CHANGES) -> StoredContract:
    try:
        return transition(record, target, event_type=event_type, detail=detail, reason=reason, changes=changes)
    except store.StaleStatus as err:
        raise _changed(record, target.value) from err


def _changed(record: StoredContract, action: str) -> Conflict:
    current = store.get_contract(record.tenant_id, record.contract_id).status
    return Conflict(f"contract {record.contract_id} changed status while it was being {action}: it is now "
                    f"{current}", [{"path": "status", "message": f"current status: {current}"}])
