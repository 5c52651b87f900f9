"""The public API's read side and its authentication: API keys map to one tenant."""

from __future__ import annotations

from typing import Any

from chalicelib.contracts.stored import StoredContract, TimelineEvent
from chalicelib.core.errors import NotFound, Unauthorized, quoted
from chalicelib.reminders.milestones import milestones_view
from chalicelib.reminders.planning import contract_zone
from chalicelib.reminders.scheduling import tenant_settings
from chalicelib.reminders.terms import contract_term
from chalicelib.store import contracts as store
from chalicelib.store.execution_log import entries_of
from chalicelib.store.registry import tenant_for_api_key


def tenant_from_authorization(authorization: str | None) -> str:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    tenant_id = tenant_for_api_key(authorization[7:].strip())
    if tenant_id is None:
        raise Unauthorized("unknown API key")
    return tenant_id


def load_contract(tenant_id: str, contract_id: str) -> StoredContract:
    record = store.find_contract(tenant_id, contract_id)
    if record is None:  # another tenant's contract looks exactly like a missing one
        raise NotFound(f"no contract {quoted(contract_id)}")
    return record


def contract_view(record: StoredContract, events: list[TimelineEvent] | None = None) -> dict[str, Any]:
    document = record.document or {}
    view: dict[str, Any] = {
        "contract_id": record.contract_id,
        "status": record.status,
        "status_reason": record.status_reason,
        "type": record.contract_type,
        "number": record.number,
        "title": document.get("title"),
        "crm_record_id": record.crm_record_id,
        "source_id": record.source_id,
        "locale": record.locale,
        "currency": document.get("currency"),
        "amount": document.get("amount"),
        "effective_date": document.get("effective_date"),
        "end_date": document.get("end_date"),
        "envelope_id": record.envelope_id,
        "signers": [
            {"position": int(s.position), "name": s.name, "email": s.email, "routing_order": int(s.routing_order),
             "delivery": s.delivery, "status": s.status, "signed_at": s.signed_at,
             "declined_reason": s.declined_reason}
            for s in record.signers
        ],
        "documents": {
            "rendered": _doc(record.rendered),
            "signed": _doc(record.signed),
        },
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }
    view.update(_execution_view(record))
    if events is not None:
        view["execution"] = entries_of(events)  # the execution log, oldest first (from the timeline read anyway)
        view["timeline"] = [
            {"type": e.type, "at": e.at.isoformat(), "status": e.status, "detail": e.detail or {}}
            for e in events
        ]
    return view


def _execution_view(record: StoredContract) -> dict[str, Any]:
    """Paid versus planned per milestone and in total, and the term in force (it moves on renewal)."""

    document = record.document or {}
    try:
        today = store.now_utc().astimezone(contract_zone(document, tenant_settings(record.tenant_id))).date()
    except ValueError:  # a zone or settings problem must not hide the contract
        today = store.now_utc().date()
    extra: dict[str, Any] = {"milestones": milestones_view(document, getattr(record, "milestones", None), today)}
    stored_term = getattr(record, "term", None)
    term = contract_term(document, stored_term or None)
    if term is not None:
        extra["term"] = {"start": term.start.isoformat(), "end": term.end.isoformat(),
                         "renewals": int((stored_term or {}).get("renewals", 0)), "auto_renew": bool(
                             document.get("auto_renew"))}
    return extra


def _doc(ref: Any) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {"sha256": ref.sha256, "template_version": ref.template_version}


def get_contract(tenant_id: str, contract_id: str) -> dict[str, Any]:
    record = load_contract(tenant_id, contract_id)
    return contract_view(record, store.timeline(tenant_id, contract_id))
