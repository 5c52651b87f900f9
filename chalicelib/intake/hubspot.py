"""HubSpot: requests signed with X-HubSpot-Signature-v3 by the signbridge HubSpot app.

Three bodies arrive on the same URL, all signed by HubSpot with the app's client secret:
- a JSON object with `deal`: the app card's "Send for signature" (hubspot.fetch) posting the deal,
  its line items, company, contacts and owner in HubSpot's CRM v3 object shape; mapped like any
  CRM record.
- any other JSON object: a workflow's "Send a webhook" action on a deal. "All properties" sends
  the deal as the legacy deals API returns it (`dealId`, `properties: {name: {value, ...}}`); a
  customised body is a flat object of the keys the workflow's author chose. Either is read as a
  deal whose properties are those values. HubSpot does not retry a 4xx here, so a body that does
  not make a valid contract (it has no line items, company or contacts; or only the deal's id) is
  not refused: it becomes a NeedsEnrichment, and the deal is read from HubSpot's API.
- a JSON array: HubSpot's webhook subscription events (up to 100 per request). Only a deal's
  deletion, or its stage moving to one of the source's `cancel_stages`, means something here: the
  contract is cancelled. Every other event is acknowledged and ignored.

The signed URI is the URL HubSpot called, query string included. Behind API Gateway (REST) the
query string itself is gone: only its decoded parameters are left, in the order received. The URL
is rebuilt from them in the few ways HubSpot's client may have encoded them (`expected_urls`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from chalicelib.core.errors import MalformedBody
from chalicelib.core.jsonbody import parse_json
from chalicelib.intake.base import InboundEvent, InboundRequest, NeedsEnrichment
from chalicelib.intake.crm import CrmRecord, MappedAdapter, synthesized_key
from chalicelib.intake.signatures import verify_hubspot_v3
from chalicelib.store.registry import Source

MAX_EVENTS = 100  # HubSpot batches at most 100 webhook events per request
DEAL_OBJECT_TYPE_ID = "0-3"  # generic (object.*) subscriptions name deals by this type id
DEFAULT_CANCEL_STAGES = ("closedlost",)
# Where a workflow body may carry the deal's id: the legacy deal object's `dealId`, or a customised
# body's key for the "Record ID" property (hs_object_id) or whatever the author called it.
WORKFLOW_ID_KEYS = ("dealId", "objectId", "hs_object_id", "deal_id", "id")
WORKFLOW_ID_MESSAGE = ("a HubSpot body is the app card's {\"deal\": ...}, a workflow webhook body with the deal's "
                       "id (" + ", ".join(WORKFLOW_ID_KEYS) + "), or an array of webhook events")


# --- the signed URL ---------------------------------------------------------------------------------


def _encoded(text: str, space: str, plus: str, tilde: str) -> str:
    # Everything but unreserved characters percent-encoded (uppercase hex, as clients do); HubSpot's
    # own decoding of %3A %40 ... is applied when the signature is computed.
    return quote(text, safe="").replace("%20", space).replace("%2B", plus).replace("~", tilde)


# The ways a client encodes a decoded value, bounded: encodeURIComponent (space %20), a form
# serializer such as URLSearchParams (space +, ~ as %7E), and a gateway that left a literal "+"
# undecoded (the received "+" was a "+" on the wire).
_ENCODINGS = (("%20", "%2B", "~"), ("+", "%2B", "%7E"), ("%20", "+", "~"))


def query_candidates(request: InboundRequest) -> list[str]:
    """The query strings HubSpot may have signed, most likely first: the raw one when the platform
    passes it, then the decoded parameters re-encoded in the order received. Parameters repeated
    under one name with others in between cannot be put back in their original order."""
    candidates: list[str] = []
    if request.raw_query is not None:
        candidates.append(request.raw_query)
    items: Sequence[tuple[str, str]] = request.query_items or tuple(request.query.items())
    for space, plus, tilde in _ENCODINGS:
        candidates.append("&".join(f"{_encoded(k, space, plus, tilde)}={_encoded(v, space, plus, tilde)}"
                                   for k, v in items))
    return list(dict.fromkeys(candidates))


def expected_urls(source: Source, request: InboundRequest) -> list[str]:
    """The URLs HubSpot may have signed: the source's `public_url` when set (an override for a
    custom domain or a proxy that changes the path), then the URL rebuilt from the request; each
    with the query candidates. A few HMACs per request at most."""
    bases = []
    public_url = source.options.get("public_url")
    if public_url:
        bases.append(str(public_url).split("?", 1)[0])
    bases.append(request.url.split("?", 1)[0])
    urls = [f"{base}?{query}" if query else base for base in bases for query in query_candidates(request)]
    return list(dict.fromkeys(urls))


# --- the adapter ------------------------------------------------------------------------------------


class HubSpotAdapter(MappedAdapter):
    kind = "hubspot"
    content_types = ("application/json",)

    def verify(self, source: Source, request: InboundRequest) -> str | None:
        verify_hubspot_v3(source.secrets(), request.headers, request.method, expected_urls(source, request),
                          request.raw_body)
        return None  # the delivery id is in the body

    def parse(self, source: Source, request: InboundRequest,
              delivery_id: str | None) -> list[InboundEvent | NeedsEnrichment]:
        body = _json(request.raw_body)
        if isinstance(body, list):
            return list(_webhook_events(source, body))
        return [self.map_record(self.mapping(source), source, _record(body, request.raw_body))]

    def records(self, source: Source, request: InboundRequest, delivery_id: str | None) -> list[CrmRecord]:
        return [_record(_json(request.raw_body), request.raw_body)]


def _record(body: Any, raw: bytes) -> CrmRecord:
    if not isinstance(body, dict):
        raise MalformedBody(WORKFLOW_ID_MESSAGE)
    if isinstance(body.get("deal"), dict):
        return _card_record(body, raw)
    return _workflow_record(body, raw)


def _card_record(body: dict[str, Any], raw: bytes) -> CrmRecord:
    deal = body["deal"]
    # hubspot.fetch retries a failed request once with the same body: the card's requestId (or the
    # deal's id and modification time) makes that retry a repeat.
    key = body.get("requestId") or synthesized_key("hubspot", deal.get("id"), deal.get("updatedAt"), raw)
    return CrmRecord(f"hubspot:{key}", body, object_type="deal", context=_portal(body))


def _workflow_record(body: dict[str, Any], raw: bytes) -> CrmRecord:
    """A workflow's "Send a webhook" body, as the card's record: {"deal": {"id", "properties"}}."""
    given = body.get("properties")
    if isinstance(given, dict):
        # "All properties": the legacy deal object, each property {value, timestamp, source, versions}
        # (or a plain value, as the v3 object API returns it).
        properties = {name: (p.get("value") if isinstance(p, dict) else p) for name, p in given.items()}
    else:
        # A customised body: the keys the workflow's author gave the properties and static values.
        properties = {name: value for name, value in body.items() if not isinstance(value, dict | list)}
    deal_id = next((_id_text(body.get(k)) for k in WORKFLOW_ID_KEYS if _id_text(body.get(k))), None)
    deal_id = deal_id or _id_text(properties.get("hs_object_id"))
    if not deal_id:
        raise MalformedBody(WORKFLOW_ID_MESSAGE)
    record: dict[str, Any] = {"deal": {"id": deal_id, "properties": properties}}
    if isinstance(body.get("action"), str):
        record["action"] = body["action"]  # a static "action" key makes the event an update or a cancel
    # No delivery id: HubSpot retries (5xx, 429) with the same body, and an edit changes the legacy
    # body's property timestamps (a customised body repeats only if nothing it carries changed).
    return CrmRecord(f"hubspot-workflow:{synthesized_key('hubspot-workflow', deal_id, raw)}", record,
                     object_type="deal", context=_portal(body), enrich_if_invalid=True)


def _id_text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text or None


def _portal(body: Mapping[str, Any]) -> dict[str, Any]:
    portal = body.get("portalId")
    return {"portalId": portal} if isinstance(portal, str | int) and not isinstance(portal, bool) else {}


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
