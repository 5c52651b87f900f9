"""What every CRM adapter does: verify the raw request, then turn it into canonical webhook bodies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.core.errors import MalformedBody
from chalicelib.core.jsonbody import parse_json
from chalicelib.store.registry import Source


@dataclass(frozen=True)
class InboundRequest:
    method: str
    url: str  # the full URL the CRM called (HubSpot signs it)
    headers: Mapping[str, str]
    raw_body: bytes
    query: Mapping[str, str] = field(default_factory=dict)

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

    def parse(self, source: Source, request: InboundRequest, delivery_id: str | None) -> list[InboundEvent]:
        """Raises MalformedBody for a body that is not what this CRM sends."""

    def acknowledge(self, results: list[IntakeResult]) -> IntakeResult | None:
        """A CRM-specific reply (Salesforce's SOAP ack), or None for the JSON default."""


def parse_json_object(raw_body: bytes) -> dict[str, Any]:
    value = parse_json(raw_body)
    if not isinstance(value, dict):
        raise MalformedBody("the body must be a JSON object")
    return value
