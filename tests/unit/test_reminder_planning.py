"""Reminder planning, tested from the rules. Every expected date and UTC time below was worked out
by hand from a calendar (weekday noted next to it), not taken from the code.

Offsets: Asia/Shanghai is UTC+8 all year, so 09:00 local = 01:00 UTC. America/New_York is UTC-5
(EST) / UTC-4 (EDT from 2027-03-14, back to EST on 2027-11-07). Europe/Berlin is UTC+1 (CET) /
UTC+2 (CEST from 2027-03-28 to 2027-10-31).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.reminders.planning import (
    PlannedReminder,
    ReminderKind,
    SettledState,
    Term,
    next_term,
    plan_reminders,
)
from chalicelib.reminders.settings import (
    BusinessHours,
    DeliverySettings,
    PaymentSettings,
    TenantSettings,
)

# The project's own copy of the shared examples (devstack/samples), so the tests need nothing outside the repo.
EXAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"
OWNER = "wang.min@yunti.example"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
DEFAULTS = TenantSettings()


def example(name: str) -> dict[str, Any]:
    path = EXAMPLES / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))["contract"]


@pytest.fixture
def sales() -> dict[str, Any]:
    return example("sales")


@pytest.fixture
def service() -> dict[str, Any]:
    return example("service")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def by_key(reminders: list[PlannedReminder]) -> dict[str, PlannedReminder]:
    return {r.key: r for r in reminders}


def minimal(zone: str | None = "Asia/Shanghai", **fields: Any) -> dict[str, Any]:
    """A contract with only what planning reads."""
    contract: dict[str, Any] = {
        "signing_date": "2027-01-04",
        "effective_date": "2027-01-04",
        "owner": {"name": "王敏", "email": OWNER},
    }
    if zone is not None:
        contract["time_zone"] = zone
    contract.update(fields)
    return contract


def payments(*milestones: tuple[str, str, str | None]) -> dict[str, Any]:
    return {
        "method": "bank_transfer",
        "milestones": [
            {"id": mid, "name": mid, "due_date": due, **({"amount": amount} if amount else {})}
            for mid, due, amount in milestones
        ],
    }


# --- the sales example, end to end ----------------------------------------------------------------

# (key, kind, due_at UTC, anchor, offset, escalation) for the sales example with default settings.
SALES_PLAN = [
    # pay-1 due Fri 2026-12-11, 38400.00.
    ("c-1:payment:pay-1:2026-12-11:before:-7d", "payment_before", "2026-12-04T01:00", "2026-12-11", -7, None),
    ("c-1:payment:pay-1:2026-12-11:due", "payment_due", "2026-12-11T01:00", "2026-12-11", 0, None),
    # +1 = Sat 12-12 -> Mon 12-14.
    ("c-1:payment:pay-1:2026-12-11:overdue:+1d", "payment_overdue", "2026-12-14T01:00", "2026-12-11", 1, None),
    ("c-1:payment:pay-1:2026-12-11:overdue:+7d", "payment_overdue", "2026-12-18T01:00", "2026-12-11", 7, "manager"),
    ("c-1:payment:pay-1:2026-12-11:overdue:+14d", "payment_overdue", "2026-12-25T01:00", "2026-12-11", 14, "finance"),
    # +30 = Sun 2027-01-10 -> Mon 01-11.
    ("c-1:payment:pay-1:2026-12-11:overdue:+30d", "payment_overdue", "2027-01-11T01:00", "2026-12-11", 30, "finance"),
    # dlv-1 due Fri 2027-01-15: -3 = Tue 01-12; +1 = Sat 01-16 -> Mon 01-18; +7 = Fri 01-22.
    ("c-1:delivery:dlv-1:2027-01-15:before:-3d", "delivery_before", "2027-01-12T01:00", "2027-01-15", -3, None),
    ("c-1:delivery:dlv-1:2027-01-15:overdue:+1d", "delivery_overdue", "2027-01-18T01:00", "2027-01-15", 1, None),
    ("c-1:delivery:dlv-1:2027-01-15:overdue:+7d", "delivery_overdue", "2027-01-22T01:00", "2027-01-15", 7, None),
    # pay-2 due Sun 2027-02-14: -7 = Sun 02-07 -> Mon 02-08; due -> Mon 02-15 (never before the due
    # date); payable on Mon 02-15, so +1 = Tue 02-16, +7 = Mon 02-22, +14 = Mon 03-01, +30 = Wed 03-17.
    ("c-1:payment:pay-2:2027-02-14:before:-7d", "payment_before", "2027-02-08T01:00", "2027-02-14", -7, None),
    ("c-1:payment:pay-2:2027-02-14:due", "payment_due", "2027-02-15T01:00", "2027-02-14", 0, None),
    ("c-1:payment:pay-2:2027-02-14:overdue:+1d", "payment_overdue", "2027-02-16T01:00", "2027-02-14", 1, None),
    ("c-1:payment:pay-2:2027-02-14:overdue:+7d", "payment_overdue", "2027-02-22T01:00", "2027-02-14", 7, "manager"),
    ("c-1:payment:pay-2:2027-02-14:overdue:+14d", "payment_overdue", "2027-03-01T01:00", "2027-02-14", 14, "finance"),
    ("c-1:payment:pay-2:2027-02-14:overdue:+30d", "payment_overdue", "2027-03-17T01:00", "2027-02-14", 30, "finance"),
    # end Tue 2027-11-30: -90 = Wed 09-01; -30 = Sun 10-31 -> Mon 11-01; -7 = Tue 11-23.
    ("c-1:expiry:2027-11-30:-90d", "expiry", "2027-09-01T01:00", "2027-11-30", -90, None),
    ("c-1:expiry:2027-11-30:-30d", "expiry", "2027-11-01T01:00", "2027-11-30", -30, None),
    ("c-1:expiry:2027-11-30:-7d", "expiry", "2027-11-23T01:00", "2027-11-30", -7, None),
]


def test_sales_example_plans_exactly_these_reminders(sales):
    plan = plan_reminders(sales, "c-1", DEFAULTS)
    got = [(r.key, r.kind, r.due_at, r.anchor_date, r.offset_days, r.escalation) for r in plan]
    want = [
        (key, kind, utc(at), date.fromisoformat(anchor), offset, escalation)
        for key, kind, at, anchor, offset, escalation in SALES_PLAN
    ]
    assert got == want  # also checks the order: by due time


def test_sales_example_details(sales):
    plan = by_key(plan_reminders(sales, "c-1", DEFAULTS))
    for r in plan.values():
        assert r.due_at.tzinfo is UTC
        assert r.local_due.tzinfo == SHANGHAI
        assert r.local_due.time() == time(9, 0)  # business start, Shanghai
        assert r.local_due == r.due_at
        assert r.to == (OWNER,)  # no manager/finance configured; the contract's cc[] is not a recipient
        assert r.cc == ()
        assert isinstance(r.kind, ReminderKind) and isinstance(r.kind, str)  # stores as plain text
    pay2 = plan["c-1:payment:pay-2:2027-02-14:due"]
    assert (pay2.milestone_id, pay2.amount_due, pay2.amount_remaining) == (
        "pay-2",
        Decimal("89600.00"),
        Decimal("89600.00"),
    )
    assert isinstance(pay2.amount_due, Decimal)
    assert plan["c-1:payment:pay-1:2026-12-11:before:-7d"].amount_due == Decimal("38400.00")
    dlv = plan["c-1:delivery:dlv-1:2027-01-15:before:-3d"]
    assert (dlv.milestone_id, dlv.amount_due, dlv.amount_remaining) == ("dlv-1", None, None)
    exp = plan["c-1:expiry:2027-11-30:-7d"]
    assert (exp.milestone_id, exp.amount_due) == (None, None)


def test_payment_due_on_a_sunday_is_reminded_on_monday_not_friday(sales):
    plan = by_key(plan_reminders(sales, "c-1", DEFAULTS))
    due = plan["c-1:payment:pay-2:2027-02-14:due"]
    assert due.anchor_date == date(2027, 2, 14)  # Sunday
    assert due.local_due == datetime(2027, 2, 15, 9, 0, tzinfo=SHANGHAI)  # Monday, not Fri 02-12
    # Not yet overdue on Monday: the first overdue notice comes on Tuesday.
    assert plan["c-1:payment:pay-2:2027-02-14:overdue:+1d"].local_due == datetime(2027, 2, 16, 9, tzinfo=SHANGHAI)


# --- business days and hours --------------------------------------------------------------------


def test_advance_notice_that_would_land_on_the_deadline_moves_back():
    # due Mon 2027-02-15; "1 day before" is Sun 02-14; Monday would be the due date itself -> Fri 02-12.
    s = TenantSettings(payment=PaymentSettings(before_due_days=(1,), on_due=False, overdue_ladder_days=()))
    contract = minimal(payment=payments(("m", "2027-02-15", "10.00")))
    [r] = plan_reminders(contract, "c", s)
    assert (r.kind, r.local_due) == ("payment_before", datetime(2027, 2, 12, 9, tzinfo=SHANGHAI))


def test_on_the_day_notice_for_a_weekend_deadline_comes_the_business_day_before():
    # The contract ends Sun 2027-10-31: an "ends today" notice on Monday would be too late -> Fri 10-29.
    s = TenantSettings(expiry_ladder_days=(0,))
    [r] = plan_reminders(minimal(end_date="2027-10-31"), "c", s)
    assert (r.key, r.due_at) == ("c:expiry:2027-10-31:+0d", utc("2027-10-29T01:00"))


def test_delivery_due_on_saturday():
    # due Sat 2027-01-16: "on the day" (0) -> Fri 01-15; deliverable Mon 01-18, so +1 -> Tue 01-19.
    s = TenantSettings(delivery=DeliverySettings(before_due_days=(0,), overdue_ladder_days=(1,)))
    contract = minimal(delivery={"milestones": [{"id": "d", "name": "d", "due_date": "2027-01-16"}]})
    got = [(r.kind, r.local_due.date(), r.offset_days) for r in plan_reminders(contract, "c", s)]
    assert got == [("delivery_before", date(2027, 1, 15), 0), ("delivery_overdue", date(2027, 1, 19), 1)]


def test_holidays_and_make_up_workdays():
    # A made-up calendar in the style of 春节 + 调休: Mon 02-15..Fri 02-19 off, Sun 02-14 worked.
    contract = minimal(payment=payments(("p", "2027-02-14", "10.00")))
    pay_only = PaymentSettings(before_due_days=(), overdue_ladder_days=(1,))
    holidays = frozenset(date(2027, 2, d) for d in range(15, 20))
    off = TenantSettings(payment=pay_only, holidays=holidays)
    assert [r.local_due.date() for r in plan_reminders(contract, "c", off)] == [
        date(2027, 2, 22),  # due: Sun 02-14 and the holiday week skipped -> Mon 02-22
        date(2027, 2, 23),  # +1 from the first day it can be paid
    ]
    worked = TenantSettings(payment=pay_only, make_up_workdays=frozenset({date(2027, 2, 14)}))
    assert [r.due_at for r in plan_reminders(contract, "c", worked)] == [
        utc("2027-02-14T01:00"),  # the make-up Sunday is a working day
        utc("2027-02-15T01:00"),
    ]


def test_custom_business_hours_and_days():
    # Business Sun..Thu 08:00-16:00 in Shanghai: due Fri 2027-03-05 -> Sun 03-07 08:00 = 00:00 UTC.
    s = TenantSettings(
        business_hours=BusinessHours(time(8), time(16)),
        business_days=frozenset({7, 1, 2, 3, 4}),
        payment=PaymentSettings(before_due_days=(), overdue_ladder_days=()),
    )
    [r] = plan_reminders(minimal(payment=payments(("p", "2027-03-05", "1.00"))), "c", s)
    assert r.due_at == utc("2027-03-07T00:00")
    assert r.local_due == datetime(2027, 3, 7, 8, tzinfo=SHANGHAI)


def test_new_york_across_the_march_and_november_switches():
    contract = minimal(
        "America/New_York",
        payment=payments(("mar", "2027-03-12", "100.00"), ("nov", "2027-11-05", "100.00")),
    )
    plan = by_key(plan_reminders(contract, "c", DEFAULTS))
    got = {key.split(":", 2)[2]: r.due_at for key, r in plan.items()}
    assert got == {
        # Fri 03-05 and Fri 03-12 are EST (UTC-5): 09:00 = 14:00 UTC.
        "mar:2027-03-12:before:-7d": utc("2027-03-05T14:00"),
        "mar:2027-03-12:due": utc("2027-03-12T14:00"),
        # +1 = Sat 03-13 -> Mon 03-15, now EDT (UTC-4): 09:00 = 13:00 UTC, still 09:00 local.
        "mar:2027-03-12:overdue:+1d": utc("2027-03-15T13:00"),
        "mar:2027-03-12:overdue:+7d": utc("2027-03-19T13:00"),
        "mar:2027-03-12:overdue:+14d": utc("2027-03-26T13:00"),
        "mar:2027-03-12:overdue:+30d": utc("2027-04-12T13:00"),  # Sun 04-11 -> Mon 04-12
        # Fri 10-29 and Fri 11-05 are EDT: 13:00 UTC.
        "nov:2027-11-05:before:-7d": utc("2027-10-29T13:00"),
        "nov:2027-11-05:due": utc("2027-11-05T13:00"),
        # +1 = Sat 11-06 -> Mon 11-08, EST again: 14:00 UTC.
        "nov:2027-11-05:overdue:+1d": utc("2027-11-08T14:00"),
        "nov:2027-11-05:overdue:+7d": utc("2027-11-12T14:00"),
        "nov:2027-11-05:overdue:+14d": utc("2027-11-19T14:00"),
        "nov:2027-11-05:overdue:+30d": utc("2027-12-06T14:00"),  # Sun 12-05 -> Mon 12-06
    }
    assert all(r.local_due.time() == time(9) and r.local_due.tzinfo == NEW_YORK for r in plan.values())


def test_berlin_across_the_switches():
    contract = minimal(
        "Europe/Berlin",
        payment=payments(("mar", "2027-03-26", "1.00"), ("oct", "2027-10-31", "1.00")),
    )
    s = TenantSettings(payment=PaymentSettings(overdue_ladder_days=(1,)))
    got = {r.key.split(":", 2)[2]: r.due_at for r in plan_reminders(contract, "c", s)}
    assert got == {
        "mar:2027-03-26:before:-7d": utc("2027-03-19T08:00"),  # Fri, CET
        "mar:2027-03-26:due": utc("2027-03-26T08:00"),  # Fri, CET
        "mar:2027-03-26:overdue:+1d": utc("2027-03-29T07:00"),  # Sat -> Mon 03-29, CEST
        "oct:2027-10-31:before:-7d": utc("2027-10-25T07:00"),  # Sun 10-24 -> Mon 10-25, CEST
        "oct:2027-10-31:due": utc("2027-11-01T08:00"),  # Sun 10-31 (the switch) -> Mon 11-01, CET
        "oct:2027-10-31:overdue:+1d": utc("2027-11-02T08:00"),  # payable Mon 11-01 -> Tue 11-02
    }


def test_business_start_inside_the_spring_forward_gap_is_sent_just_after_it():
    # 02:30 does not exist in New York on Sun 2027-03-14 (02:00 EST -> 03:00 EDT).
    s = TenantSettings(
        business_hours=BusinessHours(time(2, 30), time(18)),
        business_days=frozenset(range(1, 8)),
        payment=PaymentSettings(before_due_days=(), overdue_ladder_days=()),
    )
    [r] = plan_reminders(minimal("America/New_York", payment=payments(("p", "2027-03-14", "1.00"))), "c", s)
    assert r.due_at == utc("2027-03-14T07:30")  # = 03:30 EDT: after the gap, on the due date
    assert (r.local_due.date(), r.local_due.time()) == (date(2027, 3, 14), time(3, 30))


def test_the_contract_time_zone_wins_over_the_tenant_one(sales):
    berlin_tenant = TenantSettings(time_zone="Europe/Berlin")
    plan = by_key(plan_reminders(sales, "c-1", berlin_tenant))
    assert plan["c-1:expiry:2027-11-30:-7d"].due_at == utc("2027-11-23T01:00")  # Shanghai
    del sales["time_zone"]
    plan = by_key(plan_reminders(sales, "c-1", berlin_tenant))
    assert plan["c-1:expiry:2027-11-30:-7d"].due_at == utc("2027-11-23T08:00")  # 09:00 CET
    plan = by_key(plan_reminders(sales, "c-1", DEFAULTS))
    assert plan["c-1:expiry:2027-11-30:-7d"].due_at == utc("2027-11-23T01:00")  # default Shanghai


# --- auto-renewal and terms -----------------------------------------------------------------------


def test_auto_renew_plans_renewal_notices_before_the_cancel_by_date_and_no_expiry(service):
    plan = plan_reminders(service, "c-2", DEFAULTS)
    term = [r for r in plan if r.kind in ("expiry", "renewal")]
    # end Fri 2027-12-31, notice 60 days -> cancel by Mon 2027-11-01.
    # -30 = Sat 10-02 -> Mon 10-04; -7 = Mon 10-25. Both CEST: 09:00 = 07:00 UTC.
    assert [(r.key, r.kind, r.anchor_date, r.offset_days, r.due_at) for r in term] == [
        ("c-2:renewal:2027-11-01:-30d", "renewal", date(2027, 11, 1), -30, utc("2027-10-04T07:00")),
        ("c-2:renewal:2027-11-01:-7d", "renewal", date(2027, 11, 1), -7, utc("2027-10-25T07:00")),
    ]
    assert term[0].to == ("anna.keller@yunti.example",)


def test_cancel_by_on_a_weekend_moves_to_the_business_day_before(service):
    service["renewal_notice_days"] = 90  # 2027-12-31 - 90 = Sat 10-02 -> cancel by Fri 10-01
    term = [r for r in plan_reminders(service, "c-2", DEFAULTS) if r.kind == "renewal"]
    assert [(r.anchor_date, r.local_due.date()) for r in term] == [
        (date(2027, 10, 1), date(2027, 9, 1)),  # -30: Wed 09-01
        (date(2027, 10, 1), date(2027, 9, 24)),  # -7: Fri 09-24
    ]


def test_renewal_notice_days_default_to_30_and_send_buffer(service):
    del service["renewal_notice_days"]
    term = [r for r in plan_reminders(service, "c-2", DEFAULTS) if r.kind == "renewal"]
    # cancel by 2027-12-31 - 30 = Wed 12-01; -30 = Mon 11-01, -7 = Wed 11-24 (CET: 08:00 UTC).
    assert [(r.anchor_date, r.due_at) for r in term] == [
        (date(2027, 12, 1), utc("2027-11-01T08:00")),
        (date(2027, 12, 1), utc("2027-11-24T08:00")),
    ]
    service["renewal_notice_days"] = 60
    buffered = TenantSettings(renewal_send_buffer_days=5, renewal_notice_lead_days=(0,))
    [r] = [r for r in plan_reminders(service, "c-2", buffered) if r.kind == "renewal"]
    # 2027-11-01 - 5 days of buffer = Wed 10-27 (CEST).
    assert (r.key, r.due_at) == ("c-2:renewal:2027-10-27:+0d", utc("2027-10-27T07:00"))


def test_fixed_term_contract_ignores_its_renewal_notice_days(sales):
    assert sales["auto_renew"] is False and sales["renewal_notice_days"] == 30
    kinds = {r.kind for r in plan_reminders(sales, "c-1", DEFAULTS)}
    assert "renewal" not in kinds and "expiry" in kinds


def test_no_end_date_no_term_reminders():
    contract = minimal(auto_renew=True, payment=payments(("p", "2027-03-05", "1.00")))
    assert {r.kind for r in plan_reminders(contract, "c", DEFAULTS)} <= {
        "payment_before",
        "payment_due",
        "payment_overdue",
    }


@pytest.mark.parametrize(
    ("start", "end", "next_start", "next_end"),
    [
        ("2027-01-01", "2027-12-31", "2028-01-01", "2028-12-31"),  # calendar year into a leap year
        ("2028-01-01", "2028-12-31", "2029-01-01", "2029-12-31"),  # 366 days -> still a year
        ("2026-12-01", "2027-11-30", "2027-12-01", "2028-11-30"),  # the sales example's year
        ("2027-02-01", "2027-02-28", "2027-03-01", "2027-03-31"),  # one month, month-end
        ("2027-01-15", "2027-04-14", "2027-04-15", "2027-07-14"),  # a quarter
        ("2027-01-10", "2027-03-20", "2027-03-21", "2027-05-29"),  # 70 days, not whole months
    ],
)
def test_next_term(start, end, next_start, next_end):
    term = Term(date.fromisoformat(start), date.fromisoformat(end))
    assert next_term({}, term) == Term(date.fromisoformat(next_start), date.fromisoformat(next_end))


def test_next_term_from_the_contract(service, sales):
    assert next_term(service) == Term(date(2028, 1, 1), date(2028, 12, 31))
    assert next_term(sales) == Term(date(2027, 12, 1), date(2028, 11, 30))
    with pytest.raises(ValueError, match="no term"):
        next_term(minimal())


def test_planning_the_renewed_term(service):
    first = by_key(plan_reminders(service, "c-2", DEFAULTS))
    renewed = by_key(plan_reminders(service, "c-2", DEFAULTS, term=next_term(service)))
    # 2028-12-31 - 60 = Wed 2028-11-01; -30 = Mon 10-02, -7 = Wed 10-25 (CEST, 07:00 UTC).
    assert {k: r.due_at for k, r in renewed.items() if r.kind == "renewal"} == {
        "c-2:renewal:2028-11-01:-30d": utc("2028-10-02T07:00"),
        "c-2:renewal:2028-11-01:-7d": utc("2028-10-25T07:00"),
    }
    # The milestones are the same reminders with the same keys: re-planning them is harmless.
    assert {k for k, r in renewed.items() if r.milestone_id} == {k for k, r in first.items() if r.milestone_id}


def test_term_must_not_end_before_it_starts():
    with pytest.raises(ValueError):
        Term(date(2027, 2, 1), date(2027, 1, 31))


# --- recipients and escalation -------------------------------------------------------------------

ESCALATING = TenantSettings(
    payment=PaymentSettings(manager_email="boss@yunti.example", finance_email="ar@yunti.example"),
    reminder_cc=("legal@yunti.example", "WANG.MIN@yunti.example", "Legal@Yunti.example"),
)


def test_overdue_escalation_recipients(sales):
    plan = by_key(plan_reminders(sales, "c-1", ESCALATING))
    p = "c-1:payment:pay-1:2026-12-11"
    got = {
        suffix: (plan[f"{p}:{suffix}"].to, plan[f"{p}:{suffix}"].escalation)
        for suffix in ("before:-7d", "due", "overdue:+1d", "overdue:+7d", "overdue:+14d", "overdue:+30d")
    }
    assert got == {
        "before:-7d": ((OWNER,), None),
        "due": ((OWNER,), None),
        "overdue:+1d": ((OWNER,), None),
        "overdue:+7d": ((OWNER, "boss@yunti.example"), "manager"),
        "overdue:+14d": ((OWNER, "boss@yunti.example", "ar@yunti.example"), "finance"),
        "overdue:+30d": ((OWNER, "boss@yunti.example", "ar@yunti.example"), "finance"),
    }
    # cc: the owner (other case) and the duplicate legal address are dropped, first spelling kept.
    assert {r.cc for r in plan.values()} == {("legal@yunti.example",)}


def test_deliveries_and_term_notices_never_escalate(sales):
    plan = plan_reminders(sales, "c-1", ESCALATING)
    for r in plan:
        if not r.kind.startswith("payment"):
            assert (r.to, r.escalation) == ((OWNER,), None)


def test_escalation_thresholds_and_missing_addresses(sales):
    s = TenantSettings(
        payment=PaymentSettings(
            escalate_after_days=1,
            finance_after_days=30,
            manager_email="Wang.Min@Yunti.example",  # the owner is also the manager
        )
    )
    plan = by_key(plan_reminders(sales, "c-1", s))
    p = "c-1:payment:pay-1:2026-12-11:overdue"
    assert [(plan[f"{p}:+{n}d"].to, plan[f"{p}:+{n}d"].escalation) for n in (1, 7, 14, 30)] == [
        ((OWNER,), "manager"),
        ((OWNER,), "manager"),
        ((OWNER,), "manager"),
        ((OWNER,), "finance"),  # the level is reached even though no finance address is set
    ]


# --- settled milestones ---------------------------------------------------------------------------


def test_partial_payment_keeps_the_ladder_and_shows_what_remains(sales):
    unpaid = by_key(plan_reminders(sales, "c-1", DEFAULTS))
    partial = by_key(
        plan_reminders(sales, "c-1", DEFAULTS, settled={"pay-2": SettledState(amount_paid=Decimal("50000.00"))})
    )
    assert partial.keys() == unpaid.keys()
    pay2 = [r for r in partial.values() if r.milestone_id == "pay-2"]
    assert {r.kind for r in pay2} == {"payment_before", "payment_due", "payment_overdue"}
    assert {(r.amount_due, r.amount_remaining) for r in pay2} == {(Decimal("89600.00"), Decimal("39600.00"))}
    assert partial["c-1:payment:pay-1:2026-12-11:due"].amount_remaining == Decimal("38400.00")


@pytest.mark.parametrize(
    "state",
    [
        SettledState(fully_settled=True),
        SettledState(amount_paid=Decimal("38400.00")),
        SettledState(amount_paid=Decimal("40000")),  # overpaid
        SettledState(amount_paid="38400.00"),  # type: ignore[arg-type]
        SettledState(amount_paid=Decimal("100"), fully_settled=True),  # settled (e.g. waived) wins
    ],
)
def test_settled_payment_plans_nothing(sales, state):
    plan = plan_reminders(sales, "c-1", DEFAULTS, settled={"pay-1": state})
    assert [r for r in plan if r.milestone_id == "pay-1"] == []
    assert len(plan) == len(SALES_PLAN) - 6


def test_delivered_milestone_plans_nothing(sales):
    plan = plan_reminders(sales, "c-1", DEFAULTS, settled={"dlv-1": SettledState(fully_settled=True)})
    assert [r for r in plan if r.milestone_id == "dlv-1"] == []
    assert len(plan) == len(SALES_PLAN) - 3


def test_milestone_without_amount():
    contract = minimal(payment=payments(("p", "2027-03-05", None)))
    plan = plan_reminders(contract, "c", DEFAULTS, settled={"p": SettledState(amount_paid=Decimal("5"))})
    assert plan and all(r.amount_due is None and r.amount_remaining is None for r in plan)


@pytest.mark.parametrize("paid", [Decimal("-1"), -1, "abc", 1.5])
def test_settled_state_rejects_nonsense(paid):
    with pytest.raises(ValueError):
        SettledState(amount_paid=paid)


# --- now: what is already past -------------------------------------------------------------------


def test_late_signed_contract_gets_one_notice_per_sequence(sales):
    now = datetime(2027, 11, 10, 10, 0, tzinfo=SHANGHAI)  # Wed, inside business hours
    plan = plan_reminders(sales, "c-1", DEFAULTS, now=now)
    assert [(r.key, r.due_at) for r in plan] == [
        # The latest past step of each sequence, due right now (sorted by key at equal times).
        ("c-1:delivery:dlv-1:2027-01-15:overdue:+7d", utc("2027-11-10T02:00")),
        ("c-1:expiry:2027-11-30:-30d", utc("2027-11-10T02:00")),
        ("c-1:payment:pay-1:2026-12-11:overdue:+30d", utc("2027-11-10T02:00")),
        ("c-1:payment:pay-2:2027-02-14:overdue:+30d", utc("2027-11-10T02:00")),
        # And what is still to come, unchanged.
        ("c-1:expiry:2027-11-30:-7d", utc("2027-11-23T01:00")),
    ]
    caught_up = plan[2]
    assert caught_up.escalation == "finance" and caught_up.local_due == now


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2027, 11, 10, 7, 0, tzinfo=SHANGHAI), "2027-11-10T01:00"),  # before hours: 09:00 today
        (datetime(2027, 11, 10, 19, 0, tzinfo=SHANGHAI), "2027-11-11T01:00"),  # after hours: Thu 09:00
        (datetime(2027, 11, 13, 10, 0, tzinfo=SHANGHAI), "2027-11-15T01:00"),  # Sat: Mon 09:00
        (datetime(2027, 11, 10, 2, 0, tzinfo=UTC), "2027-11-10T02:00"),  # any zone for now
    ],
)
def test_catch_up_waits_for_business_hours(sales, now, expected):
    plan = by_key(plan_reminders(sales, "c-1", DEFAULTS, now=now))
    assert plan["c-1:expiry:2027-11-30:-30d"].due_at == utc(expected)


def test_nothing_past_means_nothing_changes(sales):
    now = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)  # signing day, before every reminder
    assert plan_reminders(sales, "c-1", DEFAULTS, now=now) == plan_reminders(sales, "c-1", DEFAULTS)


def test_a_reminder_due_exactly_now_is_kept(sales):
    now = utc("2027-11-23T01:00")  # the -7 expiry notice's moment
    plan = by_key(plan_reminders(sales, "c-1", DEFAULTS, now=now))
    assert plan["c-1:expiry:2027-11-30:-7d"].due_at == now
    assert "c-1:expiry:2027-11-30:-30d" not in plan  # superseded, not caught up


def test_catch_up_meeting_the_next_step_sends_only_the_next_step(sales):
    # Ladder 30, 9: -30 = Sun 10-31 -> Mon 11-01 (past); -9 = Sun 11-21 -> Mon 11-22.
    # Now is Sat 11-20: the catch-up would also go out Mon 11-22 09:00 -> only the -9 notice.
    s = TenantSettings(expiry_ladder_days=(30, 9))
    plan = plan_reminders(sales, "c-1", s, now=datetime(2027, 11, 20, 10, tzinfo=SHANGHAI))
    assert [(r.key, r.due_at) for r in plan if r.kind == "expiry"] == [
        ("c-1:expiry:2027-11-30:-9d", utc("2027-11-22T01:00"))
    ]


def test_no_notice_about_a_deadline_that_has_passed(sales, service):
    on_the_day = datetime(2027, 11, 30, 10, tzinfo=SHANGHAI)  # the contract's last day
    assert [r.key for r in plan_reminders(sales, "c-1", DEFAULTS, now=on_the_day) if r.kind == "expiry"] == [
        "c-1:expiry:2027-11-30:-7d"
    ]
    ended = datetime(2027, 12, 1, 10, tzinfo=SHANGHAI)
    assert [r for r in plan_reminders(sales, "c-1", DEFAULTS, now=ended) if r.kind == "expiry"] == []
    after_cancel_by = datetime(2027, 11, 2, 10, tzinfo=BERLIN)
    assert [r for r in plan_reminders(service, "c-2", DEFAULTS, now=after_cancel_by) if r.kind == "renewal"] == []


def test_now_must_be_aware(sales):
    with pytest.raises(ValueError, match="aware"):
        plan_reminders(sales, "c-1", DEFAULTS, now=datetime(2027, 1, 1, 9))


# --- floors ---------------------------------------------------------------------------------------


def test_advance_notices_start_with_the_contract():
    contract = minimal(
        signing_date="2026-12-03",
        effective_date="2027-01-01",
        end_date="2027-02-15",
        payment=payments(("early", "2026-12-05", "1.00"), ("pre", "2027-01-05", "1.00")),
    )
    s = TenantSettings(payment=PaymentSettings(overdue_ladder_days=()))
    got = [(r.key, r.local_due.date()) for r in plan_reminders(contract, "c", s)]
    assert got == [
        # early: -7 = Sat 11-28 is before signing -> dropped; due Sat 12-05 -> Mon 12-07.
        ("c:payment:early:2026-12-05:due", date(2026, 12, 7)),
        # pre: -7 = Tue 12-29, after signing though before the effective date: a prepayment.
        ("c:payment:pre:2027-01-05:before:-7d", date(2026, 12, 29)),
        ("c:payment:pre:2027-01-05:due", date(2027, 1, 5)),
        # expiry: -90 = 2026-11-17 is before the term -> dropped; -30 = Sat 01-16 -> Mon 01-18.
        ("c:expiry:2027-02-15:-30d", date(2027, 1, 18)),
        ("c:expiry:2027-02-15:-7d", date(2027, 2, 8)),
    ]


# --- keys -----------------------------------------------------------------------------------------


def test_same_inputs_same_plan(sales):
    assert plan_reminders(sales, "c-1", DEFAULTS) == plan_reminders(copy.deepcopy(sales), "c-1", DEFAULTS)


def test_replan_after_a_due_date_change_keeps_the_other_keys(sales):
    before = by_key(plan_reminders(sales, "c-1", DEFAULTS))
    sales["payment"]["milestones"][1]["due_date"] = "2027-03-15"
    after = by_key(plan_reminders(sales, "c-1", DEFAULTS))
    untouched = {k for k, r in before.items() if r.milestone_id != "pay-2"}
    assert untouched <= after.keys()
    assert all(before[k] == after[k] for k in untouched)
    # Every pay-2 reminder is new, so a notice already sent for 02-14 does not block the one for 03-15.
    old_pay2 = {k for k, r in before.items() if r.milestone_id == "pay-2"}
    new_pay2 = {k for k, r in after.items() if r.milestone_id == "pay-2"}
    assert old_pay2.isdisjoint(new_pay2) and len(new_pay2) == 6


def test_replan_after_an_amount_change_keeps_every_key(sales):
    before = by_key(plan_reminders(sales, "c-1", DEFAULTS))
    sales["payment"]["milestones"][1]["amount"] = "90000.00"
    after = by_key(plan_reminders(sales, "c-1", DEFAULTS))
    assert after.keys() == before.keys()
    assert after["c-1:payment:pay-2:2027-02-14:due"].amount_due == Decimal("90000.00")


def test_replan_after_an_end_date_change_only_renews_expiry_keys(sales):
    before = by_key(plan_reminders(sales, "c-1", DEFAULTS))
    sales["end_date"] = "2027-12-31"
    after = by_key(plan_reminders(sales, "c-1", DEFAULTS))
    assert {k for k in before if ":expiry:" not in k} == {k for k in after if ":expiry:" not in k}
    assert [k for k in after if ":expiry:" in k] == [
        "c-1:expiry:2027-12-31:-90d",
        "c-1:expiry:2027-12-31:-30d",
        "c-1:expiry:2027-12-31:-7d",
    ]


def test_separator_in_a_milestone_id_cannot_forge_another_key():
    contract = minimal(payment=payments(("a", "2027-03-05", "1.00"), ("a:2027-03-05:due", "2027-03-05", "1.00")))
    keys = [r.key for r in plan_reminders(contract, "c", DEFAULTS)]
    assert len(keys) == len(set(keys))
    assert "c:payment:a%3A2027-03-05%3Adue:2027-03-05:due" in keys


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(time_zone="Asia/Atlantis"), "time_zone"),
        (lambda c: c.pop("owner"), "owner.email"),
        (lambda c: c["owner"].update(email=" "), "owner.email"),
        (lambda c: c["payment"]["milestones"][0].update(amount=38400.0), "amounts must be decimal strings"),
        (lambda c: c["payment"]["milestones"][0].update(amount="lots"), "not a decimal"),
        (lambda c: c["payment"]["milestones"][0].update(due_date="2026-02-30"), r"milestones\[0\].due_date"),
        (lambda c: c["payment"]["milestones"][0].pop("due_date"), r"milestones\[0\].due_date: required"),
        (lambda c: c["payment"]["milestones"][1].update(id="pay-1"), "duplicate id"),
        (lambda c: c["delivery"]["milestones"][0].update(id="pay-1"), "duplicate id"),
        (lambda c: c["payment"]["milestones"][0].pop("id"), r"milestones\[0\].id"),
        (lambda c: c.update(end_date="30/11/2027"), "end_date"),
        (lambda c: c.update(auto_renew="yes"), "auto_renew"),
        (lambda c: c.update(auto_renew=True, renewal_notice_days=-1), "renewal_notice_days"),
    ],
)
def test_bad_contracts_are_refused_loudly(sales, change, message):
    change(sales)
    with pytest.raises(ValueError, match=message):
        plan_reminders(sales, "c-1", DEFAULTS)


def test_contract_id_is_required(sales):
    with pytest.raises(ValueError):
        plan_reminders(sales, "", DEFAULTS)


# --- properties -----------------------------------------------------------------------------------

ZONES = ["Asia/Shanghai", "America/New_York", "Europe/Berlin"]
days_2026_2030 = st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31))


def ladder(minimum: int, maximum: int) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(minimum, maximum), max_size=5).map(tuple)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], TenantSettings]:
    start = draw(days_2026_2030)
    end = start + timedelta(days=draw(st.integers(1, 900)))
    n_pay = draw(st.integers(0, 4))
    n_dlv = draw(st.integers(0, 3))
    contract = minimal(
        draw(st.sampled_from(ZONES)),
        signing_date=start.isoformat(),
        effective_date=start.isoformat(),
        end_date=end.isoformat(),
        auto_renew=draw(st.booleans()),
        renewal_notice_days=draw(st.integers(0, 120)),
        payment=payments(
            *((f"pay-{i}", draw(days_2026_2030).isoformat(), f"{draw(st.integers(1, 10**7))}.00") for i in range(n_pay))
        ),
        delivery={
            "milestones": [{"id": f"dlv-{i}", "due_date": draw(days_2026_2030).isoformat()} for i in range(n_dlv)]
        },
    )
    s = TenantSettings(
        business_hours=BusinessHours(time(draw(st.integers(6, 10))), time(draw(st.integers(16, 20)))),
        business_days=frozenset(draw(st.sets(st.integers(1, 7), min_size=1))),
        expiry_ladder_days=draw(ladder(0, 120)),
        renewal_notice_lead_days=draw(ladder(0, 60)),
        payment=PaymentSettings(
            before_due_days=draw(ladder(1, 30)),
            on_due=draw(st.booleans()),
            overdue_ladder_days=draw(ladder(1, 60)),
        ),
        delivery=DeliverySettings(before_due_days=draw(ladder(0, 30)), overdue_ladder_days=draw(ladder(1, 30))),
    )
    return contract, s


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(scenarios())
def test_property_keys_are_unique_and_deterministic(scenario):
    contract, s = scenario
    plan = plan_reminders(contract, "c-9", s)
    keys = [r.key for r in plan]
    assert len(keys) == len(set(keys))
    assert all(k.startswith("c-9:") for k in keys)
    assert plan_reminders(copy.deepcopy(contract), "c-9", s) == plan
    assert [r.due_at for r in plan] == sorted(r.due_at for r in plan)


@PROPERTY
@given(scenarios())
def test_property_timing_rules_hold(scenario):
    contract, s = scenario
    zone = ZoneInfo(contract["time_zone"])
    for r in plan_reminders(contract, "c-9", s):
        assert r.due_at.utcoffset() == timedelta(0)
        assert r.local_due == r.due_at and r.local_due.tzinfo == zone
        # 09:00-style business start on a business day (none of these zones has a gap at 06-10h).
        assert r.local_due.time() == s.business_hours.start
        assert r.local_due.isoweekday() in s.business_days
        day = r.local_due.date()
        if r.kind in ("payment_due", "payment_overdue", "delivery_overdue"):
            assert day >= r.anchor_date + timedelta(days=r.offset_days)  # never before its date
            assert r.offset_days >= 0
        else:
            assert day <= r.anchor_date  # a warning never arrives after its deadline
            if r.offset_days < 0:
                assert day < r.anchor_date
            assert day >= date.fromisoformat(contract["signing_date"])


@PROPERTY
@given(scenarios(), st.data())
def test_property_changing_one_milestone_keeps_the_other_keys(scenario, data):
    contract, s = scenario
    milestones = contract["payment"]["milestones"]
    if not milestones:
        return
    before = plan_reminders(contract, "c-9", s)
    changed = copy.deepcopy(contract)
    target = changed["payment"]["milestones"][0]
    target["due_date"] = data.draw(days_2026_2030).isoformat()
    after = {r.key: r for r in plan_reminders(changed, "c-9", s)}
    for r in before:
        if r.milestone_id != target["id"]:
            assert after[r.key] == r


@PROPERTY
@given(scenarios(), st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2031, 6, 1)))
def test_property_nothing_is_planned_in_the_past(scenario, naive_now):
    contract, s = scenario
    now = naive_now.replace(tzinfo=UTC)
    full = {r.key for r in plan_reminders(contract, "c-9", s)}
    plan = plan_reminders(contract, "c-9", s, now=now)
    assert all(r.due_at >= now for r in plan)
    assert {r.key for r in plan} <= full  # catching up never invents a reminder
    keys = [r.key for r in plan]
    assert len(keys) == len(set(keys))
