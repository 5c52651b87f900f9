"""Reminder planning at its edges, from the rules in planning.py's module notes. Expected dates were
worked out on a calendar (weekdays noted); Asia/Shanghai is UTC+8 all year, so 09:00 there is 01:00 UTC.
Default business days: Monday to Friday, no holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.reminders.planning import (
    PlannedReminder,
    ReminderKind,
    SettledState,
    Term,
    business_moment,
    cancel_by_date,
    next_term,
    plan_reminders,
)
from chalicelib.reminders.settings import PaymentSettings, TenantSettings

OWNER = "owner@yunti.example"
NO_PAYMENTS = PaymentSettings(before_due_days=(), on_due=False, overdue_ladder_days=())


def contract(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"signing_date": "2027-01-04", "effective_date": "2027-01-04",
                            "time_zone": "Asia/Shanghai", "owner": {"name": "Owner", "email": OWNER}}
    return base | fields


def expiry(ladder: tuple[int, ...]) -> TenantSettings:
    return TenantSettings(expiry_ladder_days=ladder, payment=NO_PAYMENTS)


def at_nine_shanghai(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T01:00:00").replace(tzinfo=UTC)


def moments(reminders: list[PlannedReminder]) -> list[tuple[ReminderKind, int, datetime]]:
    return [(r.kind, r.offset_days, r.due_at) for r in reminders]


# --- an advance notice off a business day -------------------------------------------------------


def test_weekend_notice_moves_forward_onto_the_last_day_it_may_arrive() -> None:
    # End Tue 2027-06-15; "3 days before" is Sat 06-12; the next business day, Mon 06-14, is the day
    # before the deadline: the latest a "days before" notice may arrive, so it goes there.
    planned = plan_reminders(contract(end_date="2027-06-15"), "c1", expiry((3,)))
    assert moments(planned) == [(ReminderKind.EXPIRY, -3, at_nine_shanghai("2027-06-14"))]


def test_weekend_notice_moves_back_when_forward_would_reach_the_deadline() -> None:
    # End Mon 2027-06-14; "2 days before" is Sat 06-12; Mon is the deadline itself: back to Fri 06-11.
    planned = plan_reminders(contract(end_date="2027-06-14"), "c1", expiry((2,)))
    assert moments(planned) == [(ReminderKind.EXPIRY, -2, at_nine_shanghai("2027-06-11"))]


def test_renewal_notice_with_no_notice_period_lands_on_the_last_allowed_day() -> None:
    # renewal_notice_days 0: the cancel-by date is the end date, Tue 2027-06-15; "3 days before" is
    # Sat 06-12, forward to Mon 06-14, the day before the cancel-by date.
    settings = TenantSettings(renewal_notice_lead_days=(3,), payment=NO_PAYMENTS)
    c = contract(end_date="2027-06-15", auto_renew=True, renewal_notice_days=0)
    planned = plan_reminders(c, "c1", settings)
    assert moments(planned) == [(ReminderKind.RENEWAL, -3, at_nine_shanghai("2027-06-14"))]
    assert planned[0].anchor_date == date(2027, 6, 15)


# --- floors ------------------------------------------------------------------------------------


def test_term_notices_start_at_the_effective_date_not_the_signing_date() -> None:
    # Signed Mon 2026-12-28, in force from Mon 2027-01-04, ends Wed 2027-02-03.
    # 37 days before: Mon 2026-12-28 (signed, not yet in force): dropped.
    # 30 days before: Mon 2027-01-04, exactly the effective date: kept. 29: Tue 01-05.
    c = contract(signing_date="2026-12-28", end_date="2027-02-03")
    planned = plan_reminders(c, "c1", expiry((37, 30, 29)))
    assert moments(planned) == [
        (ReminderKind.EXPIRY, -30, at_nine_shanghai("2027-01-04")),
        (ReminderKind.EXPIRY, -29, at_nine_shanghai("2027-01-05")),
    ]


def test_a_notice_shifted_forward_onto_the_floor_is_kept() -> None:
    # 32 days before Wed 2027-02-03 is Sat 2027-01-02, forward to Mon 01-04 = the effective date.
    planned = plan_reminders(contract(end_date="2027-02-03"), "c1", expiry((32,)))
    assert moments(planned) == [(ReminderKind.EXPIRY, -32, at_nine_shanghai("2027-01-04"))]


def test_a_notice_before_the_floor_on_a_business_day_is_dropped() -> None:
    # In force from Wed 2027-01-06; 29 days before Wed 02-03 is Tue 01-05: one day early, dropped.
    planned = plan_reminders(contract(effective_date="2027-01-06", end_date="2027-02-03"), "c1", expiry((29,)))
    assert planned == []


def test_without_an_effective_date_the_signing_date_is_the_floor() -> None:
    c = contract(end_date="2027-02-03")
    del c["effective_date"]
    planned = plan_reminders(c, "c1", expiry((30, 29)))
    assert [r.offset_days for r in planned] == [-30, -29]
    c["signing_date"] = "2027-01-05"
    assert [r.offset_days for r in plan_reminders(c, "c1", expiry((30, 29)))] == [-29]


def test_milestone_notices_start_at_the_earlier_of_signing_and_effective() -> None:
    # Signed Mon 2027-01-04, in force from 2027-02-01; a prepayment due Wed 2027-01-20.
    # 7 days before: Wed 01-13, after signing though before the term: kept.
    # 20 days before: Thu 2026-12-31, before signing: dropped.
    settings = TenantSettings(expiry_ladder_days=(), payment=PaymentSettings(
        before_due_days=(20, 7), on_due=False, overdue_ladder_days=()))
    c = contract(effective_date="2027-02-01", payment={"method": "invoice", "milestones": [
        {"id": "pre", "name": "Prepayment", "due_date": "2027-01-20", "amount": "100.00"}]})
    planned = plan_reminders(c, "c1", settings)
    assert moments(planned) == [(ReminderKind.PAYMENT_BEFORE, -7, at_nine_shanghai("2027-01-13"))]


# --- a one-day term ----------------------------------------------------------------------------


def test_a_one_day_term_gets_its_on_the_day_notice_only() -> None:
    # In force Mon 2027-01-04 only: "on the day" is that Monday (the floor itself); 7 days before is
    # before the term.
    c = contract(end_date="2027-01-04")
    planned = plan_reminders(c, "c1", expiry((7, 0)))
    assert moments(planned) == [(ReminderKind.EXPIRY, 0, at_nine_shanghai("2027-01-04"))]


@pytest.mark.parametrize(("day", "following"), [
    (date(2027, 1, 4), date(2027, 1, 5)),
    (date(2027, 1, 31), date(2027, 2, 1)),  # not a whole month, though it ends a month
    (date(2028, 2, 28), date(2028, 2, 29)),  # a leap year
])
def test_a_one_day_term_renews_into_the_next_day(day: date, following: date) -> None:
    assert next_term({}, Term(day, day)) == Term(following, following)
    assert next_term({"effective_date": day.isoformat(), "end_date": day.isoformat()}) == Term(following, following)


# --- renewal_notice_days at its bounds ---------------------------------------------------------


@pytest.mark.parametrize(("notice", "end", "expected"), [
    (0, date(2027, 6, 15), date(2027, 6, 15)),  # Tue: the end date itself
    (0, date(2027, 6, 13), date(2027, 6, 11)),  # Sun: back to Fri
    (3660, date(2027, 6, 15), date(2017, 6, 7)),  # 2017-06-15 is 3652 days back (leap days 2020, 2024); 8 more: Wed
])
def test_cancel_by_at_the_notice_bounds(notice: int, end: date, expected: date) -> None:
    settings = TenantSettings()
    c = contract(auto_renew=True, renewal_notice_days=notice)
    assert cancel_by_date(c, settings, end) == expected


def test_the_send_buffer_comes_on_top_of_a_zero_notice() -> None:
    settings = TenantSettings(renewal_send_buffer_days=1)
    # Tue 2027-06-15 less 0 days less 1: Mon 06-14.
    assert cancel_by_date(contract(renewal_notice_days=0), settings, date(2027, 6, 15)) == date(2027, 6, 14)


@pytest.mark.parametrize("notice", [-1, 3661, True, "30", 30.0])
def test_renewal_notice_days_outside_0_to_3660_is_refused(notice: object) -> None:
    with pytest.raises(ValueError, match="renewal_notice_days"):
        cancel_by_date(contract(renewal_notice_days=notice), TenantSettings(), date(2027, 6, 15))


def test_no_notice_period_means_thirty_days() -> None:
    # Tue 2027-06-15 less 30 days: Sun 05-16, back to Fri 05-14.
    assert cancel_by_date(contract(), TenantSettings(), date(2027, 6, 15)) == date(2027, 5, 14)


# --- dates given as date objects ---------------------------------------------------------------


def test_date_objects_plan_exactly_as_iso_strings() -> None:
    settings = TenantSettings(payment=PaymentSettings(before_due_days=(7,), overdue_ladder_days=(1,)))
    as_text = contract(end_date="2027-12-31", payment={"method": "invoice", "milestones": [
        {"id": "m1", "name": "All", "due_date": "2027-03-15", "amount": "100.00"}]})
    as_dates = contract(signing_date=date(2027, 1, 4), effective_date=date(2027, 1, 4), end_date=date(2027, 12, 31),
                        payment={"method": "invoice", "milestones": [
                            {"id": "m1", "name": "All", "due_date": date(2027, 3, 15), "amount": "100.00"}]})
    planned = plan_reminders(as_text, "c1", settings)
    assert planned and plan_reminders(as_dates, "c1", settings) == planned
    # 2027-01-04..12-31 is not whole months: the next term starts 2028-01-01 and lasts 361 days more
    # (day 1 + 361 of a leap year is day 362: 2028-12-27).
    assert next_term(as_dates) == next_term(as_text) == Term(date(2028, 1, 1), date(2028, 12, 27))


def test_a_datetime_is_not_a_date() -> None:
    c = contract(end_date=datetime(2027, 12, 31, 12, 0))
    with pytest.raises(ValueError, match="contract.end_date: not a date"):
        plan_reminders(c, "c1", TenantSettings())


# --- errors name what is wrong -----------------------------------------------------------------


def test_a_term_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match=r"term ends \(2027-01-03\) before it starts \(2027-01-04\)"):
        Term(date(2027, 1, 4), date(2027, 1, 3))


def test_next_term_starts_from_the_signing_date_without_an_effective_date() -> None:
    # Signed 2027-01-01, ends 2027-12-31: twelve whole months, so the next term is calendar 2028.
    assert next_term({"signing_date": "2027-01-01", "end_date": "2027-12-31"}) == Term(date(2028, 1, 1),
                                                                                         date(2028, 12, 31))
    with pytest.raises(ValueError) as info:
        next_term({"signing_date": "2027-01-01"})
    assert str(info.value) == "the contract has no term: it needs end_date and effective_date"


def test_business_moment_needs_an_aware_moment() -> None:
    with pytest.raises(ValueError) as info:
        business_moment(TenantSettings(), ZoneInfo("Asia/Shanghai"), datetime(2027, 6, 15, 9, 0))
    assert str(info.value) == "moment must be an aware datetime"


def test_cancel_by_date_refuses_an_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus_Mons'"):
        cancel_by_date(contract(time_zone="Mars/Olympus_Mons"), TenantSettings(), date(2027, 6, 15))


def test_a_caught_up_notice_that_would_arrive_after_its_deadline_in_the_contracts_zone_is_dropped() -> None:
    # Auckland is UTC+12 in June. Term ends Tue 2027-06-15; the "on the day" notice was due 06-15
    # 09:00 there. Planned at Wed 06-16 08:00 Auckland (= Tue 06-15 20:00 UTC): the catch-up could go
    # at Wed 09:00 Auckland, the day after the deadline there (though still Tuesday in UTC): dropped.
    c = contract(time_zone="Pacific/Auckland", end_date="2027-06-15")
    now = datetime(2027, 6, 15, 20, 0, tzinfo=UTC)
    assert plan_reminders(c, "c1", expiry((0,)), now=now) == []
    # Planned on Tue 06-15 07:00 Auckland (Mon 19:00 UTC): the notice goes at 09:00 that day.
    earlier = plan_reminders(c, "c1", expiry((0,)), now=datetime(2027, 6, 14, 19, 0, tzinfo=UTC))
    assert moments(earlier) == [(ReminderKind.EXPIRY, 0, datetime(2027, 6, 14, 21, 0, tzinfo=UTC))]


def test_working_days_of_an_english_contract_are_the_tenants_business_days() -> None:
    # A tenant working Monday to Saturday; an English contract (no national calendar) whose notice is
    # 1 working day before Mon 2027-06-14: Saturday 06-12, a working day for this tenant.
    settings = TenantSettings(business_days=frozenset({1, 2, 3, 4, 5, 6}))
    c = contract(locale="en", renewal_notice_working_days=1)
    assert cancel_by_date(c, settings, date(2027, 6, 14)) == date(2027, 6, 12)


# --- inputs planning refuses, and what it says --------------------------------------------------


def test_settled_state_reads_amounts_exactly_and_refuses_the_rest() -> None:
    assert SettledState(amount_paid="12.50").amount_paid == Decimal("12.50")
    assert isinstance(SettledState(amount_paid="12.50").amount_paid, Decimal)
    assert SettledState(amount_paid=5).amount_paid == Decimal(5)  # type: ignore[arg-type]
    for paid, message in (
        ("-1", "amount_paid must be a decimal >= 0, got '-1'"),
        (1.5, "amount_paid: amounts must be decimal strings, got 1.5"),
        ("abc", "amount_paid: not a decimal amount: 'abc'"),
        ("NaN", "amount_paid: not a decimal amount: 'NaN'"),
    ):
        with pytest.raises(ValueError) as info:
            SettledState(amount_paid=paid)  # type: ignore[arg-type]
        assert str(info.value) == message


def test_plan_reminders_names_what_it_cannot_plan() -> None:
    settings = TenantSettings()
    for args, kwargs, message in (
        ((contract(), ""), {}, "contract_id must be a non-empty string"),
        ((contract(), "c1"), {"now": datetime(2027, 1, 4, 9, 0)}, "now must be an aware datetime"),
        (({**contract(), "owner": {"name": "Owner"}}, "c1"), {}, "contract.owner.email is required to plan reminders"),
    ):
        with pytest.raises(ValueError) as info:
            plan_reminders(*args, settings, **kwargs)
        assert str(info.value) == message


def test_milestone_errors_name_their_path() -> None:
    pay = contract(payment={"method": "invoice", "milestones": [
        {"id": "m1", "name": "All", "due_date": "2027-03-15", "amount": 1.5}]})
    with pytest.raises(ValueError) as info:
        plan_reminders(pay, "c1", TenantSettings())
    assert str(info.value) == "contract.payment.milestones[0].amount: amounts must be decimal strings, got 1.5"
    deliver = contract(delivery={"milestones": [{"id": "d1", "name": "First", "due_date": "2027-03-15"},
                                                {"id": "d2", "name": "Second"}]})
    with pytest.raises(ValueError) as info:
        plan_reminders(deliver, "c1", TenantSettings())
    assert str(info.value) == "contract.delivery.milestones[1].due_date: required"


def test_a_settled_delivery_does_not_stop_the_next_ones() -> None:
    c = contract(delivery={"milestones": [{"id": "d1", "name": "First", "due_date": "2027-03-15"},
                                          {"id": "d2", "name": "Second", "due_date": "2027-04-15"}]})
    planned = plan_reminders(c, "c1", TenantSettings(), settled={"d1": SettledState(fully_settled=True)})
    assert {r.milestone_id for r in planned} == {"d2"}


def test_a_contract_without_signing_or_effective_date_still_plans_its_milestones() -> None:
    c = contract(payment={"method": "invoice", "milestones": [
        {"id": "m1", "name": "All", "due_date": "2027-03-15", "amount": "100.00"}]})
    del c["signing_date"], c["effective_date"]
    assert {r.milestone_id for r in plan_reminders(c, "c1", TenantSettings())} == {"m1"}


def test_milestone_ids_with_the_key_separator_get_distinct_keys() -> None:
    # Keys are ':'-separated; an id's '%' and ':' are percent-encoded (%25, %3A) so ids never collide.
    settings = TenantSettings(payment=PaymentSettings(before_due_days=(), on_due=True, overdue_ladder_days=()))
    c = contract(payment={"method": "invoice", "milestones": [
        {"id": "a:b", "name": "One", "due_date": "2027-03-15", "amount": "1.00"},
        {"id": "a%3Ab", "name": "Two", "due_date": "2027-03-15", "amount": "1.00"}]})
    keys = [r.key for r in plan_reminders(c, "c1", settings)]
    assert len(set(keys)) == 2
    assert any("a%3Ab" in k and "a%253Ab" not in k for k in keys) and any("a%253Ab" in k for k in keys)


@pytest.mark.parametrize(("working", "ok"), [(0, True), (250, True), (251, False), (-1, False), (True, False)])
def test_renewal_notice_working_days_bounds(working: object, ok: bool) -> None:
    c = contract(locale="en", renewal_notice_working_days=working)
    if ok:
        cancel_by_date(c, TenantSettings(), date(2027, 6, 15))
    else:
        with pytest.raises(ValueError, match="renewal_notice_working_days: not a whole number of days 0..250"):
            cancel_by_date(c, TenantSettings(), date(2027, 6, 15))


def test_two_notice_periods_cannot_be_planned() -> None:
    c = contract(renewal_notice_days=30, renewal_notice_working_days=20)
    with pytest.raises(ValueError) as info:
        cancel_by_date(c, TenantSettings(), date(2027, 6, 15))
    assert str(info.value) == "contract: renewal_notice_days and renewal_notice_working_days both given"
