"""Intake: verify, persist, enqueue, answer. No DocuSign and no rendering happen in the request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.aws import enqueue
from chalicelib.contracts.lifecycle import Status
from chalicelib.errors import ApiError, MalformedBody, NotFound, PayloadTooLarge, UnsupportedMediaType
from chalicelib.intake.base import Adapter, InboundEvent, InboundRequest, IntakeResult
from chalicelib.observability import logger
from chalicelib.store import contracts as store
from chalicelib.store.models import ContractRecord, SignerState
from chalicelib.store.registry import Source, get_source

MAX_BODY_BYTES = 256 * 1024


def adapter_for(kind: str) -> Adapter:
    from chalicelib.intake.generic import GenericAdapter

    adapters: dict[str, Adapter] = {"generic": GenericAdapter()}
    if kind not in adapters:
        raise NotFound(f"source kind {kind!r} is not supported")
    return adapters[kind]


def receive_webhook(source_id: str, request: InboundRequest) -> IntakeResult:
    source = get_source(source_id)
    if source is None:
        raise NotFound(f"unknown source {source_id!r}")
    if len(request.raw_body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is {len(request.raw_body)} bytes; the limit is {MAX_BODY_BYTES}")
    adapter = adapter_for(source.kind)
    if request.content_type not in adapter.content_types:
        raise UnsupportedMediaType(
            f"content type {request.content_type or '(none)'!r} is not accepted from a {source.kind} source; "
            f"send {' or '.join(adapter.content_types)}"
        )
    delivery_id = adapter.verify(source, request)
    events = adapter.parse(source, request, delivery_id)
    results = [_accept(source, event) for event in events]
    ack = adapter.acknowledge(results)
    if ack is not None:
        return ack
    return results[0]


def _accept(source: Source, event: InboundEvent) -> IntakeResult:
    from chalicelib.contracts import ContractInvalid, parse_webhook_body

    if not event.delivery_id:
        raise MalformedBody("no delivery id: send a webhook-id header or an event_id")
    try:
        envelope = parse_webhook_body(event.body)
    except ContractInvalid as invalid:
        raise _validation_error(invalid, event.field_sources) from invalid
    if envelope.event == "contract.created":
        return _create(source, event, envelope.contract)
    raise ApiError(f"event {envelope.event!r} is not handled yet", status=422, code="unsupported_event")


def _validation_error(invalid: Any, field_sources: Mapping[str, str]) -> ApiError:
    body = invalid.to_error_body()["error"]
    details = []
    for detail in body.get("details", []):
        crm_field = detail.get("crm_field") or field_sources.get(detail["path"])
        details.append({**detail, "crm_field": crm_field} if crm_field else detail)
    return ApiError(body["message"], details, status=422, code="validation_error")


def _create(source: Source, event: InboundEvent, contract: Any) -> IntakeResult:
    document = contract.to_canonical_dict()
    signers = [
        SignerState(
            position=position,
            recipient_id=str(position),
            name=signer["name"],
            email=signer["email"],
            routing_order=int(signer["routing_order"]),
            delivery=signer.get("delivery", "email"),
        )
        for position, signer in enumerate(document["signers"], start=1)
    ]
    result = store.create_contract(
        tenant_id=source.tenant_id,
        source_id=source.source_id,
        delivery_id=event.delivery_id,
        document=document,
        signers=signers,
        callback_url=document.get("callback_url"),
        event_detail={"source_id": source.source_id, "delivery_id": event.delivery_id,
                      "crm_record_id": document["crm_record_id"]},
    )
    record = result.contract
    if result.created:
        logger.info("contract received", extra={"contract_id": record.contract_id, "tenant_id": record.tenant_id})
        enqueue_send(record)
        return IntakeResult(202, _summary(record))
    store.remember_delivery(source.tenant_id, source.source_id, event.delivery_id, record.contract_id)
    if record.status == Status.RECEIVED:
        # The first attempt may have died between persisting and enqueueing: the send job is
        # idempotent, so enqueueing again is safe and guarantees progress.
        enqueue_send(record)
    return IntakeResult(200, _summary(record))


def enqueue_send(record: ContractRecord) -> None:
    enqueue({"job": "send", "tenant_id": record.tenant_id, "contract_id": record.contract_id})


def _summary(record: ContractRecord) -> dict[str, str]:
    return {"contract_id": record.contract_id, "status": record.status}
