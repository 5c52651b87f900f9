"""Turning an untrusted webhook body into a canonical contract, or into every problem at once.

Three passes over the same body, all of which always run so a CRM admin sees the whole list:
1. the pydantic models: each field's type and format;
2. the required clauses of the contract's type (CONTRACT.md's table), checked on the raw body;
3. cross-field rules, also on the raw body, each skipped when a field it needs is itself invalid
   (pass 1 already reported it, and a rule fed half-parsed data would only add noise).
Passes 2 and 3 read the raw body rather than the model so that they still run when pass 1 fails.

Before them, a milestone's relative due date (`"due": {"after": "signing_date", "working_days": 10}`)
is resolved into its `due_date` (see `_resolve_due_rules`), so every later pass, the stored contract,
the reminders and the document see an ordinary `due_date`.
"""

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from .locales import BILINGUAL, LANGUAGES
from .model import (
    CONTRACT_TYPES,
    DUE_ANCHORS,
    Contract,
    ContractRef,
    ContractType,
    EventName,
    OptionalText,
    WebhookEnvelope,
    describe,
)
from .money import decimal_to_str, fraction_digits, minor_units, parse_amount
from .workdays import MAX_DUE_DAYS, WorkingCalendar, add_calendar_days, calendar_for_locale


@dataclass(frozen=True)
class ErrorDetail:
    """One problem: where (CONTRACT.md's dotted path), what, and the CRM field it came from."""

    path: str
    message: str
    crm_field: str | None = None  # filled by a CRM adapter that knows its field mapping

    def to_dict(self) -> dict[str, str]:
        data = {"path": self.path, "message": self.message}
        if self.crm_field is not None:
            data["crm_field"] = self.crm_field
        return data


class ContractInvalid(ValueError):
    """The body is JSON but not a valid contract; `details` lists every problem (HTTP 422)."""

    def __init__(self, details: Sequence[ErrorDetail]) -> None:
        self.details: list[ErrorDetail] = list(details)
        super().__init__(self.summary + ": " + "; ".join(f"{d.path}: {d.message}" for d in self.details))

    @property
    def summary(self) -> str:
        n = len(self.details)
        return f"{n} problem{'' if n == 1 else 's'} in the contract"

    def to_error_body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": "validation_error",
                "message": self.summary,
                "details": [d.to_dict() for d in self.details],
            }
        }


# CONTRACT.md's "required clauses by type". `items[].x` means: in every item.
REQUIRED_CLAUSES: Mapping[ContractType, tuple[str, ...]] = {
    "sales": ("items", "amount", "payment.method", "delivery.date", "delivery.place", "after_sales"),
    "service": (
        "service.description", "service.standard", "effective_date", "end_date", "amount",
        "payment.method", "quality_guarantee", "responsibilities.ours", "responsibilities.counterparty",
    ),
    "partner": (
        "cooperation.scope", "cooperation.method", "profit_sharing.description", "effective_date",
        "end_date", "responsibilities.ours", "responsibilities.counterparty", "breach",
    ),
    "supplier": (
        "items", "items[].specification", "amount", "payment.method", "delivery.date",
        "delivery.place", "quality_guarantee", "responsibilities.ours", "responsibilities.counterparty",
    ),
}

# Required inside an optional object of any type, once the object is given (CONTRACT.md's common
# table marks only `terms` and `milestones` optional in payment and delivery).
_REQUIRED_WHEN_PRESENT: Mapping[str, tuple[str, ...]] = {
    "payment": ("payment.method",),
    "delivery": ("delivery.date", "delivery.place"),
}

_EVENTS: tuple[EventName, ...] = ("contract.created", "contract.updated", "contract.cancelled")


# --- entry points -----------------------------------------------------------------------------


def parse_webhook_body(body: object, *, calendar: WorkingCalendar | None = None) -> WebhookEnvelope:
    """The generic webhook's JSON body (already decoded) -> WebhookEnvelope, or ContractInvalid.

    `calendar` counts the working days of a milestone's `due` (default: the contract locale's,
    see `_resolve_due_rules`)."""
    if not isinstance(body, dict):
        raise ContractInvalid([ErrorDetail("body", f"must be a JSON object, not {describe(body)}")])

    errors: list[ErrorDetail] = []
    head, head_errors = _validate(_EnvelopeHead, {k: v for k, v in body.items() if k != "contract"}, "")
    errors += head_errors

    event = body.get("event")
    raw_contract = body.get("contract")
    contract: Contract | ContractRef | None = None
    if raw_contract is None:
        errors.append(ErrorDetail("contract", "required"))
    elif not isinstance(raw_contract, dict):
        errors.append(ErrorDetail("contract", f"must be an object, not {describe(raw_contract)}"))
    elif event in ("contract.created", "contract.updated"):
        contract, contract_errors = _check_contract(raw_contract, calendar)
        errors += contract_errors
    else:
        # A cancellation, or an event we could not read: only the record id is needed to act,
        # and judging a cancel body as a full contract would bury the one real mistake.
        contract, ref_errors = _validate(ContractRef, raw_contract, "contract")
        errors += ref_errors

    if errors:
        raise ContractInvalid(_ordered(errors))
    assert head is not None and contract is not None
    extras = head.model_extra or {}
    fields = {"event": head.event, "contract": contract, **extras}
    if "event_id" in head.model_fields_set:
        fields["event_id"] = head.event_id
    # Parts are validated above; construct keeps the exact Contract/ContractRef chosen by event.
    return WebhookEnvelope.model_construct(_fields_set=set(fields), **fields)


def parse_contract(data: object, *, calendar: WorkingCalendar | None = None) -> Contract:
    """A stored or previewed canonical contract -> Contract (all rules), or ContractInvalid.
    `calendar` as for `parse_webhook_body`."""
    if not isinstance(data, dict):
        raise ContractInvalid([ErrorDetail("contract", f"must be an object, not {describe(data)}")])
    contract, errors = _check_contract(data, calendar)
    if errors:
        raise ContractInvalid(_ordered(errors))
    assert contract is not None
    return contract


class _EnvelopeHead(BaseModel):
    model_config = ConfigDict(extra="allow")

    event: EventName
    event_id: OptionalText | None = None


def _check_contract(
    raw: dict[str, Any], calendar: WorkingCalendar | None = None
) -> tuple[Contract | None, list[ErrorDetail]]:
    raw, due_errors, bad_due = _resolve_due_rules(raw, calendar)
    contract, field_errors = _validate(Contract, raw, "contract")
    required = _required_clauses(raw)
    # A blank required date or amount ("") is missing rather than malformed: say so once.
    missing = {e.path for e in required}
    # A due_date left out because its `due` was refused is not missing too: the `due` error says it.
    field_errors = [e for e in field_errors if e.path not in bad_due]
    errors = [e for e in field_errors if e.path not in missing] + required + due_errors
    return contract, errors + _cross_field_rules(raw)


# --- relative due dates -----------------------------------------------------------------------

def _resolve_due_rules(
    raw: dict[str, Any], calendar: WorkingCalendar | None
) -> tuple[dict[str, Any], list[ErrorDetail], set[str]]:
    """Replace each milestone's `due` by the `due_date` it gives.

    `due` is `{"after": "signing_date" | "effective_date" | "delivery.date", "working_days": N}` or
    `{"after": ..., "days": N}` (N from 1 to 3650), given instead of `due_date`. Working days are
    counted with `calendar`, by default the one of the contract's locale (zh-CN: the PRC calendar
    with its 调休 days; en: Monday to Friday), because validation does not know the tenant. The
    result keeps what was asked as `due_rule` (the normalised `due`, for the record) next to the
    computed `due_date`, and drops `due`: a stored contract then re-parses to the same thing even if
    the calendar data changes later.

    Returns the resolved body (a copy; `raw` is not changed), the problems, and the `due_date`
    paths whose `due` was refused (pass 1 would only repeat them as "required").
    """
    errors: list[ErrorDetail] = []
    refused: set[str] = set()
    if not any(_dicts_with(raw, section, "due") for section in ("payment", "delivery")):
        return raw, errors, refused
    cal = calendar or calendar_for_locale(raw.get("locale"))
    resolved = dict(raw)
    for section in ("payment", "delivery"):
        block = raw.get(section)
        if not isinstance(block, dict) or not isinstance(block.get("milestones"), list):
            continue
        milestones: list[Any] = list(block["milestones"])
        for i, milestone in _dicts(milestones):
            if milestone.get("due") is None:
                continue
            path = f"contract.{section}.milestones[{i}]"
            rule = dict(milestone)
            given = rule.pop("due")
            if rule.get("due_date") is not None:
                # One mistake, one message: the rule's own shape is beside the point here.
                due_date, problems = None, [ErrorDetail(f"{path}.due", "give either due_date or due, not both")]
            else:
                due_date, problems = _due_date(raw, given, f"{path}.due", cal)
            errors += problems
            if problems or due_date is None:
                refused.add(f"{path}.due_date")
            if due_date is not None and not problems:
                rule["due_date"] = due_date.isoformat()
                rule["due_rule"] = _normalised(given)
            milestones[i] = rule
        resolved[section] = {**block, "milestones": milestones}
    return resolved, errors, refused


def _dicts_with(raw: dict[str, Any], section: str, key: str) -> bool:
    block = raw.get(section)
    return isinstance(block, dict) and any(m.get(key) is not None for _, m in _dicts(block.get("milestones")))


def _due_date(
    raw: dict[str, Any], given: object, path: str, cal: WorkingCalendar
) -> tuple[dt.date | None, list[ErrorDetail]]:
    if not isinstance(given, dict):
        return None, [ErrorDetail(path, f"must be an object like {{\"after\": \"signing_date\", "
                                        f"\"working_days\": 10}}, not {describe(given)}")]
    errors: list[ErrorDetail] = []
    after = given.get("after")
    if after not in DUE_ANCHORS:
        shown = "required" if after is None else f"not {describe(after)}"
        errors.append(ErrorDetail(f"{path}.after", f"must be one of {', '.join(DUE_ANCHORS)} ({shown})"))
    counts = [name for name in ("working_days", "days") if given.get(name) is not None]
    if len(counts) != 1:
        wrong = "both" if counts else "neither"
        errors.append(ErrorDetail(path, f"give exactly one of working_days or days ({wrong} given)"))
    else:
        n = given[counts[0]]
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_DUE_DAYS:
            errors.append(ErrorDetail(f"{path}.{counts[0]}",
                                      f"must be a whole number from 1 to {MAX_DUE_DAYS}, not {describe(n)}"))
    if errors:
        return None, errors
    anchor_value = _anchor_value(raw, str(after))
    if _is_missing(anchor_value):
        return None, [ErrorDetail(f"{path}.after", f"the contract has no {after} to count from")]
    anchor = _date_or_none(anchor_value)
    if anchor is None:
        return None, []  # the malformed anchor is reported on its own; nothing to compute from
    n = given[counts[0]]
    if counts[0] == "working_days":
        return cal.add_working_days(anchor, n), []
    return add_calendar_days(anchor, n), []


def _anchor_value(raw: dict[str, Any], after: str) -> object:
    head, _, rest = after.partition(".")
    value = raw.get(head)
    if rest:
        return value.get(rest) if isinstance(value, dict) else None
    return value


def _normalised(given: dict[str, Any]) -> dict[str, Any]:
    return {k: given[k] for k in ("after", "working_days", "days") if given.get(k) is not None}



# --- pass 1: pydantic, translated -------------------------------------------------------------

_M = TypeVar("_M", bound=BaseModel)


def _validate[M: BaseModel](model: type[M], raw: dict[str, Any], prefix: str) -> tuple[M | None, list[ErrorDetail]]:
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        return None, [ErrorDetail(_join(prefix, e["loc"]), _message(e)) for e in exc.errors()]


def _join(prefix: str, loc: Iterable[str | int]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def _message(error: ErrorDetails) -> str:
    """Pydantic's error as a plain English sentence, with no pydantic wording or links."""
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing" or (value is None and kind.endswith("_type")):
        return "required"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, not {describe(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be an object, not {describe(value)}"
    if kind == "list_type":
        return f"must be a list, not {describe(value)}"
    if kind == "string_type":
        return f"must be a string, not {describe(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be a whole number, not {describe(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, not {describe(value)}"
    # Anything else keeps pydantic's own sentence, minus its "Input should be" phrasing.
    return re.sub(r"^Input should be", "must be", error["msg"])


# --- pass 2: required clauses by type ----------------------------------------------------------


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _required_clauses(raw: dict[str, Any]) -> list[ErrorDetail]:
    errors: list[ErrorDetail] = []
    reported: set[str] = set()
    contract_type = raw.get("type")
    if contract_type in CONTRACT_TYPES:
        reason = f"required for a {contract_type} contract"
        for clause in REQUIRED_CLAUSES[contract_type]:
            for path in _missing_paths(raw, clause):
                errors.append(ErrorDetail(path, reason))
                reported.add(path)
            if clause == "items" and raw.get("items") == []:
                errors.append(ErrorDetail("contract.items", f"at least one item is {reason}"))
    for parent, clauses in _REQUIRED_WHEN_PRESENT.items():
        if isinstance(raw.get(parent), dict):
            for clause in clauses:
                missing = [p for p in _missing_paths(raw, clause) if p not in reported]
                errors += [ErrorDetail(p, "required") for p in missing]
    return errors


def _missing_paths(raw: dict[str, Any], clause: str) -> Iterator[str]:
    """Paths of `clause` that are absent, null or blank. A parent of the wrong type is pass 1's
    problem and yields nothing here."""
    head, _, rest = clause.partition(".")
    if head.endswith("[]"):
        items = raw.get(head[:-2])
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    for path in _missing_paths(item, rest):
                        yield path.replace("contract.", f"contract.{head[:-2]}[{i}].", 1)
        return
    value = raw.get(head)
    if not rest:
        if _is_missing(value):
            yield f"contract.{head}"
        return
    if value is None:
        yield f"contract.{clause}"
    elif isinstance(value, dict):
        for path in _missing_paths(value, rest):
            yield path.replace("contract.", f"contract.{head}.", 1)


# --- pass 3: cross-field rules ----------------------------------------------------------------


def _decimal_or_none(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        return parse_amount(value)
    except ValueError:
        return None


def _date_or_none(value: object) -> dt.date | None:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _dicts(value: object) -> list[tuple[int, dict[str, Any]]]:
    """The objects of a list with their positions (non-objects are pass 1's problem)."""
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []


def _cross_field_rules(raw: dict[str, Any]) -> list[ErrorDetail]:
    return [
        *_signers_rules(raw),
        *_period_rule(raw),
        *_milestone_sum_rule(raw),
        *_milestone_id_rule(raw),
        *_currency_precision_rule(raw),
        *_prevailing_language_rule(raw),
        *_notice_period_rule(raw),
    ]


def _notice_period_rule(raw: dict[str, Any]) -> list[ErrorDetail]:
    # Two notice periods would leave the cancel-by date to whichever one the reader happened to pick.
    if raw.get("renewal_notice_days") is None or raw.get("renewal_notice_working_days") is None:
        return []
    return [ErrorDetail(
        "contract.renewal_notice_working_days",
        "give the renewal notice period once: renewal_notice_days (calendar days) or "
        "renewal_notice_working_days (working days), not both",
    )]


def _prevailing_language_rule(raw: dict[str, Any]) -> list[ErrorDetail]:
    # Only a bilingual document has two texts to choose from; a single-language one prevails in its own.
    locale, chosen = raw.get("locale"), raw.get("prevailing_language")
    if chosen is None or chosen not in LANGUAGES or locale not in LANGUAGES or chosen == locale:
        return []  # absent, or a bad value or locale reported on its own, or consistent
    return [ErrorDetail(
        "contract.prevailing_language",
        f"a contract in {locale} has only the {locale} text; only a bilingual contract "
        f"(locale {BILINGUAL}) can name {chosen} as the prevailing language",
    )]


def _signers_rules(raw: dict[str, Any]) -> list[ErrorDetail]:
    signers = raw.get("signers")
    if not isinstance(signers, list):
        return []
    if not signers:
        return [ErrorDetail("contract.signers", "at least one signer is required")]
    given = [s.get("routing_order") if isinstance(s, dict) else None for s in signers]
    orders = [o for o in given if isinstance(o, int) and not isinstance(o, bool) and o >= 1]
    if len(orders) != len(given):
        return []  # a bad routing_order is reported on its own
    # DocuSign routes 1, 2, 3...; a gap (1 then 3) leaves a step with nobody in it.
    present = sorted(set(orders))
    for expected, actual in enumerate(present, start=1):
        if actual != expected:
            index = orders.index(actual)
            return [ErrorDetail(
                f"contract.signers[{index}].routing_order",
                f"routing_order {actual} leaves a gap: no signer has routing_order {expected} "
                "(orders run 1, 2, 3... without gaps; equal orders sign in parallel)",
            )]
    return []


def _period_rule(raw: dict[str, Any]) -> list[ErrorDetail]:
    start, end = _date_or_none(raw.get("effective_date")), _date_or_none(raw.get("end_date"))
    if start and end and end <= start:
        return [ErrorDetail("contract.end_date", f"must be after effective_date ({start.isoformat()})")]
    return []


def _milestone_sum_rule(raw: dict[str, Any]) -> list[ErrorDetail]:
    payment = raw.get("payment")
    amount = _decimal_or_none(raw.get("amount"))
    if amount is None or not isinstance(payment, dict):
        return []
    milestones = payment.get("milestones")
    if not isinstance(milestones, list) or not milestones:
        return []
    read = [_decimal_or_none(m.get("amount")) if isinstance(m, dict) else None for m in milestones]
    amounts = [a for a in read if a is not None]
    if len(amounts) != len(read):
        return []  # an unreadable milestone amount is reported on its own
    total = sum(amounts, Decimal(0))
    if total != amount:
        return [ErrorDetail(
            "contract.payment.milestones",
            f"the milestone amounts add up to {decimal_to_str(total)}, "
            f"not the contract amount {decimal_to_str(amount)}",
        )]
    return []


def _milestone_id_rule(raw: dict[str, Any]) -> list[ErrorDetail]:
    # Ids are unique across payment and delivery together: reminders and the execution API
    # (`/milestones/{milestone_id}`) address a milestone by its id alone.
    errors: list[ErrorDetail] = []
    first_seen: dict[str, str] = {}
    for section in ("payment", "delivery"):
        block = raw.get(section)
        if not isinstance(block, dict):
            continue
        for i, milestone in _dicts(block.get("milestones")):
            milestone_id = milestone.get("id")
            if not isinstance(milestone_id, str) or not milestone_id.strip():
                continue
            path = f"contract.{section}.milestones[{i}].id"
            if milestone_id in first_seen:
                errors.append(ErrorDetail(
                    path, f"duplicate milestone id {milestone_id!r}: also used at {first_seen[milestone_id]}"
                ))
            else:
                first_seen[milestone_id] = path
    return errors


def _currency_precision_rule(raw: dict[str, Any]) -> list[ErrorDetail]:
    # Amounts that change hands cannot be finer than the currency's minor unit (1 分 for CNY);
    # unit prices may be (0.0035 per unit is a real price), so they are not checked.
    currency = raw.get("currency")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        return []
    places = minor_units(currency)
    candidates: list[tuple[str, object]] = [("contract.amount", raw.get("amount"))]
    payment = raw.get("payment")
    if isinstance(payment, dict):
        milestones = _dicts(payment.get("milestones"))
        candidates += [(f"contract.payment.milestones[{i}].amount", m.get("amount")) for i, m in milestones]
    errors: list[ErrorDetail] = []
    for path, value in candidates:
        amount = _decimal_or_none(value)
        if amount is not None and fraction_digits(amount) > places:
            limit = f"at most {places} decimal places" if places else "no decimal places"
            errors.append(ErrorDetail(path, f"{currency} amounts have {limit}, not {decimal_to_str(amount)}"))
    return errors


# --- ordering ---------------------------------------------------------------------------------


def _path_key(path: str) -> tuple[int, tuple[tuple[int, str, int], ...]]:
    # Envelope fields first, then the contract's paths alphabetically, list positions numerically
    # (so [10] comes after [2]).
    parts = tuple(
        (0, name, -1) if name else (1, "", int(index))
        for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)
    )
    return (1 if path.startswith("contract") else 0, parts)


def _ordered(errors: list[ErrorDetail]) -> list[ErrorDetail]:
    unique = list(dict.fromkeys(errors))
    return sorted(unique, key=lambda d: _path_key(d.path))
