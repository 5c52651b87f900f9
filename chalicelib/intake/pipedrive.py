"""Pipedrive webhooks v2: `{"data": <deal>, "previous": <changed fields>, "meta": {...}}`, with HTTP
basic auth (the webhook's http_auth_user / http_auth_password: the `username` option and the
source's secret).

Pipedrive names custom fields by 40-character hash keys, different in every company account. The
source option `custom_fields` ({"contract_number": "<hash key>", ...}) gives them names, and the
record the mapping reads carries `custom.<name>` with each field's value, so the default mapping
works for any account once those names are set.

Delivery id: meta.id (one per event, the same on every retry); basic auth has no timestamp, so a
replay is stopped by that dedupe rather than by a window.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core.errors import MalformedBody
from chalicelib.intake.base import InboundRequest, parse_json_object
from chalicelib.intake.crm import CrmRecord, MappedAdapter, synthesized_key
from chalicelib.intake.signatures import verify_basic_auth
from chalicelib.store.registry import Source


class PipedriveAdapter(MappedAdapter):
    kind = "pipedrive"
    content_types = ("application/json",)

    def verify(self, source: Source, request: InboundRequest) -> str | None:
        verify_basic_auth(source.options.get("username"), source.secrets(), request.header("authorization"))
        return None

    def records(self, source: Source, request: InboundRequest, delivery_id: str | None) -> list[CrmRecord]:
        body = parse_json_object(request.raw_body)
        meta = body.get("meta")
        if not isinstance(meta, dict):
            raise MalformedBody("a Pipedrive v2 webhook body has a 'meta' object")
        key = meta.get("id") or synthesized_key("pipedrive", meta.get("correlation_id"), meta.get("entity_id"),
                                                meta.get("action"), meta.get("timestamp"), request.raw_body)
        deal = body.get("data") if isinstance(body.get("data"), dict) else body.get("previous")
        custom = named_custom_fields(deal if isinstance(deal, dict) else {}, source.options.get("custom_fields") or {})
        return [CrmRecord(f"pipedrive:{key}", {**body, "custom": custom})]


def named_custom_fields(deal: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """{name: value} for the configured custom fields. v2 sends each as {"type", "value", ...}
    (an option as {"type": "enum", "id": ...}); a plain value is taken as it is."""
    given = deal.get("custom_fields")
    fields: Mapping[str, Any] = given if isinstance(given, dict) else {}
    named: dict[str, Any] = {}
    for name, hash_key in names.items():
        value = fields.get(hash_key)
        if isinstance(value, dict):
            value = value.get("value", value.get("id", value.get("ids")))
        named[name] = value
    return named
