"""HubSpot: requests signed with X-HubSpot-Signature-v3 by the signbridge HubSpot app.

Two bodies arrive on the same URL, both signed by HubSpot with the app's client secret:
- a JSON object: the app card's "Send for signature" (hubspot.fetch) posting the deal, its line
  items, company, contacts and owner in HubSpot's CRM v3 object shape; mapped like any CRM record.
- a JSON array: HubSpot's webhook subscription events (up to 100 per request). Only a deal's
  deletion, or its stage moving to one of the source's `cancel_stages`, means something here: the
  contract is cancelled. Every other event is acknowledged and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from chalicelib.core.errors import MalformedBody
from chalicelib.core.jsonbody import parse_json
from chalicelib.intake.base import InboundEvent, InboundRequest
from chalicelib.intake.crm import CrmRecord, MappedAdapter, synthesized_key
from chalicelib.intake.signatures import verify_hubspot_v3
from chalicelib.store.registry import Source

MAX_EVENTS = 100  # HubSpot batches at most 100 webhook events per request
DEAL_OBJECT_TYPE_ID = "0-3"  # generic (object.*) subscriptions name deals by this type id
DEFAULT_CANCEL_STAGES = ("closedlost",)


def expected_urls(source: Source, request: InboundRequest) -> list[str]:
    """The URL HubSpot signed. Behind API Gateway or a proxy the rebuilt URL can differ from the
    public one (custom domain, stage prefix), so a source may pin it with the `public_url` option;
    the query string (hubspot.fetch appends portalId, userId...) is always the request's."""
    urls = [request.url]
    public_url = source.options.get("public_url")
    if public_url:
        query = urlencode(dict(request.query), safe=":/?@!$'()*,;") if request.query else ""
        joiner = "&" if "?" in public_url else "?"
        urls.insert(0, f"{public_url}{joiner}{query}" if query else public_url)
    return urls


class HubSpotAdapter(MappedAdapter):
    kind = "hubspot"
    content_types = ("application/json",)

    def verify(self, source: Source, request: InboundRequest) -> str | None:
        verify_hubspot_v3(source.secrets(), request.headers, request.method, expected_urls(source, request),
                          request.raw_body)
        return None  # the delivery id is in the body

    def parse(self, source: Source, request: InboundRequest, delivery_id: str | None) -> list[InboundEvent]:
        body = _json(request.raw_body)
        if isinstance(body, list):
            return _webhook_events(source, body)
        return [self.map_record(self.mapping(source), source, _card_record(body, request.raw_body))]

    def records(self, source: Source, request: InboundRequest, delivery_id: str | None) -> list[CrmRecord]:
        return [_card_record(_json(request.raw_body), request.raw_body)]


def _card_record(body: Any, raw: bytes) -> CrmRecord:
    if not isinstance(body, dict):
        raise MalformedBody("a HubSpot body is a JSON object (app card) or an array of webhook events")
    deal = body.get("deal")
    if not isinstance(deal, dict):
        raise MalformedBody("the body has no 'deal' object")
    # hubspot.fetch retries a failed request once with the same body: the card's requestId (or the
    # deal's id and modification time) makes that retry a repeat.
    key = body.get("requestId") or synthesized_key("hubspot", deal.get("id"), deal.get("updatedAt"), raw)
    return CrmRecord(f"hubspot:{key}", body)


def _json(raw: bytes) -> Any:
    return parse_json(raw)


def _webhook_events(source: Source, events: list[Any]) -> list[InboundEvent]:
    if not events:
        raise MalformedBody("an empty list of HubSpot events")
    if len(events) > MAX_EVENTS:
        raise MalformedBody(f"{len(events)} events in one request; HubSpot sends at most {MAX_EVENTS}")
    cancel_stages = {str(s) for s in source.options.get("cancel_stages") or DEFAULT_CANCEL_STAGES}
    inbound: list[InboundEvent] = []
    for event in events:
        if not isinstance(event, dict) or "eventId" not in event or "objectId" not in event:
            raise MalformedBody("each HubSpot event needs an eventId and an objectId")
        # HubSpot says eventId alone is not guaranteed unique; with the portal, the object and the
        # time it occurred it is, and every retry (attemptNumber 1, 2, ...) carries the same four.
        delivery_id = (f"hubspot-event:{event.get('portalId')}:{event['eventId']}:{event['objectId']}:"
                       f"{event.get('occurredAt')}")
        reason = _ignore_reason(event, cancel_stages)
        body = {"event": "contract.cancelled", "contract": {"crm_record_id": str(event["objectId"])}}
        inbound.append(InboundEvent(delivery_id, {} if reason else body,
                                    {"contract.crm_record_id": "objectId"}, ignored=reason))
    return inbound


def _ignore_reason(event: Mapping[str, Any], cancel_stages: set[str]) -> str | None:
    kind = str(event.get("subscriptionType", ""))
    is_deal = kind.startswith("deal.") or (kind.startswith("object.")
                                           and str(event.get("objectTypeId")) == DEAL_OBJECT_TYPE_ID)
    if not is_deal:
        return f"{kind or 'an event'} is not about a deal"
    action = kind.split(".", 1)[1]
    if action == "deletion":
        return None
    if action == "propertyChange" and event.get("propertyName") == "dealstage":
        if str(event.get("propertyValue")) in cancel_stages:
            return None
        return f"deal stage {event.get('propertyValue')!r} is not a cancelling stage"
    return f"{kind} needs no action"
