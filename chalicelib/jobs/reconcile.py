"""Daily reconciliation: one paged list_status_changes since the last checkpoint repairs any contract
whose Connect message never arrived. No per-envelope polling (DocuSign's polling limits).

It also closes the last gap in "one envelope per contract": a live envelope that carries a contract's
id but is not the one the contract recorded (a create that timed out at our end while DocuSign went
on to make it, then a retry made another) is voided as a duplicate before anyone signs it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.contracts.stored import StoredContract
from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import logger
from chalicelib.esign import envelopes
from chalicelib.esign.accounts import AccountUnavailable, DocuSignAccount, own_accounts, service_account
from chalicelib.esign.connect import ENVELOPE_EVENT_STATUS
from chalicelib.jobs.esign_events import apply_change
from chalicelib.store import contracts as store
from chalicelib.store import keys

CHECKPOINT_KEY = "checkpoint#reconcile"
OVERLAP = timedelta(minutes=15)  # re-read a little: a change committed while we listed is not lost
FIRST_RUN_LOOKBACK = timedelta(days=2)
_KNOWN_STATUSES = set(ENVELOPE_EVENT_STATUS.values())
_IN_PROCESS = ("sent", "delivered")


def run(_scheduled_time: str | None = None) -> dict[str, Any]:
    """Reads the service's account, then each tenant's own, each from its own checkpoint: one account
    that cannot be read (its secret broken, DocuSign refusing) keeps its checkpoint and does not hold
    the others back."""
    totals: dict[str, Any] = {"seen": 0, "repaired": 0, "duplicates_voided": 0, "failed": 0, "accounts": 0}
    for account in [service_account(), *own_accounts()]:
        if isinstance(account, AccountUnavailable):
            logger.error("reconcile skipped an account", extra={"error": str(account)})
            totals["failed"] += 1
            continue
        try:
            counts = _reconcile(account)
        except RetryableError as err:
            logger.error("reconcile could not read an account", extra={"tenant_id": account.tenant_id,
                                                                       "error": str(err)})
            totals["failed"] += 1
            continue
        totals["accounts"] += 1
        if account.tenant_id is None:
            totals["since"] = counts.pop("since")
        for name, value in counts.items():
            if isinstance(value, int):
                totals[name] += value
    if totals["failed"] and not totals["accounts"]:
        # Nothing could be read at all: the scheduled run fails, visibly, and is retried.
        raise RetryableError(f"reconcile read none of the {totals['failed']} DocuSign account(s)")
    return totals


def _checkpoint_key(account: DocuSignAccount) -> str:
    return CHECKPOINT_KEY if account.tenant_id is None else f"{CHECKPOINT_KEY}#{account.tenant_id}"


def _reconcile(account: DocuSignAccount) -> dict[str, Any]:
    # DocuSign's clock is the real one: the checkpoint follows wall time, not the scheduled 'now'.
    started = store.now_utc()
    checkpoint = keys.find_key(_checkpoint_key(account))
    since = checkpoint.created_at - OVERLAP if checkpoint is not None else started - FIRST_RUN_LOOKBACK
    repaired, seen, duplicates, failed = 0, 0, 0, 0
    for change in envelopes.list_changes(since, account=account):
        seen += 1
        if account.tenant_id is not None and change.tenant_id != account.tenant_id:
            continue  # a tenant's account speaks for that tenant's contracts only
        record = store.find_by_envelope(change.envelope_id)
        if record is not None and account.tenant_id is not None and record.tenant_id != account.tenant_id:
            continue
        if record is None and change.tenant_id and change.contract_id:
            record = store.find_contract(change.tenant_id, change.contract_id)
            if record is not None and record.envelope_id not in (None, change.envelope_id):
                duplicates += _void_duplicate(record, change)
                continue
        if record is None:
            continue
        status = change.status if change.status in _KNOWN_STATUSES else None
        try:
            outcome = apply_change(record, envelope_id=change.envelope_id, status=status,
                                   recipients=change.recipients, voided_reason=change.voided_reason,
                                   source="reconcile", event=f"status-{change.status}",
                                   generated_at=change.status_changed_at)
        except RetryableError as err:  # this contract is busy: the next run reads it again
            failed += 1
            logger.warning("reconcile could not apply a change", extra={
                "contract_id": record.contract_id, "envelope_id": change.envelope_id, "reason": str(err)})
            continue
        if status and outcome == status:
            repaired += 1
            logger.warning("reconcile repaired a contract", extra={"contract_id": record.contract_id,
                                                                   "status": status})
    if not failed:  # otherwise keep the old checkpoint, so the next run sees those changes again
        keys.put_key(_checkpoint_key(account), created_at=started)
    return {"since": since.isoformat(), "seen": seen, "repaired": repaired, "duplicates_voided": duplicates,
            "failed": failed}


def _void_duplicate(record: StoredContract, change: envelopes.EnvelopeChange) -> int:
    if change.status not in _IN_PROCESS:
        if change.status != "voided":  # it was signed or declined: a human must look
            logger.error("a duplicate envelope for one contract is already closed", extra={
                "contract_id": record.contract_id, "kept": record.envelope_id, "duplicate": change.envelope_id,
                "status": change.status})
        return 0
    reason = f"Duplicate of envelope {record.envelope_id} for contract {record.number}"
    try:
        envelopes.void_envelope(record.tenant_id, change.envelope_id, reason)
        outcome = "voided"
    except envelopes.EnvelopeRejected as err:
        outcome = f"not voided: {err.code}"
    except RetryableError as err:
        outcome = f"not voided yet: {err}"
    logger.error("duplicate envelope for one contract", extra={
        "contract_id": record.contract_id, "kept": record.envelope_id, "duplicate": change.envelope_id,
        "outcome": outcome, "source": "reconcile"})
    store.append_event(record, "duplicate_envelope", {"kept": record.envelope_id, "duplicate": change.envelope_id,
                                                      "outcome": outcome, "source": "reconcile"})
    return 1 if outcome == "voided" else 0
