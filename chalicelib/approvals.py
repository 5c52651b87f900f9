"""The approval gate's two ends: asking the tenant's approvers (from the send job), and their answer
through the API (`POST /v1/contracts/{id}/approve` · `/reject` · `/void`).

The send job moves a contract its tenant's rules catch to `pending_approval` and emails the
approvers once; an approve moves it to `approved` and enqueues the send job again, a reject ends it
(`rejected`), a void cancels it exactly like a CRM cancel (the void job voids an open envelope).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from chalicelib.api import contract_view, load_contract
from chalicelib.contracts.approval import approvers, document_version, needs_approval
from chalicelib.contracts.lifecycle import Status
from chalicelib.errors import Conflict, RetryableError, ValidationFailed
from chalicelib.jsonbody import parse_json
from chalicelib.observability import logger
from chalicelib.store import contracts as store
from chalicelib.store.models import ContractRecord

APPROVAL_EMAIL_CLAIM_TTL = timedelta(days=30)
MAX_REASON_CHARS = 1000


# --- asking (the send job) --------------------------------------------------------------------


def approval_rules(tenant_id: str) -> dict[str, Any]:
    from chalicelib.store.registry import get_tenant

    rules = get_tenant(tenant_id).settings.get("approval")
    return dict(rules) if isinstance(rules, Mapping) else {}


def reasons_for(record: ContractRecord) -> list[str]:
    return needs_approval(record.document or {}, approval_rules(record.tenant_id))


def request_approval(record: ContractRecord, reasons: list[str]) -> str:
    """Emails the approvers of a contract waiting in pending_approval, once per contract (a claim
    guards a repeated send job; it is released when SES asks for a retry)."""
    to = approvers(approval_rules(record.tenant_id))
    if not to:
        logger.warning("approval needed but the tenant has no approvers", extra={"contract_id": record.contract_id})
        store.append_event(record, "approval_request_failed", {"error": "no approvers configured"})
        return "pending approval (no approvers to ask)"
    # Once per version of the document: a changed contract is put to the approvers again.
    claim = f"approval-email#{record.tenant_id}#{record.contract_id}#{document_version(record.document or {})}"
    if not store.claim_once(claim, APPROVAL_EMAIL_CLAIM_TTL, tenant_id=record.tenant_id,
                            contract_id=record.contract_id):
        return "pending approval (approvers already asked)"
    from chalicelib.notify import mailer

    email = approval_email(record, reasons, to)
    try:
        message_id = mailer.send(email)
    except RetryableError:
        store.release_claim(claim)
        raise
    except Exception as err:  # noqa: BLE001 - a refused address must not retry forever; the timeline shows it
        logger.exception("approval request not sent", extra={"contract_id": record.contract_id})
        store.append_event(record, "approval_request_failed", {"to": to, "error": str(err)[:300]})
        return "pending approval (email failed)"
    store.append_event(record, "approval_requested", {"to": to, "subject": email.subject,
                                                      "message_id": message_id})
    return "pending approval"


def approval_email(record: ContractRecord, reasons: list[str], to: list[str]) -> Any:
    from chalicelib.config import settings
    from chalicelib.notify.mailer import Email
    from chalicelib.rendering.environment import get_environment

    document = record.document or {}
    locale = record.locale if record.locale in ("zh-CN", "en") else "en"
    amount = document.get("amount")
    base = settings().public_base_url.rstrip("/")
    context = {
        "number": record.number,
        "title": document.get("title") or "",
        "counterparty": ((document.get("parties") or {}).get("counterparty") or {}).get("name") or "",
        "amount_text": f"{document.get('currency') or ''} {amount}".strip() if amount is not None else "",
        "reasons": reasons,
        "contract_id": record.contract_id,
        "approve_url": f"{base}/v1/contracts/{record.contract_id}/approve",
        "reject_url": f"{base}/v1/contracts/{record.contract_id}/reject",
    }
    subject = (f"合同待审批：{record.number} {context['title']}" if locale == "zh-CN"
               else f"Approval needed: {record.number} {context['title']}").strip()
    env = get_environment()
    text = env.get_template(f"emails/approval_request.{locale}.txt.j2").render(subject=subject, **context)
    html = env.get_template(f"emails/approval_request.{locale}.html.j2").render(subject=subject, **context)
    return Email(to=to, subject=subject, text=text, html=html)


# --- answering (the API) ----------------------------------------------------------------------


def api_actor(authorization: str | None) -> str:
    """Who acted: the API key's label when it has one, else "api"."""
    from chalicelib.store.models import RegistryRecord
    from chalicelib.store.registry import hash_api_key

    if authorization and authorization.lower().startswith("bearer "):
        try:
            item = RegistryRecord.get(f"apikey#{hash_api_key(authorization[7:].strip())}")
            label = str((item.data or {}).get("label") or "").strip()
        except Exception:  # noqa: BLE001 - the label is informative only
            label = ""
        if label:
            return label
    return "api"


def approve(tenant_id: str, contract_id: str, raw_body: bytes, actor: str) -> dict[str, Any]:
    reason = _reason(raw_body, required=False)
    record = _load_in(tenant_id, contract_id, {Status.PENDING_APPROVAL}, "approved")
    # The approval binds to the document as read here; the send job sends only this version (a CRM
    # update that lands after this read sends the contract back to the gate).
    version = document_version(record.document or {})
    detail = {"by": actor, "version": version, **({"reason": reason} if reason else {})}
    moved = _move(record, Status.APPROVED, "approved", detail, reason,
                  actions=[ContractRecord.approved_version.set(version)])
    from chalicelib.intake.events import enqueue_send

    enqueue_send(moved)
    logger.info("contract approved", extra={"contract_id": contract_id, "by": actor})
    return contract_view(moved)


def reject(tenant_id: str, contract_id: str, raw_body: bytes, actor: str) -> dict[str, Any]:
    reason = _reason(raw_body, required=True)
    record = _load_in(tenant_id, contract_id, {Status.PENDING_APPROVAL}, "rejected")
    moved = _move(record, Status.REJECTED, "rejected", {"by": actor, "reason": reason}, reason)
    logger.info("contract rejected", extra={"contract_id": contract_id, "by": actor})
    return contract_view(moved)


def void(tenant_id: str, contract_id: str, raw_body: bytes, actor: str) -> dict[str, Any]:
    from chalicelib.intake.events import VOIDABLE, void_contract

    reason = _reason(raw_body, required=True)
    record = _load_in(tenant_id, contract_id, VOIDABLE, "voided")
    try:
        moved = void_contract(record, "voided", {"by": actor, "via": "api", "reason": reason}, reason=reason)
    except store.StaleStatus as err:
        raise _changed(record, "voided") from err
    return contract_view(moved)


def _reason(raw_body: bytes, *, required: bool) -> str | None:
    body: Any = {}
    if raw_body.strip():
        body = parse_json(raw_body)
    if not isinstance(body, dict):
        raise ValidationFailed("1 problem in the request", [{"path": "", "message": "expected a JSON object"}])
    raw = body.get("reason")
    if raw is not None and not isinstance(raw, str):
        raise ValidationFailed("1 problem in the request", [{"path": "reason", "message": "must be a string"}])
    # The limit counts what was sent, as the OpenAPI document's maxLength does; blank is absent.
    if len(raw or "") > MAX_REASON_CHARS:
        raise ValidationFailed("1 problem in the request", [
            {"path": "reason", "message": f"at most {MAX_REASON_CHARS} characters"}])
    reason = (raw or "").strip()
    if required and not reason:
        raise ValidationFailed("1 problem in the request", [{"path": "reason", "message": "a reason is required"}])
    return reason or None


def _load_in(tenant_id: str, contract_id: str, allowed: set[Status] | frozenset[Status], action: str) -> ContractRecord:
    record = load_contract(tenant_id, contract_id)
    if Status(record.status) not in allowed:
        raise Conflict(f"contract {record.contract_id} ({record.number}) is {record.status}: it cannot be "
                       f"{action} in that status", [{"path": "status", "message": f"current status: {record.status}"}])
    return record


def _move(record: ContractRecord, target: Status, event_type: str, detail: dict[str, Any],
          reason: str | None, actions: list[Any] | None = None) -> ContractRecord:
    from chalicelib.jobs.transitions import transition  # status changes also notify the CRM

    try:
        return transition(record, target, event_type=event_type, detail=detail, reason=reason, actions=actions or ())
    except store.StaleStatus as err:
        raise _changed(record, target.value) from err


def _changed(record: ContractRecord, action: str) -> Conflict:
    current = store.get_contract(record.tenant_id, record.contract_id).status
    return Conflict(f"contract {record.contract_id} changed status while it was being {action}: it is now "
                    f"{current}", [{"path": "status", "message": f"current status: {current}"}])
