"""Applying what DocuSign tells us (Connect messages, reconciliation) to contracts, monotonically.

Connect may repeat a message, drop one, or deliver them out of order. Each message is deduplicated
on a computed key; envelope status only moves forward through the lifecycle table; a signer's status
only moves up its ladder. A message about an envelope we cannot match yet is refused (5xx) so
DocuSign retries it: the send job may still be recording the envelope id. A message about an envelope
that is not the contract's (a voided duplicate, another stage's envelope) is acknowledged and ignored.

A contract that ends declined or voided (expired included) tells its owner by email, once; the CRM
hears of it through the status callback that every transition sends.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from chalicelib.contracts.lifecycle import Status, can_move
from chalicelib.contracts.locales import primary_locale_of
from chalicelib.contracts.stored import SignerProgress, StoredContract
from chalicelib.core.aws import enqueue
from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import count, logger
from chalicelib.esign.connect import RECIPIENT_RANK, ConnectMessage
from chalicelib.lifecycle import share_tokens
from chalicelib.lifecycle.transitions import transition
from chalicelib.notify import emails, mailer
from chalicelib.store import contracts as store

CONNECT_DEDUPE_TTL = timedelta(days=8)  # DocuSign retries for days; keep keys longer
OWNER_NOTICE_TTL = timedelta(days=400)  # a terminal status never comes back: keep the claim a long time
OWNER_NOTICE_STATUSES = frozenset({Status.DECLINED, Status.VOIDED})


class _Stray(Exception):
    """The message is about an envelope that is not (and will not be) this contract's."""


def apply_connect(message: ConnectMessage) -> str:
    try:
        record = _contract_for(message.envelope_id, message.tenant_id, message.contract_id)
    except _Stray as stray:
        logger.warning("Connect message for a stray envelope ignored", extra={
            "envelope_id": message.envelope_id, "event": message.event, "reason": str(stray)})
        return f"ignored ({stray})"
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


def _contract_for(envelope_id: str, tenant_id: str | None, contract_id: str | None) -> StoredContract | None:
    """The contract this envelope belongs to; None when it cannot be told yet (retry later).

    The envelope's hidden tenantId/contractId fields (we set them; the message is HMAC-verified)
    give the contract by its key: a consistent read, where the envelope index is eventually
    consistent and costs a query. The index is the way only for an envelope without the fields."""
    if not (tenant_id and contract_id):
        return store.find_by_envelope(envelope_id)  # None while the index lags behind the send job
    record = store.find_contract(tenant_id, contract_id)
    if record is None:
        raise _Stray(f"no contract {contract_id} for tenant {tenant_id}")
    if record.envelope_id not in (None, envelope_id):
        raise _Stray(f"contract {contract_id} has envelope {record.envelope_id}")
    return record


def apply_change(
    record: StoredContract,
    *,
    envelope_id: str,
    status: str | None,
    recipients: Iterable[Mapping[str, Any]],
    voided_reason: str | None,
    source: str,
    event: str,
    generated_at: str | None = None,
) -> str:
    recipients = list(recipients)
    record, signers_changed = _record_envelope_and_signers(record, envelope_id, recipients, source, event)
    if status is None:
        return "signers updated" if signers_changed else "no change"
    target = Status(status)
    if record.status == target:
        if target in OWNER_NOTICE_STATUSES:
            notify_owner(record)  # once: a retry after a failed email lands here
        return "already " + status
    if not can_move(record.status, target):
        if source == "reconcile":  # reconcile re-reads every change since its checkpoint: only repairs count
            return f"ignored ({record.status} → {status} not allowed)"
        store.append_event(record, "esign_event_ignored", {
            "source": source, "event": event, "status": status, "generated_at": generated_at,
            "reason": f"contract is already {record.status}"})
        return f"ignored ({record.status} → {status} not allowed)"
    detail: dict[str, Any] = {"source": source, "event": event, "envelope_id": envelope_id}
    if generated_at:
        detail["generated_at"] = generated_at
    if voided_reason:
        detail["voided_reason"] = voided_reason
    if target == Status.DECLINED:
        decliner = _decliner(record)
        if decliner is not None:
            detail["declined_by"] = {"position": int(decliner.position), "name": decliner.name,
                                     "reason": decliner.declined_reason}
    changes = store.ContractChanges(envelope_status=status, last_connect_at=generated_at or None)
    try:
        record = transition(record, target, event_type=f"envelope_{status}", detail=detail,
                            changes=changes, reason=voided_reason or _declined_reason(record),
                            step=f"envelope_{status}#{envelope_id}")
    except store.StaleStatus:
        fresh = store.get_contract(record.tenant_id, record.contract_id)
        if fresh.status == target and target in OWNER_NOTICE_STATUSES:
            notify_owner(fresh)  # whoever moved it (a void from the API, say) may not have told the owner
        if fresh.status == target or not can_move(fresh.status, target):
            return f"ignored (concurrently {fresh.status})"
        raise RetryableError(f"{record.contract_id}: status changed concurrently") from None
    logger.info("contract status from DocuSign", extra={
        "contract_id": record.contract_id, "status": status, "source": source})
    if target == Status.COMPLETED:
        count("ContractsCompleted")  # every signer signed (once: the move above is conditional)
        enqueue({"job": "archive", "tenant_id": record.tenant_id, "contract_id": record.contract_id})
    if target in OWNER_NOTICE_STATUSES:
        notify_owner(record)
    return status


def _record_envelope_and_signers(
    record: StoredContract, envelope_id: str, recipients: list[Mapping[str, Any]], source: str, event: str,
) -> tuple[StoredContract, bool]:
    """Records the envelope id (Connect can beat the send job to it) and the signers' progress. Field
    updates are conditional on the status read; if another writer moved it, read again and redo."""
    for _ in range(3):
        try:
            if record.envelope_id is None:
                record = store.update_fields(record, store.ContractChanges(envelope_id=envelope_id))
            changed = _merge_signers(record, recipients)
            if changed:
                moved = {i: (record.signers[i].status, s) for i, s in sorted(changed.items())}
                record = store.update_signers(record, moved)
                store.append_event(record, "signers_updated", {"source": source, "event": event, "signers": [
                    {"position": int(s.position), "status": s.status} for s in record.signers]})
            return record, bool(changed)
        except store.StaleStatus:
            record = store.get_contract(record.tenant_id, record.contract_id)
    raise RetryableError(f"{record.contract_id}: contract keeps changing; try again")


def _decliner(record: StoredContract) -> SignerProgress | None:
    return next((s for s in record.signers if s.status == "declined"), None)


def _declined_reason(record: StoredContract) -> str | None:
    signer = _decliner(record)
    if signer is not None and signer.declined_reason:
        return f"{signer.name}: {signer.declined_reason}"
    return None


def notify_owner(record: StoredContract) -> None:
    """Emails the contract's owner that it was declined or voided (expired included), exactly once.
    A transient SES failure releases the claim and raises RetryableError (Connect answers 5xx and
    DocuSign delivers again); a permanent one is logged and recorded on the timeline."""

    status = Status(record.status)
    key = f"owner-notice#{record.tenant_id}#{record.contract_id}#{status.value}"
    owner = (record.document or {}).get("owner") or {}
    if not owner.get("email"):
        logger.warning("contract has no owner to notify", extra={"contract_id": record.contract_id})
        return
    if not store.claim_once(key, OWNER_NOTICE_TTL, tenant_id=record.tenant_id, contract_id=record.contract_id):
        return
    try:
        link, _ = share_tokens.mint(record.tenant_id, record.contract_id, str(owner["email"]),
                                    emails.locale_of(primary_locale_of(record)))  # a notice: no action
        email = emails.owner_notice(record, link)
        message_id = mailer.send(email)
    except RetryableError:
        store.release_claim(key)
        raise
    except mailer.EmailSuppressed as err:  # the claim stays: the owner's address bounced or complained
        store.append_event(record, "owner_notice_suppressed", {"status": status.value, "suppressed": err.suppressed})
        return
    except Exception as err:  # noqa: BLE001 - a refused address must not make DocuSign retry forever
        logger.exception("owner notice not sent", extra={"contract_id": record.contract_id})
        store.append_event(record, "owner_notice_failed", {"status": status.value, "error": str(err)[:300]})
        return
    store.append_event(record, "owner_notified", {"status": status.value, "to": list(email.to),
                                                  "subject": email.subject, "message_id": message_id})


def _merge_signers(record: StoredContract, recipients: Iterable[Mapping[str, Any]]) -> dict[int, SignerProgress]:
    """The signers the recipients move up their ladder, by index in the contract's list, as they
    would be stored (a later recipient entry for the same signer sees what an earlier one made)."""
    index_of = {s.recipient_id: i for i, s in enumerate(record.signers)}
    merged: dict[int, SignerProgress] = {}
    for recipient in recipients:
        index = index_of.get(str(recipient.get("recipientId") or ""))
        new_status = str(recipient.get("status") or "").lower()
        if index is None or new_status not in RECIPIENT_RANK:
            continue
        signer = merged.get(index, record.signers[index])
        if RECIPIENT_RANK[new_status] <= RECIPIENT_RANK.get(signer.status, 0):
            continue
        merged[index] = dataclasses.replace(
            signer, status="signed" if new_status == "completed" else new_status,
            signed_at=recipient.get("signedDateTime") or signer.signed_at,
            declined_reason=recipient.get("declinedReason") or signer.declined_reason)
    return merged
