"""`GET /openapi.json`: the OpenAPI 3.1 document of the public API (DESIGN.md's table).

Every operation is described here by hand (`OPERATIONS`), but the document lists only those whose
route is registered on the app, and tests/unit/test_openapi.py fails when the app has a route this
module does not describe: the document cannot drift from app.py in either direction.

The generic webhook body is the pydantic model's own JSON Schema (2020-12, which OpenAPI 3.1
uses), its `$defs` hoisted into `components.schemas`, plus what validation.py checks beyond single
fields and JSON Schema can say: the contract an event needs, and each type's required clauses.

Every constraint the server enforces is declared (required fields, enums, patterns, ranges, every
status a route answers with its schema), so that a request valid here is accepted and one invalid
here refused: tests/integration/test_api_schemathesis.py checks that over HTTP. Rules between fields
that JSON Schema cannot state are listed in the operations' descriptions.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from chalicelib.contracts.lifecycle import Status
from chalicelib.contracts.model import WebhookEnvelope
from chalicelib.contracts.validation import _REQUIRED_WHEN_PRESENT, REQUIRED_CLAUSES
from chalicelib.web import attachments as execution_files
from chalicelib.web.execution_log import AT_PATTERN

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
CONTRACT_TYPES = ["sales", "service", "partner", "supplier"]
EXECUTION_KINDS = ("service_record", "delivery", "acceptance", "communication", "feedback", "settlement")


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
SIGNER = _query("signer", "the signer's 1-based position in signers[]",
                {"type": "integer", "minimum": 1, "maximum": 999999999}, required=True)
# An approval link's token (lifecycle/approval_tokens): the key id, a dot, the sealed claims.
APPROVAL_TOKEN = {**_path_param("token", "the approval link's token (anything else: 404)"),
                  "schema": {"type": "string", "pattern": r"^[0-9a-f]{8}\.[A-Za-z0-9_-]{40,1200}$"}}
# A contract-page link's token (lifecycle/share_tokens): the key id, a dot, the sealed claims.
CONTRACT_PAGE_TOKEN = {**_path_param("token", "the contract-page link's token (anything else: 404)"),
                       "schema": {"type": "string", "pattern": r"^[0-9a-f]{8}\.[A-Za-z0-9_-]{40,1600}$"}}
SECURED: list[dict[str, list[str]]] = [{"apiKey": []}]
PUBLIC: list[dict[str, list[str]]] = []
HTML = {"text/html": {"schema": {"type": "string"}}}
NO_STORE = {"Cache-Control": {"required": True, "schema": {"const": "no-store"}}}
NO_REFERRER = {"Referrer-Policy": {"required": True, "schema": {"const": "no-referrer"}}}
# An ISO date as the server reads it (YYYY-MM-DD, a real day): `format` names it, `pattern` pins
# the shape (Python's fromisoformat alone would take more).
ISO_DATE = {"type": "string", "format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
DECIMAL = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "examples": ["89600.00"]}
AS_OF = _query("as_of", "the day to count from (default: today in the tenant's time zone)", ISO_DATE)
REPORT_FORMAT = _query("format", "json (default) or csv (with a header row)",
                       {"type": "string", "enum": ["json", "csv"]})
CSV = {"text/csv": {"schema": {"type": "string"}}}
# A positive amount: a decimal string above zero, or a whole JSON number from 1 (exact either way).
POSITIVE_AMOUNT = {"anyOf": [
    {"type": "string", "pattern": r"^(?=[0-9.]*[1-9])[0-9]+(\.[0-9]+)?$", "examples": ["38400.00"]},
    {"type": "integer", "minimum": 1},
]}
# Text the server strips before use: something other than whitespace must be in it.
NON_BLANK = {"type": "string", "minLength": 1, "pattern": r"\S"}
NULLABLE_STRING = {"type": ["string", "null"]}
COUNT = {"type": "integer", "minimum": 0}
STATUSES = [s.value for s in Status]
# One or more statuses, comma-separated; spaces around the commas and empty items are forgiven.
STATUS_LIST = (r"^[ ,]*(?:{0})(?: *,[ ,]*(?:{0}))*[ ,]*$").format("|".join(STATUSES))

RETRY_AFTER = {"Retry-After": {"required": True, "description": "seconds until a repeat will likely succeed",
                               "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
UNAUTHORIZED = _error("missing or unknown API key")
NOT_FOUND = _error("no such contract for this key's tenant (another tenant's contract looks the same)")
BUSY = {"description": "temporarily busy (the store or DocuSign; code retry_later), or a deployment missing a "
                       "required setting (code not_configured, see GET /health): repeat the same request after "
                       "Retry-After", "headers": RETRY_AFTER, "content": _json(_ref("Error"))}
UNSUPPORTED_MEDIA_TYPE = _error("the body's content type is not one of those listed")

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
                                   "message": {"type": "string"}, "crm_field": {"type": "string"}}}},
            }}},
    },
    "WebhookAccepted": {
        "type": "object", "required": ["contract_id", "status"],
        "properties": {"contract_id": {"type": "string"}, "status": _ref("Status")},
    },
    "WebhookIgnored": {
        "type": "object", "required": ["status", "reason"],
        "description": "a CRM event that needs no action (nothing stored)",
        "properties": {"status": {"const": "ignored"}, "reason": {"type": "string"}},
    },
    "WebhookEnrichmentPending": {
        "type": "object", "required": ["status", "crm", "object_type", "crm_record_id", "delivery_id", "reason"],
        "description": "the webhook named a CRM record without carrying enough of it: the record is read from the "
                       "CRM's API, then mapped and applied (a repeat of the delivery answers 200, the same)",
        "properties": {"status": {"const": "enrichment_pending"}, "crm": {"type": "string"},
                       "object_type": {"type": "string"}, "crm_record_id": {"type": "string"},
                       "delivery_id": {"type": "string"}, "reason": {"type": "string"}},
    },
    "WebhookResults": {
        "type": "object", "required": ["results"],
        "description": "one request that carried several events: each one's answer, in order",
        "properties": {"results": {"type": "array", "items": {"type": "object"}}},
    },
    "Status": {"type": "string", "enum": STATUSES},
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
    "SignerView": {
        "type": "object", "required": ["position", "name", "email", "routing_order", "delivery", "status"],
        "properties": {
            "position": {"type": "integer", "minimum": 1}, "name": {"type": "string"}, "email": {"type": "string"},
            "routing_order": {"type": "integer", "minimum": 1}, "delivery": {"enum": ["email", "embedded"]},
            "status": {"type": "string"}, "signed_at": NULLABLE_STRING, "declined_reason": NULLABLE_STRING,
        },
    },
    "DocumentRef": {
        "type": ["object", "null"],
        "properties": {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                       "template_version": {"type": ["string", "integer", "null"]}},
    },
    "PaymentMilestoneView": {
        "type": "object",
        "required": ["id", "due_date", "planned_amount", "paid_amount", "remaining", "status", "overdue", "payments"],
        "properties": {
            "id": {"type": "string"}, "name": NULLABLE_STRING, "due_date": {"type": "string"},
            "planned_amount": DECIMAL, "paid_amount": DECIMAL, "remaining": DECIMAL,
            "status": {"enum": ["open", "partially_paid", "paid"]}, "overdue": {"type": "boolean"},
            "payments": {"type": "array", "items": {
                "type": "object", "required": ["amount", "paid_on", "recorded_at", "source"],
                "properties": {"amount": DECIMAL, "paid_on": {"type": "string", "format": "date"},
                               "recorded_at": {"type": "string", "format": "date-time"},
                               "reference": {"type": "string"}, "source": {"type": "string"}}}},
        },
    },
    "DeliveryMilestoneView": {
        "type": "object", "required": ["id", "due_date", "status", "delivered_on", "overdue"],
        "properties": {
            "id": {"type": "string"}, "name": NULLABLE_STRING, "due_date": {"type": "string"},
            "status": {"enum": ["open", "delivered"]}, "overdue": {"type": "boolean"},
            "delivered_on": {"type": ["string", "null"], "format": "date"},
        },
    },
    "MilestoneTotals": {
        "type": "object",
        "required": ["currency", "planned", "paid", "remaining", "payments_settled", "payments_planned",
                     "deliveries_done", "deliveries_planned"],
        "properties": {
            "currency": NULLABLE_STRING, "planned": DECIMAL, "paid": DECIMAL, "remaining": DECIMAL,
            "payments_settled": COUNT, "payments_planned": COUNT, "deliveries_done": COUNT,
            "deliveries_planned": COUNT,
        },
    },
    "Milestones": {
        "type": "object", "required": ["payment", "delivery", "totals"],
        "description": "paid versus planned, per milestone and in total",
        "properties": {"payment": {"type": "array", "items": _ref("PaymentMilestoneView")},
                       "delivery": {"type": "array", "items": _ref("DeliveryMilestoneView")},
                       "totals": _ref("MilestoneTotals")},
    },
    "ContractDetail": {
        "type": "object",
        "required": ["contract_id", "status", "status_reason", "type", "number", "crm_record_id", "signers",
                     "documents", "milestones", "created_at", "updated_at"],
        "description": "the contract view: status, signers, documents with sha256, milestones (paid versus "
                       "planned), the term in force and (on GET) the timeline of events",
        "properties": {
            "contract_id": {"type": "string"}, "status": _ref("Status"),
            "status_reason": NULLABLE_STRING, "type": {"type": "string", "enum": CONTRACT_TYPES},
            "number": {"type": "string"}, "title": NULLABLE_STRING, "crm_record_id": {"type": "string"},
            "source_id": NULLABLE_STRING, "locale": NULLABLE_STRING, "currency": NULLABLE_STRING,
            "amount": {"type": ["string", "integer", "null"]},
            "effective_date": NULLABLE_STRING, "end_date": NULLABLE_STRING, "envelope_id": NULLABLE_STRING,
            "signers": {"type": "array", "items": _ref("SignerView")},
            "documents": {"type": "object", "required": ["rendered", "signed"],
                          "properties": {"rendered": _ref("DocumentRef"), "signed": _ref("DocumentRef")}},
            "milestones": _ref("Milestones"),
            "term": {"type": "object", "required": ["start", "end", "renewals", "auto_renew"], "properties": {
                "start": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date"},
                "renewals": {"type": "integer", "minimum": 0}, "auto_renew": {"type": "boolean"}}},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "execution": {"type": "array", "items": _ref("ExecutionEntry"),
                          "description": "the execution log (GET only), oldest first"},
            "timeline": {"type": "array", "items": {
                "type": "object", "required": ["type", "at"],
                "properties": {"type": {"type": "string"}, "at": {"type": "string", "format": "date-time"},
                               "status": NULLABLE_STRING, "detail": {"type": "object"}}}},
        },
    },
    "MilestoneExecution": {
        "description": "a payment (an amount below what is due is a partial payment) or a delivery. A body "
                       "valid here that does not fit the milestone (a payment on a delivery milestone, more "
                       "than what is still open, finer than the contract's currency) is answered 409.",
        "oneOf": [
            {"type": "object", "required": ["status"], "properties": {
                "status": {"const": "paid"},
                "amount": {"anyOf": [*POSITIVE_AMOUNT["anyOf"], {"type": "null"}],
                           "description": "omitted or null: whatever is still open"},
                "paid_on": {"anyOf": [ISO_DATE, {"type": "null"}], "description": "default: today"},
                "delivered_on": {"type": "null"},
                "reference": {"anyOf": [{**NON_BLANK, "maxLength": 200}, {"type": "null"}],
                              "description": "the payment's own id: a repeat with the same reference is "
                                             "recorded once"}}},
            {"type": "object", "required": ["status"], "properties": {
                "status": {"const": "delivered"},
                "delivered_on": {"anyOf": [ISO_DATE, {"type": "null"}], "description": "default: today"},
                "amount": {"type": "null"}, "paid_on": {"type": "null"},
                "reference": {"anyOf": [{**NON_BLANK, "maxLength": 200}, {"type": "null"}]}}},
        ],
    },
    "MilestoneRecorded": {
        "type": "object", "required": ["contract_id", "milestone", "totals"],
        "properties": {
            "contract_id": {"type": "string"},
            "milestone": {"anyOf": [_ref("PaymentMilestoneView"), _ref("DeliveryMilestoneView")]},
            "totals": _ref("MilestoneTotals"),
            "duplicate": {"const": True, "description": "a repeat of what is already recorded: nothing changed"},
            "reminders": {"type": "object", "additionalProperties": {"type": "integer"},
                          "description": "how the contract's reminders were re-planned"},
        },
    },
    "ApproveBody": {
        "type": "object",
        "properties": {"reason": {"type": ["string", "null"], "maxLength": 1000,
                                  "description": "optional; blank or null is no reason"}},
    },
    "Reason": {
        "type": "object", "required": ["reason"],
        "properties": {"reason": {**NON_BLANK, "maxLength": 1000,
                                  "description": "why (shown in the timeline and sent to the CRM)"}},
    },
    "SigningLink": {
        "type": "object", "required": ["url", "signer", "expires_at", "envelope_expires_at"],
        "properties": {"url": {"type": "string", "format": "uri"}, "signer": {"type": "integer", "minimum": 1},
                       "expires_at": {"type": "string", "format": "date-time",
                                      "description": "the link opens until then (minutes): ask again for a new one"},
                       "envelope_expires_at": {"type": "string", "format": "date-time",
                                               "description": "the signing period: links are handed out until then"}},
    },
    "ShareRequest": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "email": {"type": "string", "minLength": 1, "maxLength": 320, "pattern": "\\S",
                      "description": "whom the link is for (shown on the page, recorded as who acted); default the "
                                     "API key's label"},
            "language": {"enum": ["zh-CN", "en"], "description": "the page's language; default the contract's"},
            "scope": {"type": "array", "items": {"enum": ["paid", "delivered"]},
                      "description": "what the page may record (default none: it only shows)"},
            "milestone_id": {"type": "string", "description": "limit the scope to this milestone of the contract"},
            "expires_in_hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 2160,
                                 "description": "default 720 (30 days)"}},
    },
    "ShareLink": {
        "type": "object", "required": ["url", "link_id", "expires_at", "recipient", "language", "scope"],
        "properties": {"url": {"type": "string", "format": "uri"},
                       "link_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16}$",
                                   "description": "for DELETE …/share/{link_id}"},
                       "expires_at": {"type": "string", "format": "date-time"},
                       "recipient": {"type": "string"}, "language": {"enum": ["zh-CN", "en"]},
                       "scope": {"type": "array", "items": {"enum": ["paid", "delivered"]}},
                       "milestone_id": {"type": ["string", "null"]}},
    },
    "ShareRevoked": {
        "type": "object", "required": ["contract_id", "revoked", "at"],
        "properties": {"contract_id": {"type": "string"},
                       "revoked": {"type": "string", "description": "the link id, or all"},
                       "at": {"type": "string", "format": "date-time"}},
    },
    "SigningLinkRevoked": {
        "type": "object", "required": ["signer", "revoked"],
        "properties": {"signer": {"type": "integer", "minimum": 1},
                       "revoked": {"type": "boolean", "description": "false: the signer had no live link"}},
    },
    "AnalyticsSummary": {
        "type": "object",
        "required": ["from", "to", "contracts", "by_status", "by_type", "value_by_currency", "time_to_sign_hours",
                     "reminders_sent", "overdue_payments"],
        "properties": {
            "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
            "contracts": {"type": "integer", "minimum": 0},
            "by_status": {"type": "object", "additionalProperties": {"type": "integer"}},
            "by_type": {"type": "object", "additionalProperties": {"type": "integer"}},
            "value_by_currency": {"type": "object", "additionalProperties": DECIMAL},
            "signed_value_by_currency": {"type": "object", "additionalProperties": DECIMAL},
            "time_to_sign_hours": {"type": "object", "required": ["count", "median", "p90"], "properties": {
                "count": {"type": "integer"}, "median": {"type": ["number", "null"]},
                "p90": {"type": ["number", "null"]}}},
            "reminders_sent": {"type": "integer", "minimum": 0},
            "execution": {"type": "object", "required": ["by_kind", "open_feedback"], "properties": {
                "by_kind": {"type": "object", "additionalProperties": COUNT,
                            "description": "execution entries recorded on the range's days, per kind"},
                "open_feedback": {**COUNT, "description": "contracts whose latest feedback is open, now"}}},
            "overdue_payments": {"type": "object", "required": ["count", "by_currency"], "properties": {
                "count": {"type": "integer"},
                "by_currency": {"type": "object", "additionalProperties": {
                    "type": "object", "properties": {"count": {"type": "integer"}, "open_amount": DECIMAL}}}}},
        },
    },
    "MoneyFigure": {
        "type": "object", "required": ["count", "amount"],
        "properties": {"count": COUNT, "amount": {**DECIMAL, "description": "in the currency's minor units"}},
    },
    "Receivables": {
        "type": "object", "required": ["as_of", "time_zone", "contracts", "ageing", "expected_by_month"],
        "properties": {
            "as_of": {"type": "string", "format": "date", "description": "the day ages are counted from"},
            "time_zone": {**NULLABLE_STRING, "description": "whose date was today (null: as_of was given)"},
            "contracts": {**COUNT, "description": "contracts in force read"},
            "ageing": {"type": "object", "description": "per currency: open amounts by days past due",
                       "additionalProperties": {
                           "type": "object", "required": ["not_due", "1_30", "31_60", "61_90", "over_90", "total"],
                           "additionalProperties": _ref("MoneyFigure")}},
            "expected_by_month": {"type": "object", "description": "per currency and due month (YYYY-MM): open "
                                                                   "amounts not yet due",
                                  "additionalProperties": {"type": "object",
                                                           "additionalProperties": _ref("MoneyFigure")}},
        },
    },
    "Renewals": {
        "type": "object", "required": ["as_of", "time_zone", "contracts", "totals"],
        "properties": {
            "as_of": {"type": "string", "format": "date"},
            "time_zone": {**NULLABLE_STRING, "description": "whose date was today (null: as_of was given)"},
            "contracts": {"type": "array", "items": {
                "type": "object",
                "required": ["contract_id", "number", "counterparty", "status", "value", "deadline_kind", "deadline",
                             "days_left", "window"],
                "properties": {
                    "contract_id": {"type": "string"}, "number": {"type": "string"},
                    "counterparty": NULLABLE_STRING, "status": _ref("Status"),
                    "value": {"type": "object", "required": ["amount", "currency"],
                              "properties": {"amount": {"anyOf": [DECIMAL, {"type": "null"}]},
                                             "currency": NULLABLE_STRING}},
                    "deadline_kind": {"type": "string", "enum": ["cancel_by", "end_date"]},
                    "deadline": {"type": "string", "format": "date"},
                    "days_left": {"type": "integer", "minimum": 0, "maximum": 90},
                    "window": {"type": "integer", "enum": [30, 60, 90]}}}},
            "totals": {"type": "object", "required": ["30", "60", "90"], "description": "per window (cumulative), "
                                                                                       "per currency",
                       "additionalProperties": {"type": "object", "additionalProperties": _ref("MoneyFigure")}},
        },
    },
    "ExecutionEntryBody": {
        "type": "object", "required": ["kind", "at", "by", "text"], "additionalProperties": False,
        "allOf": [  # which kinds have a status, and its values
            {"if": {"properties": {"kind": {"const": "feedback"}}},
             "then": {"properties": {"status": {"enum": ["open", "closed"]}}}},
            {"if": {"properties": {"kind": {"const": "acceptance"}}},
             "then": {"properties": {"status": {"enum": ["accepted", "rejected"]}}}},
            {"if": {"properties": {"kind": {"enum": ["service_record", "delivery", "communication", "settlement"]}}},
             "then": {"not": {"required": ["status"]}}},
        ],
        "description": "status: feedback open (default) or closed, acceptance accepted (default) or rejected; "
                       "no other kind has one (422). A repeat with the same entry_id answers the first entry (200).",
        "properties": {
            "kind": {"type": "string", "enum": list(EXECUTION_KINDS)},
            "at": {"type": "string", "format": "date-time", "maxLength": 64, "pattern": AT_PATTERN},
            "by": {**NON_BLANK, "maxLength": 200}, "text": {**NON_BLANK, "maxLength": 4000},
            "status": {"type": "string", "enum": ["open", "closed", "accepted", "rejected"]},
            "entry_id": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"},
            "attachments": {"type": "array", "maxItems": execution_files.MAX_ATTACHMENTS,
                            "items": _ref("ExecutionAttachmentUpload")},
        },
    },
    "ExecutionAttachmentUpload": {
        "type": "object", "required": list(execution_files.FIELDS), "additionalProperties": False,
        "description": f"One file, {execution_files.ACCEPTED_LIST}; at most "
                       f"{execution_files.MAX_TOTAL_BYTES // (1024 * 1024)} MiB decoded for all files of the entry "
                       "together. The type is read from the bytes; content_type and the file name's extension must "
                       "agree with it (400 attachment_refused otherwise, as for executables, HTML, SVG, archives, "
                       "macro-enabled office files, empty files or bad Base64).",
        "properties": {
            "filename": {**NON_BLANK, "maxLength": execution_files.MAX_FILENAME_CHARS,
                         "description": "shown and offered as the download's name; directories and control "
                                        "characters are removed"},
            "content_type": {**NON_BLANK, "maxLength": execution_files.MAX_CONTENT_TYPE_CHARS},
            "content_base64": {**NON_BLANK, "maxLength": execution_files.MAX_BASE64_CHARS,
                               "description": "the file's bytes, Base64 (line breaks allowed)"},
        },
    },
    "ExecutionAttachment": {
        "type": "object", "required": ["name", "content_type", "size", "sha256", "url"],
        "properties": {
            "name": {"type": "string"}, "content_type": {"type": "string"},
            "size": {"type": "integer", "minimum": 1}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "url": {"type": "string", "format": "uri",
                    "description": "GET it with the API key: 302 to a 5-minute download URL"},
        },
    },
    "ExecutionEntry": {
        "type": "object", "required": ["entry_id", "kind", "at", "by", "text", "recorded_at"],
        "properties": {
            "entry_id": {"type": "string"}, "kind": {"type": "string", "enum": list(EXECUTION_KINDS)},
            "at": {"type": "string", "format": "date-time"}, "by": {"type": "string"}, "text": {"type": "string"},
            "status": {"type": "string"}, "recorded_at": {"type": "string", "format": "date-time"},
            "attachments": {"type": "array", "items": _ref("ExecutionAttachment")},
        },
    },
    "ConnectReceived": {
        "type": "object", "required": ["ok", "outcome"],
        "properties": {"ok": {"const": True}, "outcome": {"type": "string"}},
    },
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
}


def _gate(action: str, body: str, reason_required: bool, conflict: str) -> dict[str, Any]:
    return {
        "summary": f"{action.capitalize()} a contract",
        "security": SECURED, "parameters": [CONTRACT_ID],
        "requestBody": {"required": reason_required, "content": _json(_ref(body))},
        "responses": {"200": {"description": "the contract's new status", "content": _json(_ref("ContractDetail"))},
                      "400": _error("the body is not JSON"), "401": UNAUTHORIZED, "404": NOT_FOUND,
                      "409": _error(conflict), "415": UNSUPPORTED_MEDIA_TYPE,
                      "422": _error("not a JSON object, or a bad reason" + (" (one is required)" if reason_required
                                                                           else "")),
                      "503": BUSY},
    }


WEBHOOK_DESCRIPTION = (
    "Signed by the source's scheme (generic: Standard Webhooks `webhook-id`, `webhook-timestamp`, "
    "`webhook-signature`). The generic source's body is shown; other sources post their CRM's own payload "
    "(HubSpot, Pipedrive, Fxiaoke: JSON; Zoho: JSON or a form; Salesforce: SOAP, answered with its "
    "acknowledgement), each source accepting only its own content types (others: 415). The order of checks: "
    "unknown source 404, too large 413, content type 415, signature 401, then the body. Beyond the schema "
    "(which already has the required clauses of each contract type), the body is refused (422, every path "
    "listed) when: signers' routing orders leave a gap, end_date is not after effective_date, payment "
    "milestones do not add up to the amount, a milestone id repeats, an amount is finer than the currency's "
    "minor unit, or time_zone is not an IANA zone.")

# (path as Chalice spells it, method) -> the operation.
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("/health", "GET"): {
        "summary": "Liveness, and whether this deployment has every required setting", "security": PUBLIC,
        "responses": {"200": {"description": "alive and configured", "content": _json(_ref("Health"))},
                      "503": _error("a deployed stage missing required settings (code not_configured; each "
                                    "environment variable missing or a placeholder is a detail's path, never its "
                                    "value): every other route answers 503 not_configured until they are set")},
    },
    ("/openapi.json", "GET"): {
        "summary": "This document", "security": PUBLIC,
        "responses": {"200": {"description": "the OpenAPI 3.1 document", "content": _json({"type": "object"})}},
    },
    ("/v1/webhooks/{source_id}", "POST"): {
        "summary": "A CRM's contract event (created, updated, cancelled)",
        "description": WEBHOOK_DESCRIPTION,
        "security": PUBLIC, "parameters": [_path_param("source_id", "the CRM source")],
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": _ref("WebhookEnvelope")},
            "text/xml": {"schema": {"type": "string"}},
            "application/xml": {"schema": {"type": "string"}},
            "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
        }},
        "responses": {
            "200": {"description": "a repeat delivery (the same answer), an event that needs no action, several "
                                   "events' answers, or Salesforce's SOAP acknowledgement",
                    "content": {"application/json": {"schema": {"anyOf": [
                        _ref("WebhookAccepted"), _ref("WebhookIgnored"), _ref("WebhookEnrichmentPending"),
                        _ref("WebhookResults")]}},
                                "text/xml": {"schema": {"type": "string"}}}},
            "202": {"description": "accepted: a new contract, or an update or cancellation applied; or a record "
                                   "to be read from the CRM's API first (enrichment_pending)",
                    "content": _json({"anyOf": [_ref("WebhookAccepted"), _ref("WebhookEnrichmentPending")]})},
            "400": _error("malformed (not JSON, no event, no delivery id), or a webhook format signbridge does not "
                          "read (Pipedrive webhooks v1: unsupported_webhook_version)"),
            "401": _error("bad, missing or stale signature"),
            "404": _error("unknown source"),
            "409": _error("not possible in the contract's status (e.g. cancelling a signed contract)"),
            "413": _error("larger than the source's limit (256 KiB; Salesforce 1 MiB)"),
            "415": _error("a content type this source does not send"),
            "422": _error("an invalid contract (every path listed)"),
            "503": BUSY,
        },
    },
    ("/v1/esign/docusign/connect", "POST"): {
        "summary": "DocuSign Connect listener (HMAC in X-DocuSign-Signature-1..N)", "security": PUBLIC,
        "requestBody": {"required": True, "content": _json({"type": "object"})},
        "responses": {"200": {"description": "received", "content": _json(_ref("ConnectReceived"))},
                      "400": _error("signed, but not a Connect message"),
                      "401": _error("bad or missing signature"), "415": UNSUPPORTED_MEDIA_TYPE,
                      "503": {"description": "not applicable yet: DocuSign delivers it again",
                              "content": _json(_ref("Error"))}},
    },
    ("/v1/esign/docusign/consent", "GET"): {
        "summary": "Where DocuSign sends the user back from the consent screen (a zh-CN or en page)",
        "security": PUBLIC,
        "description": "The redirect URI to register on the integration key: "
                       "`<SIGNBRIDGE_PUBLIC_BASE_URL>/v1/esign/docusign/consent`. The page says whether consent "
                       "was granted (`code`; never exchanged: the JWT grant needs only the consent) or refused "
                       "(`error`, shown escaped and cut short). Its language follows Accept-Language. Any query "
                       "gets a page.",
        "parameters": [_query("code", "DocuSign's authorization code: consent was granted"),
                       _query("error", "DocuSign's error code (e.g. access_denied): consent was refused"),
                       _query("error_description", "DocuSign's words about the error"),
                       _query("state", "unused")],
        "responses": {"200": {"description": "the outcome, as a page", "headers": {**NO_STORE, **NO_REFERRER},
                              "content": HTML}},
    },
    ("/v1/contracts", "GET"): {
        "summary": "List the tenant's contracts (paginated)",
        "description": "Unknown query parameters are refused (400), like bad values.", "security": SECURED,
        "parameters": [
            _query("status", "one or more statuses, comma-separated",
                   {"type": "string", "pattern": STATUS_LIST, "examples": ["sent,active"]}),
            _query("type", "contract type", {"type": "string", "enum": CONTRACT_TYPES}),
            _query("crm_record_id", "exact CRM record id", {"type": "string", "minLength": 1, "maxLength": 256}),
            _query("expiring_before", "the term in force ends before this date", ISO_DATE),
            _query("limit", "page size (default 50)", {"type": "integer", "minimum": 1, "maximum": 200}),
            _query("cursor", "next_cursor of the previous page, unchanged (any other value: 400)",
                   {"type": "string", "minLength": 1, "maxLength": 1024, "pattern": "^[A-Za-z0-9_-]+$"}),
        ],
        "responses": {"200": {"description": "a page", "content": _json(_ref("ContractList"))},
                      "400": _error("a bad filter value, an unknown parameter or a cursor we did not issue"),
                      "401": UNAUTHORIZED, "503": BUSY},
    },
    ("/v1/contracts/{contract_id}", "GET"): {
        "summary": "A contract: status, signers, milestones, document hashes, timeline", "security": SECURED,
        "parameters": [CONTRACT_ID],
        "responses": {"200": {"description": "the contract", "content": _json(_ref("ContractDetail"))},
                      "401": UNAUTHORIZED, "404": NOT_FOUND, "503": BUSY},
    },
    ("/v1/contracts/{contract_id}/approve", "POST"): _gate(
        "approve", "ApproveBody", False, "not pending approval (it moves on to sending when approved)"),
    ("/v1/contracts/{contract_id}/reject", "POST"): _gate("reject", "Reason", True, "not pending approval"),
    ("/v1/contracts/{contract_id}/void", "POST"): _gate(
        "void", "Reason", True, "signed or already ended: only a contract not yet signed can be voided"),
    ("/v1/contracts/{contract_id}/milestones/{milestone_id}", "POST"): {
        "summary": "Record a payment (full or partial) or a delivery", "security": SECURED,
        "description": "422: the body is invalid on its own. 409: the body is valid but does not fit now: the "
                       "contract is not signed or has ended, the milestone is of the other kind, the amount is "
                       "above what is still open or finer than the contract's currency, a delivery is already "
                       "recorded on another date.",
        "parameters": [CONTRACT_ID, _path_param("milestone_id", "the milestone's id in the contract")],
        "requestBody": {"required": True, "content": _json(_ref("MilestoneExecution"))},
        "responses": {"200": {"description": "the milestone after recording", "content": _json(_ref(
                          "MilestoneRecorded"))},
                      "400": _error("the body is not a JSON object"), "401": UNAUTHORIZED,
                      "404": _error("no such contract for this key's tenant, or no such milestone in it"),
                      "409": _error("valid, but not possible for this milestone now"),
                      "415": UNSUPPORTED_MEDIA_TYPE, "422": _error("invalid body (every problem listed)"),
                      "503": BUSY},
    },
    ("/v1/contracts/{contract_id}/execution", "POST"): {
        "summary": "Record an execution log entry (service record, delivery, acceptance, communication, "
                   "feedback, settlement)", "security": SECURED,
        "description": "Once the contract is signed and while it is in force (completed, active, expiring, "
                       "renewed); 409 not_signed otherwise. Shown under `execution` and on the timeline "
                       "(`execution_<kind>`), counted in the analytics summary. Up to "
                       f"{execution_files.MAX_ATTACHMENTS} attachments, at most "
                       f"{execution_files.MAX_TOTAL_BYTES // (1024 * 1024)} MiB decoded together (a Lambda request "
                       "is at most 6 MB, Base64 included); each is scanned before anything is stored, and one "
                       "refused refuses the entry. Send an entry_id to retry safely: a repeat stores nothing again.",
        "parameters": [CONTRACT_ID],
        "requestBody": {"required": True, "content": _json(_ref("ExecutionEntryBody"))},
        "responses": {"201": {"description": "recorded", "content": _json(_ref("ExecutionEntry"))},
                      "200": {"description": "a repeat of an entry_id: the entry first recorded",
                              "content": _json(_ref("ExecutionEntry"))},
                      "400": _error("the body is not JSON, or an attachment is refused (code attachment_refused, "
                                    "details name each one, attachments[i], and why)"),
                      "401": UNAUTHORIZED, "404": NOT_FOUND,
                      "409": _error("not signed, or no longer in force (code not_signed)"),
                      "415": UNSUPPORTED_MEDIA_TYPE, "422": _error("invalid body (every problem listed)"),
                      "503": BUSY},
    },
    ("/v1/contracts/{contract_id}/execution/{entry_id}/attachments/{index}", "GET"): {
        "summary": "Download one attachment of an execution log entry", "security": SECURED,
        "description": "A 302 to a 5-minute S3 URL that downloads the file (Content-Disposition: attachment, "
                       "never shown inline) under its name and scanned type.",
        "parameters": [CONTRACT_ID,
                       {**_path_param("entry_id", "the entry's id"),
                        "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"}},
                       {**_path_param("index", "the attachment's 0-based position in the entry's attachments"),
                        "schema": {"type": "string", "pattern": r"^[0-9]{1,2}$"}}],
        "responses": {"302": {"description": "redirect to the file (valid for 5 minutes)",
                              "headers": {"Location": {"required": True, "schema": {"type": "string",
                                                                                     "format": "uri"}},
                                          **NO_STORE}},
                      "401": UNAUTHORIZED,
                      "404": _error("no such contract for this key's tenant, entry or attachment"), "503": BUSY},
    },
    ("/v1/contracts/{contract_id}/evidence", "GET"): {
        "summary": "A short-lived S3 URL of the evidence bundle (zip: signed PDF, rendered document, timeline, "
                   "manifest with sha256 chain)", "security": SECURED,
        "parameters": [CONTRACT_ID],
        "responses": {"302": {"description": "redirect to the bundle (valid for 5 minutes)",
                              "headers": {"Location": {"required": True, "schema": {"type": "string",
                                                                                     "format": "uri"}},
                                          **NO_STORE}},
                      "401": UNAUTHORIZED, "404": NOT_FOUND,
                      "409": _error("not signed and archived yet (code not_signed)"), "503": BUSY},
    },
    ("/v1/evidence/{link_id}", "GET"): {
        "summary": "The evidence bundle through the stable link written onto the CRM record", "security": PUBLIC,
        "parameters": [{**_path_param("link_id", "the contract's evidence link (128 random bits; anything else: "
                                                   "404)"),
                        "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"}}],
        "description": "No API key: the link is the capability. Each request gets a fresh short-lived URL.",
        "responses": {"302": {"description": "redirect to the bundle (valid for 5 minutes)",
                              "headers": {"Location": {"required": True, "schema": {"type": "string",
                                                                                     "format": "uri"}},
                                          **NO_STORE}},
                      "404": _error("no such link"),
                      "409": _error("not signed and archived yet (code not_signed)"), "503": BUSY},
    },
    ("/v1/contracts/{contract_id}/document", "GET"): {
        "summary": "A short-lived S3 URL of the rendered or signed document", "security": SECURED,
        "parameters": [CONTRACT_ID, _query("version", "which document",
                                           {"type": "string", "enum": ["rendered", "signed"]}, required=True)],
        "responses": {"302": {"description": "redirect to the document (valid for 5 minutes)",
                              "headers": {"Location": {"required": True, "schema": {"type": "string",
                                                                                     "format": "uri"}},
                                          **NO_STORE}},
                      "400": _error("no or an unknown version"), "401": UNAUTHORIZED,
                      "404": _error("no such contract for this key's tenant, or no such document (yet)"),
                      "409": {"description": "signed, and the signed PDF is being archived: retry after Retry-After",
                              "headers": RETRY_AFTER, "content": _json(_ref("Error"))},
                      "503": BUSY},
    },
    ("/v1/signed/{link_id}", "GET"): {
        "summary": "The signed PDF through the stable link written onto the CRM record", "security": PUBLIC,
        "parameters": [{**_path_param("link_id", "the contract's document link (128 random bits; anything else: "
                                                   "404)"),
                        "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"}}],
        "description": "No API key: the link is the capability. Each request gets a fresh short-lived URL.",
        "responses": {"302": {"description": "redirect to the signed PDF (valid for 5 minutes)",
                              "headers": {"Location": {"required": True, "schema": {"type": "string",
                                                                                     "format": "uri"}},
                                          **NO_STORE}},
                      "404": _error("no such link, or no signed document for it"),
                      "409": {"description": "signed, and the signed PDF is being archived: retry after Retry-After",
                              "headers": RETRY_AFTER, "content": _json(_ref("Error"))},
                      "503": BUSY},
    },
    ("/v1/contracts/{contract_id}/signing-link", "GET"): {
        "summary": "A short-lived signing link for signer N, from the signer's grant", "security": SECURED,
        "description": "Each call mints a new opaque link valid a few minutes (`expires_at`), from the signer's "
                       "grant for the current envelope: ask for it when the signer is about to sign.",
        "parameters": [CONTRACT_ID, SIGNER],
        "responses": {"200": {"description": "the link", "content": _json(_ref("SigningLink"))},
                      "400": _error("no signer, or not a position"), "401": UNAUTHORIZED,
                      "404": _error("no such contract for this key's tenant, or no signer at that position"),
                      "409": _error("nothing to sign now (not sent yet, closed, or the envelope expired)"),
                      "503": BUSY},
    },
    ("/v1/contracts/{contract_id}/signing-link", "DELETE"): {
        "summary": "Revoke signer N's signing links", "security": SECURED,
        "description": "Every link minted so far for the signer stops opening; the next one asked for comes "
                       "from a new grant. Recorded on the timeline (`signing_link_revoked`).",
        "parameters": [CONTRACT_ID, SIGNER],
        "responses": {"200": {"description": "revoked (or nothing live to revoke)",
                              "content": _json(_ref("SigningLinkRevoked"))},
                      "400": _error("no signer, or not a position"), "401": UNAUTHORIZED,
                      "404": _error("no such contract for this key's tenant, or no signer at that position"),
                      "503": BUSY},
    },
    ("/v1/contracts/preview", "POST"): {
        "summary": "Validate and render a contract; send nothing", "security": SECURED,
        "description": "The body of a generic webhook, validated the same way (see the webhook's description "
                       "for the rules beyond the schema), then rendered in the contract's template.",
        "requestBody": {"required": True, "content": _json({"allOf": [
            _ref("WebhookEnvelope"),
            {"properties": {"event": {"enum": ["contract.created", "contract.updated"],
                                      "description": "a cancellation has nothing to render (422)"}}}]})},
        "responses": {"200": {"description": "the rendered contract", "content": HTML},
                      "400": _error("the body is not a JSON object"),
                      "401": UNAUTHORIZED, "415": UNSUPPORTED_MEDIA_TYPE,
                      "422": _error("invalid contract (every path listed), a cancellation, or it cannot be "
                                    "rendered"),
                      "503": BUSY},
    },
    ("/v1/analytics/summary", "GET"): {
        "summary": "Counts, value, time to sign, reminders and overdue payments of contracts created in "
                   "[from, to]", "security": SECURED,
        "description": "`from` must not be after `to`, and the range is at most 1098 days (400 otherwise). "
                       "Unknown query parameters are refused (400).",
        "parameters": [_query("from", "first day, UTC (default: 90 days before to)", ISO_DATE),
                       _query("to", "last day, UTC (default: 90 days after from, or today)", ISO_DATE)],
        "responses": {"200": {"description": "the summary", "content": _json(_ref("AnalyticsSummary"))},
                      "400": _error("bad dates, a reversed or too long range, or an unknown parameter"),
                      "401": UNAUTHORIZED, "503": BUSY},
    },
    ("/v1/analytics/receivables", "GET"): {
        "summary": "Open payment milestones of contracts in force, per currency, by age and by due month",
        "security": SECURED,
        "description": "Ages: not_due (due today or later), 1_30, 31_60, 61_90, over_90 days past due, counted from "
                       "as_of (default: today in the tenant's time zone). Unknown query parameters are refused "
                       "(400). CSV columns: section (ageing | expected), currency, key (bucket or YYYY-MM), count, "
                       "amount.",
        "parameters": [AS_OF, REPORT_FORMAT],
        "responses": {"200": {"description": "the report", "content": {**_json(_ref("Receivables")), **CSV}},
                      "400": _error("a bad date or format, or an unknown parameter"),
                      "401": UNAUTHORIZED, "503": BUSY},
    },
    ("/v1/analytics/renewals", "GET"): {
        "summary": "Contracts in force whose cancel-by date (auto-renewing) or end date is in the next 90 days",
        "security": SECURED,
        "description": "Soonest first, with totals per window (30, 60, 90 days; cumulative) and currency. Unknown "
                       "query parameters are refused (400). CSV: one row per contract (columns contract_id, number, "
                       "counterparty, currency, amount, deadline_kind, deadline, days_left, window).",
        "parameters": [AS_OF, REPORT_FORMAT],
        "responses": {"200": {"description": "the pipeline", "content": {**_json(_ref("Renewals")), **CSV}},
                      "400": _error("a bad date or format, or an unknown parameter"),
                      "401": UNAUTHORIZED, "503": BUSY},
    },
    ("/sign/{token}", "GET"): {
        "summary": "Open a signing link: a fresh DocuSign recipient view", "security": PUBLIC,
        "parameters": [{**_path_param("token", "the signing link's token (anything else: 404)"),
                        "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"}}],
        "description": "Opens while the link is young (minutes), its grant is live and the envelope open.",
        "responses": {"302": {"description": "to DocuSign's signing page",
                              "headers": {"Location": {"required": True, "schema": {"type": "string"}}, **NO_STORE}},
                      "404": {"description": "unknown or tampered link", "headers": NO_STORE, "content": HTML},
                      "409": {"description": "not now: another signer's turn, or this signer signs by email",
                              "headers": NO_STORE, "content": HTML},
                      "410": {"description": "no longer: the link expired or was revoked; signed, declined, voided "
                                             "or the signing period ended", "headers": NO_STORE,
                              "content": HTML},
                      "503": {"description": "DocuSign unreachable: the same link works again later",
                              "headers": NO_STORE, "content": HTML}},
    },
    ("/approval/{token}", "GET"): {
        "summary": "Open an approver's email link: the contract and a confirm form (never acts)",
        "security": PUBLIC, "parameters": [APPROVAL_TOKEN],
        "description": "A mail scanner following the link changes nothing; the form's POST acts.",
        "responses": {"200": {"description": "the contract's key facts and the confirm form", "headers": NO_STORE,
                              "content": HTML},
                      "404": {"description": "unknown or tampered link", "headers": NO_STORE, "content": HTML},
                      "409": {"description": "already approved or rejected (by whom), or no longer pending",
                              "headers": NO_STORE, "content": HTML},
                      "410": {"description": "the link expired, its approver was removed, or the document changed "
                                             "since it was sent", "headers": NO_STORE, "content": HTML},
                      "503": BUSY},
    },
    ("/approval/{token}", "POST"): {
        "summary": "Confirm an approver's email link: approve (the contract is then sent) or reject",
        "security": PUBLIC, "parameters": [APPROVAL_TOKEN],
        "description": "Single use per document version: the first confirmation decides, any later one is told "
                       "who decided. A reject needs a reason.",
        "requestBody": {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "properties": {"reason": {"type": "string", "maxLength": 1000}}}}}},
        "responses": {"200": {"description": "approved or rejected", "headers": NO_STORE, "content": HTML},
                      "404": {"description": "unknown or tampered link", "headers": NO_STORE, "content": HTML},
                      "409": {"description": "already approved or rejected (by whom), or no longer pending",
                              "headers": NO_STORE, "content": HTML},
                      "410": {"description": "the link expired, its approver was removed, or the document changed",
                              "headers": NO_STORE, "content": HTML},
                      "422": {"description": "a reject without a reason: the form again", "headers": NO_STORE,
                              "content": HTML},
                      "503": BUSY},
    },
    ("/c/{token}", "GET"): {
        "summary": "Open a contract-page link: the contract for people, in the link's language (never acts)",
        "security": PUBLIC, "parameters": [CONTRACT_PAGE_TOKEN],
        "description": "Made for one recipient and one contract (emails carry one; POST /v1/contracts/{id}/share "
                       "makes one). An invalid, expired or revoked link shows a page saying so and nothing about "
                       "the contract.",
        "responses": {"200": {"description": "the contract page", "headers": NO_STORE, "content": HTML},
                      "404": {"description": "unknown or tampered link", "headers": NO_STORE, "content": HTML},
                      "410": {"description": "the link expired or was revoked", "headers": NO_STORE,
                              "content": HTML},
                      "503": BUSY},
    },
    ("/c/{token}", "POST"): {
        "summary": "Record from a contract-page link: a payment milestone paid or a delivery done",
        "security": PUBLIC, "parameters": [CONTRACT_PAGE_TOKEN],
        "description": "Only what the link's scope allows (403 otherwise), with confirm=yes. Once per link and "
                       "milestone: a repeat is answered 409 \"already recorded\" and changes nothing.",
        "requestBody": {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["action", "milestone", "confirm"], "additionalProperties": False,
            "properties": {
                "action": {"enum": ["paid", "delivered"]}, "milestone": {"type": "string", "minLength": 1},
                "amount": {"type": "string", "description": "paid: default what is still open"},
                "on": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                       "description": "the day paid or delivered; default today"},
                "confirm": {"const": "yes"}}}}}},
        "responses": {"200": {"description": "recorded: the page again", "headers": NO_STORE, "content": HTML},
                      "400": {"description": "not the page's form", "headers": NO_STORE, "content": HTML},
                      "403": {"description": "the link's scope does not allow it", "headers": NO_STORE,
                              "content": HTML},
                      "404": {"description": "unknown or tampered link", "headers": NO_STORE, "content": HTML},
                      "409": {"description": "already recorded, or the contract or milestone does not take it "
                                             "now", "headers": NO_STORE, "content": HTML},
                      "410": {"description": "the link expired or was revoked", "headers": NO_STORE,
                              "content": HTML},
                      "422": {"description": "not confirmed, or a bad amount or date: the page again",
                              "headers": NO_STORE, "content": HTML},
                      "503": BUSY},
    },
    ("/c/{token}/{kind}", "GET"): {
        "summary": "A file of a contract-page link's contract: the document as sent, the signed PDF, the "
                   "evidence bundle", "security": PUBLIC,
        "parameters": [CONTRACT_PAGE_TOKEN, {**_path_param("kind", "document, signed or evidence"),
                                             "schema": {"enum": ["document", "signed", "evidence"]}}],
        "responses": {"302": {"description": "to a 5-minute URL of the file",
                              "headers": {"Location": {"required": True, "schema": {"type": "string"}}, **NO_STORE}},
                      "404": {"description": "unknown or tampered link, or no such file", "headers": NO_STORE,
                              "content": HTML},
                      "409": {"description": "the file is not there yet (not signed, being archived)",
                              "headers": NO_STORE, "content": HTML},
                      "410": {"description": "the link expired or was revoked", "headers": NO_STORE,
                              "content": HTML},
                      "503": BUSY},
    },
    ("/v1/contracts/{contract_id}/share", "POST"): {
        "summary": "Make a contract-page link for one recipient", "security": SECURED,
        "parameters": [CONTRACT_ID],
        "description": "The body is optional. The link is opaque (a sealed token), expires, and is revoked with "
                       "DELETE …/share/{link_id} or, with every other link of the contract, DELETE …/share. "
                       "`milestone_id` must be one of the contract's milestones. Recorded on the timeline "
                       "(`share_link_created`).",
        "requestBody": {"required": False, "content": _json(_ref("ShareRequest"))},
        "responses": {"201": {"description": "the link", "content": _json(_ref("ShareLink"))},
                      "400": _error("the body is not a JSON object"), "401": UNAUTHORIZED, "404": NOT_FOUND,
                      "415": UNSUPPORTED_MEDIA_TYPE,
                      "422": _error("a bad field (every problem listed)"), "503": BUSY},
    },
    ("/v1/contracts/{contract_id}/share", "DELETE"): {
        "summary": "Revoke every contract-page link of the contract made so far (emails' included)",
        "security": SECURED, "parameters": [CONTRACT_ID],
        "responses": {"200": {"description": "revoked", "content": _json(_ref("ShareRevoked"))},
                      "401": UNAUTHORIZED, "404": NOT_FOUND, "503": BUSY},
    },
    ("/v1/contracts/{contract_id}/share/{link_id}", "DELETE"): {
        "summary": "Revoke one contract-page link", "security": SECURED,
        "parameters": [CONTRACT_ID, {**_path_param("link_id", "the link's id (POST …/share answers it)"),
                                     "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16}$"}}],
        "responses": {"200": {"description": "revoked (also when it was already)",
                              "content": _json(_ref("ShareRevoked"))},
                      "400": _error("not a link id"), "401": UNAUTHORIZED, "404": NOT_FOUND, "503": BUSY},
    },
    ("/signed", "GET"): {
        "summary": "The page signers return to (zh-CN or en)", "security": PUBLIC,
        "parameters": [_query("event", "DocuSign's event"), _query("lang", "zh-CN or en (anything else: en)"),
                       _query("contract", "the contract number")],
        "responses": {"200": {"description": "thank-you page", "headers": NO_STORE, "content": HTML}},
    },
}


def _webhook_schemas() -> dict[str, Any]:
    schema = WebhookEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    # validation.py reads `contract` by the event: a cancellation needs only the CRM record, the
    # other events a whole contract (pydantic's anyOf would let a created event through with a ref).
    schema["properties"]["contract"] = {"type": "object"}
    schema["allOf"] = [{"if": {"properties": {"event": {"const": "contract.cancelled"}}},
                        "then": {"properties": {"contract": _ref("ContractRef")}},
                        "else": {"properties": {"contract": _ref("Contract")}}}]
    defs["Contract"] = {**defs["Contract"], "allOf": _required_clauses()}
    return {**defs, "WebhookEnvelope": schema}


# A required clause is neither absent, null nor blank (validation.py's `_is_missing`).
_PRESENT = {"not": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": r"^\s*$"}]}}


def _clause(path: str) -> dict[str, Any]:
    """The JSON Schema of one REQUIRED_CLAUSES path ("items", "payment.method", "items[].specification")."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        name = head[:-2]
        return {"properties": {name: {"items": _clause(rest)}}}
    if not rest:
        leaf: dict[str, Any] = {**_PRESENT, "minItems": 1} if head == "items" else _PRESENT
        return {"required": [head], "properties": {head: leaf}}
    return {"required": [head], "properties": {head: {**_clause(rest), "type": "object"}}}


def _required_clauses() -> list[dict[str, Any]]:
    """The contract types' required clauses (CONTRACT.md's table, from validation.py) as
    if-type-then-required, and the fields required inside payment and delivery once given."""

    rules: list[dict[str, Any]] = []
    for contract_type, clauses in REQUIRED_CLAUSES.items():
        rules.append({"if": {"required": ["type"], "properties": {"type": {"const": contract_type}}},
                      "then": {"allOf": [_clause(c) for c in clauses]}})
    for parent, clauses in _REQUIRED_WHEN_PRESENT.items():
        rules.append({"if": {"required": [parent], "properties": {parent: {"type": "object"}}},
                      "then": {"allOf": [_clause(c) for c in clauses]}})
    return rules


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
        operation = copy.deepcopy(operation)
        # Chalice refuses a Content-Type a route does not list on every route, GET included (a GET
        # that sends one), before the view runs; public_error_shape gives it the Error shape.
        operation["responses"].setdefault("415", UNSUPPORTED_MEDIA_TYPE)
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
            "schemas": _schemas(),
        },
    }


def _schemas() -> dict[str, Any]:
    webhook = _webhook_schemas()
    clash = set(webhook) & set(SCHEMAS)
    if clash:  # one would silently replace the other
        raise ValueError(f"schema names used twice: {sorted(clash)}")
    return {**webhook, **SCHEMAS}


def route_keys(routes: Mapping[str, Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    """(path, method) of every route of a Chalice app (`app.routes`)."""
    return tuple(sorted((path, method.upper()) for path, methods in routes.items() for method in methods))


def openapi_document(routes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The document for the app's routes (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document(route_keys(routes)))
