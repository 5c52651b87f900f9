"""The `generic` source: the canonical contract JSON, signed per Standard Webhooks."""

from __future__ import annotations

from chalicelib.intake.base import InboundEvent, InboundRequest, IntakeResult, parse_json_object
from chalicelib.intake.signatures import verify_standard_webhooks
from chalicelib.store.registry import Source


class GenericAdapter:
    kind = "generic"
    content_types = ("application/json",)
    batch = False

    def verify(self, source: Source, request: InboundRequest) -> str | None:
        return verify_standard_webhooks(source.secrets(), request.headers, request.raw_body)

    def parse(self, source: Source, request: InboundRequest, delivery_id: str | None) -> list[InboundEvent]:
        body = parse_json_object(request.raw_body)
        # The webhook-id header is the idempotency key; a body event_id is only a fallback.
        key = delivery_id or str(body.get("event_id") or "")
        return [InboundEvent(delivery_id=key, body=body)]

    def acknowledge(self, results: list[IntakeResult]) -> IntakeResult | None:
        return None
