"""What every CRM adapter does: verify the raw request, then turn it into canonical webhook bodies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.core.errors import MalformedBody
from chalicelib.core.jsonbody import parse_json
from chalicelib.store.registry import Source


@dataclass(frozen=True)
class InboundRequest:
    method: str
    url: str  # the full URL the CRM called, as well as it can be rebuilt (HubSpot signs it)
    headers: Mapping[str, str]
    raw_body: bytes
    query: Mapping[str, str] = field(default_factory=dict)
    # The query string exactly as received, where the platform passes it (API Gateway HTTP APIs'
    # rawQueryString); REST APIs give only the decoded parameters, in `query_items`.
    raw_query: str | None = None
    # Every decoded query parameter in the order received, repeated names kept (REST APIs'
    # multiValueQueryStringParameters), so a signed URL can be rebuilt as close to the original as possible.
    query_items: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class InboundEvent:
    """One CRM event in the generic webhook shape ({"event", "contract"}), ready for validation."""

    delivery_id: str  # the CRM's delivery id, or a key synthesized from the payload
    body: Mapping[str, Any]
    field_sources: Mapping[str, str] = field(default_factory=dict)  # canonical path -> CRM field
    ignored: str | None = None  # why this CRM event needs no action (answered 200, nothing stored)


@dataclass(frozen=True)
class NeedsEnrichment:
    """A CRM event whose webhook names the record but does not carry enough of it to map (a HubSpot
    workflow posting the deal's id, a Pipedrive option field sent as an option id, a Salesforce
    outbound message with only `Id`...): the record is to be read from the CRM's API, then mapped
    and applied like any event of that source. Refusing it instead would lose it (HubSpot does
    not retry a 4xx)."""

    tenant_id: str
    source_id: str
    crm: str  # the source's kind: hubspot, pipedrive, zoho, fxiaoke, salesforce
    object_type: str  # the CRM's object: "deal" (HubSpot, Pipedrive), "Deals" (Zoho), "Contract", "SaleContractObj"
    record_id: str  # the record's id in the CRM, as its API takes it
    delivery_key: str  # the event's delivery id: its repeats dedupe on it, and the contract is created under it
    event: str  # the canonical event the webhook means: contract.created or contract.updated
    reason: str  # what the webhook lacked, for the log and the enrichment job
    # What else the webhook said that the API call needs (HubSpot portalId, Pipedrive host and
    # unresolved option ids, Salesforce's instance URL...); JSON values only.
    context: Mapping[str, Any] = field(default_factory=dict)

    def to_message(self) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "source_id": self.source_id, "crm": self.crm,
                "object_type": self.object_type, "record_id": self.record_id, "delivery_key": self.delivery_key,
                "event": self.event, "reason": self.reason, "context": dict(self.context)}


@dataclass(frozen=True)
class IntakeResult:
    status: int
    body: Any
    content_type: str = "application/json"


class Adapter(Protocol):
    kind: str
    content_types: tuple[str, ...]
    # True when one request carries several independent events and the CRM retries the whole
    # request until it is acknowledged (Salesforce): a permanently invalid event is then recorded
    # as rejected instead of failing the request, so that the valid ones are acknowledged.
    batch: bool

    def verify(self, source: Source, request: InboundRequest) -> str | None:
        """Raises Unauthorized; may return the delivery id when the scheme carries one."""

    def parse(self, source: Source, request: InboundRequest,
              delivery_id: str | None) -> Sequence[InboundEvent | NeedsEnrichment]:
        """Raises MalformedBody for a body that is not what this CRM sends. An event whose record must
        first be read from the CRM's API is a NeedsEnrichment instead of an InboundEvent."""

    def acknowledge(self, results: list[IntakeResult]) -> IntakeResult | None:
        """A CRM-specific reply (Salesforce's SOAP ack), or None for the JSON default."""


def parse_json_object(raw_body: bytes) -> dict[str, Any]:
    value = parse_json(raw_body)
    if not isinstance(value, dict):
        raise MalformedBody("the body must be a JSON object")
    return value
