"""What the CRM-specific adapters share: records from the CRM's native body, run through the
source's field mapping into the generic webhook body."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import ApiError
from chalicelib.intake.base import InboundEvent, InboundRequest, IntakeResult
from chalicelib.intake.mapping import OPTIONS_KEY, FieldMapping, MappingError, mapping_for
from chalicelib.store.registry import Source


@dataclass(frozen=True)
class CrmRecord:
    delivery_id: str  # the CRM's own delivery id, or a key synthesized from the payload
    record: Mapping[str, Any]  # what the mapping's expressions read


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

    def parse(self, source: Source, request: InboundRequest, delivery_id: str | None) -> list[InboundEvent]:
        mapping = self.mapping(source)
        return [self.map_record(mapping, source, item) for item in self.records(source, request, delivery_id)]

    def mapping(self, source: Source) -> FieldMapping:
        try:
            return mapping_for(self.kind, source.mapping)
        except MappingError as err:
            # The admin CLI validates mappings before saving them; this is a hand-edited registry.
            raise ApiError(f"the field mapping of source {source.source_id!r} is invalid: {err}", status=422,
                           code="source_misconfigured") from err

    def map_record(self, mapping: FieldMapping, source: Source, item: CrmRecord) -> InboundEvent:
        mapped = mapping.apply({**item.record, OPTIONS_KEY: dict(source.options)})
        return InboundEvent(delivery_id=item.delivery_id, body=mapped.body, field_sources=mapped.field_sources,
                            ignored=mapped.ignored)

    def acknowledge(self, results: list[IntakeResult]) -> IntakeResult | None:
        return None
