"""Daily reconciliation: one paged list_status_changes since the last checkpoint repairs any contract
whose Connect message never arrived. No per-envelope polling (DocuSign's polling limits)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.esign import envelopes
from chalicelib.esign.connect import ENVELOPE_EVENT_STATUS
from chalicelib.jobs.esign_events import apply_change
from chalicelib.observability import logger
from chalicelib.store import contracts as store
from chalicelib.store.models import KeyRecord

CHECKPOINT_KEY = "checkpoint#reconcile"
OVERLAP = timedelta(minutes=15)  # re-read a little: a change committed while we listed is not lost
FIRST_RUN_LOOKBACK = timedelta(days=2)
_KNOWN_STATUSES = set(ENVELOPE_EVENT_STATUS.values())


def run(_scheduled_time: str | None = None) -> dict[str, Any]:
    # DocuSign's clock is the real one: the checkpoint follows wall time, not the scheduled 'now'.
    started = store.now_utc()
    try:
        since = KeyRecord.get(CHECKPOINT_KEY).created_at - OVERLAP
    except DoesNotExist:
        since = started - FIRST_RUN_LOOKBACK
    repaired, seen = 0, 0
    for change in envelopes.list_changes(since):
        seen += 1
        record = store.find_by_envelope(change.envelope_id)
        if record is None and change.tenant_id and change.contract_id:
            record = store.find_contract(change.tenant_id, change.contract_id)
        if record is None:
            continue
        status = change.status if change.status in _KNOWN_STATUSES else None
        outcome = apply_change(record, envelope_id=change.envelope_id, status=status,
                               recipients=change.recipients, voided_reason=change.voided_reason,
                               source="reconcile", event=f"status-{change.status}",
                               generated_at=change.status_changed_at)
        if status and outcome == status:
            repaired += 1
            logger.warning("reconcile repaired a contract", extra={"contract_id": record.contract_id,
                                                                   "status": status})
    KeyRecord(key=CHECKPOINT_KEY, created_at=started).save()
    return {"since": since.isoformat(), "seen": seen, "repaired": repaired}
