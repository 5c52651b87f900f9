"""Pipedrive through its REST API v2 (`x-api-token`): read a deal as the webhook adapter's record
(its v2 webhook shape, plus `custom`: the source's named custom fields with option ids turned into
labels through dealFields), and write custom fields back with PATCH /api/v2/deals/{id}.

REST v2 and webhooks v2 send custom fields differently (an option is `17` in REST, `{"type": "enum",
"id": 17}` in a webhook): the deal is converted to the webhook form using each field's type from
dealFields, which are cached per source for 10 minutes (they change when an admin edits fields)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from chalicelib.crm.base import (
    BOOLEAN,
    DATE,
    DECIMAL,
    LOGICAL_FIELDS,
    CrmRefused,
    CrmUnavailable,
    TtlCache,
    WriteItem,
    api_base,
    fingerprint,
    quote_body,
    warn_once,
)
from chalicelib.crm.http import Answer, call, retry_after, unavailable_status
from chalicelib.store.registry import Source

CRM = "pipedrive"
DEFAULT_BASE = "https://api.pipedrive.com"
FIELDS_TTL_SECONDS = 600.0
_ID = re.compile(r"[1-9][0-9]{0,18}")
_CUSTOM_KEY = re.compile(r"[0-9a-f]{40}")
OPTION_TYPES = ("enum", "set")
REFERENCE_TYPES = {"people": "persons", "org": "organizations", "user": "users"}
RANGE_TYPES = ("daterange", "timerange")

_fields_cache: TtlCache[dict[str, dict[str, Any]]] = TtlCache()


def clear_caches() -> None:
    _fields_cache.clear()


def _base(source: Source) -> str:
    return api_base(source, DEFAULT_BASE)


def _get(source: Source, creds: Mapping[str, str], path: str, what: str, query: Mapping[str, Any] | None = None,
         ) -> Any:
    answer = call(CRM, "GET", _base(source) + path, headers={"x-api-token": creds["api_token"]}, query=query)
    return _checked(answer, what)


def _checked(answer: Answer, what: str) -> Any:
    """The answer's `data`, or the failure it means."""
    body = answer.json()
    if answer.status == 429:
        # A burst limit clears after x-ratelimit-reset seconds (a 2 s window); the daily token budget
        # only at its reset, which Pipedrive does not state: no time is given for that one.
        daily = answer.header("x-daily-ratelimit-token-remaining") == "0"
        wait = None if daily else (retry_after(answer.header("retry-after"))
                                   or retry_after(answer.header("x-ratelimit-reset")))
        raise CrmUnavailable(f"pipedrive rate limit on {what}" + (" (daily token budget spent)" if daily else ""),
                             code="daily_limit" if daily else "rate_limited", status=429, retry_after_seconds=wait)
    unavailable = unavailable_status(CRM, answer, what)
    if unavailable is not None:
        raise unavailable
    message = str(body.get("error") or "") if isinstance(body, dict) else quote_body(answer.data)
    if answer.status in (401, 403):
        raise CrmRefused(f"pipedrive refused the API token on {what}: {message}", code=f"http_{answer.status}",
                         status=answer.status, auth=True)
    if answer.status in (404, 410):
        raise CrmRefused(f"pipedrive: {what}: {message or 'not found'}", code="not_found", status=answer.status,
                         not_found=True)
    if not 200 <= answer.status < 300 or not isinstance(body, dict) or body.get("success") is False:
        raise CrmRefused(f"pipedrive refused {what}: {answer.status} {message}", code=f"http_{answer.status}",
                         status=answer.status)
    return body.get("data")


def _deal_id(record_id: str) -> str:
    if not _ID.fullmatch(record_id):
        raise CrmRefused(f"{record_id!r} is not a Pipedrive deal id", code="invalid_id", not_found=True)
    return record_id


def deal_fields(source: Source, creds: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """field_code -> {"name", "type", "options": {id: label}}, from GET /api/v2/dealFields (cursor paged)."""
    key = fingerprint(source.source_id, _base(source), creds["api_token"])
    cached = _fields_cache.get(key)
    if cached is not None:
        return cached
    fields: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    for _page in range(20):  # 500 a page: far more fields than an account has
        data, next_cursor = _fields_page(source, creds, cursor)
        for field in data:
            if isinstance(field, dict) and isinstance(field.get("field_code"), str):
                options = {int(o["id"]): str(o.get("label")) for o in field.get("options") or []
                           if isinstance(o, dict) and isinstance(o.get("id"), int)}
                fields[field["field_code"]] = {"name": field.get("field_name"), "type": str(field.get("field_type")),
                                               "options": options}
        if not next_cursor:
            break
        cursor = next_cursor
    _fields_cache.put(key, fields, FIELDS_TTL_SECONDS)
    return fields


def _fields_page(source: Source, creds: Mapping[str, str], cursor: str | None) -> tuple[list[Any], str | None]:
    answer = call(CRM, "GET", _base(source) + "/api/v2/dealFields", headers={"x-api-token": creds["api_token"]},
                  query={"limit": 500, "cursor": cursor})
    data = _checked(answer, "GET dealFields")
    body = answer.json()
    extra = body.get("additional_data") if isinstance(body, dict) else None
    next_cursor = extra.get("next_cursor") if isinstance(extra, dict) else None
    return (data if isinstance(data, list) else []), (next_cursor if isinstance(next_cursor, str) else None)


# --- reading -----------------------------------------------------------------------------------------


def read(source: Source, creds: Mapping[str, str], object_type: str, record_id: str,
         context: Mapping[str, Any]) -> dict[str, Any]:
    if object_type not in ("deal", "deals", ""):
        raise CrmRefused(f"pipedrive: reading {object_type!r} records is not supported (deals only)",
                         code="unsupported_object")
    deal_id = _deal_id(record_id)
    deal = _get(source, creds, f"/api/v2/deals/{quote(deal_id)}", f"GET deal {deal_id}")
    if not isinstance(deal, dict):
        raise CrmUnavailable(f"pipedrive answered GET deal {deal_id} without a deal", code="bad_answer")
    given = deal.get("custom_fields")
    rest_custom: dict[str, Any] = given if isinstance(given, dict) else {}
    fields = deal_fields(source, creds) if rest_custom else {}
    webhook_custom = {code: _webhook_value(value, fields.get(code)) for code, value in rest_custom.items()}
    names = source.options.get("custom_fields")
    custom = _named(source, creds, webhook_custom, names if isinstance(names, Mapping) else {})
    return {
        "data": {**deal, "custom_fields": webhook_custom},
        "meta": {"entity": "deal", "entity_id": str(deal.get("id", deal_id))},
        "custom": custom,
    }


def _webhook_value(value: Any, field: Mapping[str, Any] | None) -> Any:
    """A REST v2 custom-field value in the webhooks v2 form (docs: "Guide for Webhooks v2"), option
    ids with their labels."""
    if value is None:
        return None
    kind = str((field or {}).get("type") or "")
    labels: Mapping[int, str] = (field or {}).get("options") or {}
    if kind == "enum" and isinstance(value, int):
        return {"type": "enum", "id": value, "label": labels.get(value)}
    if kind == "set" and isinstance(value, list):
        return {"type": "set", "values": [{"id": v, "label": labels.get(v) if isinstance(v, int) else None}
                                          for v in value]}
    if kind in REFERENCE_TYPES and isinstance(value, int | str):
        return {"type": kind, "id": value}
    if kind in RANGE_TYPES and isinstance(value, dict):
        return {**{k: v for k, v in value.items() if k != "value"}, "type": kind, "from": value.get("value")}
    if isinstance(value, dict):
        return {**value, "type": kind or "unknown"}
    return {"type": kind or "unknown", "value": value}


def _named(source: Source, creds: Mapping[str, str], webhook_custom: Mapping[str, Any],
           names: Mapping[str, Any]) -> dict[str, Any]:
    """What the webhook adapter puts in `custom` (intake/pipedrive.py, read_custom_fields), with every
    option as its label and a person, organization or user as its name."""
    values: dict[str, Any] = {}
    for name, code in names.items():
        value = webhook_custom.get(str(code))
        if not isinstance(value, dict):
            values[name] = value
            continue
        kind = value.get("type")
        if kind == "enum":
            values[name] = value.get("label")
        elif kind == "set":
            values[name] = [v.get("label") for v in value.get("values") or [] if v.get("label") is not None]
        elif kind in REFERENCE_TYPES:
            values[name] = _reference_name(source, creds, str(kind), value.get("id"))
        elif "from" in value:
            values[name] = value.get("from")
            values[f"{name}_until"] = value.get("until")
        else:
            values[name] = value.get("value")
    return values


def _reference_name(source: Source, creds: Mapping[str, str], kind: str, ref: Any) -> str | None:
    if not isinstance(ref, int | str) or not _ID.fullmatch(str(ref)):
        return None
    path = f"/api/v1/users/{ref}" if kind == "user" else f"/api/v2/{REFERENCE_TYPES[kind]}/{ref}"
    try:
        found = _get(source, creds, path, f"GET {REFERENCE_TYPES[kind]} {ref}")
    except CrmRefused as err:
        if err.not_found:
            return None  # deleted since: the field reads as empty, as Pipedrive shows it
        raise
    return str(found.get("name")) if isinstance(found, dict) and found.get("name") else None


# --- writing -----------------------------------------------------------------------------------------


def write(source: Source, creds: Mapping[str, str], record_id: str, items: list[WriteItem]) -> None:
    deal_id = _deal_id(record_id)
    fields = deal_fields(source, creds)
    body: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for item in items:
        field = fields.get(item.field)
        value = _typed(item, field)
        if value is _SKIP:
            warn_once(source, f"writeback-option:{item.field}:{item.value}",
                      "pipedrive write-back: no option of the field matches the value; field left as it is",
                      field=item.field, logical=item.logical, value=str(item.value))
            continue
        if _CUSTOM_KEY.fullmatch(item.field):
            custom[item.field] = value
        else:
            body[item.field] = value  # a standard deal field named in writeback_fields
    if custom:
        body["custom_fields"] = custom
    if not body:
        return
    answer = call(CRM, "PATCH", _base(source) + f"/api/v2/deals/{quote(deal_id)}",
                  headers={"x-api-token": creds["api_token"]}, json_body=body)
    _checked(answer, f"PATCH deal {deal_id}")


_SKIP = object()


def _typed(item: WriteItem, field: Mapping[str, Any] | None) -> Any:
    """The value in the type v2 insists on for the field (no "6" for 6, option ids for options)."""
    value = item.value
    if value is None:
        return None  # clears it (a multiple-options field takes null, never [])
    kind = str((field or {}).get("type") or "")
    text = _text(item)
    if kind in OPTION_TYPES:
        labels: Mapping[int, str] = (field or {}).get("options") or {}
        wanted = [text, *item.alternatives]
        if LOGICAL_FIELDS[item.logical] == BOOLEAN:
            wanted += ["yes" if value else "no"]
        for candidate in wanted:
            match = next((oid for oid, label in labels.items() if label.strip().lower() == candidate.lower()), None)
            if match is not None:
                return match if kind == "enum" else [match]
        return _SKIP
    if kind in ("double", "int", "monetary"):
        number = _number(text)
        if number is None:
            return _SKIP
        return {"value": number} if kind == "monetary" else number
    return text


def _text(item: WriteItem) -> str:
    if isinstance(item.value, bool):
        return "true" if item.value else "false"
    if LOGICAL_FIELDS[item.logical] in (DATE, DECIMAL):
        return str(item.value).strip()
    return str(item.value)


def _number(text: str) -> int | float | None:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return int(number) if number == number.to_integral_value() else float(number)
