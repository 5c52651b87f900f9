"""Pipedrive webhooks v2: `{"data": <deal>, "previous": <changed fields>, "meta": {...}}`, with HTTP
basic auth (the webhook's http_auth_user / http_auth_password: the `username` option and the
source's secret).

Pipedrive names custom fields by 40-character hash keys, different in every company account. The
source option `custom_fields` ({"contract_number": "<hash key>", ...}) gives them names, and the
record the mapping reads carries `custom.<name>` with each field's value, so the default mapping
works for any account once those names are set.

Webhooks v2 send each custom field as {"type", ...}: a single option as {"type": "enum", "id": 17}
and several as {"type": "set", "values": [{"id": 13}, ...]}, without their labels, and a person,
organization or user field as its id. The source option `option_labels` ({"<name>": {"17": "Sales"}})
turns option ids into labels; a configured field whose id has no label there (or that names a
person, organization or user) makes the event a NeedsEnrichment: its labels are read from
Pipedrive's dealFields API by the enrichment job.

A webhooks v1 body (`current`, `meta.v: 1`) is refused with 400: signbridge reads v2 only, and the
answer says how to create one. Pipedrive treats every non-2xx the same (three retries; a failed
first attempt counts toward the webhook's ban; 3 days without a success delete it), so the status is
chosen for what it says: not 409 (nothing in our state conflicts, and nothing to resolve would make
a retry pass) but 400: the request's format is wrong, however often it is sent.

Delivery id: meta.id (one per event, the same on every retry); basic auth has no timestamp, so a
replay is stopped by that dedupe rather than by a window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.core.errors import ApiError, MalformedBody
from chalicelib.intake.base import InboundRequest, parse_json_object
from chalicelib.intake.crm import CrmRecord, MappedAdapter, synthesized_key
from chalicelib.intake.signatures import verify_basic_auth
from chalicelib.store.registry import Source

V1_REFUSED = ("this is a Pipedrive webhooks v1 body (\"current\", meta.v 1); signbridge reads webhooks v2 only. "
              "In Pipedrive, open Settings > Tools and apps > Webhooks, create a new webhook with version 2.0 "
              "(event object deal, actions change and delete, this URL and the same HTTP auth) and delete this "
              "v1 webhook; or POST /api/v1/webhooks with \"version\": \"2.0\"")
REFERENCE_TYPES = ("user", "people", "org")  # fields whose value is another record's id


class PipedriveAdapter(MappedAdapter):
    kind = "pipedrive"
    content_types = ("application/json",)

    def verify(self, source: Source, request: InboundRequest) -> str | None:
        verify_basic_auth(source.options.get("username"), source.secrets(), request.header("authorization"))
        return None

    def records(self, source: Source, request: InboundRequest, delivery_id: str | None) -> list[CrmRecord]:
        body = parse_json_object(request.raw_body)
        meta = body.get("meta")
        if is_v1(body):
            raise ApiError(V1_REFUSED, status=400, code="unsupported_webhook_version")
        if not isinstance(meta, dict):
            raise MalformedBody("a Pipedrive v2 webhook body has a 'meta' object")
        key = meta.get("id") or synthesized_key("pipedrive", meta.get("correlation_id"), meta.get("entity_id"),
                                                meta.get("action"), meta.get("timestamp"), request.raw_body)
        deal = body.get("data") if isinstance(body.get("data"), dict) else body.get("previous")
        fields = read_custom_fields(deal if isinstance(deal, dict) else {}, source.options.get("custom_fields") or {},
                                    source.options.get("option_labels") or {})
        context: dict[str, Any] = {k: meta[k] for k in ("host", "company_id") if isinstance(meta.get(k), str)}
        if fields.unresolved:
            context["unresolved_fields"] = fields.unresolved
        return [CrmRecord(f"pipedrive:{key}", {**body, "custom": fields.values}, object_type=str(
            meta.get("entity") or "deal"), context=context, incomplete=fields.reason())]


def is_v1(body: Mapping[str, Any]) -> bool:
    meta = body.get("meta")
    version = meta.get("v", meta.get("version")) if isinstance(meta, dict) else None
    return "current" in body or body.get("v") == 1 or version in (1, "1", "1.0")


@dataclass
class CustomFields:
    values: dict[str, Any] = field(default_factory=dict)  # name -> value (labels for resolved options)
    # name -> what still needs the API: {"field": hash key, "type": ..., "ids": [...]}
    unresolved: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reason(self) -> str | None:
        if not self.unresolved:
            return None
        return ("Pipedrive sends option, person, organization and user fields as ids: "
                + ", ".join(sorted(self.unresolved)) + " need their labels from the dealFields API "
                "(or the source option option_labels)")


def read_custom_fields(deal: Mapping[str, Any], names: Mapping[str, str],
                       option_labels: Mapping[str, Any]) -> CustomFields:
    """The configured custom fields by name. Webhooks v2 values are {"type", ...}
    (https://pipedrive.readme.io/docs/guide-for-webhooks-v2): text, numbers, money, dates and
    addresses carry `value`; a date or time range `from` and `until` (the name gets `from`,
    `<name>_until` the end); options carry ids only."""
    given = deal.get("custom_fields")
    fields: Mapping[str, Any] = given if isinstance(given, dict) else {}
    result = CustomFields()
    for name, hash_key in names.items():
        value = fields.get(hash_key)
        if not isinstance(value, dict):
            result.values[name] = value  # a plain value (or null: the field is empty) as it is
            continue
        kind = str(value.get("type", ""))
        if "id" in value or "values" in value:
            ids = [value["id"]] if "id" in value else [v.get("id") for v in value.get("values") or []
                                                         if isinstance(v, dict)]
            labels = _labels(option_labels, name, hash_key) if kind not in REFERENCE_TYPES else {}
            if all(str(i) in labels for i in ids):
                resolved = [labels[str(i)] for i in ids]
                result.values[name] = resolved[0] if "id" in value else resolved
            else:
                result.values[name] = None
                result.unresolved[name] = {"field": hash_key, "type": kind, "ids": ids}
        elif "from" in value:
            result.values[name] = value.get("from")
            result.values[f"{name}_until"] = value.get("until")
        else:
            result.values[name] = value.get("value")
    return result


def _labels(option_labels: Mapping[str, Any], name: str, hash_key: str) -> Mapping[str, Any]:
    table = option_labels.get(name, option_labels.get(hash_key))
    return {str(k): v for k, v in table.items()} if isinstance(table, dict) else {}
