"""Webhooks that name a record without carrying it (NeedsEnrichment): recorded and handed to the
jobs queue, so that the record is read from the CRM's API, mapped and applied later.

Two things keep each one, so that none is dropped between the 202 and the job:
- a key item `enrichment#{source}#{delivery}` (30 days) holding the request: what a repeat of the
  delivery finds (it is answered 200, nothing queued again), and what an operator can list;
- a job message {"job": "enrich", ...NeedsEnrichment.to_message()} on the jobs queue.
The message is enqueued before the key is written: if the write fails the CRM's retry queues it
again, while the reverse order could leave a key with no job behind it. So the job may see one
delivery twice (also when two copies of a webhook race): it must be idempotent per delivery_key,
as creating the contract under that delivery id (and the CRM record's claim) already is.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.core.aws import enqueue
from chalicelib.core.observability import count, logger
from chalicelib.intake.base import NeedsEnrichment
from chalicelib.store.contracts import now_utc
from chalicelib.store.keys import find_key, put_key

ENRICH_JOB = "enrich"
PENDING_TTL = timedelta(days=30)  # as long as a rejected intake is kept: time to notice and replay


def pending_key(pending: NeedsEnrichment) -> str:
    return f"enrichment#{pending.source_id}#{pending.delivery_key}"


def request_enrichment(pending: NeedsEnrichment) -> bool:
    """Records the request and queues the enrichment job; False when this delivery was already
    recorded (a CRM's retry), in which case nothing is queued again."""
    key = pending_key(pending)
    if find_key(key, consistent=True) is not None:
        return False
    message = pending.to_message()
    enqueue({"job": ENRICH_JOB, **message})
    now = now_utc()
    put_key(key, created_at=now, tenant_id=pending.tenant_id, detail=message, expires_at=now + PENDING_TTL)
    logger.info("CRM record needs enrichment", extra={
        "tenant_id": pending.tenant_id, "source_id": pending.source_id, "crm": pending.crm,
        "object_type": pending.object_type, "record_id": pending.record_id, "delivery_id": pending.delivery_key,
        "reason": pending.reason})
    count("IntakeEnrichmentRequested", source_kind=pending.crm)
    return True


def pending_body(pending: NeedsEnrichment) -> dict[str, Any]:
    """The webhook's answer: what was accepted and why the contract does not exist yet."""
    return {"status": "enrichment_pending", "crm": pending.crm, "object_type": pending.object_type,
            "crm_record_id": pending.record_id, "delivery_id": pending.delivery_key, "reason": pending.reason}
