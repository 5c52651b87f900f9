"""`GET /openapi.json`: the OpenAPI 3.1 document of the public API (DESIGN.md's table).

Every operation is described here by hand (`OPERATIONS`), but the document lists only those whose
route is registered on the app, and tests/unit/test_openapi.py fails when the app has a route this
module does not describe: the document cannot drift from app.py in either direction.

The generic webhook body is the pydantic model's own JSON Schema (2020-12, which OpenAPI 3.1
uses), its `$defs` hoisted into `components.schemas`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from chalicelib.contracts.lifecycle import Status

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
CONTRACT_TYPES = ["sales", "service", "partner", "supplier"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref("Error"))}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _query(name: str, description: str, schema: dict[str, Any] | None = None,
            required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


CONTRACT_ID = _path_param("contract_id", "the contract id (ctr_…)")
SECURED = [{"apiKey": []}]
PUBLIC: list[dict[str, list[str]]] = []
AUTH_ERRORS = {"401": _error("missing or unknown API key"), "404": _error("no such contract for this key's tenant")}
HTML = {"text/html": {"schema": {"type": "string"}}}
DECIMAL = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$", "examples": ["89600.00"]}
NULLABLE_STRING = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "examples": ["validation_error"]},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {
                    "type": "object", "required": ["path", "message"],
                    "properties": {"path": {"type": "string", "examples": ["contract.payment.milestones[0].due_date"]},
                                   "message": {"type": "string"}}}},
            }}},
    },
    "WebhookAccepted": {
        "type": "object", "required": ["contract_id", "status"],
        "properties": {"contract_id": {"type": "string"}, "status": {"type": "string"}},
    },
    "Status": {"type": "string", "enum": [s.value for s in Status]},
    "SignerSummary": {
        "type": "object", "required": ["position", "status"],
        "properties": {"position": {"type": "integer", "minimum": 1}, "name": {"type": "string"},
                       "status": {"type": "string"}},
    },
    "ContractSummary": {
        "type": "object",
        "required": ["contract_id", "status", "type", "number", "crm_record_id", "signers", "updated_at"],
        "properties": {
            "contract_id": {"type": "string"}, "status": _ref("Status"),
            "type": {"type": "string", "enum": CONTRACT_TYPES}, "number": {"type": "string"},
            "title": NULLABLE_STRING, "crm_record_id": {"type": "string"},
            "amount": NULLABLE_STRING, "currency": NULLABLE_STRING,
            "end_date": {"type": ["string", "null"], "format": "date"},
            "signers": {"type": "array", "items": _ref("SignerSummary")},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "ContractList": {
        "type": "object", "required": ["contracts", "next_cursor"],
        "properties": {"contracts": {"type": "array", "items": _ref("ContractSummary")},
                       "next_cursor": {"type": ["string", "null"],
                                       "description": "pass as `cursor` for the next page; null on the last"}},
    },
    "ContractDetail": {
        "type": "object", "required": ["contract_id", "status", "type", "signers"],
        "description": "the contract view: status, signers, documents with sha256, milestones (paid versus "
                       "planned), the term in force and (on GET) the timeline of events",
        "properties": {
            "contract_id": {"type": "string"}, "status": _ref("Status"),
            "status_reason": NULLABLE_STRING, "type": {"type": "string", "enum": CONTRACT_TYPES},
            "number": {"type": "string"}, "title": NULLABLE_STRING, "crm_record_id": {"type": "string"},
            "signers": {"type": "array", "items": {"type": "object"}},
            "documents": {"type": "object"}, "milestones": {"type": "object"},
            "timeline": {"type": "array", "items": {
                "type": "object", "required": ["type", "at"],
                "properties": {"type": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
                               "status": NULLABLE_STRING, "detail": {"type": "object"}}}},
        },
    },
    "MilestoneExecution": {
        "description": "a payment (an amount below what is due is a partial payment) or a delivery",
        "oneOf": [
            {"type": "object", "required": ["status"], "properties": {
                "status": {"const": "paid"}, "amount": DECIMAL, "paid_on": {"type": "string", "format": "date"},
                "reference": {"type": "string", "maxLength": 200}}},
            {"type": "object", "required": ["status"], "properties": {
                "status": {"const": "delivered"}, "delivered_on": {"type": "string", "format": "date"}}},
        ],
    },
    "Reason": {
        "type": "object", "properties": {"reason": {"type": "string"}},
    },
    "SigningLink": {
        "type": "object", "required": ["url", "expires_at"],
        "properties": {"url": {"type": "string", "format": "uri"}, "expires_at": {"type": "string"}},
    },
    "AnalyticsSummary": {
        "type": "object",
        "required": ["from", "to", "contracts", "by_status", "by_type", "value_by_currency", "time_to_sign_hours",
                     "reminders_sent", "overdue_payments"],
        "properties": {
            "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
            "contracts": {"type": "integer"},
            "by_status": {"type": "object", "additionalProperties": {"type": "integer"}},
            "by_type": {"type": "object", "additionalProperties": {"type": "integer"}},
            "value_by_currency": {"type": "object", "additionalProperties": DECIMAL},
            "signed_value_by_currency": {"type": "object", "additionalProperties": DECIMAL},
            "time_to_sign_hours": {"type": "object", "properties": {
                "count": {"type": "integer"}, "median": {"type": ["number", "null"]},
                "p90": {"type": ["number", "null"]}}},
            "reminders_sent": {"type": "integer"},
            "overdue_payments": {"type": "object", "properties": {
                "count": {"type": "integer"},
                "by_currency": {"type": "object", "additionalProperties": {
                    "type": "object", "properties": {"count": {"type": "integer"}, "open_amount": DECIMAL}}}}},
        },
    },
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
}


def _gate(action: str, reason_required: bool) -> dict[str, Any]:
    return {
        "summary": f"{action.capitalize()} a contract",
        "security": SECURED, "parameters": [CONTRACT_ID],
        "requestBody": {"required": reason_required, "content": _json(_ref("Reason"))},
        "responses": {"200": {"description": "the contract's new status", "content": _json(_ref("ContractDetail"))},
                      "400": _error("malformed body"), **AUTH_ERRORS,
                      "409": _error("not allowed from the contract's current status"),
                      "422": _error("invalid body")},
    }


# (path as Chalice spells it, method) -> the operation.
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("/health", "GET"): {
        "summary": "Liveness", "security": PUBLIC,
        "responses": {"200": {"description": "alive", "content": _json(_ref("Health"))}},
    },
    ("/openapi.json", "GET"): {
        "summary": "This document", "security": PUBLIC,
        "responses": {"200": {"description": "the OpenAPI 3.1 document", "content": _json({"type": "object"})}},
    },
    ("/v1/webhooks/{source_id}", "POST"): {
        "summary": "A CRM's contract event (created, updated, cancelled)",
        "description": "Signed by the source's scheme (generic: Standard Webhooks `webhook-id`, "
                       "`webhook-timestamp`, `webhook-signature`). The generic source's body is shown; other "
                       "sources post their CRM's own payload (Salesforce: SOAP, answered with its acknowledgement).",
        "security": PUBLIC, "parameters": [_path_param("source_id", "the CRM source")],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": _ref("WebhookEnvelope")},
            "text/xml": {"schema": {"type": "string"}},
            "application/x-www-form-urlencoded": {"schema": {"type": "string"}},
        }},
        "responses": {
            "200": {"description": "a repeat delivery: the same answer", "content": _json(_ref("WebhookAccepted"))},
            "202": {"description": "accepted: a new contract", "content": _json(_ref("WebhookAccepted"))},
            "400": _error("malformed"), "401": _error("bad, missing or stale signature"),
            "404": _error("unknown source"), "413": _error("larger than 256 KiB"),
            "415": _error("wrong content type"), "422": _error("a required clause is missing (every path listed)"),
        },
    },
    ("/v1/esign/docusign/connect", "POST"): {
        "summary": "DocuSign Connect listener (HMAC in X-DocuSign-Signature-1..N)", "security": PUBLIC,
        "requestBody": {"required": True, "content": _json({"type": "object"})},
        "responses": {"200": {"description": "received", "content": _json({"type": "object"})},
                      "401": _error("bad signature")},
    },
    ("/v1/contracts", "GET"): {
        "summary": "List the tenant's contracts (paginated)", "security": SECURED,
        "parameters": [
            _query("status", "one or more statuses, comma-separated"),
            _query("type", "contract type", {"type": "string", "enum": CONTRACT_TYPES}),
            _query("crm_record_id", "exact CRM record id"),
            _query("expiring_before", "term ends before this date", {"type": "string", "format": "date"}),
            _query("limit", "page size (default 50)", {"type": "integer", "minimum": 1, "maximum": 200}),
            _query("cursor", "next_cursor of the previous page"),
        ],
        "responses": {"200": {"description": "a page", "content": _json(_ref("ContractList"))},
                      "400": _error("a bad filter value or a tampered cursor"), "401": AUTH_ERRORS["401"]},
    },
    ("/v1/contracts/{contract_id}", "GET"): {
        "summary": "A contract: status, signers, milestones, document hashes, timeline", "security": SECURED,
        "parameters": [CONTRACT_ID],
        "responses": {"200": {"description": "the contract", "content": _json(_ref("ContractDetail"))},
                      **AUTH_ERRORS},
    },
    ("/v1/contracts/{contract_id}/approve", "POST"): _gate("approve", False),
    ("/v1/contracts/{contract_id}/reject", "POST"): _gate("reject", True),
    ("/v1/contracts/{contract_id}/void", "POST"): _gate("void", True),
    ("/v1/contracts/{contract_id}/milestones/{milestone_id}", "POST"): {
        "summary": "Record a payment (full or partial) or a delivery", "security": SECURED,
        "parameters": [CONTRACT_ID, _path_param("milestone_id", "the milestone's id in the contract")],
        "requestBody": {"required": True, "content": _json(_ref("MilestoneExecution"))},
        "responses": {"200": {"description": "the milestone after recording", "content": _json({"type": "object"})},
                      "400": _error("malformed body"), **AUTH_ERRORS,
                      "409": _error("the contract is not in force"), "422": _error("invalid body")},
    },
    ("/v1/contracts/{contract_id}/document", "GET"): {
        "summary": "A short-lived S3 URL of the rendered or signed document", "security": SECURED,
        "parameters": [CONTRACT_ID, _query("version", "which document",
                                           {"type": "string", "enum": ["rendered", "signed"]})],
        "responses": {"302": {"description": "redirect to the document",
                              "headers": {"Location": {"schema": {"type": "string"}}}},
                      "400": _error("unknown version"), **AUTH_ERRORS},
    },
    ("/v1/contracts/{contract_id}/signing-link", "GET"): {
        "summary": "A stable signing link for signer N", "security": SECURED,
        "parameters": [CONTRACT_ID, _query("signer", "the signer's 1-based position in signers[]",
                                           {"type": "integer", "minimum": 1}, required=True)],
        "responses": {"200": {"description": "the link", "content": _json(_ref("SigningLink"))},
                      "400": _error("bad signer"), **AUTH_ERRORS, "409": _error("not signable now")},
    },
    ("/v1/contracts/preview", "POST"): {
        "summary": "Validate and render a contract; send nothing", "security": SECURED,
        "requestBody": {"required": True, "content": _json(_ref("WebhookEnvelope"))},
        "responses": {"200": {"description": "the rendered contract", "content": HTML},
                      "400": _error("malformed body"), "401": AUTH_ERRORS["401"],
                      "422": _error("invalid contract (every path listed)")},
    },
    ("/v1/analytics/summary", "GET"): {
        "summary": "Counts, value, time to sign, reminders and overdue payments of contracts created in "
                   "[from, to]", "security": SECURED,
        "parameters": [_query("from", "first day (default: 90 days before to)", {"type": "string", "format": "date"}),
                       _query("to", "last day (default: today, UTC)", {"type": "string", "format": "date"})],
        "responses": {"200": {"description": "the summary", "content": _json(_ref("AnalyticsSummary"))},
                      "400": _error("bad dates"), "401": AUTH_ERRORS["401"]},
    },
    ("/sign/{token}", "GET"): {
        "summary": "Open a signing link: a fresh DocuSign recipient view", "security": PUBLIC,
        "parameters": [_path_param("token", "the signing link's token")],
        "responses": {"302": {"description": "to DocuSign's signing page"},
                      "200": {"description": "a page explaining why signing is not possible now", "content": HTML},
                      "404": {"description": "unknown or expired link", "content": HTML}},
    },
    ("/signed", "GET"): {
        "summary": "The page signers return to (zh-CN or en)", "security": PUBLIC,
        "parameters": [_query("event", "DocuSign's event"), _query("lang", "zh-CN or en"),
                       _query("contract", "the contract number")],
        "responses": {"200": {"description": "thank-you page", "content": HTML}},
    },
}


def _webhook_schemas() -> dict[str, Any]:
    from chalicelib.contracts.model import WebhookEnvelope

    schema = WebhookEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {**defs, "WebhookEnvelope": schema}


def _operation_id(path: str, method: str) -> str:
    words = [w.strip("{}").replace("-", "_").replace(".", "_") for w in path.split("/") if w]
    return "_".join([method.lower(), *words]) or method.lower()


@lru_cache(maxsize=4)
def _document(routes: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for path, method in routes:
        operation = OPERATIONS.get((path, method))
        if operation is None:
            continue  # undocumented: tests/unit/test_openapi.py fails on it
        paths.setdefault(path, {})[method.lower()] = {"operationId": _operation_id(path, method), **operation}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "signbridge", "version": API_VERSION,
                 "description": "CRM contracts to DocuSign e-signature, tracked. Errors always have the "
                                "`Error` shape."},
        "servers": [{"url": "/"}],
        "security": SECURED,
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "an API key: `Authorization: Bearer <key>`"}},
            "schemas": {**_webhook_schemas(), **SCHEMAS},
        },
    }


def route_keys(routes: Mapping[str, Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """(path, method) of every route of a Chalice app (`app.routes`)."""
    return tuple(sorted((path, method.upper()) for path, methods in routes.items() for method in methods))


def openapi_document(routes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The document for the app's routes (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document(route_keys(routes)))
