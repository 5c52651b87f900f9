"""Zoho CRM v8 double: the refresh-token grant at /oauth/v2/token, records by id (Deals, Accounts,
Contacts, Products) with `fields`, a deal's related lists (Products, Contact_Roles), users by id,
PUT of one record or of up to 100 (per-item status); `Authorization: Zoho-oauthtoken`; 429
TOO_MANY_REQUESTS when rate limited.

Shapes follow vendor/zoho/json_details.record.json (the structure file of Zoho's Apache-2.0 Python
SDK for API v8). Every answer wraps records in a `data` array, even for one record.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Flask, Response, request

from . import seed
from .core import Double, empty_response, json_response

MODULES = ("Deals", "Accounts", "Contacts", "Products")
TOKEN_SECONDS = 3600
# A refresh token may mint at most 10 access tokens in 10 minutes (Zoho's OAuth limits).
REFRESH_LIMIT, REFRESH_WINDOW = 10, 600
DEAL_STAGES = ("Qualification", "Needs Analysis", "Value Proposition", "Identify Decision Makers",
               "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost",
               "Closed-Lost to Competition")
READ_ONLY = {"id", "Created_Time", "Modified_Time", "Created_By", "Modified_By"}
ORG_OFFSET = timezone(timedelta(hours=8))  # the org's time zone: datetimes carry its offset
# The integration user the double's writes are attributed to.
API_USER = {"name": "王敏", "id": seed.SEED_IDS["zoho"]["owner"]}


def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    return json_response({"code": code, "details": details or {}, "message": message, "status": "error"}, status)


def _invalid_token() -> Response:
    return _error(401, "INVALID_TOKEN", "invalid oauth token")


def _org_time() -> str:
    return datetime.now(ORG_OFFSET).replace(microsecond=0).isoformat()


def _positive(name: str, default: int) -> int:
    value = request.args.get(name) or ""
    return int(value) if value.isdigit() and int(value) > 0 else default


def _item_error(code: str, message: str, api_name: str, index: int, **details: Any) -> dict[str, Any]:
    return {"code": code, "details": {**details, "api_name": api_name, "json_path": f"$.data[{index}].{api_name}"},
            "message": message, "status": "error"}


class Zoho:
    name = "zoho"
    record_types: tuple[str, ...] = (*MODULES, "users", "related")
    rate_limit_variants: tuple[str, ...] = ("concurrency",)

    def seed(self) -> dict[str, dict[str, dict[str, Any]]]:
        return seed.zoho()

    def is_open(self, path: str) -> bool:
        return path == "/oauth/v2/token"

    def authenticate(self, double: Double) -> Response | None:
        header = request.headers.get("Authorization") or ""
        if not header:
            return _error(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        scheme, _, token = header.partition(" ")
        if scheme != "Zoho-oauthtoken":  # "Bearer" is refused: the literal word is Zoho's
            return _invalid_token()
        token = token.strip()
        with double.lock:
            expires = double.scratch.setdefault("tokens", {}).get(token)
        if token == seed.CREDENTIALS["zoho"]["access_token"] or (expires is not None and expires > time.time()):
            return None
        return _invalid_token()

    def extra_headers(self, double: Double) -> dict[str, str]:
        return {}  # Zoho documents no rate-limit headers

    def fault_response(self, double: Double, mode: str, variant: str | None) -> Response:
        if mode == "unauthorized":
            return _invalid_token()
        if mode == "down":
            return _error(503, "INTERNAL_ERROR", "Internal server error occurred.")
        return _error(429, "TOO_MANY_REQUESTS", "The number of concurrent requests has exceeded the limit")

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _fields_param() -> list[str] | None:
        wanted = [f.strip() for f in (request.args.get("fields") or "").split(",") if f.strip()]
        return wanted or None

    @staticmethod
    def _select(record: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
        if wanted is None:
            return record
        return {"id": record["id"], **{k: record[k] for k in wanted if k in record and k != "id"}}

    def _invalid_value(self, module: str, name: str, value: Any) -> tuple[str, str, dict[str, Any]] | None:
        if name in READ_ONLY:
            return "INVALID_DATA", "invalid data", {}
        if value is None:
            return None
        if name in ("Amount", "Unit_Price", "Probability") and (isinstance(value, bool)
                                                                 or not isinstance(value, int | float)):
            return "INVALID_DATA", "invalid data", {"expected_data_type": "double"}
        if module == "Deals" and name == "Stage" and value not in DEAL_STAGES:
            return "INVALID_DATA", "invalid data", {"expected_data_type": "picklist"}
        if name in ("Account_Name", "Contact_Name") and not (isinstance(value, dict) and "id" in value):
            return "INVALID_DATA", "invalid data", {"expected_data_type": "lookup"}
        return None

    def _update(self, double: Double, module: str, index: int, item: Any, record_id: str | None
                ) -> dict[str, Any]:
        """One item of a PUT: SUCCESS with details, or the item's error."""
        if not isinstance(item, dict):
            return _item_error("INVALID_DATA", "invalid data", "data", index, expected_data_type="jsonobject")
        record_id = record_id or (str(item["id"]) if item.get("id") is not None else None)
        if record_id is None:
            return _item_error("MANDATORY_NOT_FOUND", "required field not found", "id", index)
        with double.lock:
            record = double.get(module, record_id)
            if record is None:
                return _item_error("INVALID_DATA", "the id given seems to be invalid", "id", index)
            for name, value in item.items():
                if name == "id":
                    continue
                problem = self._invalid_value(module, name, value)
                if problem is not None:
                    code, message, details = problem
                    return _item_error(code, message, name, index, **details)
            # A lookup is written as {"id"} and read back as {"name", "id"}.
            for name, value in item.items():
                if name == "id":
                    continue
                if isinstance(value, dict) and set(value) == {"id"}:
                    value = self._lookup(double, str(value["id"])) or value
                record[name] = value
            record["Modified_Time"] = _org_time()
            record["Modified_By"] = API_USER
            double.put(module, record_id, record)
        return {"code": "SUCCESS", "details": {"Modified_Time": record["Modified_Time"], "Modified_By": API_USER,
                                               "Created_Time": record["Created_Time"], "id": record["id"],
                                               "Created_By": {k: record["Created_By"][k] for k in ("name", "id")},
                                               "$approval_state": "approved"},
                "message": "record updated", "status": "success"}

    @staticmethod
    def _lookup(double: Double, record_id: str) -> dict[str, str] | None:
        names = {"Accounts": "Account_Name", "Contacts": "Full_Name", "Products": "Product_Name",
                 "Deals": "Deal_Name"}
        for module, field in names.items():
            record = double.get(module, record_id)
            if record is not None:
                return {"name": record.get(field, ""), "id": record_id}
        return None

    def _put(self, double: Double, module: str, record_id: str | None) -> Response:
        body = request.get_json(silent=True, force=True)
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return _error(400, "INVALID_DATA", "invalid data", {"expected_data_type": "jsonarray", "api_name": "data",
                                                                "json_path": "$.data"})
        if len(items) > 100 or (record_id is not None and len(items) > 1):
            return _error(400, "LIMIT_EXCEEDED", "Record count exceeded",
                          {"limit": 1 if record_id else 100})
        results = [self._update(double, module, n, item, record_id) for n, item in enumerate(items)]
        # Per-item status on 200; when no item could be written the answer is 400 with the same body.
        status = 200 if any(r["status"] == "success" for r in results) else 400
        return json_response({"data": results}, status)

    # -- routes -----------------------------------------------------------------------------------

    def register(self, app: Flask, double: Double) -> None:
        @app.post("/oauth/v2/token")
        def token() -> Response:
            creds = seed.CREDENTIALS["zoho"]
            params = {**request.args.to_dict(), **request.form.to_dict()}  # query or form, never JSON
            if params.get("grant_type") != "refresh_token":
                return json_response({"error": "unsupported_grant_type"})
            if params.get("client_id") != creds["client_id"] or params.get("client_secret") != creds["client_secret"]:
                return json_response({"error": "invalid_client"})
            refresh = params.get("refresh_token")
            if refresh != creds["refresh_token"]:
                return json_response({"error": "invalid_code"})  # HTTP 200: check the body for `error`
            now = time.time()
            with double.lock:
                minted: list[float] = [t for t in double.scratch.get("refreshes", []) if t > now - REFRESH_WINDOW]
                if len(minted) >= REFRESH_LIMIT:
                    double.scratch["refreshes"] = minted
                    return json_response({"error_description": "You have made too many requests continuously. "
                                          "Please try again after some time.", "error": "Access Denied",
                                          "status": "failure"}, 400)
                double.scratch["refreshes"] = [*minted, now]
                access = f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}"
                double.scratch.setdefault("tokens", {})[access] = now + TOKEN_SECONDS
            return json_response({"access_token": access, "scope": "ZohoCRM.modules.ALL ZohoCRM.users.READ",
                                  "api_domain": double.base_url, "token_type": "Bearer",
                                  "expires_in": TOKEN_SECONDS})

        @app.get("/crm/v8/<module>/<record_id>")
        def get_record(module: str, record_id: str) -> Response:
            if module not in MODULES:
                return _error(400, "INVALID_MODULE", "The module name given seems to be invalid")
            if not record_id.isdigit():
                return _error(400, "INVALID_DATA", "the id given seems to be invalid",
                              {"api_name": "id", "json_path": "$.id"})
            record = double.get(module, record_id)
            if record is None:
                return empty_response(204)  # no such record: 204, no body to parse
            return json_response({"data": [self._select(record, self._fields_param())]})

        @app.get("/crm/v8/<module>/<record_id>/<related>")
        def related_records(module: str, record_id: str, related: str) -> Response:
            if module not in MODULES or double.get(module, record_id) is None:
                return _error(400, "INVALID_DATA", "the id given seems to be invalid",
                              {"api_name": "id", "json_path": "$.id"})
            link = double.get("related", f"{module}/{record_id}/{related}")
            if link is None:
                return empty_response(204)
            target = {"Products": "Products", "Contact_Roles": "Contacts"}.get(related, related)
            rows = [r for r in (double.get(target, i) for i in link.get("ids", [])) if r is not None]
            if not rows:
                return empty_response(204)
            page, per_page = _positive("page", 1), min(200, _positive("per_page", 200))
            chunk = rows[(page - 1) * per_page: page * per_page]
            wanted = self._fields_param()
            return json_response({"data": [self._select(r, wanted) for r in chunk],
                                  "info": {"per_page": per_page, "count": len(chunk), "page": page,
                                           "more_records": page * per_page < len(rows)}})

        @app.put("/crm/v8/<module>/<record_id>")
        def update_record(module: str, record_id: str) -> Response:
            if module not in MODULES:
                return _error(400, "INVALID_MODULE", "The module name given seems to be invalid")
            return self._put(double, module, record_id)

        @app.put("/crm/v8/<module>")
        def update_records(module: str) -> Response:
            if module not in MODULES:
                return _error(400, "INVALID_MODULE", "The module name given seems to be invalid")
            return self._put(double, module, None)

        @app.get("/crm/v8/users/<user_id>")
        def get_user(user_id: str) -> Response:
            user = double.get("users", user_id)
            if user is None:
                return empty_response(204)
            return json_response({"users": [user]})


VENDOR = Zoho()
