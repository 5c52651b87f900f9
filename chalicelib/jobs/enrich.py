"""The `enrich` job: a webhook named a CRM record without carrying it (intake/enrichment.py queued a
NeedsEnrichment); the record is read through the CRM's API (chalicelib/crm) and applied as if the
webhook had carried it (intake/service.apply_enriched), under the webhook's delivery id.

Idempotent per delivery: a repeat finds the contract made under that delivery id and stops. A CRM
that is down or rate-limited is a RetryableError (its Retry-After honoured by the runner): retried
with backoff, then dead-lettered and alarmed, and `admin callbacks replay` re-sends it. A credential
the CRM refuses is retried the same way (an operator fixes it); a record the CRM says does not exist
is a rejected intake, visible like a webhook refused at the door."""

from __future__ import annotations

from typing import Any

from chalicelib.core.errors import ApiError, RetryableError
from chalicelib.core.observability import logger
from chalicelib.crm import api as crm_api
from chalicelib.intake import service
from chalicelib.intake.base import InboundEvent, NeedsEnrichment
from chalicelib.store import contracts as store
from chalicelib.store.registry import get_source

_FIELDS = ("tenant_id", "source_id", "crm", "object_type", "record_id", "delivery_key", "event", "reason")


def pending_of(message: dict[str, Any]) -> NeedsEnrichment:
    context = message.get("context")
    return NeedsEnrichment(**{name: str(message.get(name) or "") for name in _FIELDS},
                           context=context if isinstance(context, dict) else {})


def run(message: dict[str, Any]) -> str:
    pending = pending_of(message)
    source = get_source(pending.source_id)
    if source is None or source.tenant_id != pending.tenant_id:
        logger.error("enrichment for a source that is gone", extra={"source_id": pending.source_id,
                                                                    "delivery_id": pending.delivery_key})
        raise RetryableError(f"source {pending.source_id} is unknown: restore it, then replay the dead letter")
    done = store.find_by_delivery(source.source_id, pending.delivery_key, source.tenant_id)
    if done is not None:
        return f"already applied ({done.contract_id})"
    try:
        record = crm_api.read_record(source, pending.object_type, pending.record_id, pending.context)
    except crm_api.CrmRefused as err:
        if err.auth or not err.not_found:
            # A credential to fix, or a refusal we do not understand: retried, then dead-lettered
            # and alarmed; replayed once fixed. Never a silent drop.
            raise RetryableError(f"{source.kind} refused reading {pending.object_type} {pending.record_id}: "
                                 f"{err.code} {err.message}") from err
        rejected = ApiError(f"the {source.kind} {pending.object_type} {pending.record_id} does not exist (its API "
                            f"answered {err.code})", status=404, code="crm_record_not_found")
        service.record_rejection(source, InboundEvent(delivery_id=pending.delivery_key, body={
            "contract": {"crm_record_id": pending.record_id}}), rejected)
        return f"rejected: {rejected.code}"
    result = service.apply_enriched(source, pending, record)
    logger.info("CRM record enriched", extra={"source_id": source.source_id, "crm": source.kind,
                                              "record_id": pending.record_id, "status": result.status})
    return f"applied ({result.status})"
