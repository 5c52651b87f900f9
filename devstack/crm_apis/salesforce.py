"""Salesforce REST double: sObject rows (Contract, Opportunity, OpportunityLineItem, Account,
Contact, User, Product2) by id or external id, PATCH → 204 with no body, a small SOQL subset for
related lists, the refresh-token grant; Bearer session ids; errors as JSON arrays; 403
REQUEST_LIMIT_EXCEEDED (not 429) with Sforce-Limit-Info when rate limited.

Sources: the REST API developer guide on developer.salesforce.com (sObject Rows, Update a Record,
Status Codes and Error Responses, Query) and the Contract field reference.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Any

from flask import Flask, Response, request

from . import seed
from .core import Double, empty_response, json_response, now_utc

API_VERSION = re.compile(r"v(\d{2,3}\.\d)")
DAILY_API_REQUESTS = 15_000  # a Developer Edition org's 24-hour allocation
READ_ONLY = {"Id", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp",
             "IsDeleted"}
READ_ONLY_BY_TYPE = {
    "Contract": {"ContractNumber", "EndDate", "StatusCode", "ActivatedDate", "ActivatedById"},
    "Contact": {"Name"},
    "User": {"Name"},
    "OpportunityLineItem": {"ListPrice", "ProductCode", "Name", "OpportunityId", "Product2Id"},
    "Opportunity": {"HasOpportunityLineItem"},
}
# Contract.Status is a restricted picklist; each value belongs to a fixed StatusCode category.
CONTRACT_STATUS = {"Draft": "Draft", "In Approval Process": "InApproval", "Activated": "Activated"}
ID_PREFIX = {"800": "Contract", "001": "Account", "003": "Contact", "005": "User", "006": "Opportunity",
             "00k": "OpportunityLineItem", "01t": "Product2"}
REST_PREFIX = "/services/data/<version>"


def _errors(status: int, code: str, message: str, fields: list[str] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    """Salesforce's REST errors: always a JSON array, even for one error."""
    error: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        error["fields"] = fields
    return json_response([error], status, headers)


def _not_found() -> Response:
    return _errors(404, "NOT_FOUND", "The requested resource does not exist")


def _timestamp() -> str:
    """2026-11-26T02:15:07.000+0000, Salesforce's datetime form."""
    return now_utc().strftime("%Y-%m-%dT%H:%M:%S.") + f"{now_utc().microsecond // 1000:03d}+0000"


def _end_date(start: str, months: int) -> str:
    """A contract's EndDate: StartDate plus ContractTerm months, less a day (Salesforce derives it)."""
    first = date.fromisoformat(start)
    month = first.month - 1 + months
    year, month = first.year + month // 12, month % 12 + 1
    day = min(first.day, calendar.monthrange(year, month)[1])
    return (date(year, month, day) - timedelta(days=1)).isoformat()


class SoqlError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>\w+(?:\.\w+)?)(?:\s+(?P<dir>ASC|DESC))?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CONDITION = re.compile(
    r"^\s*(?P<field>\w+(?:\.\w+)?)\s*(?:(?P<op>=|!=)\s*(?P<value>'(?:[^'\\]|\\.)*'|[\w.\-]+)"
    r"|\s+(?P<not>NOT\s+)?IN\s*\((?P<list>[^)]*)\))\s*$",
    re.IGNORECASE,
)


def _literal(token: str) -> Any:
    token = token.strip()
    if token.startswith("'"):
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    if token.lower() in ("true", "false"):
        return token.lower() == "true"
    if token.lower() == "null":
        return None
    try:
        return float(token) if "." in token else int(token)
    except ValueError:
        return token  # a date literal (2026-12-01) compares as text


class Salesforce:
    name = "salesforce"
    record_types: tuple[str, ...] = ("Contract", "Opportunity", "OpportunityLineItem", "Account", "Contact", "User",
                                     "Product2")
    rate_limit_variants: tuple[str, ...] = ("daily",)

    def seed(self) -> dict[str, dict[str, dict[str, Any]]]:
        return seed.salesforce()

    def is_open(self, path: str) -> bool:
        return path == "/services/oauth2/token"

    def authenticate(self, double: Double) -> Response | None:
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() in ("bearer", "oauth") and token.strip() == seed.CREDENTIALS["salesforce"]["access_token"]:
            return None
        return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def extra_headers(self, double: Double) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={double.api_calls}/{DAILY_API_REQUESTS}"}

    def fault_response(self, double: Double, mode: str, variant: str | None) -> Response:
        if mode == "unauthorized":
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if mode == "down":
            return _errors(503, "SERVER_UNAVAILABLE", "Server unavailable (CRM double fault injection).")
        # The org's 24-hour allocation is spent: 403, not 429, and no Retry-After.
        return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.",
                       headers={"Sforce-Limit-Info": f"api-usage={DAILY_API_REQUESTS}/{DAILY_API_REQUESTS}"})

    # -- helpers ------------------------------------------------------------------------------------

    @staticmethod
    def _field(record: dict[str, Any], name: str) -> str | None:
        """The record's spelling of a field name (SOQL and `fields=` are case-insensitive)."""
        lower = name.lower()
        return next((key for key in record if key.lower() == lower), None)

    @staticmethod
    def _find_any(double: Double, record_id: str) -> tuple[str, dict[str, Any]] | None:
        for kind in double.records:
            record = double.get(kind, record_id)
            if record is not None:
                return kind, record
        return None

    def _row(self, double: Double, kind: str, record: dict[str, Any], version: str,
             fields: list[str] | None) -> dict[str, Any]:
        row: dict[str, Any] = {"attributes": {"type": kind,
                                              "url": f"/services/data/{version}/sobjects/{kind}/{record['Id']}"}}
        if fields is None:
            row.update(record)
            return row
        for name in fields:
            if "." in name:
                relation, _, target = name.partition(".")
                self._related(double, record, relation, target, version, row)
            else:
                key = self._field(record, name)
                if key is None:
                    raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{kind}'. If you are "
                                    "attempting to use a custom field, be sure to append the '__c' after the custom "
                                    "field name. Please reference your WSDL or the describe call for the "
                                    "appropriate names.")
                row[key] = record[key]
        return row

    def _related(self, double: Double, record: dict[str, Any], relation: str, target: str, version: str,
                 row: dict[str, Any]) -> None:
        """Account.Name: follow AccountId (or Rel__r through Rel__c) and nest the parent's field."""
        id_field = relation[:-3] + "__c" if relation.endswith("__r") else relation + "Id"
        key = self._field(record, id_field)
        if key is None:
            raise SoqlError("INVALID_FIELD", f"Didn't understand relationship '{relation}' in field path.")
        parent_id = record.get(key)
        found = self._find_any(double, parent_id) if parent_id else None
        if found is None:
            row[relation] = None
            return
        kind, parent = found
        nested = row.get(relation) or {"attributes": {"type": kind,
                                                      "url": f"/services/data/{version}/sobjects/{kind}/{parent_id}"}}
        field = self._field(parent, target)
        if field is None:
            raise SoqlError("INVALID_FIELD", f"No such column '{target}' on entity '{kind}'.")
        nested[field] = parent[field]
        row[relation] = nested

    def _query(self, double: Double, soql: str, version: str) -> dict[str, Any]:
        match = _QUERY.match(soql)
        if not match:
            raise SoqlError("MALFORMED_QUERY", "unexpected token: the CRM double understands SELECT fields FROM "
                            "object [WHERE a = 'x' [AND …]] [ORDER BY f [ASC|DESC]] [LIMIT n]")
        kind = next((k for k in self.record_types if k.lower() == match["object"].lower()), None)
        if kind is None:
            raise SoqlError("INVALID_TYPE", f"sObject type '{match['object']}' is not supported. If you are "
                            "attempting to use a custom object, be sure to append the '__c' after the entity name.")
        fields = [f.strip() for f in match["fields"].split(",") if f.strip()]
        if any("(" in f or " " in f for f in fields):
            raise SoqlError("MALFORMED_QUERY", "subqueries and functions are beyond the CRM double")
        conditions = []
        for clause in re.split(r"\s+AND\s+", match["where"] or "", flags=re.IGNORECASE) if match["where"] else []:
            cond = _CONDITION.match(clause)
            if not cond:
                raise SoqlError("MALFORMED_QUERY", f"unexpected token in WHERE: {clause.strip()}")
            conditions.append(cond)
        rows = []
        for record in double.all(kind):
            if all(self._holds(record, cond) for cond in conditions):
                rows.append(record)
        if match["order"]:
            key = match["order"]
            rows.sort(key=lambda r: str(r.get(self._field(r, key) or key) or ""),
                      reverse=(match["dir"] or "").upper() == "DESC")
        if match["limit"]:
            rows = rows[: int(match["limit"])]
        records = [self._row(double, kind, r, version, fields) for r in rows]
        return {"totalSize": len(records), "done": True, "records": records}

    def _holds(self, record: dict[str, Any], cond: re.Match[str]) -> bool:
        key = self._field(record, cond["field"])
        if key is None:
            raise SoqlError("INVALID_FIELD", f"No such column '{cond['field']}' on entity.")
        value = record[key]
        if cond["op"]:
            equal = value == _literal(cond["value"])
            return equal if cond["op"] == "=" else not equal
        options = [_literal(part) for part in re.findall(r"'(?:[^'\\]|\\.)*'|[^,\s]+", cond["list"])]
        return (value in options) != bool(cond["not"])

    # -- routes ---------------------------------------------------------------------------------------

    def register(self, app: Flask, double: Double) -> None:
        def version_ok(version: str) -> bool:
            return bool(API_VERSION.fullmatch(version))

        @app.get(f"{REST_PREFIX}/sobjects/<kind>/<record_id>")
        def get_row(version: str, kind: str, record_id: str) -> Response:
            if not version_ok(version) or kind not in self.record_types:
                return _not_found()
            record = double.get(kind, record_id) or self._by_short_id(double, kind, record_id)
            if record is None:
                return _not_found()
            fields = [f.strip() for f in (request.args.get("fields") or "").split(",") if f.strip()] or None
            try:
                return json_response(self._row(double, kind, record, version, fields))
            except SoqlError as exc:
                return _errors(400, exc.code, str(exc))

        @app.get(f"{REST_PREFIX}/sobjects/<kind>/<field>/<path:value>")
        def get_by_external_id(version: str, kind: str, field: str, value: str) -> Response:
            if not version_ok(version) or kind not in self.record_types:
                return _not_found()
            rows = [r for r in double.all(kind) if str(r.get(self._field(r, field) or "", "")) == value]
            if not rows:
                return _not_found()
            if len(rows) > 1:  # several matches: 300 with their URLs
                return json_response([f"/services/data/{version}/sobjects/{kind}/{r['Id']}" for r in rows], 300)
            return json_response(self._row(double, kind, rows[0], version, None))

        @app.patch(f"{REST_PREFIX}/sobjects/<kind>/<record_id>")
        def patch_row(version: str, kind: str, record_id: str) -> Response:
            if not version_ok(version) or kind not in self.record_types:
                return _not_found()
            body = request.get_json(silent=True, force=True)
            if not isinstance(body, dict):
                return _errors(400, "JSON_PARSER_ERROR", "Unexpected end-of-input: expected close marker for "
                               "OBJECT (the body must be a JSON object)")
            with double.lock:
                record = double.get(kind, record_id) or self._by_short_id(double, kind, record_id)
                if record is None:
                    return _not_found()
                problem = self._check_update(kind, record, body)
                if problem is not None:
                    return problem
                record.update(body)
                self._derive(kind, record)
                stamp = _timestamp()
                record["LastModifiedDate"] = record["SystemModstamp"] = stamp
                double.put(kind, record["Id"], record)
            return empty_response(204)

        @app.get(f"{REST_PREFIX}/query")
        @app.get(f"{REST_PREFIX}/query/")
        def query(version: str) -> Response:
            soql = request.args.get("q")
            if not soql:
                return _errors(400, "MALFORMED_QUERY", "A query string has to be specified")
            try:
                return json_response(self._query(double, soql, version))
            except SoqlError as exc:
                return _errors(400, exc.code, str(exc))

        @app.post("/services/oauth2/token")
        def token() -> Response:
            creds = seed.CREDENTIALS["salesforce"]
            form = {**request.args.to_dict(), **request.form.to_dict()}  # form body (or query string)
            if form.get("grant_type") != "refresh_token":
                return json_response({"error": "unsupported_grant_type", "error_description": "grant type not "
                                      "supported"}, 400)
            if form.get("client_id") != creds["client_id"] or (
                    form.get("client_secret") not in (None, creds["client_secret"])):
                return json_response({"error": "invalid_client_id", "error_description": "client identifier "
                                      "invalid"}, 400)
            if form.get("refresh_token") != creds["refresh_token"]:
                return json_response({"error": "invalid_grant", "error_description": "expired access/refresh "
                                      "token"}, 400)
            issued = str(int(now_utc().timestamp() * 1000))
            identity = f"{double.base_url}/id/00D5g000004XyZ1EAK/{seed.SEED_IDS['salesforce']['owner']}"
            # No expires_in: the session lives as long as the org's session timeout.
            return json_response({"access_token": creds["access_token"], "signature": "c2lnbmJyaWRnZS1kb3VibGU=",
                                  "scope": "api refresh_token", "instance_url": double.base_url,
                                  "id": identity,
                                  "token_type": "Bearer", "issued_at": issued})

    @staticmethod
    def _by_short_id(double: Double, kind: str, record_id: str) -> dict[str, Any] | None:
        """A 15-character id names the same record as its 18-character form."""
        if len(record_id) != 15:
            return None
        return next((r for r in double.all(kind) if str(r.get("Id", ""))[:15] == record_id), None)

    def _check_update(self, kind: str, record: dict[str, Any], body: dict[str, Any]) -> Response | None:
        unknown = [name for name in body if self._field(record, name) is None]
        if unknown:
            # One bad field fails the whole update.
            return _errors(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {kind}")
        locked = [name for name in body if name in READ_ONLY | READ_ONLY_BY_TYPE.get(kind, set())]
        if locked:
            return _errors(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                           f"Unable to create/update fields: {', '.join(locked)}. Please check the security settings "
                           "of this field and verify that it is read/write for your profile or permission set.",
                           fields=locked)
        if kind == "Contract" and "Status" in body and body["Status"] not in CONTRACT_STATUS:
            return _errors(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                           f"Status: bad value for restricted picklist field: {body['Status']}", fields=["Status"])
        return None

    @staticmethod
    def _derive(kind: str, record: dict[str, Any]) -> None:
        """What Salesforce computes on save: a contract's StatusCode, activation stamp and EndDate."""
        if kind != "Contract":
            return
        code = CONTRACT_STATUS.get(record.get("Status") or "", record.get("StatusCode"))
        if code == "Activated" and record.get("StatusCode") != "Activated":
            record["ActivatedDate"] = _timestamp()
            record["ActivatedById"] = record.get("OwnerId")
        record["StatusCode"] = code
        if record.get("StartDate") and isinstance(record.get("ContractTerm"), int):
            record["EndDate"] = _end_date(record["StartDate"], record["ContractTerm"])


VENDOR = Salesforce()
