"""What each CRM event does to the contract: created, updated, cancelled. Each one persists and
enqueues only; the send job renders and talks to DocuSign, the void job voids.

Idempotency: every event's delivery id is remembered (delivery#{source}#{id}, 4 days) once it has
taken effect, and a repeat answers 200 with the contract as it is, changing nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.contracts.approval import document_version, without_execution
from chalicelib.contracts.lifecycle import EDITABLE, EXECUTION_OPEN, TERMINAL, Status
from chalicelib.contracts.money import parse_amount
from chalicelib.contracts.stored import SignerProgress, StoredContract
from chalicelib.core.errors import Conflict, ValidationFailed
from chalicelib.core.observability import logger
from chalicelib.intake.base import InboundEvent, IntakeResult
from chalicelib.lifecycle.cancel import VOIDABLE, void_contract
from chalicelib.lifecycle.sending import enqueue_send
from chalicelib.lifecycle.transitions import moved_elsewhere, transition
from chalicelib.notify import crm_writeback
from chalicelib.reminders.execution import record_execution
from chalicelib.reminders.milestones import paid_amount
from chalicelib.store import contracts as store
from chalicelib.store.registry import Source


def created(source: Source, event: InboundEvent, contract: Any) -> IntakeResult:
    document = contract.to_canonical_dict()
    result = store.create_contract(
        tenant_id=source.tenant_id,
        source_id=source.source_id,
        delivery_id=event.delivery_id,
        document=document,
        signers=signer_states(document),
        callback_url=document.get("callback_url"),
        event_detail={"source_id": source.source_id, "delivery_id": event.delivery_id,
                      "crm_record_id": document["crm_record_id"]},
    )
    record = result.contract
    if result.created:
        logger.info("contract received", extra={"contract_id": record.contract_id, "tenant_id": record.tenant_id})
        enqueue_send(record)
        return IntakeResult(202, summary(record))
    store.remember_delivery(source.tenant_id, source.source_id, event.delivery_id, record.contract_id)
    if record.status == Status.RECEIVED:
        # The first attempt may have died between persisting and enqueueing: the send job is
        # idempotent, so enqueueing again is safe and guarantees progress.
        enqueue_send(record)
    return IntakeResult(200, summary(record))


def updated(source: Source, event: InboundEvent, contract: Any) -> IntakeResult:
    """Before sending: the new document replaces the old (validated already) and the send job
    renders it again. After sending: refused, unless nothing changed (CRMs resend on every edit)."""
    document = contract.to_canonical_dict()
    existing = store.find_by_crm_record(source.tenant_id, str(document["crm_record_id"]))
    if existing is None:
        # An update for a record we never saw (its created event was filtered, lost or arrives
        # later): the update carries the whole contract, so it creates it.
        return created(source, event, contract)
    status = Status(existing.status)
    if status in EXECUTION_OPEN:
        # A signed contract does not change; what a CRM may still report is its execution:
        # payments received and deliveries done, carried on the milestones. From `completed` on:
        # a CRM that reacts to the completed callback at once must not have its payment dropped.
        execution = execution_updates(existing, document)
        if execution and not changed_fields(without_execution(existing.document or {}), without_execution(document)):
            return _record_execution(source, event, existing, execution)
    changed = changed_fields(without_execution(existing.document or {}), without_execution(document))
    if status not in EDITABLE:
        if not changed:
            return _done(source, event, existing, 200)
        raise Conflict(
            f"contract {existing.contract_id} ({existing.number}) is already {status.value}: it was sent for "
            "signature and can no longer be changed. Cancel it in the CRM and create a new contract instead.",
            [{"path": f"contract.{name}", "message": "changed after the contract was sent"} for name in changed],
        )
    if not changed and status != Status.SEND_FAILED:
        return _done(source, event, existing, 200)
    back_to_gate = None
    if status == Status.APPROVED:
        # An approval binds to the document approved: a changed one goes back to the gate, in the same
        # write that replaces it, so no send job can ever see the new document as approved.
        back_to_gate = {"reasons": [f"the contract changed after it was approved ({', '.join(changed)})"],
                        "approved_version": existing.approved_version, "version": document_version(document),
                        "delivery_id": event.delivery_id}
    try:
        record = store.replace_document(
            existing, document, signer_states(document), event_type="updated",
            detail={"source_id": source.source_id, "delivery_id": event.delivery_id, "changed": changed,
                    "version": document_version(document)},
            back_to_approval=back_to_gate,
        )
        if back_to_gate:
            moved_elsewhere(record, status.value, "approval_required", back_to_gate)
        if status == Status.SEND_FAILED:
            # A corrected contract from the CRM is the way out of send_failed: send it again.
            target = Status.PENDING_APPROVAL if record.approval_required else Status.SENDING
            record = transition(record, target, event_type="resend_requested",
                                detail={"delivery_id": event.delivery_id})
    except store.StaleStatus as err:
        raise Conflict(f"contract {existing.contract_id} changed status while it was being updated "
                       "(a send may have started); the update was not applied") from err
    logger.info("contract updated", extra={"contract_id": record.contract_id, "changed": changed})
    # The send job runs the gate: a contract waiting for approval has its approvers asked about this
    # version (once per version); any other is rendered and sent.
    enqueue_send(record)
    return _done(source, event, record, 202)


def execution_updates(record: StoredContract, document: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """What the CRM reports as newly paid or delivered, as bodies for record_execution. A CRM sends
    the cumulative amount paid (`paid_amount`); the increment over what is recorded is the payment,
    and its reference makes a resent update a no-op."""

    stored = record.milestones or {}
    updates: list[tuple[str, dict[str, Any]]] = []
    for index, milestone in enumerate((document.get("payment") or {}).get("milestones") or []):
        total = milestone.get("paid_amount")
        if total is None and milestone.get("status") == "paid":
            total = milestone.get("amount")
        if total is None:
            continue
        try:
            increment = parse_amount(total) - paid_amount(stored.get(milestone["id"]))
        except (TypeError, ValueError):
            raise ValidationFailed("1 problem in the contract", [{
                "path": f"contract.payment.milestones[{index}].paid_amount",
                "message": f"not a decimal amount: {total!r}"}]) from None
        if increment > 0:
            body: dict[str, Any] = {"status": "paid", "amount": str(increment),
                                    "reference": f"crm:{milestone['id']}:{total}"}
            if milestone.get("paid_on"):
                body["paid_on"] = milestone["paid_on"]
            updates.append((milestone["id"], body))
    for milestone in (document.get("delivery") or {}).get("milestones") or []:
        if milestone.get("status") == "delivered" and "delivered_on" not in (stored.get(milestone["id"]) or {}):
            body = {"status": "delivered"}
            if milestone.get("delivered_on"):
                body["delivered_on"] = milestone["delivered_on"]
            updates.append((milestone["id"], body))
    return updates


def _record_execution(source: Source, event: InboundEvent, record: StoredContract,
                      updates: list[tuple[str, dict[str, Any]]]) -> IntakeResult:

    for milestone_id, body in updates:
        record_execution(record.tenant_id, record.contract_id, milestone_id, body, source="crm")
    logger.info("execution reported by the CRM", extra={"contract_id": record.contract_id,
                                                         "milestones": [m for m, _ in updates]})
    fresh = store.get_contract(record.tenant_id, record.contract_id)
    # The totals as signbridge sees them (paid, overdue): written once per distinct state, so a CRM
    # workflow that reacts to the write cannot make a loop.
    crm_writeback.queue(fresh, "milestone_recorded")
    return _done(source, event, fresh, 200)


def cancelled(source: Source, event: InboundEvent, crm_record_id: str) -> IntakeResult:
    existing = store.find_by_crm_record(source.tenant_id, crm_record_id)
    if existing is None:
        # Nothing to cancel. Not an error a CRM should retry (a deal deleted before it ever had a
        # contract): acknowledged, nothing stored.
        return IntakeResult(200, {"status": "ignored", "reason": f"no contract for CRM record {crm_record_id!r}"})
    status = Status(existing.status)
    if status in TERMINAL:
        return _done(source, event, existing, 200)
    if status not in VOIDABLE:
        raise Conflict(f"contract {existing.contract_id} ({existing.number}) is {status.value}: it is signed "
                       "and cannot be cancelled from the CRM")
    detail = {"source_id": source.source_id, "delivery_id": event.delivery_id}
    try:
        record = void_contract(existing, "cancelled", detail, reason="cancelled in the CRM")
    except store.StaleStatus as err:
        raise Conflict(f"contract {existing.contract_id} changed status while it was being cancelled; "
                       "retry the cancellation") from err
    return _done(source, event, record, 202)


def _done(source: Source, event: InboundEvent, record: StoredContract, status: int) -> IntakeResult:
    store.remember_delivery(source.tenant_id, source.source_id, event.delivery_id, record.contract_id)
    return IntakeResult(status, summary(record))


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def signer_states(document: Mapping[str, Any]) -> list[SignerProgress]:
    return [
        SignerProgress(
            position=position,
            recipient_id=str(position),
            name=signer["name"],
            email=signer["email"],
            routing_order=int(signer["routing_order"]),
            delivery=signer.get("delivery", "email"),
        )
        for position, signer in enumerate(document["signers"], start=1)
    ]


def summary(record: StoredContract) -> dict[str, str]:
    return {"contract_id": record.contract_id, "status": record.status}
