"""Field mapping as data: JMESPath expressions from a CRM record to the canonical webhook body.

Each CRM kind has a default mapping in `mappings/<kind>.json`; a source's `mapping` overrides or
extends it (a field set to null removes it). The shape (docs/crm-setup.md documents it for admins):

    {
      "when":  "<JMESPath>",                      optional: a false result means "not for us" (200, ignored)
      "event": {"expr": "<JMESPath>", "values": {"<CRM value>": "contract.created", ...},
                "default": "contract.created"},
      "date_time_zone": "Asia/Shanghai",          the zone that turns CRM timestamps into dates
      "fields": {
        "contract.title": "deal.properties.dealname",                          a plain expression
        "contract.amount": {"expr": "...", "as": "decimal"},                   with a conversion
        "contract.type": {"expr": "...", "values": {"Sales": "sales"}},        with a value table
        "contract.items": {"each": "lineItems", "fields": {"description": "properties.name"}},
        "contract.signers": {"elements": [{"party": "'counterparty'", ...}, {...}]}
      }
    }

Keys of `fields` are the canonical paths validation reports errors on, so an error names the CRM
expression it came from (`field_sources`). Every expression sees the CRM record plus `signbridge`,
the source's options (e.g. `signbridge.our_party.name` for the tenant's own company).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jmespath
from jmespath import functions as jp_functions
from jmespath.exceptions import JMESPathError

MAPPINGS_DIR = Path(__file__).resolve().parent / "mappings"
EVENTS = ("contract.created", "contract.updated", "contract.cancelled")
CONVERSIONS = ("string", "decimal", "int", "bool", "date")
OPTIONS_KEY = "signbridge"  # where the source's options appear in the record the expressions see

_SIMPLE_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class MappingError(ValueError):
    """A mapping that cannot be used (bad JSON shape or a JMESPath syntax error)."""


class _Functions(jp_functions.Functions):
    """Helpers CRM records keep needing, beyond JMESPath's built-ins."""

    @jp_functions.signature({"types": ["string", "null"]}, {"types": ["string", "null"]})
    def _func_full_name(self, first: str | None, last: str | None) -> str | None:
        # CRMs split names into first/last; Chinese names are written family name first, no space.
        first, last = (first or "").strip(), (last or "").strip()
        if not first or not last:
            return first or last or None
        if _CJK.search(first) or _CJK.search(last):
            return last + first
        return f"{first} {last}"

    @jp_functions.signature({"types": ["string"]}, {"types": ["array"]})
    def _func_join_nonempty(self, separator: str, values: list[Any]) -> str | None:
        parts = [str(v).strip() for v in values if v is not None and str(v).strip()]
        return separator.join(parts) or None

    @jp_functions.signature(*[{"types": ["string", "number", "null"]}] * 5)
    def _func_postal_address(self, street: Any, city: Any, state: Any, postal_code: Any, country: Any) -> str | None:
        # CRMs split addresses into parts; a Chinese address is written from the largest unit down
        # (省 市 街道), any other street first.
        parts = [str(p).strip() if p is not None else "" for p in (street, city, state, postal_code, country)]
        street_, city_, state_, code, country_ = parts
        if any(_CJK.search(p) for p in parts):
            return "".join(p for p in (state_, city_, street_) if p) or None
        line = " ".join(p for p in (code, city_) if p)
        return ", ".join(p for p in (street_, line, state_, country_) if p) or None


_OPTIONS = jmespath.Options(custom_functions=_Functions())


@lru_cache(maxsize=1024)
def compile_expression(expression: str) -> Any:
    try:
        return jmespath.compile(expression)
    except JMESPathError as err:
        raise MappingError(f"not a JMESPath expression: {expression!r}: {err}") from err


def search(expression: str, record: Any) -> Any:
    try:
        return compile_expression(expression).search(record, options=_OPTIONS)
    except JMESPathError:
        # A type mismatch in the CRM's data (e.g. join() over a number): the field counts as
        # missing, and validation then names it together with its CRM field.
        return None


# --- rules ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRule:
    expr: str
    as_: str | None = None  # one of CONVERSIONS
    values: Mapping[str, Any] | None = None  # CRM value -> canonical value
    format: str | None = None  # strptime pattern for "date" when the CRM does not send ISO dates

    @classmethod
    def parse(cls, spec: Any, where: str) -> FieldRule:
        if isinstance(spec, str):
            compile_expression(spec)
            return cls(spec)
        if not isinstance(spec, dict) or not isinstance(spec.get("expr"), str):
            raise MappingError(f"{where}: expected an expression or {{\"expr\": ...}}")
        conversion = spec.get("as")
        if conversion is not None and conversion not in CONVERSIONS:
            raise MappingError(f"{where}: 'as' must be one of {', '.join(CONVERSIONS)}")
        values = spec.get("values")
        if values is not None and not isinstance(values, dict):
            raise MappingError(f"{where}: 'values' must be an object")
        compile_expression(spec["expr"])
        return cls(spec["expr"], conversion, values, spec.get("format"))


@dataclass(frozen=True)
class ListRule:
    """A canonical list: projected from a CRM list (`each`) or built from fixed `elements`."""

    each: str | None = None
    fields: Mapping[str, FieldRule] = field(default_factory=dict)
    elements: tuple[Mapping[str, FieldRule], ...] = ()

    @classmethod
    def parse(cls, spec: dict[str, Any], where: str) -> ListRule:
        if "each" in spec:
            if not isinstance(spec["each"], str) or not isinstance(spec.get("fields"), dict):
                raise MappingError(f"{where}: 'each' needs an expression and 'fields'")
            compile_expression(spec["each"])
            return cls(each=spec["each"], fields=_parse_fields(spec["fields"], where))
        elements = spec.get("elements")
        if not isinstance(elements, list) or not all(isinstance(e, dict) for e in elements):
            raise MappingError(f"{where}: 'elements' must be a list of field objects")
        return cls(elements=tuple(_parse_fields(e, f"{where}[{i}]") for i, e in enumerate(elements)))


@dataclass(frozen=True)
class EventRule:
    expr: str | None = None
    values: Mapping[str, str] = field(default_factory=dict)
    default: str = "contract.created"

    @classmethod
    def parse(cls, spec: Any) -> EventRule:
        if spec is None:
            return cls()
        if not isinstance(spec, dict):
            raise MappingError("event: expected {\"expr\", \"values\", \"default\"}")
        expr = spec.get("expr")
        if expr is not None:
            if not isinstance(expr, str):
                raise MappingError("event.expr: expected a JMESPath expression")
            compile_expression(expr)
        default = spec.get("default", "contract.created")
        if default not in EVENTS:
            raise MappingError(f"event.default must be one of {', '.join(EVENTS)}")
        values = spec.get("values") or {}
        if not isinstance(values, dict) or any(v not in EVENTS for v in values.values()):
            raise MappingError(f"event.values must map CRM values to {', '.join(EVENTS)}")
        return cls(expr, dict(values), default)


def _parse_fields(spec: Mapping[str, Any], where: str) -> dict[str, FieldRule]:
    return {path: FieldRule.parse(rule, f"{where}.{path}") for path, rule in spec.items() if rule is not None}


@dataclass(frozen=True)
class Mapped:
    body: dict[str, Any]  # {"event": ..., "contract": {...}}: the generic webhook body
    field_sources: dict[str, str]  # canonical path -> the CRM expression it came from
    ignored: str | None = None


@dataclass(frozen=True)
class FieldMapping:
    fields: Mapping[str, FieldRule | ListRule]
    event: EventRule = field(default_factory=EventRule)
    when: str | None = None
    date_time_zone: str = "UTC"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldMapping:
        if not isinstance(data, Mapping) or not isinstance(data.get("fields", {}), dict):
            raise MappingError("a mapping is an object with a 'fields' object")
        fields: dict[str, FieldRule | ListRule] = {}
        for path, spec in (data.get("fields") or {}).items():
            if spec is None:
                continue
            if not path.startswith("contract."):
                raise MappingError(f"{path}: canonical paths start with 'contract.'")
            is_list = isinstance(spec, dict) and ("each" in spec or "elements" in spec)
            fields[path] = ListRule.parse(spec, path) if is_list else FieldRule.parse(spec, path)
        when = data.get("when")
        if when is not None:
            if not isinstance(when, str):
                raise MappingError("when: expected a JMESPath expression")
            compile_expression(when)
        zone = data.get("date_time_zone") or "UTC"
        try:
            if not isinstance(zone, str):
                raise ValueError(zone)
            ZoneInfo(zone)
        except (KeyError, ValueError) as err:
            raise MappingError(f"date_time_zone: not an IANA time zone: {zone!r}") from err
        return cls(fields, EventRule.parse(data.get("event")), when, zone)

    def apply(self, record: Mapping[str, Any]) -> Mapped:
        if self.when is not None and not search(self.when, record):
            return Mapped({}, {}, ignored=f"the source's condition `{self.when}` is false for this record")
        sources: dict[str, str] = {}
        event = self._event(record)
        if self.event.expr:
            sources["event"] = self.event.expr
        contract: dict[str, Any] = {}
        for path, rule in self.fields.items():
            if event == "contract.cancelled" and path != "contract.crm_record_id":
                continue  # a cancellation needs the record id only; other fields would only add noise
            if isinstance(rule, ListRule):
                value = self._list(path, rule, record, sources)
            else:
                value = _value(rule, record, self.date_time_zone)
                sources[path] = rule.expr
            if value is not None:
                _set_path(contract, path.split(".")[1:], value)
        return Mapped({"event": event, "contract": contract}, sources)

    def _event(self, record: Mapping[str, Any]) -> Any:
        if not self.event.expr:
            return self.event.default
        raw = search(self.event.expr, record)
        if raw is None or raw == "":
            return self.event.default
        if isinstance(raw, str) and raw in self.event.values:
            return self.event.values[raw]
        return raw  # a canonical name, or an unknown value validation reports under "event"

    def _list(self, path: str, rule: ListRule, record: Mapping[str, Any],
              sources: dict[str, str]) -> list[dict[str, Any]] | None:
        if rule.each is not None:
            sources[path] = rule.each
            crm_list = search(rule.each, record)
            if crm_list is None:
                return None
            if not isinstance(crm_list, list):
                crm_list = [crm_list]
            items = []
            for i, element in enumerate(crm_list):
                scope = {**element, OPTIONS_KEY: record.get(OPTIONS_KEY)} if isinstance(element, dict) else element
                item, item_sources = self._element(rule.fields, scope, f"{rule.each}[{i}]")
                items.append(item)
                sources.update({f"{path}[{i}].{sub}": crm for sub, crm in item_sources.items()})
            return items
        # A fixed element with nothing mapped (a second signer the CRM left empty) is left out, so
        # the list holds what the CRM gave; an empty list is missing, and validation says so.
        kept = [built for built in (self._element(f, record, None) for f in rule.elements) if built[0]]
        for i, (_, item_sources) in enumerate(kept):
            sources.update({f"{path}[{i}].{sub}": crm for sub, crm in item_sources.items()})
        if not kept:
            sources[path] = ", ".join(dict.fromkeys(r.expr for f in rule.elements for r in f.values()))
            return None
        return [item for item, _ in kept]

    def _element(self, fields: Mapping[str, FieldRule], scope: Any,
                 crm_prefix: str | None) -> tuple[dict[str, Any], dict[str, str]]:
        element: dict[str, Any] = {}
        element_sources: dict[str, str] = {}
        for sub_path, sub_rule in fields.items():
            value = _value(sub_rule, scope, self.date_time_zone)
            element_sources[sub_path] = _crm_name(crm_prefix, sub_rule.expr)
            if value is not None:
                _set_path(element, sub_path.split("."), value)
        return element, element_sources

    def merged(self, override: Mapping[str, Any] | None) -> FieldMapping:
        """This mapping with a source's overrides applied (validated like a whole mapping)."""
        if not override:
            return self
        base = FieldMapping.from_json({**override, "fields": {}})  # validates the top-level keys
        fields: dict[str, FieldRule | ListRule] = dict(self.fields)
        for path, spec in (override.get("fields") or {}).items():
            if spec is None:
                fields.pop(path, None)
            else:
                fields.update(FieldMapping.from_json({"fields": {path: spec}}).fields)
        return FieldMapping(
            fields=fields,
            event=base.event if "event" in override else self.event,
            when=override["when"] if "when" in override else self.when,
            date_time_zone=base.date_time_zone if "date_time_zone" in override else self.date_time_zone,
        )


def _crm_name(prefix: str | None, expr: str) -> str:
    if prefix is None:
        return expr
    return f"{prefix}.{expr}" if _SIMPLE_PATH.fullmatch(expr) else f"{prefix}: {expr}"


def _set_path(target: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    for part in parts[:-1]:
        nxt = target.get(part)
        if not isinstance(nxt, dict):
            nxt = target[part] = {}
        target = nxt
    target[parts[-1]] = value


# --- values -----------------------------------------------------------------------------------------


def _value(rule: FieldRule, scope: Any, zone: str) -> Any:
    raw = search(rule.expr, scope)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None  # CRMs send "" for an empty field: it is missing, not an empty string
    value = _convert(raw, rule.as_, zone, rule.format) if rule.as_ else raw
    if rule.values is not None and isinstance(value, str | int | bool) and str(value) in rule.values:
        value = rule.values[str(value)]
    return value


def _convert(raw: Any, conversion: str, zone: str, fmt: str | None) -> Any:
    """Best effort: a value that does not convert is passed on as it came, so that validation
    reports it (with its CRM field) rather than the mapping hiding it."""
    try:
        if conversion == "string":
            return _to_string(raw)
        if conversion == "decimal":
            return _to_decimal_string(raw)
        if conversion == "int":
            return _to_int(raw)
        if conversion == "bool":
            return _to_bool(raw)
        if conversion == "date":
            return _to_date(raw, zone, fmt)
    except (ValueError, TypeError, ArithmeticError, OverflowError):
        return raw
    return raw


def _to_string(raw: Any) -> Any:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        return _to_decimal_string(raw)
    return raw.strip() if isinstance(raw, str) else raw


def _to_decimal_string(raw: Any) -> Any:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        # repr() is the shortest string that round-trips: 640.5 -> "640.5", never 640.4999...
        return str(Decimal(repr(raw)))
    if isinstance(raw, str):
        text = raw.strip().replace(",", "").replace(" ", "")
        Decimal(text)  # InvalidOperation (an ArithmeticError) when it is not a number: kept as sent
        return text
    return raw


def _to_int(raw: Any) -> Any:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str):
        number = Decimal(raw.strip())
        if number == number.to_integral_value():
            return int(number)
    return raw


_TRUE = {"true", "yes", "y", "1", "on", "是", "checked"}
_FALSE = {"false", "no", "n", "0", "off", "否", "unchecked"}


def _to_bool(raw: Any) -> Any:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return raw


def _to_date(raw: Any, zone: str, fmt: str | None) -> Any:
    """CRM dates arrive as ISO dates, ISO timestamps or epoch milliseconds (HubSpot, 纷享销客); a
    timestamp becomes the calendar date in the mapping's zone."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float) or (isinstance(raw, str) and raw.strip().isdigit() and len(raw.strip()) >= 10):
        millis = int(raw)
        return datetime.fromtimestamp(millis / 1000, tz=UTC).astimezone(ZoneInfo(zone)).date().isoformat()
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if fmt:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            pass
    if len(text) == 10:
        return date.fromisoformat(text).isoformat()
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        return moment.date().isoformat()
    return moment.astimezone(ZoneInfo(zone)).date().isoformat()


# --- loading ----------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def default_mapping(kind: str) -> FieldMapping:
    path = MAPPINGS_DIR / f"{kind}.json"
    if not path.is_file():
        raise MappingError(f"no default mapping for CRM kind {kind!r}")
    return FieldMapping.from_json(json.loads(path.read_text(encoding="utf-8")))


def mapping_for(kind: str, override: Mapping[str, Any] | None) -> FieldMapping:
    return default_mapping(kind).merged(override)


def crm_field_for(path: str, field_sources: Mapping[str, str]) -> str | None:
    """The CRM field behind a canonical error path; for a missing parent object, the fields that
    would have filled it (e.g. contract.parties.counterparty -> its name, address, contact...)."""
    if path in field_sources:
        return field_sources[path]
    children = [src for key, src in field_sources.items() if key.startswith((path + ".", path + "["))]
    if not children:
        return None
    unique = list(dict.fromkeys(children))
    return ", ".join(unique[:4]) + (", ..." if len(unique) > 4 else "")
