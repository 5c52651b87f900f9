"""Pipedrive double: API v2 deals (GET, PATCH), deal products, persons, organizations and deal
fields; API v1 deal fields and users (v1 only has them). x-api-token (or ?api_token=, or an OAuth
Bearer token); 429 with x-ratelimit-* when rate limited.

Shapes follow vendor/pipedrive/pipedrive-shapes.openapi.json (transcribed from Pipedrive's official
MIT clients). Custom fields in REST v2 are bare values: an option id (single option), a list of ids
(multiple options), {value, currency} (monetary), {value, …} (address); `include_option_labels=true`
turns option ids into {id, label}.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from flask import Flask, Response, g, request

from . import seed
from .core import Double, json_response, now_utc

ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."
# Burst limit per token in a 2-second window (the api_token figure of a Professional plan).
BURST_LIMIT = 80
DAILY_TOKENS = 30_000 * 3  # 30,000 × plan multiplier × seats is the documented budget; 3 seats here
# v2 deal fields a PATCH may write, and the JSON types v2 insists on (no "1"/"0" or "12" strings).
DEAL_WRITABLE: dict[str, tuple[type, ...]] = {
    "title": (str,), "owner_id": (int,), "person_id": (int,), "org_id": (int,), "pipeline_id": (int,),
    "stage_id": (int,), "value": (int, float), "currency": (str,), "is_deleted": (bool,), "is_archived": (bool,),
    "archive_time": (str,), "status": (str,), "probability": (int, float), "lost_reason": (str,),
    "visible_to": (int,), "close_time": (str,), "won_time": (str,), "lost_time": (str,),
    "expected_close_date": (str,), "label_ids": (list,), "custom_fields": (dict,),
}
NULLABLE = {"probability", "lost_reason", "close_time", "won_time", "lost_time", "archive_time", "person_id",
            "org_id", "expected_close_date"}
STANDARD_FIELDS = [
    {"field_code": "title", "field_name": "Title", "field_type": "varchar"},
    {"field_code": "value", "field_name": "Value", "field_type": "monetary"},
    {"field_code": "stage_id", "field_name": "Stage", "field_type": "stage"},
    {"field_code": "owner_id", "field_name": "Owner", "field_type": "user"},
    {"field_code": "person_id", "field_name": "Contact person", "field_type": "people"},
    {"field_code": "org_id", "field_name": "Organization", "field_type": "org"},
    {"field_code": "expected_close_date", "field_name": "Expected close date", "field_type": "date"},
]


def _failure(status: int, message: str) -> Response:
    return json_response({"success": False, "error": message, "error_info": ERROR_INFO, "data": None,
                          "additional_data": None}, status)


def _unauthorized() -> Response:
    # The v1 spec's 401 example, which v2 answers in the same form.
    return json_response({"success": False, "error": "unauthorized access", "errorCode": 401}, 401)


def _as_int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _v2_field(field: dict[str, Any]) -> dict[str, Any]:
    custom = len(field["field_code"]) == 40
    out = {"field_name": field["field_name"], "field_code": field["field_code"], "description": "",
           "field_type": field["field_type"], "is_custom_field": custom, "is_optional_response_field": False,
           "options": [{"id": o["id"], "label": o["label"], "color": None, "add_time": "2026-10-01T08:00:00Z",
                        "update_time": None} for o in field["options"]] if field.get("options") else None,
           "subfields": None}
    if field["field_type"] == "monetary":
        out["subfields"] = [{"field_code": f"{field['field_code']}_currency",
                             "field_name": f"Currency of {field['field_name']}", "field_type": "varchar"}]
    return out


def _v1_field(number: int, field: dict[str, Any]) -> dict[str, Any]:
    return {"id": number, "key": field["field_code"], "name": field["field_name"], "order_nr": number,
            "field_type": field["field_type"], "add_time": "2026-10-01 08:00:00", "update_time": None,
            "last_updated_by_user_id": None, "created_by_user_id": 13053568, "active_flag": True,
            "edit_flag": len(field["field_code"]) == 40, "index_visible_flag": True, "details_visible_flag": True,
            "add_visible_flag": True, "important_flag": False, "bulk_edit_allowed": True, "searchable_flag": False,
            "filtering_allowed": True, "sortable_flag": True, "mandatory_flag": False,
            **({"options": [{"id": o["id"], "label": o["label"]} for o in field["options"]]}
               if field.get("options") else {})}


class Pipedrive:
    name = "pipedrive"
    record_types: tuple[str, ...] = ("deals", "deal_products", "persons", "organizations", "users",
                                     "deal_fields")
    rate_limit_variants: tuple[str, ...] = ("burst", "daily")

    def seed(self) -> dict[str, dict[str, dict[str, Any]]]:
        return seed.pipedrive()

    def is_open(self, path: str) -> bool:
        return False

    def authenticate(self, double: Double) -> Response | None:
        token = seed.CREDENTIALS["pipedrive"]["api_token"]
        scheme, _, bearer = (request.headers.get("Authorization") or "").partition(" ")
        if token in (request.headers.get("x-api-token"), request.args.get("api_token")) or (
                scheme.lower() == "bearer" and bearer.strip() == token):
            return None
        return _unauthorized()

    def extra_headers(self, double: Double) -> dict[str, str]:
        used = double.recent_calls(2)
        return {"x-ratelimit-limit": str(BURST_LIMIT), "x-ratelimit-remaining": str(max(0, BURST_LIMIT - used)),
                "x-ratelimit-reset": "2"}

    def fault_response(self, double: Double, mode: str, variant: str | None) -> Response:
        if mode == "unauthorized":
            return _unauthorized()
        if mode == "down":
            return _failure(503, "Service Unavailable (CRM double fault injection)")
        body = {"success": False, "error": "Request over limit", "errorCode": 429, "error_info": ERROR_INFO}
        headers = {"x-ratelimit-limit": str(BURST_LIMIT), "x-ratelimit-remaining": "0", "x-ratelimit-reset": "2"}
        if variant == "daily":
            # The daily token budget is spent: no retry helps before the reset. These two headers are
            # seen by clients though not in Pipedrive's docs.
            headers |= {"x-daily-ratelimit-token-limit": str(DAILY_TOKENS), "x-daily-ratelimit-token-remaining": "0"}
        g.bare_response = True
        return json_response(body, 429, headers)

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _fields(double: Double) -> dict[str, dict[str, Any]]:
        with double.lock:
            return copy.deepcopy(double.records.get("deal_fields", {}))

    def _present_deal(self, double: Double, deal: dict[str, Any]) -> dict[str, Any]:
        custom: dict[str, Any] = deal.get("custom_fields") or {}
        wanted = [c for v in request.args.getlist("custom_fields") for c in v.split(",") if c]
        if wanted:
            custom = {k: v for k, v in custom.items() if k in wanted}
        if (request.args.get("include_option_labels") or "").lower() == "true":
            fields = self._fields(double)
            labelled = {}
            for key, value in custom.items():
                labels = {o["id"]: o["label"] for o in (fields.get(key) or {}).get("options") or []}
                if isinstance(value, int) and value in labels:
                    value = {"id": value, "label": labels[value]}
                elif isinstance(value, list) and labels:
                    value = [{"id": v, "label": labels.get(v)} for v in value]
                labelled[key] = value
            custom = labelled
        return {**deal, "custom_fields": custom}

    def _invalid_update(self, double: Double, body: dict[str, Any]) -> str | None:
        for key, value in body.items():
            if key not in DEAL_WRITABLE:
                return f"Unknown field '{key}'"
            if value is None:
                if key not in NULLABLE:
                    return f"'{key}' cannot be null"
                continue
            if isinstance(value, bool) and bool not in DEAL_WRITABLE[key]:
                return f"'{key}' must be of type {DEAL_WRITABLE[key][0].__name__}"
            if not isinstance(value, DEAL_WRITABLE[key]):
                return f"'{key}' must be of type {DEAL_WRITABLE[key][0].__name__}"
        fields = self._fields(double)
        for code, value in (body.get("custom_fields") or {}).items():
            field = fields.get(code)
            if field is None:
                return f"Unknown custom field '{code}'"
            if value is None:
                continue
            option_ids = {o["id"] for o in field.get("options") or []}
            kind = field["field_type"]
            if kind == "enum" and (not isinstance(value, int) or isinstance(value, bool) or value not in option_ids):
                return f"Invalid option id for field '{code}': expected one of {sorted(option_ids)}"
            if kind == "set":
                if value == []:
                    return f"Empty array is not allowed for field '{code}'; send null to clear it"
                if not isinstance(value, list) or any(v not in option_ids for v in value):
                    return f"Invalid option ids for field '{code}': expected a list of {sorted(option_ids)}"
            if kind in ("varchar", "text", "date") and not isinstance(value, str):
                return f"'{code}' must be a string"
            if kind == "double" and (isinstance(value, bool) or not isinstance(value, int | float)):
                return f"'{code}' must be a number"
            if kind == "monetary" and not (isinstance(value, dict) and isinstance(value.get("value"), int | float)):
                return f"'{code}' must be an object with value and currency"
        return None

    @staticmethod
    def _page(items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
        """Cursor paging (v2): `limit` (default 100, max 500) and an opaque `cursor`."""
        limit = min(500, _as_int(request.args.get("limit") or "100") or 100)
        cursor = request.args.get("cursor")
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
        except ValueError:
            start = 0  # an unreadable cursor starts over (Pipedrive's cursors are opaque)
        page = items[start:start + limit]
        more = start + limit < len(items)
        next_cursor = base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None
        return page, next_cursor

    # -- routes -----------------------------------------------------------------------------------

    def register(self, app: Flask, double: Double) -> None:
        @app.get("/api/v2/deals/<deal_id>")
        def get_deal(deal_id: str) -> Response:
            deal = double.get("deals", deal_id)
            if deal is None or deal.get("is_deleted"):
                return _failure(404, "Deal not found")
            return json_response({"success": True, "data": self._present_deal(double, deal)})

        @app.patch("/api/v2/deals/<deal_id>")
        def patch_deal(deal_id: str) -> Response:
            body = request.get_json(silent=True, force=True)
            if not isinstance(body, dict):
                return _failure(400, "Request body must be a JSON object")
            with double.lock:
                deal = double.get("deals", deal_id)
                if deal is None or deal.get("is_deleted"):
                    return _failure(404, "Deal not found")
                problem = self._invalid_update(double, body)
                if problem:
                    return _failure(400, problem)
                now = now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")
                custom = {**(deal.get("custom_fields") or {}), **(body.pop("custom_fields", None) or {})}
                if "stage_id" in body and body["stage_id"] != deal.get("stage_id"):
                    deal["stage_change_time"] = now
                deal.update(body)
                deal["custom_fields"] = custom
                deal["update_time"] = now
                double.put("deals", deal_id, deal)
            return json_response({"success": True, "data": self._present_deal(double, deal)})

        @app.get("/api/v2/deals/<deal_id>/products")
        def deal_products(deal_id: str) -> Response:
            if double.get("deals", deal_id) is None:
                return _failure(404, "Deal not found")
            items = sorted((p for p in double.all("deal_products") if str(p.get("deal_id")) == deal_id),
                           key=lambda p: (p.get("order_nr") or 0, p["id"]))
            page, next_cursor = self._page(items)
            return json_response({"success": True, "data": page, "additional_data": {"next_cursor": next_cursor}})

        @app.get("/api/v2/persons/<person_id>")
        def get_person(person_id: str) -> Response:
            person = double.get("persons", person_id)
            if person is None or person.get("is_deleted"):
                return _failure(404, "Person not found")
            return json_response({"success": True, "data": person})

        @app.get("/api/v2/organizations/<org_id>")
        def get_organization(org_id: str) -> Response:
            org = double.get("organizations", org_id)
            if org is None or org.get("is_deleted"):
                return _failure(404, "Organization not found")
            return json_response({"success": True, "data": org})

        @app.get("/api/v2/dealFields")
        def deal_fields_v2() -> Response:
            fields = [*STANDARD_FIELDS, *self._fields(double).values()]
            page, next_cursor = self._page([_v2_field(f) for f in fields])
            return json_response({"success": True, "data": page, "additional_data": {"next_cursor": next_cursor}})

        # v1 keeps the field list with numeric ids and `key` (and offset paging), and the users.
        @app.get("/api/v1/dealFields")
        @app.get("/v1/dealFields")
        def deal_fields_v1() -> Response:
            fields = [_v1_field(n, f) for n, f in
                      enumerate([*STANDARD_FIELDS, *self._fields(double).values()], start=12450)]
            start = _as_int(request.args.get("start") or "0") or 0
            limit = min(500, _as_int(request.args.get("limit") or "100") or 100)
            page = fields[start:start + limit]
            more = start + limit < len(fields)
            extra: dict[str, Any] = {"start": start, "limit": limit, "more_items_in_collection": more}
            if more:
                extra["next_start"] = start + limit
            return json_response({"success": True, "data": page, "additional_data": extra})

        @app.get("/api/v1/users/<user_id>")
        @app.get("/v1/users/<user_id>")
        def get_user(user_id: str) -> Response:
            user = double.get("users", user_id)
            if user is None:
                return json_response({"success": False, "error": "User not found"}, 404)
            return json_response({"success": True, "data": user})


VENDOR = Pipedrive()
