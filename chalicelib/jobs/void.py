"""The void job: a contract cancelled in the CRM after its envelope went out is voided at DocuSign.

The contract is already `voided` (intake moved it); this job makes DocuSign agree. Idempotent: a
claim per envelope is taken before the call and released if the call fails for a retryable reason,
so a repeated job does not void twice, and a job that died mid-way is retried by SQS.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.contracts.lifecycle import Status
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import logger
from chalicelib.esign import envelopes
from chalicelib.store import contracts as store

VOID_CLAIM_TTL = timedelta(days=30)
# A contract cancelled while its send job was running may get its envelope a moment later: look for
# it a few times (with the runner's backoff) before concluding there is none.
ATTEMPTS_TO_FIND_A_LATE_ENVELOPE = 4


def run(message: dict[str, Any]) -> str:
    tenant_id, contract_id = message["tenant_id"], message["contract_id"]
    reason = str(message.get("reason") or "cancelled")
    record = store.find_contract(tenant_id, contract_id)
    if record is None:
        logger.warning("void job for an unknown contract", extra={"contract_id": contract_id})
        return "unknown"
    if record.status != Status.VOIDED:
        return f"nothing to do ({record.status})"
    envelope_id = record.envelope_id or _late_envelope(record, message)
    if envelope_id is None:
        return "no envelope to void"
    if record.envelope_status == "voided":
        return "already voided"
    claim = f"void#{tenant_id}#{contract_id}#{envelope_id}"
    if not store.claim_once(claim, VOID_CLAIM_TTL, tenant_id=tenant_id, contract_id=contract_id):
        return "already voided"
    try:
        envelopes.void_envelope(tenant_id, envelope_id, reason)
    except RetryableError:
        store.release_claim(claim)
        raise
    except envelopes.EnvelopeRejected as err:
        # DocuSign refuses to void (e.g. the envelope was completed meanwhile): not retryable, but
        # visible on the contract's timeline.
        store.append_event(record, "void_refused", {"envelope_id": envelope_id, "error_code": err.code,
                                                     "message": err.message})
        return f"void refused: {err.code}"
    _record_voided(record, envelope_id, reason)
    logger.info("envelope voided", extra={"contract_id": contract_id, "envelope_id": envelope_id})
    return f"voided {envelope_id}"


def _late_envelope(record: StoredContract, message: dict[str, Any]) -> str | None:
    found = envelopes.find_envelope(record.tenant_id, record.contract_id, record.created_at)
    if found is not None:
        return found.envelope_id
    attempt = int(message.get("attempt", 1))
    if message.get("from_status") == Status.SENDING and attempt < ATTEMPTS_TO_FIND_A_LATE_ENVELOPE:
        raise RetryableError(f"{record.contract_id}: no envelope yet; the send job may still be creating it")
    return None


def _record_voided(record: StoredContract, envelope_id: str, reason: str) -> None:
    # The envelope id too when the send job had not recorded it (a late envelope).
    changes = store.ContractChanges(envelope_status="voided", envelope_id=None if record.envelope_id else envelope_id)
    try:
        store.update_fields(record, changes)
    except store.StaleStatus:
        pass  # voided is terminal: only the envelope fields could race, and Connect sets the same
    store.append_event(record, "envelope_voided", {"envelope_id": envelope_id, "reason": reason})
