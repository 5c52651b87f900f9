"""Reminder planning: which emails a signed contract needs, and the moment each may be sent.

Pure: no AWS, no I/O, no clock (the caller passes `now`). The sender stores each
`PlannedReminder` under its `key` and indexes it by `due_at`; re-planning after an update gives
the same key to every reminder that did not change, so an already-sent reminder is never sent
again and a changed one (new due date, new end date) gets a new key and is sent.

The rules, and why:

Sequences. Reminders come in sequences: the expiry ladder, the renewal ladder, and one sequence per
payment or delivery milestone (before due → on the due date → overdue ladder). Each sequence is
planned on its own.

Business days. The tenant's `business_days` (Monday to Friday by default) less its `holidays`, plus
its `make_up_workdays`; when the tenant names a working `calendar` (e.g. CN, with the official
holidays and 调休 working weekends), that calendar replaces `business_days`. They decide the sending
days, the cancel-by date and where overdue counting starts.

Time of day. A reminder's nominal moment is business start (09:00 by default) on its date, in the
contract's zone (the contract's `time_zone`, else the tenant's). Off a business day it moves:
- due-date and overdue reminders move forward to the next business day (never before their date);
- advance notices (expiry, renewal, payment/delivery "before") also move forward, unless that
  would take them past their deadline (onto or after the due date for an "N days before" notice,
  after the deadline for an "on the day" notice): then they move back to the previous business
  day, because a warning that arrives after the deadline is worth nothing.

Overdue counting. When a milestone falls due on a non-business day, it is performable on the next
business day (PRC Civil Code art. 203; BGB §193), so the overdue ladder counts from that day: a
payment due on Sunday gets its due-date reminder on Monday and "1 day overdue" on Tuesday.
`anchor_date` still shows the contract's own due date, and `offset_days` the ladder step.

Cancel-by. For auto-renewing contracts the deadline that costs money is the cancel-by date:
`end - renewal_notice_days - renewal_send_buffer_days`, moved back to a business day when it falls
on a day off (a notice must be received in time, so the safe side is earlier). A contract that
counts its notice in working days (`renewal_notice_working_days` = N) is due notice on the N-th
working day before the end date, the end date itself not counted (N = 1: the last working day
before it; N = 0: the end date), counted on the tenant's working `calendar`, else on its locale's
(zh-CN, zh-CN+en: the PRC calendar, as for a milestone due in working days), with the tenant's
`holidays` and `make_up_workdays` on top; then the send buffer and the move back to a business day
as above. Renewal notices replace the expiry ladder.

Catching up (`now`). Reminders due before `now` are dropped, except the latest already-due one of
each sequence, which is kept and re-timed to the first business moment at or after `now`: a
contract signed late, or a milestone already overdue at signing, gets one notice instead of zero
(and instead of a burst of stale ones). A caught-up advance notice is dropped if it could only be
sent after its own deadline (an expiry notice after the contract ended, a renewal notice after the
cancel-by date): it would be misleading, and the lifecycle handles what comes next.

Collisions. When two steps of one sequence land on the same moment (a weekend swallowing two
steps, a catch-up meeting the next step), only the later step is kept: it carries the more current
message and the higher escalation.

Floors. Term advance notices (expiry, renewal) are only planned on or after the term's start
(effective date, else signing date); milestone advance notices on or after the earliest of the
signing and effective dates (a prepayment may fall due before the service starts). Due-date and
overdue reminders have no floor.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.contracts.workdays import MAX_NOTICE_WORKING_DAYS, calendar_for_locale

from .settings import MAX_LADDER_DAYS, TenantSettings

__all__ = [
    "DEFAULT_RENEWAL_NOTICE_DAYS",
    "PlannedReminder",
    "ReminderKind",
    "SettledState",
    "Term",
    "business_moment",
    "cancel_by_date",
    "contract_zone",
    "in_business_hours",
    "next_term",
    "plan_reminders",
]

DEFAULT_RENEWAL_NOTICE_DAYS = 30  # when an auto-renewing contract names no notice period

_ONE_DAY = timedelta(days=1)


class ReminderKind(StrEnum):
    EXPIRY = "expiry"
    RENEWAL = "renewal"
    PAYMENT_BEFORE = "payment_before"
    PAYMENT_DUE = "payment_due"
    PAYMENT_OVERDUE = "payment_overdue"
    DELIVERY_BEFORE = "delivery_before"
    DELIVERY_OVERDUE = "delivery_overdue"


# Kinds that warn ahead of a deadline: they may move earlier, never past the deadline.
_ADVANCE = frozenset(
    {ReminderKind.EXPIRY, ReminderKind.RENEWAL, ReminderKind.PAYMENT_BEFORE, ReminderKind.DELIVERY_BEFORE}
)


@dataclass(frozen=True)
class Term:
    """One contract term, both ends inclusive (a contract's `effective_date` .. `end_date`)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"term ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class SettledState:
    """What has been recorded against a milestone so far.

    `fully_settled` wins (paid in full, waived, delivered); otherwise a payment milestone whose
    `amount_paid` reaches its amount is settled too. Anything less is a partial payment.
    """

    amount_paid: Decimal = Decimal(0)
    fully_settled: bool = False

    def __post_init__(self) -> None:
        paid = _decimal(self.amount_paid, "amount_paid")
        if paid is None or paid < 0:
            raise ValueError(f"amount_paid must be a decimal >= 0, got {self.amount_paid!r}")
        object.__setattr__(self, "amount_paid", paid)


@dataclass(frozen=True)
class PlannedReminder:
    key: str  # stable and unique within the contract; the store's idempotency key
    kind: ReminderKind
    due_at: datetime  # aware, UTC: the moment it may be sent
    local_due: datetime  # the same moment in the contract's zone
    anchor_date: date  # the deadline it is about: end date, cancel-by date, due date
    to: tuple[str, ...]
    cc: tuple[str, ...]
    milestone_id: str | None
    offset_days: int  # negative before the anchor, positive after
    escalation: str | None  # "manager" or "finance" for escalated overdue payments
    amount_due: Decimal | None = None
    amount_remaining: Decimal | None = None


def plan_reminders(
    contract: Mapping[str, Any],
    contract_id: str,
    settings: TenantSettings,
    *,
    term: Term | None = None,
    now: datetime | None = None,
    settled: Mapping[str, SettledState] | None = None,
) -> list[PlannedReminder]:
    """Every reminder the contract needs, sorted by `due_at` (then key).

    `contract` is the canonical contract (the `contract` object of the webhook body). `term`
    replaces the contract's own term, to plan a renewed term (see `next_term`); milestones are
    planned either way, with the same keys. `now` (aware) drops what is already past, keeping one
    catch-up per sequence (see the module notes). `settled` maps milestone ids to what has been
    paid or delivered. Raises ValueError on a contract it cannot plan safely.
    """
    if not isinstance(contract_id, str) or not contract_id:
        raise ValueError("contract_id must be a non-empty string")
    if now is not None and now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    settled = settled or {}
    cal = _Calendar(settings, _zone(contract, settings))
    owner = _owner_email(contract)
    signing = _date(contract, "signing_date")
    effective = _date(contract, "effective_date")
    if term is None:
        end = _date(contract, "end_date")
        start = effective or signing
    else:
        start, end = term.start, term.end
    milestone_floor = min((d for d in (signing, effective) if d is not None), default=None)
    base_cc = tuple(settings.reminder_cc)

    sequences: list[list[_Step]] = []
    if end is not None:
        if _auto_renew(contract):
            sequences.append(_renewal_steps(contract, contract_id, settings, cal, end, owner, base_cc))
        else:
            sequences.append(_expiry_steps(contract_id, settings, end, owner, base_cc))
    _check_unique_ids(contract)
    for i, ms in enumerate(_milestones(contract, "payment")):
        state = settled.get(ms["id"], SettledState())
        sequences.append(_payment_steps(contract_id, settings, cal, ms, i, state, owner, base_cc))
    for i, ms in enumerate(_milestones(contract, "delivery")):
        state = settled.get(ms["id"], SettledState())
        if state.fully_settled:
            continue
        sequences.append(_delivery_steps(contract_id, settings, cal, ms, i, owner, base_cc))

    planned: list[PlannedReminder] = []
    for steps in sequences:
        is_term = bool(steps) and steps[0].kind in (ReminderKind.EXPIRY, ReminderKind.RENEWAL)
        planned += _schedule(steps, cal, start if is_term else milestone_floor, now)
    return sorted(planned, key=lambda r: (r.due_at, r.key))


def next_term(contract: Mapping[str, Any], term: Term | None = None) -> Term:
    """The term after `term` (default: the contract's own): it starts the day after `term` ends
    and lasts as long. Whole-month terms stay whole months (a calendar year renews to the next
    calendar year, leap day or not); other terms keep their length in days."""
    if term is None:
        end = _date(contract, "end_date")
        start = _date(contract, "effective_date") or _date(contract, "signing_date")
        if end is None or start is None:
            raise ValueError("the contract has no term: it needs end_date and effective_date")
        term = Term(start, end)
    new_start = term.end + _ONE_DAY
    months = _whole_months(term)
    if months:
        return Term(new_start, _add_months(new_start, months) - _ONE_DAY)
    return Term(new_start, new_start + (term.end - term.start))


def contract_zone(contract: Mapping[str, Any], settings: TenantSettings) -> ZoneInfo:
    """The zone the contract's dates and reminders live in: its own `time_zone`, else the tenant's."""
    return _zone(contract, settings)


def in_business_hours(settings: TenantSettings, zone: ZoneInfo, moment: datetime) -> bool:
    """True when `moment` (aware) is on a business day, at or after business start and before its end."""
    return business_moment(settings, zone, moment) == moment.astimezone(UTC)


def business_moment(settings: TenantSettings, zone: ZoneInfo, moment: datetime) -> datetime:
    """The first moment at or after `moment` (aware) inside business hours in `zone`, in UTC: the
    moment itself during business hours, else business start of the next business morning. The
    sender uses it so that a reminder that comes due at night waits for the morning."""
    if moment.utcoffset() is None:
        raise ValueError("moment must be an aware datetime")
    return _Calendar(settings, zone).next_business_moment(moment)


# --- steps and scheduling ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    """One reminder before it is timed: its nominal date and everything that does not depend on time."""

    key: str
    kind: ReminderKind
    anchor: date
    offset: int
    nominal: date
    to: tuple[str, ...]
    cc: tuple[str, ...]
    milestone_id: str | None = None
    escalation: str | None = None
    amount_due: Decimal | None = None
    amount_remaining: Decimal | None = None


def _warnings(
    key_prefix: str, kind: ReminderKind, anchor: date, days_before: Iterable[int], **fields: Any
) -> list[_Step]:
    """A ladder of notices N days before a deadline, keyed `{key_prefix}:-Nd`."""
    return [
        _Step(key=f"{key_prefix}:{-n:+d}d", kind=kind, anchor=anchor, offset=-n,
              nominal=anchor - timedelta(days=n), **fields)
        for n in days_before
    ]


def _expiry_steps(
    contract_id: str, settings: TenantSettings, end: date, owner: str, cc: tuple[str, ...]
) -> list[_Step]:
    to, cc = _recipients([owner], cc)
    # the ladder is descending: the sequence runs forward in time
    return _warnings(f"{contract_id}:expiry:{end.isoformat()}", ReminderKind.EXPIRY, end,
                     settings.expiry_ladder_days, to=to, cc=cc)


def _renewal_steps(
    contract: Mapping[str, Any],
    contract_id: str,
    settings: TenantSettings,
    cal: _Calendar,
    end: date,
    owner: str,
    cc: tuple[str, ...],
) -> list[_Step]:
    cancel_by = _cancel_by(contract, settings, cal, end)
    to, cc = _recipients([owner], cc)
    return _warnings(f"{contract_id}:renewal:{cancel_by.isoformat()}", ReminderKind.RENEWAL, cancel_by,
                     settings.renewal_notice_lead_days, to=to, cc=cc)


def cancel_by_date(contract: Mapping[str, Any], settings: TenantSettings, end: date) -> date:
    """The cancel-by date of an auto-renewing contract whose term ends on `end` (module docstring,
    "Cancel-by"); ValueError for an unusable `renewal_notice_days`, `renewal_notice_working_days`
    (both given, out of range) or time zone."""
    return _cancel_by(contract, settings, _Calendar(settings, _zone(contract, settings)), end)


def _cancel_by(contract: Mapping[str, Any], settings: TenantSettings, cal: _Calendar, end: date) -> date:
    notice = contract.get("renewal_notice_days")
    working = contract.get("renewal_notice_working_days")
    if working is not None:
        if notice is not None:
            raise ValueError("contract: renewal_notice_days and renewal_notice_working_days both given")
        if isinstance(working, bool) or not isinstance(working, int) or not 0 <= working <= MAX_NOTICE_WORKING_DAYS:
            raise ValueError(f"contract.renewal_notice_working_days: not a whole number of days "
                             f"0..{MAX_NOTICE_WORKING_DAYS}: {working!r}")
        counting = _Calendar(_counting_settings(contract, settings), cal.zone)
        notice_day = counting.business_days_before(end, working)
        return cal.previous_business_day(notice_day - timedelta(days=settings.renewal_send_buffer_days))
    if notice is None:
        notice = DEFAULT_RENEWAL_NOTICE_DAYS
    if isinstance(notice, bool) or not isinstance(notice, int) or not 0 <= notice <= MAX_LADDER_DAYS:
        raise ValueError(f"contract.renewal_notice_days: not a whole number of days 0..3660: {notice!r}")
    return cal.previous_business_day(end - timedelta(days=notice + settings.renewal_send_buffer_days))


def _counting_settings(contract: Mapping[str, Any], settings: TenantSettings) -> TenantSettings:
    """The settings whose business days count a notice period in working days: the tenant's, with
    its contract locale's calendar when the tenant names none (a Chinese contract's 工作日 are the
    PRC's, whatever days the tenant sends on)."""
    if settings.calendar is not None:
        return settings
    by_locale = calendar_for_locale(contract.get("locale"))
    return settings if by_locale.country is None else replace(settings, calendar=by_locale)


def _payment_steps(
    contract_id: str,
    settings: TenantSettings,
    cal: _Calendar,
    ms: Mapping[str, Any],
    index: int,
    state: SettledState,
    owner: str,
    cc: tuple[str, ...],
) -> list[_Step]:
    path = f"contract.payment.milestones[{index}]"
    due = _required_date(ms, "due_date", path)
    amount = _decimal(ms.get("amount"), f"{path}.amount")
    remaining = None if amount is None else amount - state.amount_paid
    if state.fully_settled or (remaining is not None and remaining <= 0):
        return []
    mid = ms["id"]
    prefix = f"{contract_id}:payment:{_key_part(mid)}:{due.isoformat()}"
    pay = settings.payment
    money = {"milestone_id": mid, "amount_due": amount, "amount_remaining": remaining}
    common = {**money, "anchor": due}
    to, base_cc = _recipients([owner], cc)
    steps = _warnings(f"{prefix}:before", ReminderKind.PAYMENT_BEFORE, due, pay.before_due_days,
                      to=to, cc=base_cc, **money)
    if pay.on_due:
        steps.append(
            _Step(
                key=f"{prefix}:due",
                kind=ReminderKind.PAYMENT_DUE,
                offset=0,
                nominal=due,
                to=to,
                cc=base_cc,
                **common,
            )
        )
    performable = cal.next_business_day(due)
    for n in pay.overdue_ladder_days:
        escalation = None
        extra: list[str] = []
        if n >= pay.escalate_after_days:
            escalation = "manager"
            extra += [pay.manager_email] if pay.manager_email else []
        if n >= pay.finance_after_days:
            escalation = "finance"
            extra += [pay.finance_email] if pay.finance_email else []
        step_to, step_cc = _recipients([owner, *extra], cc)
        steps.append(
            _Step(
                key=f"{prefix}:overdue:{n:+d}d",
                kind=ReminderKind.PAYMENT_OVERDUE,
                offset=n,
                nominal=performable + timedelta(days=n),
                to=step_to,
                cc=step_cc,
                escalation=escalation,
                **common,
            )
        )
    return steps


def _delivery_steps(
    contract_id: str,
    settings: TenantSettings,
    cal: _Calendar,
    ms: Mapping[str, Any],
    index: int,
    owner: str,
    cc: tuple[str, ...],
) -> list[_Step]:
    due = _required_date(ms, "due_date", f"contract.delivery.milestones[{index}]")
    mid = ms["id"]
    prefix = f"{contract_id}:delivery:{_key_part(mid)}:{due.isoformat()}"
    to, cc = _recipients([owner], cc)  # deliveries never escalate: the owner chases the supplier
    dlv = settings.delivery
    steps = _warnings(f"{prefix}:before", ReminderKind.DELIVERY_BEFORE, due, dlv.before_due_days,
                      to=to, cc=cc, milestone_id=mid)
    performable = cal.next_business_day(due)
    steps += [
        _Step(
            key=f"{prefix}:overdue:{n:+d}d",
            kind=ReminderKind.DELIVERY_OVERDUE,
            anchor=due,
            offset=n,
            nominal=performable + timedelta(days=n),
            to=to,
            cc=cc,
            milestone_id=mid,
        )
        for n in dlv.overdue_ladder_days
    ]
    return steps


def _schedule(
    steps: Sequence[_Step], cal: _Calendar, floor: date | None, now: datetime | None
) -> list[PlannedReminder]:
    """Time one sequence (given in sequence order): shift, floor, catch up, collapse."""
    timed: list[tuple[int, _Step, datetime]] = []
    for position, step in enumerate(steps):
        day = cal.send_day(step)
        if step.kind in _ADVANCE and floor is not None and day < floor:
            continue
        timed.append((position, step, cal.at_business_start(day)))

    if now is not None:
        past = [t for t in timed if t[2] < now]
        timed = [t for t in timed if t[2] >= now]
        if past:
            position, step, _ = past[-1]  # sequence order is time order, so the last is the latest
            moment = cal.next_business_moment(now)
            late_warning = step.kind in _ADVANCE and cal.local_date(moment) > step.anchor
            if not late_warning:
                timed.insert(0, (position, step, moment))

    by_moment: dict[datetime, tuple[int, _Step, datetime]] = {}
    for entry in timed:
        kept = by_moment.get(entry[2])
        if kept is None or entry[0] > kept[0]:
            by_moment[entry[2]] = entry
    return [_planned(step, moment, cal.zone) for _, step, moment in by_moment.values()]


def _planned(step: _Step, due_at: datetime, zone: ZoneInfo) -> PlannedReminder:
    return PlannedReminder(
        key=step.key,
        kind=step.kind,
        due_at=due_at,
        local_due=due_at.astimezone(zone),
        anchor_date=step.anchor,
        to=step.to,
        cc=step.cc,
        milestone_id=step.milestone_id,
        offset_days=step.offset,
        escalation=step.escalation,
        amount_due=step.amount_due,
        amount_remaining=step.amount_remaining,
    )


class _Calendar:
    """Business days and hours of one tenant in one zone."""

    def __init__(self, settings: TenantSettings, zone: ZoneInfo) -> None:
        self.zone = zone
        self._start: time = settings.business_hours.start
        self._end: time = settings.business_hours.end
        self._days = settings.business_days
        self._holidays = settings.holidays
        self._workdays = settings.make_up_workdays
        self._country = settings.calendar

    def is_business_day(self, day: date) -> bool:
        if day in self._workdays:
            return True
        if day in self._holidays:
            return False
        if self._country is not None:
            # The tenant named a working calendar: its holidays and 调休 days replace the weekly pattern.
            return self._country.is_working_day(day)
        return day.isoweekday() in self._days

    def next_business_day(self, day: date) -> date:
        # Terminates: at least one weekday is a business day and holidays are finite.
        while not self.is_business_day(day):
            day += _ONE_DAY
        return day

    def previous_business_day(self, day: date) -> date:
        while not self.is_business_day(day):
            day -= _ONE_DAY
        return day

    def business_days_before(self, end: date, n: int) -> date:
        """The n-th business day before `end`, `end` itself not counted; `end` for n = 0."""
        day = end
        for _ in range(n):
            day = self.previous_business_day(day - _ONE_DAY)
        return day

    def send_day(self, step: _Step) -> date:
        forward = self.next_business_day(step.nominal)
        if step.kind not in _ADVANCE:
            return forward
        # "N days before" must arrive before the deadline day; "on the day" on it at the latest.
        latest = step.anchor - _ONE_DAY if step.offset < 0 else step.anchor
        return forward if forward <= latest else self.previous_business_day(step.nominal)

    def at_business_start(self, day: date) -> datetime:
        # Built in local wall time, so 09:00 stays 09:00 across DST changes. A start inside a
        # spring-forward gap resolves (fold=0) to the moment just after the gap, never before.
        return datetime.combine(day, self._start, tzinfo=self.zone).astimezone(UTC)

    def next_business_moment(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.zone)
        day, clock = local.date(), local.time().replace(tzinfo=None)
        if self.is_business_day(day):
            if clock < self._start:
                return self.at_business_start(day)
            if clock < self._end:
                return moment.astimezone(UTC)
        return self.at_business_start(self.next_business_day(day + _ONE_DAY))

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()


# --- reading the contract ----------------------------------------------------------------------


def _zone(contract: Mapping[str, Any], settings: TenantSettings) -> ZoneInfo:
    name = contract.get("time_zone") or settings.time_zone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as err:
        raise ValueError(f"contract.time_zone: unknown time zone {name!r}") from err


def _owner_email(contract: Mapping[str, Any]) -> str:
    owner = contract.get("owner")
    email = owner.get("email") if isinstance(owner, Mapping) else None
    if not isinstance(email, str) or not email.strip():
        # Planning reminders nobody receives would hide the problem until a deadline is missed.
        raise ValueError("contract.owner.email is required to plan reminders")
    return email.strip()


def _auto_renew(contract: Mapping[str, Any]) -> bool:
    value = contract.get("auto_renew")
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValueError(f"contract.auto_renew: not a boolean: {value!r}")
    return value


def _date(data: Mapping[str, Any], name: str, path: str = "contract") -> date | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}.{name}: not a date: {value!r}") from err


def _required_date(data: Mapping[str, Any], name: str, path: str) -> date:
    value = _date(data, name, path)
    if value is None:
        raise ValueError(f"{path}.{name}: required")
    return value


def _decimal(value: object, path: str) -> Decimal | None:
    """Amounts are decimal strings; a float would carry binary rounding into money, so refuse it."""
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{path}: amounts must be decimal strings, got {value!r}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(value if isinstance(value, str) else str(value))
    except (InvalidOperation, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a decimal amount: {value!r}") from err
    if not number.is_finite():
        raise ValueError(f"{path}: not a decimal amount: {value!r}")
    return number


def _milestones(contract: Mapping[str, Any], section: str) -> list[Mapping[str, Any]]:
    block = contract.get(section)
    if not isinstance(block, Mapping):
        return []
    milestones = block.get("milestones") or []
    for i, ms in enumerate(milestones):
        if not isinstance(ms, Mapping) or not isinstance(ms.get("id"), str) or not ms["id"]:
            raise ValueError(f"contract.{section}.milestones[{i}].id: required")
    return list(milestones)


def _check_unique_ids(contract: Mapping[str, Any]) -> None:
    # Keys and `settled` are per milestone id; a duplicate would merge two milestones' reminders.
    seen: set[str] = set()
    for section in ("payment", "delivery"):
        for i, ms in enumerate(_milestones(contract, section)):
            if ms["id"] in seen:
                raise ValueError(f"contract.{section}.milestones[{i}].id: duplicate id {ms['id']!r}")
            seen.add(ms["id"])


def _key_part(text: str) -> str:
    # ':' separates key fields; escaping it keeps keys unique whatever a CRM puts in an id.
    return text.replace("%", "%25").replace(":", "%3A")


def _recipients(to: Iterable[str], cc: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Dedupe case-insensitively, keep first spelling and order; an address in `to` leaves `cc`."""
    seen: set[str] = set()

    def unique(addresses: Iterable[str]) -> tuple[str, ...]:
        out: list[str] = []
        for address in addresses:
            address = address.strip()
            if address and address.casefold() not in seen:
                seen.add(address.casefold())
                out.append(address)
        return tuple(out)

    unique_to = unique(to)
    return unique_to, unique(cc)


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _whole_months(term: Term) -> int:
    after = term.end + _ONE_DAY
    months = (after.year - term.start.year) * 12 + after.month - term.start.month
    if months >= 1 and _add_months(term.start, months) == after:
        return months
    return 0
