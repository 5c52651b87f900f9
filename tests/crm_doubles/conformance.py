"""Checking the doubles' answers against the vendors' descriptions kept in
devstack/crm_apis/vendor/ (see SOURCE.md there for where each came from).

On top of each description the checks refuse keys it does not declare (`strict`): the point of the
doubles is that they cannot drift into inventions, and a validator that lets unknown keys through
would not notice one. Maps that are open by nature (HubSpot `properties`, Pipedrive
`custom_fields`, a Zoho record's module fields) stay open.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_openapi_document

VENDOR = Path(__file__).resolve().parents[2] / "devstack" / "crm_apis" / "vendor"


def _strict(schema: Any) -> Any:
    """A copy of `schema` in which every object with declared properties refuses other keys."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()}
    if "properties" in out and "additionalProperties" not in out and not {"allOf", "anyOf", "oneOf"} & set(out):
        out["additionalProperties"] = False
    return out


def _errors(validator: Any, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))]


# -- HubSpot: JSON Schema 2020-12 transcribed from hubspot-api-client 12.0.0 ----------------------------


@cache
def _hubspot_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((VENDOR / "hubspot" / "crm-shapes.schema.json").read_text())
    return document


def hubspot_errors(definition: str, instance: Any) -> list[str]:
    """Problems of `instance` against `$defs/<definition>` of crm-shapes.schema.json (strict)."""
    document = _strict(copy.deepcopy(_hubspot_document()))
    schema = {"$schema": document["$schema"], "$defs": document["$defs"], "$ref": f"#/$defs/{definition}"}
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return _errors(validator, instance)


# -- Pipedrive: OpenAPI 3.0 transcribed from Pipedrive's official clients -----------------------------


@cache
def pipedrive_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((VENDOR / "pipedrive" / "pipedrive-shapes.openapi.json").read_text())
    validate_openapi_document(document)  # the description itself is a valid OpenAPI 3.0 document
    return document


def pipedrive_errors(path: str, method: str, status: str, instance: Any,
                     also_nullable: tuple[str, ...] = ()) -> list[str]:
    """Problems of a response body against the operation's schema (OAS 3.0 semantics, strict).
    `also_nullable`: dotted property paths allowed to be null although the description says not
    (Pipedrive's known under-declared nullability; each caller names its own)."""
    operation = pipedrive_document()["paths"][path][method.lower()]
    schema = copy.deepcopy(operation["responses"][status]["content"]["application/json"]["schema"])
    for dotted in also_nullable:
        node = schema
        for part in dotted.split("."):
            node = node["items"] if part == "[]" else node["properties"][part]
        node["nullable"] = True
    return _errors(OAS30Validator(_strict(schema)), instance)


def pipedrive_request_errors(path: str, method: str, instance: Any) -> list[str]:
    operation = pipedrive_document()["paths"][path][method.lower()]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    return _errors(OAS30Validator(_strict(schema)), instance)


# -- Zoho: the structure file of Zoho's Apache-2.0 Python SDK for API v8 -------------------------------

ZOHO_PACKAGE = "zohocrmsdk.src.com.zoho.crm.api."
# Structures whose JSON carries members the SDK does not list (a record's module fields by API name).
ZOHO_OPEN = {"record.Record"}
_ISO_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([+-]\d{2}:\d{2}|Z)$"


@cache
def _zoho_structures() -> dict[str, Any]:
    details: dict[str, Any] = json.loads((VENDOR / "zoho" / "json_details.record.json").read_text())
    return {key: value for key, value in details.items() if key.startswith(ZOHO_PACKAGE)}


def _zoho_member(spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec.get("type", "")
    spec_type = str(spec.get("spec_type", "")).rsplit(".", 1)[-1]
    if kind == "List" or spec_type == "TCollections":
        sub = spec.get("sub_type") or {}
        return {"type": "array", "items": _zoho_member(sub) if sub else {}}
    if spec.get("values"):  # a Choice: only the listed values
        return {"enum": list(spec["values"])}
    if kind.startswith(ZOHO_PACKAGE) or spec.get("structure_name"):
        return {"$ref": "#/$defs/" + (spec.get("structure_name") or kind)[len(ZOHO_PACKAGE):]}
    if kind in ("Map", "HashMap") or spec_type == "TMap":
        keys = spec.get("keys") or []
        return {"type": "object", "properties": {k["name"]: _zoho_member(k) for k in keys}} if keys else {
            "type": "object"}
    if spec_type == "TLongString" or kind == "Long":
        return {"type": "string", "pattern": r"^\d+$"}  # 19-digit ids travel as strings
    return {
        "String": {"type": "string"}, "TimeZone": {"type": "string"}, "Integer": {"type": "integer"},
        "Boolean": {"type": "boolean"}, "Double": {"type": "number"}, "Float": {"type": "number"},
        "DateTime": {"type": "string", "pattern": _ISO_DATETIME},
        "Date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}, "Object": {},
    }.get(kind, {})


def _zoho_schema(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    if spec.get("interface"):
        return {"anyOf": [{"$ref": "#/$defs/" + c[len(ZOHO_PACKAGE):]} for c in spec["classes"]]}
    properties = {m["name"]: _zoho_member(m) for key, m in spec.items()
                  if key != "key_modified" and isinstance(m, dict) and "name" in m}
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if name in ZOHO_OPEN:
        schema["additionalProperties"] = True
    return schema


def zoho_errors(structure: str, instance: Any, *, lenient_enums: tuple[str, ...] = ()) -> list[str]:
    """Problems of `instance` against a structure of the SDK's json_details (e.g. "record.ResponseWrapper").
    `lenient_enums`: "<structure>.<member>" whose Choice values the caller knows to be incomplete."""
    defs = {key[len(ZOHO_PACKAGE):]: _zoho_schema(key[len(ZOHO_PACKAGE):], spec)
            for key, spec in _zoho_structures().items()}
    for dotted in lenient_enums:
        owner, _, member = dotted.rpartition(".")
        defs[owner]["properties"][member] = {"type": "string"}
    schema = {"$defs": _strict(defs), "$ref": f"#/$defs/{structure}"}
    return _errors(jsonschema.Draft202012Validator(schema), instance)
