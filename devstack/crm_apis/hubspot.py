"""HubSpot CRM v3 double: objects (deals, line items, companies, contacts) by id and batch read,
owners, PATCH of an object's properties; Bearer tokens; 429 with HubSpot's rate-limit body and headers.

Shapes follow vendor/hubspot/crm-shapes.schema.json (transcribed from hubspot-api-client 12.0.0).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request

from . import seed
from .core import Double, correlation_id, iso_ms, json_response, now_utc

# /crm/v3/objects/{objectType}: the name or the objectTypeId (0-3 …) may be used.
OBJECT_TYPES = {"deals": "deals", "0-3": "deals", "line_items": "line_items", "0-8": "line_items",
                "companies": "companies", "0-2": "companies", "contacts": "contacts", "0-1": "contacts"}
# What a GET without `properties` returns (HubSpot's default property set per object).
DEFAULT_PROPERTIES = {
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate", "hs_object_id",
              "pipeline"),
    "line_items": ("amount", "createdate", "hs_lastmodifieddate", "hs_object_id", "hs_product_id", "name", "price",
                   "quantity"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
}
MODIFIED_KEY = {"deals": "hs_lastmodifieddate", "line_items": "hs_lastmodifieddate",
                "companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate"}
READ_ONLY = {"hs_object_id", "createdate", "hs_lastmodifieddate", "lastmodifieddate"}
# Standard properties a portal has even when the seeded record leaves them empty (writable ones).
STANDARD_PROPERTIES = {
    "deals": {"dealname", "amount", "dealstage", "pipeline", "closedate", "hubspot_owner_id", "dealtype",
              "description", "deal_currency_code", "hs_priority"},
    "line_items": {"name", "description", "quantity", "price", "amount", "hs_sku", "hs_product_id", "discount",
                   "hs_discount_percentage", "tax"},
    "companies": {"name", "domain", "address", "city", "state", "zip", "country", "phone", "industry"},
    "contacts": {"firstname", "lastname", "email", "phone", "jobtitle", "company", "mobilephone"},
}
# Datetime properties: a write in epoch milliseconds comes back as ISO-8601.
DATETIME_PROPERTIES = {"closedate", "createdate", "hs_lastmodifieddate", "lastmodifieddate"}
# Association keys of a v3 read: the plural name; line items are reported to come back as "line items".
ASSOCIATION_KEYS = {"companies": "companies", "contacts": "contacts", "line_items": "line items", "deals": "deals"}
ASSOCIATION_TYPES = {
    ("deals", "companies"): ("deal_to_company", "deal_to_company_unlabeled"),
    ("deals", "contacts"): ("deal_to_contact",),
    ("deals", "line_items"): ("deal_to_line_item",),
    ("line_items", "deals"): ("line_item_to_deal",),
    ("companies", "deals"): ("company_to_deal", "company_to_deal_unlabeled"),
    ("contacts", "deals"): ("contact_to_deal",),
}
OBJECT_LABEL = {"deals": "DEAL", "line_items": "LINE_ITEM", "companies": "COMPANY", "contacts": "CONTACT"}
PORTAL_ID = 24446551
# Private-app limits of a Professional portal (HubSpot's usage guidelines): 190 per 10 s, 650,000 a day.
TEN_SECOND_MAX, DAILY_MAX = 190, 650_000


def _error(status: int, category: str, message: str, **extra: Any) -> Response:
    return json_response({"status": "error", "message": message, "correlationId": correlation_id(),
                          "category": category, **extra}, status)


def _not_found(object_id: str) -> Response:
    return _error(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.",
                  context={"id": [object_id]})


def _csv(name: str) -> list[str]:
    """A list query parameter, repeated (`properties=a&properties=b`, as the client sends it) or comma-separated."""
    return [part.strip() for value in request.args.getlist(name) for part in value.split(",") if part.strip()]


def _stringify(value: Any) -> str:
    """HubSpot stores every property as a string: numbers and booleans sent as JSON come back as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _datetime_value(value: str) -> str:
    if re.fullmatch(r"\d{10,14}", value):
        return iso_ms(datetime.fromtimestamp(int(value) / 1000, UTC)).replace(".000Z", "Z")
    return value


class HubSpot:
    name = "hubspot"
    record_types: tuple[str, ...] = ("deals", "line_items", "companies", "contacts", "owners")
    rate_limit_variants: tuple[str, ...] = ("ten_secondly", "daily", "secondly")

    def seed(self) -> dict[str, dict[str, dict[str, Any]]]:
        return seed.hubspot()

    def is_open(self, path: str) -> bool:
        return False

    def authenticate(self, double: Double) -> Response | None:
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip() == seed.CREDENTIALS["hubspot"]["access_token"]:
            return None
        return _error(401, "INVALID_AUTHENTICATION",
                      "Authentication credentials not found. This API supports OAuth 2.0 authentication.")

    def extra_headers(self, double: Double) -> dict[str, str]:
        used, total = double.recent_calls(10), double.api_calls
        return {
            "X-HubSpot-RateLimit-Max": str(TEN_SECOND_MAX),
            "X-HubSpot-RateLimit-Remaining": str(max(0, TEN_SECOND_MAX - used)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Daily": str(DAILY_MAX),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, DAILY_MAX - total)),
        }

    def fault_response(self, double: Double, mode: str, variant: str | None) -> Response:
        if mode == "unauthorized":
            return _error(401, "INVALID_AUTHENTICATION",
                          "Authentication credentials not found. This API supports OAuth 2.0 authentication.")
        if mode == "down":
            return _error(503, "SERVICE_UNAVAILABLE", "Service unavailable (CRM double fault injection).")
        variant = variant or "ten_secondly"
        headers = {**self.extra_headers(double), "X-HubSpot-RateLimit-Remaining": "0"}
        if variant == "secondly":
            # The search endpoints' own limit: its 429 carries no rate headers (HubSpot's docs).
            g.bare_response = True
            return json_response({"status": "error", "message": "You have reached your secondly limit.",
                                  "errorType": "RATE_LIMIT", "correlationId": correlation_id(),
                                  "policyName": "SECONDLY"}, 429)
        policy, message = (("DAILY", "You have reached your daily limit.") if variant == "daily" else
                           ("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit."))
        if variant == "daily":
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = "0"
        body = {"status": "error", "message": message, "errorType": "RATE_LIMIT", "correlationId": correlation_id(),
                "policyName": policy, "groupName": f"publicapi:private-app-api-calls:{PORTAL_ID}"}
        return json_response(body, 429, headers)

    # -- reading ---------------------------------------------------------------------------------

    @staticmethod
    def _properties(kind: str, record: dict[str, Any], wanted: list[str] | None) -> dict[str, str]:
        props: dict[str, str] = record.get("properties", {})
        if wanted is None:
            names: list[str] = [p for p in DEFAULT_PROPERTIES[kind] if p in props]
        else:
            # Asked-for properties that exist, plus the three HubSpot always returns. Unknown names are
            # ignored, and empty values are left out (the schema types every value as a string).
            names = [p for p in wanted if p in props]
            names += [p for p in ("hs_object_id", "createdate", MODIFIED_KEY[kind]) if p in props and p not in names]
        return {name: props[name] for name in sorted(names) if props.get(name) not in (None, "")}

    def _public(self, kind: str, record: dict[str, Any], wanted: list[str] | None,
                associations: list[str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": record["id"], "properties": self._properties(kind, record, wanted),
                               "createdAt": record["createdAt"], "updatedAt": record["updatedAt"],
                               "archived": record.get("archived", False)}
        if associations:
            linked: dict[str, list[str]] = record.get("associations", {})
            result: dict[str, Any] = {}
            for name in associations:
                other = OBJECT_TYPES.get(name)
                ids = linked.get(other or "", [])
                if other is None or not ids:
                    continue
                types = ASSOCIATION_TYPES.get((kind, other), (f"{kind[:-1]}_to_{other[:-1]}",))
                result[ASSOCIATION_KEYS[other]] = {"results": [{"id": i, "type": t} for i in ids for t in types]}
            if result:
                out["associations"] = result
        return out

    def register(self, app: Flask, double: Double) -> None:
        def kind_of(object_type: str) -> str | None:
            return OBJECT_TYPES.get(object_type)

        @app.get("/crm/v3/objects/<object_type>/<object_id>")
        def get_object(object_type: str, object_id: str) -> Response:
            kind = kind_of(object_type)
            if kind is None:
                return _error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {object_type}")
            record = self._find(double, kind, object_id, request.args.get("idProperty"))
            archived = (request.args.get("archived") or "false").lower() == "true"
            if record is None or bool(record.get("archived")) != archived:
                return _not_found(object_id)
            wanted = _csv("properties") if "properties" in request.args else None
            return json_response(self._public(kind, record, wanted, _csv("associations")))

        @app.post("/crm/v3/objects/<object_type>/batch/read")
        def batch_read(object_type: str) -> Response:
            kind = kind_of(object_type)
            body = request.get_json(silent=True, force=True)
            if kind is None or not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
                return _error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1: inputs is required")
            started = iso_ms(now_utc())
            wanted = [str(p) for p in body.get("properties") or []]
            results, missing = [], []
            for item in body["inputs"]:
                object_id = str(item.get("id", "")) if isinstance(item, dict) else ""
                record = self._find(double, kind, object_id, body.get("idProperty"))
                if record is None or record.get("archived"):
                    missing.append(object_id)
                else:
                    results.append(self._public(kind, record, wanted or None))
            out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                                   "completedAt": iso_ms(now_utc())}
            if not missing:
                return json_response(out)
            # Some ids unknown: 207 Multi-Status with one error naming them (BatchResponse…WithErrors).
            out["numErrors"] = 1
            out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                              "message": f"Could not get some {OBJECT_LABEL[kind]} objects, they may be deleted or "
                                         "not exist. Check that ids are valid.",
                              "context": {"ids": missing}}]
            return json_response(out, 207)

        @app.patch("/crm/v3/objects/<object_type>/<object_id>")
        def patch_object(object_type: str, object_id: str) -> Response:
            kind = kind_of(object_type)
            if kind is None:
                return _error(400, "VALIDATION_ERROR", f"Unable to infer object type from: {object_type}")
            body = request.get_json(silent=True, force=True)
            if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
                return _error(400, "VALIDATION_ERROR", "Invalid input JSON on line 1: properties is required")
            with double.lock:
                record = self._find(double, kind, object_id, request.args.get("idProperty"))
                if record is None or record.get("archived"):
                    return _not_found(object_id)
                problems = self._invalid(double, kind, body["properties"])
                if problems:
                    return _error(400, "VALIDATION_ERROR", "Property values were not valid: "
                                  + json.dumps(problems, separators=(",", ":")))
                now = iso_ms(now_utc())
                written = {name: _stringify(value) for name, value in body["properties"].items()}
                for name in written:
                    if name in DATETIME_PROPERTIES:
                        written[name] = _datetime_value(written[name])
                record["properties"].update(written)
                record["properties"][MODIFIED_KEY[kind]] = now
                record["updatedAt"] = now
                double.put(kind, record["id"], record)
            # The answer echoes the default set plus what was written (no associations).
            wanted = [*DEFAULT_PROPERTIES[kind], *written]
            return json_response(self._public(kind, record, wanted))

        @app.get("/crm/v3/owners/<owner_id>")
        def get_owner(owner_id: str) -> Response:
            by = request.args.get("idProperty") or "id"
            owners = double.all("owners")
            field = "userId" if by == "userId" else "id"
            match = next((o for o in owners if str(o.get(field)) == owner_id), None)
            if match is None or bool(match.get("archived")) != ((request.args.get("archived") or "") == "true"):
                return _error(404, "OBJECT_NOT_FOUND", f"Owner {owner_id} not found", context={"id": [owner_id]})
            return json_response(match)

    @staticmethod
    def _find(double: Double, kind: str, object_id: str, id_property: str | None) -> dict[str, Any] | None:
        if not id_property or id_property == "hs_object_id":
            return double.get(kind, object_id)
        return next((r for r in double.all(kind) if r.get("properties", {}).get(id_property) == object_id), None)

    @staticmethod
    def _invalid(double: Double, kind: str, properties: dict[str, Any]) -> list[dict[str, Any]]:
        known = set(STANDARD_PROPERTIES[kind]) | READ_ONLY
        for record in double.all(kind):
            known |= set(record.get("properties", {}))
        problems = []
        for name in properties:
            if name not in known:
                problems.append({"isValid": False, "message": f'Property "{name}" does not exist',
                                 "error": "PROPERTY_DOESNT_EXIST", "name": name})
            elif name in READ_ONLY:
                problems.append({"isValid": False, "message": f'"{name}" is a read only property; its value cannot '
                                 "be set.", "error": "READ_ONLY_VALUE", "name": name})
        return problems


VENDOR = HubSpot()
