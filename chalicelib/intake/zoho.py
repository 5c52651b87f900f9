"""Zoho CRM: a workflow rule's webhook action, its body JSON (Body: Raw, JSON) or form-encoded
(entity and custom parameters), authenticated with a shared token.

Zoho CRM webhooks carry no signature and no timestamp. The token (the source's secret) comes in a
header — `X-Signbridge-Token: <token>` or `Authorization: Bearer <token>` — or, where a header cannot
be set, as `?token=` in the URL to notify; it is checked before the body is read. Replays: Zoho
sends no delivery id, so one is synthesized from the record id, its modification time and the
body: a resend of the same change is a repeat and changes nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from chalicelib.core.errors import MalformedBody
from chalicelib.intake.base import InboundRequest, parse_json_object
from chalicelib.intake.crm import CrmRecord, MappedAdapter, synthesized_key
from chalicelib.intake.signatures import verify_token
from chalicelib.store.registry import Source

FORM = "application/x-www-form-urlencoded"
DEFAULT_MODULE = "Deals"  # the module the default mapping reads (Records API: /crm/v8/Deals/{id})


def token_candidates(request: InboundRequest) -> list[str | None]:
    authorization = request.header("authorization") or ""
    bearer = authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
    return [request.header("x-signbridge-token"), bearer, request.query.get("token")]


class ZohoAdapter(MappedAdapter):
    kind = "zoho"
    content_types = ("application/json", FORM)

    def verify(self, source: Source, request: InboundRequest) -> str | None:
        verify_token(source.secrets(), token_candidates(request),
                     "an X-Signbridge-Token header, Authorization: Bearer, or ?token= in the URL")
        return None

    def records(self, source: Source, request: InboundRequest, delivery_id: str | None) -> list[CrmRecord]:
        record = _form(request.raw_body) if request.content_type == FORM else parse_json_object(request.raw_body)
        key = synthesized_key("zoho", record.get("id"), record.get("Modified_Time"), request.raw_body)
        # A webhook whose body is only `"id": "${Deals.Deal Id}"` is read from the Records API (the
        # mapping finds nothing else in it: crm.py); a static "module" parameter names another module.
        module = record.get("module") if isinstance(record.get("module"), str) else DEFAULT_MODULE
        return [CrmRecord(f"zoho:{key}", record, object_type=module or DEFAULT_MODULE)]


def _form(raw: bytes) -> dict[str, Any]:
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(raw),
                          max_num_fields=1000)
    except UnicodeDecodeError as err:
        raise MalformedBody("the body is not UTF-8") from err
    except ValueError as err:
        raise MalformedBody(f"malformed form body: {err}") from err
    record: dict[str, Any] = {}
    for name, value in pairs:
        record.setdefault(name, value)  # a repeated parameter: the first value wins
    if not record:
        raise MalformedBody("the form body is empty")
    return record
