"""Per-tenant reminder settings: ladders, business hours and recipients.

Pure and immutable. `TenantSettings.from_dict` turns the tenant's stored settings (a plain dict,
possibly written by hand or by an older version) into a validated object: unknown keys are
ignored so old and new settings documents keep working, and every problem is reported at once,
with its dotted path, in the same spirit as the API's `validation_error` details.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.contracts.workdays import WorkingCalendar

__all__ = [
    "BusinessHours",
    "DeliverySettings",
    "PaymentSettings",
    "SettingsError",
    "TenantSettings",
    "MAX_LADDER_DAYS",
]

# A ladder step further out than ten years is a typo, not a plan (and would overflow `date`).
MAX_LADDER_DAYS = 3660

_WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
# Deliberately loose: the intake validates addresses properly; this only catches obvious junk.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Problem = tuple[str, str]  # (dotted path, message)
T = TypeVar("T")


class SettingsError(ValueError):
    """Invalid tenant settings; `problems` lists every (path, message), not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        summary = "; ".join(f"{path}: {message}" for path, message in self.problems)
        super().__init__(f"invalid reminder settings: {summary}")


def _ladder_problems(path: str, days: tuple[int, ...], minimum: int) -> list[Problem]:
    problems: list[Problem] = []
    for i, n in enumerate(days):
        if isinstance(n, bool) or not isinstance(n, int):
            problems.append((f"{path}[{i}]", f"not a whole number of days: {n!r}"))
        elif n < minimum:
            problems.append((f"{path}[{i}]", f"must be >= {minimum}, got {n}"))
        elif n > MAX_LADDER_DAYS:
            problems.append((f"{path}[{i}]", f"must be <= {MAX_LADDER_DAYS}, got {n}"))
    return problems


def _days_problems(path: str, n: object, minimum: int) -> list[Problem]:
    if isinstance(n, bool) or not isinstance(n, int):
        return [(path, f"not a whole number of days: {n!r}")]
    if not minimum <= n <= MAX_LADDER_DAYS:
        return [(path, f"must be between {minimum} and {MAX_LADDER_DAYS}, got {n}")]
    return []


def _email_problems(path: str, value: object) -> list[Problem]:
    if not isinstance(value, str) or not _EMAIL.match(value):
        return [(path, f"not an email address: {value!r}")]
    return []


def _set_ladder(obj: object, name: str, path: str, minimum: int, *, descending: bool) -> list[Problem]:
    """Validate a ladder as given (so paths point at the caller's positions), then store it deduped
    and sorted: duplicates would give two reminders with one key, and a fixed order keeps equality."""
    days = tuple(getattr(obj, name))
    problems = _ladder_problems(path, days, minimum)
    if not problems:
        object.__setattr__(obj, name, tuple(sorted(set(days), reverse=descending)))
    return problems


@dataclass(frozen=True)
class BusinessHours:
    """Local wall-clock hours in which reminders may be sent; `start` is also the nominal send time."""

    start: time = time(9, 0)
    end: time = time(18, 0)

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                problems.append((f"business_hours.{name}", f"not a local time of day: {value!r}"))
        if not problems and self.end <= self.start:
            problems.append(("business_hours.end", f"must be after start ({self.start:%H:%M})"))
        if problems:
            raise SettingsError(problems)


@dataclass(frozen=True)
class PaymentSettings:
    before_due_days: tuple[int, ...] = (7,)
    on_due: bool = True
    overdue_ladder_days: tuple[int, ...] = (1, 7, 14, 30)
    escalate_after_days: int = 7  # overdue steps from this many days on also go to the manager
    finance_after_days: int = 14  # ... and from this many days on also to finance
    manager_email: str | None = None
    finance_email: str | None = None

    def __post_init__(self) -> None:
        # Before-due starts at 1: the due date itself is `on_due`'s job (a 0 would double it).
        problems = _set_ladder(self, "before_due_days", "payment.before_due_days", 1, descending=True)
        problems += _set_ladder(self, "overdue_ladder_days", "payment.overdue_ladder_days", 1, descending=False)
        if not isinstance(self.on_due, bool):
            problems.append(("payment.on_due", f"not a boolean: {self.on_due!r}"))
        problems += _days_problems("payment.escalate_after_days", self.escalate_after_days, 1)
        problems += _days_problems("payment.finance_after_days", self.finance_after_days, 1)
        for name in ("manager_email", "finance_email"):
            value = getattr(self, name)
            if value is not None:
                problems += _email_problems(f"payment.{name}", value)
        if problems:
            raise SettingsError(problems)


@dataclass(frozen=True)
class DeliverySettings:
    # 0 is allowed here: delivery has no separate "on the due date" switch.
    before_due_days: tuple[int, ...] = (3,)
    overdue_ladder_days: tuple[int, ...] = (1, 7)

    def __post_init__(self) -> None:
        problems = _set_ladder(self, "before_due_days", "delivery.before_due_days", 0, descending=True)
        problems += _set_ladder(self, "overdue_ladder_days", "delivery.overdue_ladder_days", 1, descending=False)
        if problems:
            raise SettingsError(problems)


@dataclass(frozen=True)
class TenantSettings:
    """Everything reminder planning needs to know about a tenant. All fields have sane defaults."""

    time_zone: str = "Asia/Shanghai"  # used only when the contract names no `time_zone`
    business_hours: BusinessHours = field(default_factory=BusinessHours)
    business_days: frozenset[int] = frozenset({1, 2, 3, 4, 5})  # ISO weekdays, Monday = 1
    # Calendar exceptions, e.g. public holidays and China's 调休 make-up working days (a Saturday
    # or Sunday that is a working day). They change every year, so they are tenant data.
    holidays: frozenset[date] = frozenset()
    make_up_workdays: frozenset[date] = frozenset()
    expiry_ladder_days: tuple[int, ...] = (90, 30, 7)
    renewal_notice_lead_days: tuple[int, ...] = (30, 7)
    # Extra days subtracted from the cancel-by date so the notice can reach the counterparty in time.
    renewal_send_buffer_days: int = 0
    payment: PaymentSettings = field(default_factory=PaymentSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    reminder_cc: tuple[str, ...] = ()
    # A country's working calendar (CN: the official holidays and 调休 days): when set, it decides
    # the business days instead of `business_days`; `holidays` and `make_up_workdays` still apply.
    calendar: WorkingCalendar | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "business_days", frozenset(self.business_days))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "make_up_workdays", frozenset(self.make_up_workdays))
        object.__setattr__(self, "reminder_cc", tuple(self.reminder_cc))
        problems: list[Problem] = []
        problems += _zone_problems("time_zone", self.time_zone)
        if not self.business_days:
            problems.append(("business_days", "at least one business day is needed"))
        for d in sorted(self.business_days, key=repr):
            if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 7:
                problems.append(("business_days", f"not an ISO weekday 1..7: {d!r}"))
        for name in ("holidays", "make_up_workdays"):
            for d in getattr(self, name):
                if not isinstance(d, date):
                    problems.append((name, f"not a date: {d!r}"))
        both = self.holidays & self.make_up_workdays
        if both:
            listed = ", ".join(sorted(d.isoformat() for d in both if isinstance(d, date)))
            problems.append(("make_up_workdays", f"also listed as holidays: {listed}"))
        problems += _set_ladder(self, "expiry_ladder_days", "expiry_ladder_days", 0, descending=True)
        problems += _set_ladder(self, "renewal_notice_lead_days", "renewal_notice_lead_days", 0, descending=True)
        problems += _days_problems("renewal_send_buffer_days", self.renewal_send_buffer_days, 0)
        for i, address in enumerate(self.reminder_cc):
            problems += _email_problems(f"reminder_cc[{i}]", address)
        if self.calendar is not None and not isinstance(self.calendar, WorkingCalendar):
            problems.append(("calendar", f"not a working calendar: {self.calendar!r}"))
        if problems:
            raise SettingsError(problems)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> TenantSettings:
        """Build validated settings from a stored dict; None or {} gives the defaults.

        Shape (every key optional, null means the default, unknown keys ignored):
        `{"time_zone": "Europe/Berlin", "business_hours": {"start": "09:00", "end": "18:00"},
          "business_days": ["mon", ..., "fri"] (or ISO numbers 1..7), "holidays": ["2027-10-01"],
          "make_up_workdays": ["2027-09-26"], "expiry_ladder_days": [90, 30, 7],
          "renewal_notice_lead_days": [30, 7], "renewal_send_buffer_days": 0,
          "payment": {"before_due_days": [7], "on_due": true, "overdue_ladder_days": [1, 7, 14, 30],
                      "escalate_after_days": 7, "finance_after_days": 14,
                      "manager_email": "...", "finance_email": "..."},
          "delivery": {"before_due_days": [3], "overdue_ladder_days": [1, 7]},
          "reminder_cc": ["legal@example.com"],
          "calendar": {"country": "CN", "extra_holidays": ["2026-12-31"], "extra_workdays": []}}`
        Raises `SettingsError` listing every problem.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise SettingsError([("", f"settings must be an object, got {type(data).__name__}")])
        problems: list[Problem] = []
        kwargs: dict[str, Any] = {}

        def put(name: str, parse: Callable[[], object]) -> None:
            # A field that failed to parse is left at its default, so the constructor below still
            # checks every other field and the report is complete without duplicates.
            before = len(problems)
            value = parse()
            if len(problems) == before:
                kwargs[name] = value

        # Each parser is bound to its field's name now (a plain lambda in the loop would see the
        # loop's last name).
        def as_given(name: str) -> Callable[[], object]:
            return lambda: data[name]

        def dates(name: str) -> Callable[[], object]:
            return lambda: frozenset(_parse_dates(problems, name, data[name]))

        def listed(name: str) -> Callable[[], object]:
            return lambda: tuple(_as_list(problems, name, data[name]))

        def section(name: str, kind: type[PaymentSettings] | type[DeliverySettings]) -> Callable[[], object]:
            return lambda: _parse_section(problems, name, kind, data[name])

        for name in ("time_zone", "renewal_send_buffer_days"):
            if data.get(name) is not None:
                put(name, as_given(name))
        if data.get("business_hours") is not None:
            put("business_hours", lambda: _parse_hours(problems, data["business_hours"]))
        if data.get("business_days") is not None:
            put("business_days", lambda: frozenset(_parse_weekdays(problems, data["business_days"])))
        for name in ("holidays", "make_up_workdays"):
            if data.get(name) is not None:
                put(name, dates(name))
        for name in ("expiry_ladder_days", "renewal_notice_lead_days", "reminder_cc"):
            if data.get(name) is not None:
                put(name, listed(name))
        for name, kind in (("payment", PaymentSettings), ("delivery", DeliverySettings)):
            if data.get(name) is not None:
                put(name, section(name, kind))
        if data.get("calendar") is not None:
            put("calendar", lambda: _parse_calendar(problems, data["calendar"]))

        settings = _collect(problems, lambda: cls(**kwargs))
        if problems or settings is None:
            raise SettingsError(problems)
        return settings


def _collect[T](problems: list[Problem], build: Callable[[], T]) -> T | None:
    try:
        return build()
    except SettingsError as err:
        problems.extend(err.problems)
        return None


def _zone_problems(path: str, name: object) -> list[Problem]:
    if not isinstance(name, str) or not name:
        return [(path, f"not an IANA time zone name: {name!r}")]
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return [(path, f"unknown time zone: {name!r}")]
    return []


def _as_list(problems: list[Problem], path: str, value: object) -> list[Any]:
    # A bare string is iterable too; refusing it catches `"reminder_cc": "a@b.c"`.
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        problems.append((path, f"must be a list, got {type(value).__name__}"))
        return []
    return list(value)


def _parse_time(problems: list[Problem], path: str, value: object) -> time | None:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            parsed = time.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                return parsed
    problems.append((path, f"not a local time like '09:00': {value!r}"))
    return None


def _parse_hours(problems: list[Problem], value: object) -> BusinessHours | None:
    if not isinstance(value, Mapping):
        problems.append(("business_hours", f"must be an object, got {type(value).__name__}"))
        return None
    before = len(problems)
    times = {
        name: _parse_time(problems, f"business_hours.{name}", value[name]) for name in ("start", "end") if name in value
    }
    if len(problems) > before:
        return None
    given = {name: at for name, at in times.items() if at is not None}  # a None was counted as a problem
    return _collect(problems, lambda: BusinessHours(**given))


def _parse_calendar(problems: list[Problem], value: object) -> WorkingCalendar | None:
    """`{"country": "CN", "extra_holidays": [...], "extra_workdays": [...]}`; country null or absent
    means Monday to Friday."""
    if not isinstance(value, Mapping):
        problems.append(("calendar", f"must be an object, got {type(value).__name__}"))
        return None
    before = len(problems)
    extras = {
        name: frozenset(_parse_dates(problems, f"calendar.{name}", value[name]))
        for name in ("extra_holidays", "extra_workdays")
        if value.get(name) is not None
    }
    if len(problems) > before:
        return None
    country = value.get("country")
    try:
        return WorkingCalendar(country, **extras)
    except ValueError as err:
        # WorkingCalendar's messages start with the field they are about.
        name, _, message = str(err).partition(": ")
        problems.append((f"calendar.{name}", message))
        return None


def _parse_section(
    problems: list[Problem], name: str, kind: type[PaymentSettings] | type[DeliverySettings], value: object
) -> PaymentSettings | DeliverySettings | None:
    if not isinstance(value, Mapping):
        problems.append((name, f"must be an object, got {type(value).__name__}"))
        return None
    before = len(problems)
    sub: dict[str, Any] = {f: value[f] for f in kind.__dataclass_fields__ if f in value}
    for f in ("before_due_days", "overdue_ladder_days"):
        if f in sub:
            sub[f] = tuple(_as_list(problems, f"{name}.{f}", sub[f]))
    if len(problems) > before:
        return None
    return _collect(problems, lambda: kind(**sub))


_DAY_NAMES = {
    **_WEEKDAYS,
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
    "sunday": 7,
}


def _parse_weekdays(problems: list[Problem], value: object) -> list[int]:
    days: list[int] = []
    for i, item in enumerate(_as_list(problems, "business_days", value)):
        if isinstance(item, int) and not isinstance(item, bool) and 1 <= item <= 7:
            days.append(item)
        elif isinstance(item, str) and item.strip().lower() in _DAY_NAMES:
            days.append(_DAY_NAMES[item.strip().lower()])
        else:
            problems.append((f"business_days[{i}]", f"not a weekday ('mon'..'sun' or 1..7): {item!r}"))
    return days


def _parse_dates(problems: list[Problem], path: str, value: object) -> list[date]:
    dates: list[date] = []
    for i, item in enumerate(_as_list(problems, path, value)):
        if isinstance(item, date):
            dates.append(item)
            continue
        try:
            dates.append(date.fromisoformat(item))
        except (TypeError, ValueError):
            problems.append((f"{path}[{i}]", f"not a date: {item!r}"))
    return dates
