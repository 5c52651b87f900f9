"""Intake: verify, persist, enqueue, answer. No DocuSign and no rendering happen in the request.

Order, for every CRM kind: find the source → size and content type → the adapter verifies the
CRM's scheme on the raw bytes → the adapter parses the native body into events (mapping a CRM
record to the canonical body) → each event is validated, then applied (events.py). A request that
fails before an event is applied stores nothing and answers 4xx in the public error shape.

A request with several events (a Salesforce message, a batch of HubSpot webhook events) is
answered as a whole: an event that is permanently refused (422, 409) is recorded as a rejected
intake — a key record with the errors, a log line and a metric — and the others still go through,
because the CRM would otherwise resend the whole batch for hours with the same bad data.

An event whose record must first be read from the CRM's API (a NeedsEnrichment: the webhook
carried the record's id, not the record) is answered 202 {"status": "enrichment_pending"} once it
is recorded and queued (enrichment.py); a repeat of its delivery answers 200 with the same body.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from chalicelib.contracts import ContractInvalid, parse_webhook_body
from chalicelib.contracts.workdays import WorkingCalendar
from chalicelib.core.errors import ApiError, MalformedBody, NotFound, PayloadTooLarge, UnsupportedMediaType, quoted
from chalicelib.core.observability import add_log_keys, count, logger
from chalicelib.intake import enrichment, events
from chalicelib.intake.base import Adapter, InboundEvent, InboundRequest, IntakeResult, NeedsEnrichment
from chalicelib.intake.crm import CrmRecord, MappedAdapter
from chalicelib.intake.mapping import crm_field_for
from chalicelib.reminders.scheduling import tenant_settings
from chalicelib.reminders.settings import SettingsError
from chalicelib.store import contracts as store
from chalicelib.store.registry import Source, get_source

MAX_BODY_BYTES = 256 * 1024
# A CRM's delivery id becomes part of a key (delivery#, rejected#, enrichment#): DynamoDB refuses a key
# above 2048 bytes, so a longer id is the sender's error (400), not ours. Real ones are under 100.
MAX_DELIVERY_ID_BYTES = 512
# Every CRM kind and where its adapter lives: the one list of supported kinds.
ADAPTERS: dict[str, tuple[str, str]] = {
    "generic": ("chalicelib.intake.generic", "GenericAdapter"),
    "hubspot": ("chalicelib.intake.hubspot", "HubSpotAdapter"),
    "salesforce": ("chalicelib.intake.salesforce", "SalesforceAdapter"),
    "zoho": ("chalicelib.intake.zoho", "ZohoAdapter"),
    "fxiaoke": ("chalicelib.intake.fxiaoke", "FxiaokeAdapter"),
    "pipedrive": ("chalicelib.intake.pipedrive", "PipedriveAdapter"),
}
KINDS = tuple(ADAPTERS)

def adapter_for(kind: str) -> Adapter:
    # Imported on first use: a Lambda handling one CRM never loads the others (or defusedxml).
    if kind not in ADAPTERS:
        raise NotFound(f"source kind {kind!r} is not supported")
    module, class_name = ADAPTERS[kind]
    adapter: Adapter = getattr(importlib.import_module(module), class_name)()
    return adapter


def receive_webhook(source_id: str, request: InboundRequest) -> IntakeResult:
    source = get_source(source_id)
    if source is None:
        raise NotFound(f"unknown source {quoted(source_id)}")
    add_log_keys(tenant_id=source.tenant_id, crm=source.kind)
    adapter = adapter_for(source.kind)
    limit = getattr(adapter, "max_body_bytes", MAX_BODY_BYTES)
    if len(request.raw_body) > limit:
        raise PayloadTooLarge(f"the body is {len(request.raw_body)} bytes; the limit is {limit}")
    if request.content_type not in adapter.content_types:
        raise UnsupportedMediaType(
            f"content type {request.content_type or '(none)'!r} is not accepted from a {source.kind} source; "
            f"send {' or '.join(adapter.content_types)}"
        )
    delivery_id = adapter.verify(source, request)
    # Verified: the CRM's event/delivery id as it sent it (cut short: a longer one is refused below).
    add_log_keys(crm_delivery_id=(delivery_id or "")[:200])
    inbound = adapter.parse(source, request, delivery_id)
    if not inbound:
        raise MalformedBody("the body holds no event")
    for event in inbound:
        key = event.delivery_key if isinstance(event, NeedsEnrichment) else event.delivery_id
        if len(key.encode("utf-8", "surrogatepass")) > MAX_DELIVERY_ID_BYTES:
            raise MalformedBody(f"the delivery id is {len(key)} characters long; "
                                f"at most {MAX_DELIVERY_ID_BYTES} bytes are accepted")
    if adapter.batch or len(inbound) > 1:
        results = [_accept_in_batch(source, event) for event in inbound]
    else:
        results = [_accept(source, inbound[0])]
    for result in results:  # one literal name per call: the infra's alarms are built from them
        if result.status < 300:
            count("WebhooksAccepted", source_kind=source.kind)
        else:
            count("WebhooksRefused", source_kind=source.kind)
    ack = adapter.acknowledge(results)
    if ack is not None:
        return ack
    if len(results) == 1:
        return results[0]
    return IntakeResult(200, {"results": [r.body for r in results]})


def _accept(source: Source, event: InboundEvent | NeedsEnrichment) -> IntakeResult:
    if isinstance(event, NeedsEnrichment):
        return _pending(source, event)
    if event.ignored:
        return IntakeResult(200, {"status": "ignored", "reason": event.ignored})
    if not event.delivery_id:
        raise MalformedBody("no delivery id: send a webhook-id header or an event_id")
    try:
        envelope = parse_webhook_body(event.body, calendar=_tenant_calendar(source.tenant_id))
    except ContractInvalid as invalid:
        raise _validation_error(invalid, event.field_sources) from invalid
    if envelope.event == "contract.created":
        return events.created(source, event, envelope.contract)
    repeat = store.find_by_delivery(source.source_id, event.delivery_id, source.tenant_id)
    if repeat is not None:
        return IntakeResult(200, events.summary(repeat))
    if envelope.event == "contract.updated":
        return events.updated(source, event, envelope.contract)
    return events.cancelled(source, event, envelope.crm_record_id)


def _tenant_calendar(tenant_id: str) -> WorkingCalendar | None:
    """The tenant's working calendar (its settings' `calendar`), for a milestone due in working days;
    None: the contract locale's default. Settings that do not validate are the reminders' to report."""
    try:
        return tenant_settings(tenant_id).calendar
    except SettingsError:
        return None


def _pending(source: Source, pending: NeedsEnrichment) -> IntakeResult:
    # The enrichment job creates or updates the contract under this delivery id: once it has, a
    # repeat of the delivery answers with the contract like any other repeat.
    done = store.find_by_delivery(source.source_id, pending.delivery_key, source.tenant_id)
    if done is not None:
        return IntakeResult(200, events.summary(done))
    first = enrichment.request_enrichment(pending)
    return IntakeResult(202 if first else 200, enrichment.pending_body(pending))


def apply_enriched(source: Source, pending: NeedsEnrichment, record: Mapping[str, Any]) -> IntakeResult:
    """The enrichment job's second half: the record read from the CRM's API (in the shape the source's
    webhook would carry) mapped by the source's mapping and applied under the webhook's delivery id,
    as if the webhook had carried it. A contract that does not validate, or a record that still lacks
    what the mapping needs, is a rejected intake (visible, alarmed), never dropped."""
    adapter = adapter_for(source.kind)
    if not isinstance(adapter, MappedAdapter):
        raise MalformedBody(f"a {source.kind} source does not read records from an API")
    item = CrmRecord(pending.delivery_key, record, pending.object_type, pending.context)
    mapped = adapter.map_record(adapter.mapping(source), source, item)
    if isinstance(mapped, NeedsEnrichment):
        err = ApiError(f"the {source.kind} record {quoted(pending.record_id)}, read from its API, still lacks what "
                       f"the mapping needs: {mapped.reason}", status=422, code="crm_record_incomplete")
        record_rejection(source, InboundEvent(delivery_id=pending.delivery_key, body={
            "contract": {"crm_record_id": pending.record_id}}), err)
        return IntakeResult(err.status, {"delivery_id": pending.delivery_key, **err.body()})
    if not mapped.ignored and isinstance(mapped.body, dict) and mapped.body.get("event") in (
            "contract.created", "contract.updated"):
        # What the webhook meant (created or updated) stands, whatever the API's record suggests.
        mapped = InboundEvent(delivery_id=mapped.delivery_id, body={**mapped.body, "event": pending.event},
                              field_sources=mapped.field_sources, ignored=mapped.ignored)
    return _accept_in_batch(source, mapped)


def _accept_in_batch(source: Source, event: InboundEvent | NeedsEnrichment) -> IntakeResult:
    try:
        return _accept(source, event)
    except ApiError as err:
        if err.status >= 500 or isinstance(event, NeedsEnrichment):
            raise  # ours (the CRM retries), or not a refusal of the CRM's data to record as rejected
        record_rejection(source, event, err)
        return IntakeResult(err.status, {"delivery_id": event.delivery_id, **err.body()})


def record_rejection(source: Source, event: InboundEvent, err: ApiError) -> None:
    """Makes a refused event of an acknowledged batch visible: a queryable record, the contract's
    timeline when there is one, a log line with every detail, and a metric to alarm on."""
    crm_record_id = _crm_record_id(event.body)
    existing = store.find_by_crm_record(source.tenant_id, crm_record_id) if crm_record_id else None
    detail = {"source_id": source.source_id, "delivery_id": event.delivery_id, "crm_record_id": crm_record_id,
              "status": err.status, **err.body()}
    store.record_rejected_intake(source.tenant_id, source.source_id, event.delivery_id, detail,
                                 existing.contract_id if existing else None)
    if existing is not None:
        store.append_event(existing, "crm_event_rejected", detail)
    # The log names what was wrong, not the values sent (they may hold personal data or credentials);
    # the rejected-intake record keeps the full answer for the tenant.
    error = err.body()["error"]
    logger.error("CRM event rejected", extra={
        "tenant_id": source.tenant_id, "source_id": source.source_id, "delivery_id": event.delivery_id,
        "status": err.status, "code": error.get("code"),
        "paths": [d.get("path") for d in error.get("details", []) if isinstance(d, dict)]})
    _count_rejection(source)


def _count_rejection(source: Source) -> None:
    count("IntakeRejected", source_kind=source.kind)


def _crm_record_id(body: Mapping[str, Any]) -> str | None:
    contract = body.get("contract") if isinstance(body, Mapping) else None
    value = contract.get("crm_record_id") if isinstance(contract, Mapping) else None
    return str(value) if isinstance(value, str | int) and str(value) else None


def _validation_error(invalid: Any, field_sources: Mapping[str, str]) -> ApiError:
    body = invalid.to_error_body()["error"]
    details = []
    for detail in body.get("details", []):
        crm_field = detail.get("crm_field") or crm_field_for(detail["path"], field_sources)
        details.append({**detail, "crm_field": crm_field} if crm_field else detail)
    return ApiError(body["message"], details, status=422, code="validation_error")
