"""Applying what DocuSign tells us (Connect messages, reconciliation) to contracts, monotonically.

Connect may repeat a message, drop one, or deliver them out of order. Each message is deduplicated
on a computed key; envelope status only moves forward through the lifecycle table; a signer's status
only moves up its ladder. A message about an envelope we cannot match yet is refused (5xx) so
DocuSign retries it: the send job may still be recording the envelope id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from chalicelib.aws import enqueue
from chalicelib.contracts.lifecycle import Status, can_move
from chalicelib.errors import RetryableError
from chalicelib.esign.connect import RECIPIENT_RANK, ConnectMessage
from chalicelib.jobs.transitions import transition
from chalicelib.observability import logger
from chalicelib.store import contracts as store
from chalicelib.store.models import ContractRecord, SignerState

CONNECT_DEDUPE_TTL = timedelta(days=8)  # DocuSign retries for days; keep keys longer


def apply_connect(message: ConnectMessage) -> str:
    record = _contract_for(message.envelope_id, message.tenant_id, message.contract_id)
    if record is None:
        raise RetryableError(f"no contract yet for envelope {message.envelope_id}")
    if not store.claim_once(message.dedupe_key, CONNECT_DEDUPE_TTL, tenant_id=record.tenant_id,
                            contract_id=record.contract_id):
        return "duplicate"
    try:
        return apply_change(record, envelope_id=message.envelope_id, status=message.contract_status,
                            recipients=message.recipients, voided_reason=message.voided_reason,
                            source="connect", event=message.event, generated_at=message.generated_at)
    except Exception:
        store.release_claim(message.dedupe_key)  # let DocuSign's retry through
        raise


def _contract_for(envelope_id: str, tenant_id: str | None, contract_id: str | None) -> ContractRecord | None:
    record = store.find_by_envelope(envelope_id)
    if record is None and tenant_id and contract_id:
        record = store.find_contract(tenant_id, contract_id)
        if record is not None and record.envelope_id not in (None, envelope_id):
            return None  # a stray envelope for a contract that has another one
    return record


def apply_change(
    record: ContractRecord,
    *,
    envelope_id: str,
    status: str | None,
    recipients: Iterable[Mapping[str, Any]],
    voided_reason: str | None,
    source: str,
    event: str,
    generated_at: str | None = None,
) -> str:
    if record.envelope_id is None:
        # Connect can beat the send job to recording the envelope id (it found it by custom field).
        record = store.update_fields(record, [ContractRecord.envelope_id.set(envelope_id)])
    signers_changed = _merge_signers(record, recipients)
    if signers_changed:
        record = store.update_fields(record, [ContractRecord.signers.set(record.signers)])
        store.append_event(record, "signers_updated", {"source": source, "event": event, "signers": [
            {"position": s.position, "status": s.status} for s in record.signers]})
    if status is None:
        return "signers updated" if signers_changed else "no change"
    target = Status(status)
    if record.status == target:
        return "already " + status
    if not can_move(record.status, target):
        store.append_event(record, "esign_event_ignored", {
            "source": source, "event": event, "status": status, "generated_at": generated_at,
            "reason": f"contract is already {record.status}"})
        return f"ignored ({record.status} → {status} not allowed)"
    detail: dict[str, Any] = {"source": source, "event": event, "envelope_id": envelope_id}
    if generated_at:
        detail["generated_at"] = generated_at
    if voided_reason:
        detail["voided_reason"] = voided_reason
    actions = [ContractRecord.envelope_status.set(status)]
    if generated_at:
        actions.append(ContractRecord.last_connect_at.set(generated_at))
    try:
        record = transition(record, target, event_type=f"envelope_{status}", detail=detail,
                                   actions=actions, reason=voided_reason or _declined_reason(record))
    except store.StaleStatus:
        fresh = store.get_contract(record.tenant_id, record.contract_id)
        if fresh.status == target or not can_move(fresh.status, target):
            return f"ignored (concurrently {fresh.status})"
        raise RetryableError(f"{record.contract_id}: status changed concurrently") from None
    logger.info("contract status from DocuSign", extra={
        "contract_id": record.contract_id, "status": status, "source": source})
    if target == Status.COMPLETED:
        enqueue({"job": "archive", "tenant_id": record.tenant_id, "contract_id": record.contract_id})
    return status


def _declined_reason(record: ContractRecord) -> str | None:
    for signer in record.signers:
        if signer.status == "declined" and signer.declined_reason:
            return f"{signer.name}: {signer.declined_reason}"
    return None


def _merge_signers(record: ContractRecord, recipients: Iterable[Mapping[str, Any]]) -> bool:
    by_id: dict[str, SignerState] = {s.recipient_id: s for s in record.signers}
    changed = False
    for recipient in recipients:
        signer = by_id.get(str(recipient.get("recipientId") or ""))
        new_status = str(recipient.get("status") or "").lower()
        if signer is None or new_status not in RECIPIENT_RANK:
            continue
        if RECIPIENT_RANK[new_status] <= RECIPIENT_RANK.get(signer.status, 0):
            continue
        signer.status = "signed" if new_status == "completed" else new_status
        signer.signed_at = recipient.get("signedDateTime") or signer.signed_at
        signer.declined_reason = recipient.get("declinedReason") or signer.declined_reason
        changed = True
    return changed
