"""What the CRM-specific adapters share: records from the CRM's native body, run through the
source's field mapping into the generic webhook body.

A record that names a contract but does not carry it (only its id, option ids without their
labels, a HubSpot workflow body without the deal's associations) becomes a NeedsEnrichment: the
record is to be read from the CRM's API before it is mapped (chalicelib/intake/enrichment.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.contracts import ContractInvalid, parse_webhook_body
from chalicelib.contracts.model import IDENTIFIER_PATTERN
from chalicelib.core.errors import ApiError
from chalicelib.intake.base import InboundEvent, InboundRequest, IntakeResult, NeedsEnrichment
from chalicelib.intake.mapping import OPTIONS_KEY, FieldMapping, Mapped, MappingError, mapping_for
from chalicelib.store.registry import Source

ONLY_THE_ID = "the webhook carries the record's id and nothing else the mapping reads"
_RECORD_ID = re.compile(IDENTIFIER_PATTERN)  # what a contract's crm_record_id may be


@dataclass(frozen=True)
class CrmRecord:
    delivery_id: str  # the CRM's own delivery id, or a key synthesized from the payload
    record: Mapping[str, Any]  # what the mapping's expressions read
    object_type: str = ""  # the CRM object the record is, as the CRM's API names it
    # What an enrichment job needs besides the record id (e.g. HubSpot's portalId); JSON values only.
    context: Mapping[str, Any] = field(default_factory=dict)
    # Why the record cannot be mapped as it came (e.g. Pipedrive option ids without labels).
    incomplete: str | None = None
    # For a CRM that never retries a 4xx (HubSpot workflows): a record that does not make a valid
    # contract is read from the API rather than refused, since a refusal would lose it.
    enrich_if_invalid: bool = False


def synthesized_key(*parts: str | bytes | None) -> str:
    """A delivery id for a CRM that sends none: the same payload gives the same key, so a retry
    dedupes, while a real change (a new modification time, another body) gives a new one."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part or "").encode())
        digest.update(b"\x1f")
    return "sha256:" + digest.hexdigest()


class MappedAdapter:
    kind = ""
    content_types: tuple[str, ...] = ("application/json",)
    batch = False

    def verify(self, source: Source, request: InboundRequest) -> str | None:
        raise NotImplementedError

    def records(self, source: Source, request: InboundRequest, delivery_id: str | None) -> list[CrmRecord]:
        raise NotImplementedError

    def parse(self, source: Source, request: InboundRequest,
              delivery_id: str | None) -> list[InboundEvent | NeedsEnrichment]:
        mapping = self.mapping(source)
        return [self.map_record(mapping, source, item) for item in self.records(source, request, delivery_id)]

    def mapping(self, source: Source) -> FieldMapping:
        try:
            return mapping_for(self.kind, source.mapping)
        except MappingError as err:
            # The admin CLI validates mappings before saving them; this is a hand-edited registry.
            raise ApiError(f"the field mapping of source {source.source_id!r} is invalid: {err}", status=422,
                           code="source_misconfigured") from err

    def map_record(self, mapping: FieldMapping, source: Source, item: CrmRecord) -> InboundEvent | NeedsEnrichment:
        options = dict(source.options)
        mapped = mapping.apply({**item.record, OPTIONS_KEY: options})
        event = InboundEvent(delivery_id=item.delivery_id, body=mapped.body, field_sources=mapped.field_sources,
                             ignored=mapped.ignored)
        reason = self.enrichment_reason(mapping, options, item, mapped)
        if reason is None:
            return event
        return NeedsEnrichment(
            tenant_id=source.tenant_id, source_id=source.source_id, crm=self.kind, object_type=item.object_type,
            record_id=str(mapped.body["contract"]["crm_record_id"]), delivery_key=item.delivery_id,
            event=str(mapped.body["event"]), reason=reason, context=dict(item.context))

    def enrichment_reason(self, mapping: FieldMapping, options: Mapping[str, Any], item: CrmRecord,
                          mapped: Mapped) -> str | None:
        """Why this record must be read from the CRM's API first, or None to map it as it came."""
        if mapped.ignored or mapped.body.get("event") not in ("contract.created", "contract.updated"):
            return None  # a cancellation needs the record id only; an unknown event is for validation to name
        contract = mapped.body.get("contract") or {}
        record_id = contract.get("crm_record_id")
        if not isinstance(record_id, str) or not _RECORD_ID.fullmatch(record_id):
            return None  # no usable id to read the API by: validation names it (missing or malformed)
        if item.incomplete:
            return item.incomplete
        if carries_only_the_id(mapping, options, contract):
            return ONLY_THE_ID
        if item.enrich_if_invalid:
            try:
                parse_webhook_body(mapped.body)
            except ContractInvalid as invalid:
                paths = [d.get("path") for d in invalid.to_error_body()["error"].get("details", [])]
                return "the webhook lacks what the contract needs: " + ", ".join(str(p) for p in paths[:8])
        return None

    def acknowledge(self, results: list[IntakeResult]) -> IntakeResult | None:
        return None


def carries_only_the_id(mapping: FieldMapping, options: Mapping[str, Any], contract: Mapping[str, Any]) -> bool:
    """True when the record adds nothing to the contract but its id: mapping an empty record (the
    source's options and the mapping's constants only) gives the same contract, less the id."""
    baseline = dataclasses.replace(mapping, when=None).apply({OPTIONS_KEY: dict(options)})
    without_id = {k: v for k, v in contract.items() if k != "crm_record_id"}
    return without_id == {k: v for k, v in baseline.body["contract"].items() if k != "crm_record_id"}
