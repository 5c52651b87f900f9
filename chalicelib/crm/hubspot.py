"""HubSpot through its CRM v3 API with HubSpot's own client (hubspot-api-client) and a private
app's token: read a deal as the app card's body ({deal, lineItems, company, contacts, owner}, each
as the CRM API returns it), and write deal properties back with PATCH /crm/v3/objects/deals/{id}.

A read asks for the properties the source's mapping names (`…properties.<name>` in the kind's
default mapping and the source's override) on top of HubSpot's own: without `properties` HubSpot
returns only its default handful. Five calls: the deal with its associations, its line items and
contacts in one batch each, its company, its owner."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping
from functools import cache, partial
from pathlib import Path
from typing import Any

import certifi
from urllib3.exceptions import HTTPError

from chalicelib.crm.base import (
    BOOLEAN,
    CONNECT_TIMEOUT_SECONDS,
    LOGICAL_FIELDS,
    READ_TIMEOUT_SECONDS,
    CrmRefused,
    CrmUnavailable,
    WriteItem,
    api_base,
    quote_body,
)
from chalicelib.crm.http import RETRY, retry_after
from chalicelib.store.registry import Source

CRM = "hubspot"
DEFAULT_BASE = "https://api.hubapi.com"
TIMEOUT = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)
BATCH = 100  # a batch read takes at most 100 ids
_ID = re.compile(r"[0-9]{1,20}")
# The data file of the kind's default mapping (intake reads it too): its property names are the ones to ask for.
_DEFAULT_MAPPING = Path(__file__).resolve().parents[1] / "intake" / "mappings" / "hubspot.json"
_PROPERTY = re.compile(r"properties\.([A-Za-z0-9_]+)")
BASE_PROPERTIES = {
    "deals": ("dealname", "amount", "deal_currency_code", "closedate", "dealstage", "pipeline", "hubspot_owner_id"),
    "line_items": ("name", "description", "quantity", "price", "amount", "hs_sku", "hs_product_id", "unit"),
    "companies": ("name", "domain", "address", "city", "state", "zip", "country", "phone"),
    "contacts": ("firstname", "lastname", "email", "phone", "jobtitle"),
}
# Seconds to wait per HubSpot rate-limit policy (its Node client backs off 10 s and 1 s); the daily
# limit resets at midnight in the account's zone, which the answer does not give.
POLICY_WAIT = {"TEN_SECONDLY_ROLLING": 10.0, "SECONDLY": 1.0}



@cache
def _default_names() -> frozenset[str]:
    try:
        return frozenset(_PROPERTY.findall(_DEFAULT_MAPPING.read_text(encoding="utf-8")))
    except OSError:
        return frozenset()


def _property_names(source: Source, kind: str) -> list[str]:
    override = json.dumps(source.mapping or {})
    names = set(BASE_PROPERTIES[kind]) | _default_names() | set(_PROPERTY.findall(override))
    # HubSpot ignores names an object does not have; one list serves every object type.
    return sorted(names)


def _client(source: Source, creds: Mapping[str, str]) -> Any:
    import hubspot

    return hubspot.Client.create(access_token=creds["access_token"], host=api_base(source, DEFAULT_BASE),
                                 retry=RETRY, ssl_ca_cert=certifi.where())


def _call[T](what: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except HTTPError as err:
        raise CrmUnavailable(f"hubspot did not answer {what}: {type(err).__name__}", code="unreachable") from err
    except Exception as err:
        if type(err).__module__.startswith("hubspot.") and hasattr(err, "status"):
            raise _translate(err, what) from err
        raise


def _translate(err: Any, what: str) -> Exception:
    """The client's ApiException (one class per API package, all alike: status, headers, body)."""
    status = int(err.status or 0)
    headers = {str(k).lower(): str(v) for k, v in dict(err.headers or {}).items()}
    try:
        body = json.loads(err.body) if err.body else {}
    except (TypeError, ValueError):
        body = {}
    body = body if isinstance(body, dict) else {}
    category = str(body.get("category") or body.get("errorType") or f"http_{status}")
    message = f"hubspot {what}: {status} {category}: {quote_body(body.get('message') or err.body or err.reason or '')}"
    if status == 0 or status >= 500:
        return CrmUnavailable(message, code=category, status=status or None)
    if status == 429:
        policy = str(body.get("policyName") or "")
        interval = headers.get("x-hubspot-ratelimit-interval-milliseconds")
        wait = retry_after(headers.get("retry-after"))
        if wait is None and policy != "DAILY":
            wait = POLICY_WAIT.get(policy) or (float(interval) / 1000 if interval and interval.isdigit() else None)
        return CrmUnavailable(message, code=policy or "RATE_LIMIT", status=429, retry_after_seconds=wait)
    if status in (401, 403):
        # A private app's token does not expire: invalid, revoked, or lacking a scope. An operator's fix.
        return CrmRefused(message, code=category, status=status, auth=True)
    return CrmRefused(message, code=category, status=status, not_found=status == 404)


def _deal_id(record_id: str) -> str:
    if not _ID.fullmatch(record_id):
        raise CrmRefused(f"{record_id!r} is not a HubSpot record id", code="invalid_id", not_found=True)
    return record_id


# --- reading -----------------------------------------------------------------------------------------


def read(source: Source, creds: Mapping[str, str], object_type: str, record_id: str,
         context: Mapping[str, Any]) -> dict[str, Any]:
    if object_type not in ("deal", "deals", "0-3", ""):
        raise CrmRefused(f"hubspot: reading {object_type!r} records is not supported (deals only)",
                         code="unsupported_object")
    deal_id = _deal_id(record_id)
    hs = _client(source, creds)
    deal = _call(f"GET deal {deal_id}", lambda: hs.crm.deals.basic_api.get_by_id(
        deal_id, properties=_property_names(source, "deals"), associations=["line_items", "companies", "contacts"],
        _request_timeout=TIMEOUT))
    linked = _associations(deal.associations)
    body: dict[str, Any] = {"deal": _object(deal)}
    if isinstance(context.get("portalId"), str | int):
        body["portalId"] = context["portalId"]
    body["lineItems"] = _batch(source, hs.crm.line_items, "line_items", linked.get("line_items", []))
    companies = _batch(source, hs.crm.companies, "companies", linked.get("companies", [])[:1])
    if companies:
        body["company"] = companies[0]
    # The card puts the contact who signs first; the API's association order is all there is here.
    body["contacts"] = _batch(source, hs.crm.contacts, "contacts", linked.get("contacts", []))
    owner = _owner(hs, (deal.properties or {}).get("hubspot_owner_id"))
    if owner is not None:
        body["owner"] = owner
    return body


def _associations(associations: Any) -> dict[str, list[str]]:
    """Associated ids by object type, in order, each once. v3 reads are reported to key line items
    "line items" (with a space), and to list a pair once per association label."""
    linked: dict[str, list[str]] = {}
    for key, value in (associations or {}).items():
        results = getattr(value, "results", None) or []
        ids = linked.setdefault(str(key).replace(" ", "_"), [])
        for result in results:
            if result.id is not None and str(result.id) not in ids:
                ids.append(str(result.id))
    return linked


def _batch(source: Source, discovery: Any, kind: str, ids: list[str]) -> list[dict[str, Any]]:
    """The objects in the order of `ids` (a batch answer's order is not the input's); an id HubSpot
    no longer has (a 207 naming it) is left out, as the CRM shows the deal without it."""
    if not ids:
        return []
    models = importlib.import_module(f"hubspot.crm.{kind}")  # each API package has its own model classes
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        request = models.BatchReadInputSimplePublicObjectId(
            inputs=[models.SimplePublicObjectId(id=i) for i in chunk], properties=_property_names(source, kind),
            properties_with_history=[])
        result: Any = _call(f"batch read {kind}", partial(discovery.batch_api.read, request,
                                                          _request_timeout=TIMEOUT))
        for item in result.results or []:
            found[str(item.id)] = _object(item)
    return [found[i] for i in ids if i in found]


def _owner(hs: Any, owner_id: Any) -> dict[str, Any] | None:
    if not isinstance(owner_id, str) or not _ID.fullmatch(owner_id):
        return None
    try:
        owner = _call(f"GET owner {owner_id}", lambda: hs.crm.owners.owners_api.get_by_id(
            int(owner_id), _request_timeout=TIMEOUT))
    except CrmRefused as err:
        if err.not_found:
            return None  # a deactivated owner: the deal reads as without one
        raise
    return {"id": str(owner.id), "email": owner.email, "firstName": owner.first_name, "lastName": owner.last_name,
            "userId": owner.user_id}


def _object(item: Any) -> dict[str, Any]:
    """A CRM object as the card posts it (the API's JSON shape: id and string properties)."""
    out: dict[str, Any] = {"id": str(item.id), "properties": dict(item.properties or {})}
    for attribute, key in (("created_at", "createdAt"), ("updated_at", "updatedAt")):
        moment = getattr(item, attribute, None)
        if moment is not None:
            out[key] = moment.isoformat().replace("+00:00", "Z")
    if getattr(item, "archived", None) is not None:
        out["archived"] = bool(item.archived)
    return out


# --- writing -----------------------------------------------------------------------------------------


def write(source: Source, creds: Mapping[str, str], record_id: str, items: list[WriteItem]) -> None:
    from hubspot.crm.deals import SimplePublicObjectInput

    deal_id = _deal_id(record_id)
    properties = {item.field: _typed(item) for item in items}
    hs = _client(source, creds)
    _call(f"PATCH deal {deal_id}", lambda: hs.crm.deals.basic_api.update(
        deal_id, SimplePublicObjectInput(properties=properties), _request_timeout=TIMEOUT))


def _typed(item: WriteItem) -> str:
    """Every HubSpot property value is a string: "" clears one, a checkbox is "true"/"false", a date
    property takes YYYY-MM-DD, a number its decimal text."""
    if item.value is None:
        return ""
    if LOGICAL_FIELDS[item.logical] == BOOLEAN or isinstance(item.value, bool):
        return "true" if item.value else "false"
    return str(item.value)

