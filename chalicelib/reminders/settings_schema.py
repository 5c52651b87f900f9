"""The tenant settings document as one schema: what `admin tenants set` accepts and what
docs/tenant-settings.md publishes (`settings_json_schema()`, the JSON Schema of the pydantic model
below; a test keeps the committed copy equal to it).

The document has sections read by different parts of the app: the reminder settings at the top
level (`TenantSettings.from_dict`), `approval` (the approval gate, chalicelib/contracts/approval.py,
lifecycle/approvals.py, approval_sla.py, approval_tokens.py), `signing` (DocuSign's reminders and
expiry, esign/signing_settings.py) and `docusign` (the tenant's own DocuSign account, written by
`admin docusign use`). The readers stay lenient with what is stored (old documents keep working);
this model is strict about what an operator writes: unknown keys, wrong types and out-of-range
values are refused with their path.

`problems(document)` is the model's verdict merged with the domain parser's (`TenantSettings`), so a
rule that lives only in the domain (a holiday that is also a make-up workday) is still reported, once,
at its path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from chalicelib.esign.signing_settings import MAX_DAYS as SIGNING_MAX_DAYS
from chalicelib.lifecycle.approval_sla import MAX_SLA_HOURS
from chalicelib.lifecycle.approval_tokens import MAX_LINK_HOURS

from .settings import _DAY_NAMES, MAX_LADDER_DAYS, SettingsError, TenantSettings

Problem = tuple[str, str]  # (path, reason), as TenantSettings reports them

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DECIMAL_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
CONTRACT_TYPES = ("sales", "service", "partner", "supplier")
# What `admin tenants set` leaves to its own command (the secret it names is written there too).
MANAGED_ELSEWHERE = {"docusign": "admin docusign use"}


def _real_date(value: str) -> str:
    date.fromisoformat(value)  # ValueError: "2027-02-30" has the shape but is no date
    return value


def _weekday(value: int | str) -> int | str:
    if (value not in range(1, 8)) if isinstance(value, int) else value.strip().lower() not in _DAY_NAMES:
        raise ValueError(f"not a weekday ('mon'..'sun' or 1..7): {value!r}")
    return value


Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=254)]
IsoDate = Annotated[str, Field(pattern=DATE_PATTERN), AfterValidator(_real_date),
                    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN})]
LocalTime = Annotated[str, Field(pattern=TIME_PATTERN, description="local wall-clock time, HH:MM")]
Weekday = Annotated[
    int | str, AfterValidator(_weekday),
    WithJsonSchema({"oneOf": [{"type": "integer", "minimum": 1, "maximum": 7},
                              {"type": "string", "enum": sorted(_DAY_NAMES)}]}),
]
LadderDays = Annotated[int, Field(ge=0, le=MAX_LADDER_DAYS)]
PositiveLadderDays = Annotated[int, Field(ge=1, le=MAX_LADDER_DAYS)]
DecimalText = Annotated[str, Field(pattern=DECIMAL_PATTERN, max_length=32, examples=["100000.00"])]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class BusinessHours(_Strict):
    start: LocalTime = Field("09:00", description="reminders are sent from this local time (the nominal send time)")
    end: LocalTime = Field("18:00", description="... until this local time; after start", validate_default=True)

    @field_validator("end")
    @classmethod
    def _ordered(cls, end: str, info: ValidationInfo) -> str:
        start = info.data.get("start")
        if start is not None and end <= start:  # HH:MM strings sort as times
            raise ValueError(f"must be after start ({start})")
        return end


class Payment(_Strict):
    before_due_days: list[PositiveLadderDays] = Field([7], description="payment reminders, days before the due date")
    on_due: bool = Field(True, description="a reminder on the due date")
    overdue_ladder_days: list[PositiveLadderDays] = Field(
        [1, 7, 14, 30], description="overdue reminders, days after the first business day on or after the due date")
    escalate_after_days: PositiveLadderDays = Field(7, description="overdue steps from this day on also go to "
                                                    "manager_email")
    finance_after_days: PositiveLadderDays = Field(14, description="... and from this day on also to finance_email")
    manager_email: Email | None = None
    finance_email: Email | None = None


class Delivery(_Strict):
    before_due_days: list[LadderDays] = Field([3], description="delivery reminders, days before (0: on the day)")
    overdue_ladder_days: list[PositiveLadderDays] = Field([1, 7], description="delivery overdue reminders")


class Calendar(_Strict):
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = Field(
        None, description="ISO 3166 code of a country whose official working calendar applies (CN: holidays and "
        "调休 make-up days; others: their public holidays and weekend); null: Monday to Friday")
    extra_holidays: list[IsoDate] = []
    extra_workdays: list[IsoDate] = []


class Approval(_Strict):
    always: bool = Field(False, description="every contract needs approval")
    types: list[Literal["sales", "service", "partner", "supplier"]] = Field(
        [], description="contract types that always need approval")
    amount_over: dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], DecimalText] = Field(
        {}, description="per currency: a contract whose amount is over the limit needs approval; other currencies "
        "are not limited by it")
    sla_hours: Annotated[float, Field(gt=0, le=MAX_SLA_HOURS)] | None = Field(
        None, description="hours after which the approvers are reminded, and after another as many the question "
        "goes to escalate_to (unset: no SLA)")
    escalate_to: list[Email] = Field([], description="the escalation approvers")
    link_hours: Annotated[float, Field(gt=0, le=MAX_LINK_HOURS)] = Field(
        72, description="how long an approval email's links work")
    # Last, so that its check sees the rules above.
    approvers: list[Email] = Field([], validate_default=True,
                                   description="who is asked (each gets their own approve and reject links)")

    @field_validator("approvers")
    @classmethod
    def _someone_to_ask(cls, approvers: list[str], info: ValidationInfo) -> list[str]:
        if not approvers and any(info.data.get(rule) for rule in ("always", "types", "amount_over")):
            raise ValueError("rules are set but nobody is named to approve the contracts they hold")
        return approvers


class Signing(_Strict):
    reminders_enabled: bool = Field(True, description="DocuSign reminds signers who have not signed")
    reminder_delay_days: Annotated[int, Field(ge=0, le=SIGNING_MAX_DAYS)] = Field(2, description="days after "
                                                                                  "sending before the first reminder")
    reminder_frequency_days: Annotated[int, Field(ge=0, le=SIGNING_MAX_DAYS)] = Field(2, description="days between "
                                                                                      "reminders")
    expire_after_days: Annotated[int, Field(ge=1, le=SIGNING_MAX_DAYS)] = Field(30, description="the envelope, and "
                                                                                "every signing link, lives this long")
    expire_warn_days: Annotated[int, Field(ge=0, le=SIGNING_MAX_DAYS)] = Field(
        5, validate_default=True, description="a warning this many days before expiry (0: none)")

    @field_validator("expire_warn_days")
    @classmethod
    def _warn_before_expiry(cls, warn: int, info: ValidationInfo) -> int:
        expire_after = info.data.get("expire_after_days")
        if warn and expire_after is not None and warn >= expire_after:
            raise ValueError(f"must be less than expire_after_days ({expire_after})")
        return warn


class DocuSign(_Strict):
    secret_id: str = Field(description="the Secrets Manager secret of the tenant's own DocuSign account")


class TenantSettingsDocument(_Strict):
    """A tenant's settings (every key optional; what is not set takes its default)."""

    model_config = ConfigDict(strict=True, extra="forbid", title="Tenant settings")

    time_zone: str = Field("Asia/Shanghai", description="IANA zone, used when a contract names none")
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    business_days: list[Weekday] = Field(["mon", "tue", "wed", "thu", "fri"], min_length=1,
                                         description="names or ISO numbers 1..7 (a calendar replaces them)")
    holidays: list[IsoDate] = Field([], description="dates that are not business days")
    make_up_workdays: list[IsoDate] = Field([], description="weekend dates that are business days (调休)")
    expiry_ladder_days: list[LadderDays] = Field([90, 30, 7], description="expiry notices, days before the end date")
    renewal_notice_lead_days: list[LadderDays] = Field([30, 7], description="renewal notices, days before the "
                                                       "cancel-by date")
    renewal_send_buffer_days: LadderDays = Field(0, description="extra days taken off the cancel-by date")
    payment: Payment = Field(default_factory=Payment)
    delivery: Delivery = Field(default_factory=Delivery)
    reminder_cc: list[Email] = Field([], description="in Cc of every reminder")
    calendar: Calendar | None = None
    approval: Approval | None = Field(None, description="the approval gate's rules (unset: no approval)")
    signing: Signing = Field(default_factory=Signing)
    docusign: DocuSign | None = Field(None, description="set by `admin docusign use`")


def settings_json_schema() -> dict[str, Any]:
    return TenantSettingsDocument.model_json_schema()


def schema_text() -> str:
    """The schema as committed in docs/tenant-settings.schema.json."""
    return json.dumps(settings_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def path_of(loc: tuple[int | str, ...]) -> str:
    """pydantic's location -> the dotted path TenantSettings uses (`payment.overdue_ladder_days[2]`)."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif re.fullmatch(r"[a-z_][a-z0-9_]*|[A-Z]{3}", part) is None:
            continue  # a union member's tag ('int', "function-after[...]"), not a key
        else:
            path += f".{part}" if path else part
    return path


def problems(document: Mapping[str, Any] | None) -> list[Problem]:
    """Every problem of a settings document, each (path, reason) once; [] when it is valid."""
    found: list[Problem] = []
    if not isinstance(document, Mapping):
        return [("", f"settings must be an object, got {type(document).__name__}")]
    try:
        TenantSettingsDocument.model_validate_json(json.dumps(document, default=str))
    except ValidationError as err:
        for error in err.errors(include_url=False):
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "not a setting (docs/tenant-settings.md lists them)"
            found.append((path_of(tuple(error["loc"])), message))
    try:
        TenantSettings.from_dict(document)
    except SettingsError as err:
        found.extend(err.problems)
    seen: set[str] = set()
    unique: list[Problem] = []
    for path, message in found:  # the model's wording first; the domain's only where it saw more
        if path not in seen:
            seen.add(path)
            unique.append((path, message))
    return unique
