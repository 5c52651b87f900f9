"""The API's actions on one contract (approve, reject, void, record a milestone): the request is
read here (the body's reason, who acted), and the services below take typed values."""

from __future__ import annotations

from typing import Any

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.jsonbody import parse_json
from chalicelib.lifecycle import approvals
from chalicelib.notify import crm_writeback
from chalicelib.reminders.execution import record_execution
from chalicelib.store.registry import api_key_label
from chalicelib.web.api import contract_view, load_contract

MAX_REASON_CHARS = 1000


def approve(tenant_id: str, contract_id: str, raw_body: bytes, authorization: str | None) -> dict[str, Any]:
    reason = _reason(raw_body, required=False)
    return contract_view(approvals.approve(load_contract(tenant_id, contract_id), reason, api_actor(authorization)))


def reject(tenant_id: str, contract_id: str, raw_body: bytes, authorization: str | None) -> dict[str, Any]:
    reason = _reason(raw_body, required=True) or ""
    return contract_view(approvals.reject(load_contract(tenant_id, contract_id), reason, api_actor(authorization)))


def void(tenant_id: str, contract_id: str, raw_body: bytes, authorization: str | None) -> dict[str, Any]:
    reason = _reason(raw_body, required=True) or ""
    return contract_view(approvals.void(load_contract(tenant_id, contract_id), reason, api_actor(authorization)))


def record_milestone(tenant_id: str, contract_id: str, milestone_id: str, raw_body: bytes) -> dict[str, Any]:
    answer = record_execution(tenant_id, contract_id, milestone_id, parse_json(raw_body or b"null"))
    if not answer.get("duplicate"):
        crm_writeback.queue(load_contract(tenant_id, contract_id), "milestone_recorded")  # paid amount, overdue
    return answer


def api_actor(authorization: str | None) -> str:
    """Who acted: the API key's label when it has one, else "api"."""
    if authorization and authorization.lower().startswith("bearer "):
        try:
            label = api_key_label(authorization[7:].strip())
        except Exception:  # noqa: BLE001 - the label is informative only
            label = ""
        if label:
            return label
    return "api"


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
