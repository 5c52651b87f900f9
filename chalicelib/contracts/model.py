"""The canonical contract (CONTRACT.md) as pydantic v2 models.

These models check each field on its own (types, formats, ranges). What depends on the contract's
type or on several fields (required clauses, milestone sums, routing order) lives in
validation.py, which is also the only sanctioned way to build them from untrusted data:
`parse_webhook_body` for webhooks, `parse_contract` (or `Contract.from_canonical_dict`) for stored
contracts. Fields that only some types require are optional here; validation.py enforces them.

Unknown fields are allowed and kept at every level (CRMs send more, and CONTRACT.md lets optional
fields be added freely), but never validated.
"""

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    WithJsonSchema,
)

from .money import decimal_to_str, fraction_digits, integer_digits, parse_amount
from .workdays import MAX_DUE_DAYS, MAX_NOTICE_WORKING_DAYS

DEFAULT_TIME_ZONE = "Asia/Shanghai"

ContractType = Literal["sales", "service", "partner", "supplier"]
CONTRACT_TYPES: tuple[ContractType, ...] = ("sales", "service", "partner", "supplier")
# "zh-CN+en": one document in both languages, side by side (locales.py).
Locale = Literal["zh-CN", "en", "zh-CN+en"]
Language = Literal["zh-CN", "en"]
PartyRole = Literal["ours", "counterparty"]
SignerDelivery = Literal["email", "embedded"]
EventName = Literal["contract.created", "contract.updated", "contract.cancelled"]


def describe(value: object) -> str:
    """A JSON value as a person would name it in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


# --- field types ------------------------------------------------------------------------------


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


# Required text: a JSON string with something in it. Optional text is a plain StrictStr so that
# a CRM's "" for an empty optional field is not an error.
Text = Annotated[str, Strict(), AfterValidator(_not_blank),
                 WithJsonSchema({"type": "string", "minLength": 1, "pattern": r"\S"})]
OptionalText = Annotated[str, Strict()]

# Single-line text: what goes into email subjects, headers, file names and DocuSign's envelope
# subject (number, title, names). A line break there would fail every email about the contract.
MAX_LINE = 500
_NOT_IN_A_LINE = "\x00-\x1f\x7f\u0085\u2028\u2029"
_LINE_BREAK = re.compile(f"[{_NOT_IN_A_LINE}]")


def _one_line(value: str) -> str:
    _not_blank(value)
    if _LINE_BREAK.search(value):
        raise ValueError("must be a single line: no line breaks or control characters")
    if len(value) > MAX_LINE:
        raise ValueError(f"must be at most {MAX_LINE} characters")
    return value


Line = Annotated[str, Strict(), AfterValidator(_one_line), WithJsonSchema({
    "type": "string", "minLength": 1, "maxLength": MAX_LINE,
    "pattern": f"^[^{_NOT_IN_A_LINE}]*[^\\s{_NOT_IN_A_LINE}][^{_NOT_IN_A_LINE}]*$"})]

# Identifiers that become parts of stored keys (a CRM record id, a milestone id): a documented
# character set without '#', the keys' separator, so no value can forge another's key.
IDENTIFIER_PATTERN = r"[A-Za-z0-9._:@/+=-]{1,128}"
_IDENTIFIER_RE = re.compile(IDENTIFIER_PATTERN)


def _identifier(value: str) -> str:
    if not _IDENTIFIER_RE.fullmatch(value):
        raise ValueError("must be 1 to 128 characters: letters, digits and . _ : @ / + = -")
    return value


Identifier = Annotated[str, Strict(), AfterValidator(_identifier),
                       WithJsonSchema({"type": "string", "pattern": f"^{IDENTIFIER_PATTERN}$"})]

# Deliberately simple (no email-validator dependency): one @, a dotted domain of sane labels,
# no spaces. DocuSign does its own stricter check; this catches mapping mistakes early.
_EMAIL_RE = re.compile(
    r"[^@\s\"(),:;<>\[\\\]]{1,64}@(?=.{1,253}$)(?:(?!-)[A-Za-z0-9\u00a1-\uffff-]{1,63}(?<!-)\.)+"
    r"[A-Za-z\u00a1-\uffff]{2,63}"
)


def _check_email(value: str) -> str:
    local = value.partition("@")[0]
    if not _EMAIL_RE.fullmatch(value) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValueError(f"not a valid email address: {value!r}")
    return value


# _check_email as a pattern without lookarounds (generators cannot draw from those): dot-separated
# runs in the local part, labels that neither start nor end with a hyphen. The length limits (64 and
# 253) are left to the server.
_EMAIL_LOCAL = r'[^.@\s"(),:;<>\[\\\]]+'
_EMAIL_LABEL = r"[A-Za-z0-9\u00a1-\uffff](?:[A-Za-z0-9\u00a1-\uffff-]{0,61}[A-Za-z0-9\u00a1-\uffff])?"
Email = Annotated[str, Strict(), AfterValidator(_check_email), WithJsonSchema({
    "type": "string",
    "pattern": rf"^{_EMAIL_LOCAL}(?:\.{_EMAIL_LOCAL})*@(?:{_EMAIL_LABEL}\.)+[A-Za-z\u00a1-\uffff]{{2,63}}$"})]

_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _parse_iso_date(value: object) -> object:
    # Only "YYYY-MM-DD": pydantic's lax mode would also take datetimes and Unix timestamps.
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be a date string YYYY-MM-DD, not {describe(value)}")
    if not _DATE_RE.fullmatch(value):
        raise ValueError(f"not a date: {value!r} (expected YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date: {value!r}") from None


IsoDate = Annotated[
    dt.date,
    BeforeValidator(_parse_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "pattern": "^" + _DATE_RE.pattern + "$"}),
]

# Bounds that keep every amount printable in Chinese capitals and storable exactly in DynamoDB
# (38 significant digits); no real contract comes near them.
MAX_FRACTION_DIGITS = 10
_MAX_INTEGER_DIGITS = 16


def _to_decimal(value: object) -> Decimal:
    try:
        number = parse_amount(value)  # type: ignore[arg-type]  # the TypeError is the check
    except TypeError:
        if isinstance(value, float):
            raise ValueError(
                f'must be a decimal string such as "128000.00", not the JSON number {value!r}: '
                "numbers with a fraction are not exact"
            ) from None
        raise ValueError(f'must be a decimal string such as "128000.00", not {describe(value)}') from None
    except ValueError:
        raise ValueError(f"not a decimal number: {value!r}") from None
    if integer_digits(number) > _MAX_INTEGER_DIGITS:
        raise ValueError(f"too large: at most {_MAX_INTEGER_DIGITS} digits before the decimal point")
    if fraction_digits(number) > MAX_FRACTION_DIGITS:
        raise ValueError(f"too precise: at most {MAX_FRACTION_DIGITS} digits after the decimal point")
    return number


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError(f"must be greater than 0, not {decimal_to_str(value)}")
    return value


def _percent(value: Decimal) -> Decimal:
    if not 0 <= value <= 100:
        raise ValueError(f"must be a percentage from 0 to 100, not {decimal_to_str(value)}")
    return value


# The JSON Schemas say what _to_decimal and the range checks accept: a decimal string (at most 16
# digits before the point, 10 after, leading zeros aside) or a JSON integer.
_DIGITS = r"0*[0-9]{1,16}(\.[0-9]{1,10})?"
_POSITIVE_JSON_SCHEMA = WithJsonSchema({"anyOf": [
    {"type": "string", "pattern": r"^(?=[0-9.]*[1-9])" + _DIGITS + "$"},
    {"type": "integer", "minimum": 1, "maximum": 10**_MAX_INTEGER_DIGITS - 1},
]})
_PERCENT_JSON_SCHEMA = WithJsonSchema({"anyOf": [
    {"type": "string", "pattern": r"^(-?0+(\.0{1,10})?|0*100(\.0{1,10})?|0*[0-9]{1,2}(\.[0-9]{1,10})?)$"},
    {"type": "integer", "minimum": 0, "maximum": 100},
]})
_DECIMAL_AS_STRING = PlainSerializer(decimal_to_str, return_type=str, when_used="json")

# A positive decimal, given as a string (or a JSON integer, which is exact); kept at the scale
# given, so "128000.00" is written back as "128000.00".
PositiveDecimal = Annotated[
    Decimal, BeforeValidator(_to_decimal), AfterValidator(_positive), _DECIMAL_AS_STRING,
    _POSITIVE_JSON_SCHEMA,
]
Percent = Annotated[
    Decimal, BeforeValidator(_to_decimal), AfterValidator(_percent), _DECIMAL_AS_STRING,
    _PERCENT_JSON_SCHEMA,
]


def _check_currency(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError(f"must be an ISO 4217 currency code such as CNY, not {value!r}")
    return value


Currency = Annotated[str, Strict(), AfterValidator(_check_currency),
                     WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$"})]

# Keys ZoneInfo accepts that are not zones a contract can be in (host-dependent or placeholders).
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


def _check_time_zone(value: str) -> str:
    if value in _NOT_ZONES or value.startswith(("posix/", "right/")):
        raise ValueError(f"not an IANA time zone: {value!r}")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"not an IANA time zone: {value!r} (e.g. 'Asia/Shanghai')") from None
    return value


TimeZoneName = Annotated[str, Strict(), AfterValidator(_check_time_zone), WithJsonSchema({
    "type": "string", "minLength": 1, "description": "an IANA time zone, e.g. Asia/Shanghai"})]


def _check_https_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
    except ValueError:
        raise ValueError("not a valid URL") from None  # never echoed: a URL may carry credentials
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("must be an https URL (https://host/path)")
    return value


# _check_https_url as a pattern: https, a host, a port up to 65535, no whitespace.
_PORT = r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})?)?"
HttpsUrl = Annotated[str, Strict(), AfterValidator(_check_https_url), WithJsonSchema({
    "type": "string",
    "pattern": r"^https://(?:[^\s/?#@]*@)?(?:\[[0-9A-Fa-f:.]+\]|[^\s/?#@:\[\]]+)" + _PORT + r"(?:[/?#]\S*)?$"})]


def _at_least(minimum: int) -> AfterValidator:
    def check(value: int) -> int:
        if value < minimum:
            raise ValueError(f"must be {minimum} or more, not {value}")
        return value

    return AfterValidator(check)


RoutingOrder = Annotated[int, Strict(), _at_least(1), WithJsonSchema({"type": "integer", "minimum": 1})]
NonNegativeInt = Annotated[int, Strict(), _at_least(0), WithJsonSchema({"type": "integer", "minimum": 0})]


def _at_most(maximum: int) -> AfterValidator:
    def check(value: int) -> int:
        if value > maximum:
            raise ValueError(f"must be {maximum} or less, not {value}")
        return value

    return AfterValidator(check)


NoticeWorkingDays = Annotated[int, Strict(), _at_least(0), _at_most(MAX_NOTICE_WORKING_DAYS),
                              WithJsonSchema({"type": "integer", "minimum": 0, "maximum": MAX_NOTICE_WORKING_DAYS})]


def _null_is_empty(value: object) -> object:
    # CRMs send null for an empty list; treat it as the empty list rather than an error.
    return [] if value is None else value


# --- models -----------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Person(_Model):
    name: Line
    email: Email


class Contact(Person):
    phone: OptionalText | None = None


class Party(_Model):
    name: Line
    address: Text
    contact: Contact


class Parties(_Model):
    ours: Party
    counterparty: Party


class Signer(_Model):
    party: PartyRole
    name: Line
    email: Email
    routing_order: RoutingOrder  # 1-based; equal values sign in parallel
    delivery: SignerDelivery  # email: DocuSign mails the link; embedded: we serve the signing link


# What a milestone's `due.after` may name: a date of the contract, by its dotted path.
DUE_ANCHORS = ("signing_date", "effective_date", "delivery.date")
_DUE_COUNT = {"type": "integer", "minimum": 1, "maximum": MAX_DUE_DAYS}


def _due_or_due_date(schema: dict[str, Any]) -> None:
    """The published schema of a milestone: `due_date`, or a `due` rule that validation turns into
    one (validation.py `_resolve_due_rules`); the model itself only ever sees `due_date`."""
    schema["properties"]["due"] = {
        "type": "object",
        "required": ["after"],
        "properties": {"after": {"enum": list(DUE_ANCHORS)}, "working_days": _DUE_COUNT, "days": _DUE_COUNT},
        "oneOf": [{"required": ["working_days"]}, {"required": ["days"]}],
    }
    schema["required"] = [name for name in schema["required"] if name != "due_date"]
    schema["oneOf"] = [{"required": ["due_date"]}, {"required": ["due"]}]


class PaymentMilestone(_Model):
    model_config = ConfigDict(json_schema_extra=_due_or_due_date)

    id: Identifier
    name: Line
    due_date: IsoDate
    amount: PositiveDecimal


class DeliveryMilestone(_Model):
    model_config = ConfigDict(json_schema_extra=_due_or_due_date)

    id: Identifier
    name: Line
    due_date: IsoDate


class Payment(_Model):
    method: OptionalText | None = None  # required whenever payment is given (validation.py)
    terms: OptionalText | None = None
    milestones: Annotated[list[PaymentMilestone], BeforeValidator(_null_is_empty)] = Field(
        default_factory=list
    )


class Delivery(_Model):
    date: IsoDate | None = None  # date and place: required whenever delivery is given
    place: OptionalText | None = None
    terms: OptionalText | None = None
    milestones: Annotated[list[DeliveryMilestone], BeforeValidator(_null_is_empty)] = Field(
        default_factory=list
    )


class Item(_Model):
    description: Text
    quantity: PositiveDecimal
    unit_price: PositiveDecimal
    unit: OptionalText | None = None
    specification: OptionalText | None = None  # required for supplier contracts
    standard: OptionalText | None = None


class Service(_Model):
    description: OptionalText | None = None
    standard: OptionalText | None = None


class Cooperation(_Model):
    scope: OptionalText | None = None
    method: OptionalText | None = None


class ProfitShare(_Model):
    party: PartyRole
    percent: Percent


class ProfitSharing(_Model):
    description: OptionalText | None = None
    shares: Annotated[list[ProfitShare], BeforeValidator(_null_is_empty)] = Field(default_factory=list)


class Responsibilities(_Model):
    ours: OptionalText | None = None
    counterparty: OptionalText | None = None


@dataclass(frozen=True)
class OrderedSigner:
    """A signer with its 1-based position in `signers[]` (the `?signer=N` of the signing link)."""

    position: int
    signer: Signer

    @property
    def party(self) -> PartyRole:
        return self.signer.party

    @property
    def name(self) -> str:
        return self.signer.name

    @property
    def email(self) -> str:
        return self.signer.email

    @property
    def routing_order(self) -> int:
        return self.signer.routing_order

    @property
    def delivery(self) -> SignerDelivery:
        return self.signer.delivery


def _one_notice_period(schema: dict[str, Any]) -> None:
    """The published schema says what validation.py says: a notice period in days or in working
    days, not both (null counts as not given)."""
    both = ["renewal_notice_days", "renewal_notice_working_days"]
    schema["not"] = {"required": both, "properties": {name: {"type": "integer"} for name in both}}


class Contract(_Model):
    """The canonical contract. Build it with `parse_contract`, not `model_validate`."""

    model_config = ConfigDict(json_schema_extra=_one_notice_period)

    crm_record_id: Identifier
    number: Line
    type: ContractType
    title: Line
    locale: Locale
    # Which text prevails where a bilingual document's two texts differ (default: zh-CN); for a
    # single-language contract it can only be that language (validation.py).
    prevailing_language: Language | None = None
    time_zone: TimeZoneName | None = None
    currency: Currency
    amount: PositiveDecimal | None = None  # required for sales, service, supplier
    signing_date: IsoDate
    effective_date: IsoDate | None = None
    end_date: IsoDate | None = None
    auto_renew: Annotated[bool, Strict()] = False
    renewal_notice_days: NonNegativeInt | None = None
    # The same notice counted in working days of the contract's calendar (reminders/planning.py
    # `cancel_by_date`); at most one of the two (validation.py).
    renewal_notice_working_days: NoticeWorkingDays | None = None
    parties: Parties
    signers: list[Signer]
    cc: Annotated[list[Person], BeforeValidator(_null_is_empty)] = Field(default_factory=list)
    owner: Person
    items: Annotated[list[Item], BeforeValidator(_null_is_empty)] = Field(default_factory=list)
    payment: Payment | None = None
    delivery: Delivery | None = None
    after_sales: OptionalText | None = None
    service: Service | None = None
    cooperation: Cooperation | None = None
    profit_sharing: ProfitSharing | None = None
    responsibilities: Responsibilities | None = None
    breach: OptionalText | None = None
    quality_guarantee: OptionalText | None = None
    callback_url: HttpsUrl | None = None

    @classmethod
    def from_canonical_dict(cls, data: object) -> "Contract":
        """Full validation (required clauses and cross-field rules included); raises ContractInvalid."""
        from .validation import parse_contract  # validation imports this module

        return parse_contract(data)

    def to_canonical_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the canonical shape: decimals as strings at their given scale, ISO
        dates, unknown fields kept, fields never given left out (so a stored contract re-parses
        to the same thing)."""
        return self.model_dump(mode="json", exclude_unset=True)

    @property
    def signers_in_order(self) -> list[OrderedSigner]:
        """Signers by routing order (ties keep their order in `signers[]`), with their position."""
        ordered = [OrderedSigner(i + 1, s) for i, s in enumerate(self.signers)]
        return sorted(ordered, key=lambda o: (o.routing_order, o.position))

    def effective_time_zone(self, default: str | None = None) -> str:
        """The contract's time zone, else the tenant's default, else Asia/Shanghai."""
        return self.time_zone or default or DEFAULT_TIME_ZONE

    @property
    def payment_milestones(self) -> list[PaymentMilestone]:
        return list(self.payment.milestones) if self.payment else []

    @property
    def delivery_milestones(self) -> list[DeliveryMilestone]:
        return list(self.delivery.milestones) if self.delivery else []


class ContractRef(_Model):
    """What a `contract.cancelled` event needs: the CRM record. Other fields are kept as given."""

    crm_record_id: Text

    def to_canonical_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)


class WebhookEnvelope(_Model):
    """A generic webhook body. `contract` is a full Contract unless the event is a cancellation."""

    event: EventName
    event_id: OptionalText | None = None
    contract: Contract | ContractRef

    @property
    def is_cancellation(self) -> bool:
        return self.event == "contract.cancelled"

    @property
    def crm_record_id(self) -> str:
        return self.contract.crm_record_id

    @property
    def full_contract(self) -> Contract:
        """The contract of a created/updated event; raises ValueError for a cancellation."""
        if not isinstance(self.contract, Contract):
            raise ValueError(f"a {self.event} event carries no full contract")
        return self.contract

    def to_canonical_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_unset=True, exclude={"contract"})
        data["contract"] = self.contract.to_canonical_dict()
        return data
