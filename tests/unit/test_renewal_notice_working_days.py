"""A renewal notice period in working days (`renewal_notice_working_days`): the cancel-by date is the
N-th working day before the end date (the end date not counted), then the send buffer, then back to
a business day.

Expected dates are worked out by hand from the State Council's arrangement for 2026
(国务院办公厅关于2026年部分节假日安排的通知, published on www.gov.cn in November 2025), which
`chinese_calendar` 1.11.0 carries in its constants:
- 中秋节: Fri 25 Sep to Sun 27 Sep 2026 off;
- 国庆节: Thu 1 Oct to Wed 7 Oct 2026 off; Sun 20 Sep and Sat 10 Oct 2026 are working days (调休).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.contracts import Contract, ContractInvalid, WorkingCalendar, parse_contract
from chalicelib.reminders.planning import cancel_by_date, plan_reminders
from chalicelib.reminders.settings import TenantSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"
END = date(2026, 10, 12)  # Mon, the first Monday after National Day and its make-up Saturday
CN_TENANT = TenantSettings(time_zone="Asia/Shanghai", calendar=WorkingCalendar("CN"))
PLAIN_TENANT = TenantSettings(time_zone="Asia/Shanghai")  # Monday to Friday, no calendar named


def contract(locale: str = "zh-CN", **changes: object) -> dict[str, Any]:
    """The service example as a Chinese contract ending on END, renewing, notice in working days."""
    data = json.loads((EXAMPLES / "service.json").read_text(encoding="utf-8"))["contract"]
    del data["renewal_notice_days"]
    data.update(locale=locale, time_zone="Asia/Shanghai", signing_date="2025-10-01",
                effective_date="2025-10-13", end_date=END.isoformat(), auto_renew=True)
    data.update(changes)
    return data


# --- the cancel-by date -----------------------------------------------------------------------------


def test_five_working_days_before_a_term_ending_after_national_day():
    # Counting back from Mon 12 Oct 2026, the 12th itself not counted:
    #   Sun 11 Oct: weekend; Sat 10 Oct (调休 working day) = 1; Fri 9 Oct = 2; Thu 8 Oct = 3;
    #   Wed 7 .. Thu 1 Oct: 国庆节, not counted; Wed 30 Sep = 4; Tue 29 Sep = 5.
    assert cancel_by_date(contract(renewal_notice_working_days=5), CN_TENANT, END) == date(2026, 9, 29)
    # Five calendar days instead: Wed 7 Oct, a holiday -> back to the last working day, Wed 30 Sep.
    assert cancel_by_date(contract(renewal_notice_days=5), CN_TENANT, END) == date(2026, 9, 30)


def test_eleven_working_days_cross_mid_autumn_and_land_on_the_make_up_sunday():
    # On from Tue 29 Sep = 5: Mon 28 Sep = 6; Sun 27 .. Fri 25 Sep: 中秋节 (and a weekend), not
    # counted; Thu 24 = 7, Wed 23 = 8, Tue 22 = 9, Mon 21 = 10; Sun 20 Sep (调休 working day) = 11.
    assert cancel_by_date(contract(renewal_notice_working_days=10), CN_TENANT, END) == date(2026, 9, 21)
    assert cancel_by_date(contract(renewal_notice_working_days=11), CN_TENANT, END) == date(2026, 9, 20)


def test_a_tenant_without_a_calendar_counts_a_chinese_contract_on_the_prc_calendar_and_sends_on_weekdays():
    # Counted on the PRC calendar as above: Sun 20 Sep. The tenant sends Monday to Friday, so the
    # deadline moves back to its business day before: Fri 18 Sep.
    assert cancel_by_date(contract(renewal_notice_working_days=11), PLAIN_TENANT, END) == date(2026, 9, 18)
    # A bilingual contract is a Chinese contract too.
    bilingual = contract("zh-CN+en", renewal_notice_working_days=5)
    assert cancel_by_date(bilingual, PLAIN_TENANT, END) == date(2026, 9, 29)


def test_an_english_contract_of_a_tenant_without_a_calendar_counts_monday_to_friday():
    # Fri 9 Oct = 1, Thu 8 = 2, Wed 7 = 3, Tue 6 = 4, Mon 5 Oct = 5 (no public holidays).
    assert cancel_by_date(contract("en", renewal_notice_working_days=5), PLAIN_TENANT, END) == date(2026, 10, 5)
    # A tenant calendar wins over the locale's: the English contract of a CN tenant counts as above.
    assert cancel_by_date(contract("en", renewal_notice_working_days=5), CN_TENANT, END) == date(2026, 9, 29)


def test_one_and_zero_working_days():
    end = date(2026, 10, 8)  # Thu, the first working day after National Day
    # N = 1: the last working day before the end date; Wed 7 .. Thu 1 Oct are holidays: Wed 30 Sep.
    assert cancel_by_date(contract(renewal_notice_working_days=1), CN_TENANT, end) == date(2026, 9, 30)
    # N = 0: the end date itself.
    assert cancel_by_date(contract(renewal_notice_working_days=0), CN_TENANT, end) == end


def test_the_send_buffer_comes_after_the_working_days_then_back_to_a_business_day():
    buffered = TenantSettings(time_zone="Asia/Shanghai", calendar=WorkingCalendar("CN"), renewal_send_buffer_days=2)
    # Tue 29 Sep - 2 calendar days = Sun 27 Sep (中秋节) -> Sat 26, Fri 25 off -> Thu 24 Sep.
    assert cancel_by_date(contract(renewal_notice_working_days=5), buffered, END) == date(2026, 9, 24)


def test_the_tenants_own_holidays_are_not_counted():
    company_day_off = TenantSettings(time_zone="Asia/Shanghai", calendar=WorkingCalendar("CN"),
                                     holidays=frozenset({date(2026, 9, 29)}))
    # Sat 10 Oct = 1, Fri 9 = 2, Thu 8 = 3, Wed 30 Sep = 4, Tue 29 Sep off (the tenant's), Mon 28 Sep = 5.
    assert cancel_by_date(contract(renewal_notice_working_days=5), company_day_off, END) == date(2026, 9, 28)


def test_renewal_reminders_are_planned_before_the_working_day_cancel_by_date():
    plan = plan_reminders(contract(renewal_notice_working_days=5), "c-9", CN_TENANT)
    term = [(r.key, r.anchor_date, r.due_at) for r in plan if r.kind in ("renewal", "expiry")]
    # Cancel by Tue 29 Sep. -30 days = Sun 30 Aug -> Mon 31 Aug; -7 days = Tue 22 Sep.
    # 09:00 Shanghai = 01:00 UTC.
    assert term == [
        ("c-9:renewal:2026-09-29:-30d", date(2026, 9, 29), datetime(2026, 8, 31, 1, tzinfo=UTC)),
        ("c-9:renewal:2026-09-29:-7d", date(2026, 9, 29), datetime(2026, 9, 22, 1, tzinfo=UTC)),
    ]


def test_planning_refuses_a_stored_contract_with_both_notice_periods():
    with pytest.raises(ValueError, match="renewal_notice_days and renewal_notice_working_days"):
        cancel_by_date(contract(renewal_notice_days=30, renewal_notice_working_days=5), CN_TENANT, END)
    with pytest.raises(ValueError, match="renewal_notice_working_days"):
        cancel_by_date(contract(renewal_notice_working_days=251), CN_TENANT, END)


# --- validation and the published schema ----------------------------------------------------------


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ContractInvalid) as info:
        parse_contract(data)
    return {d.path: d.message for d in info.value.details}


def test_the_contract_keeps_its_working_day_notice_period():
    parsed = parse_contract(contract(renewal_notice_working_days=5))
    assert parsed.renewal_notice_working_days == 5
    assert parsed.to_canonical_dict()["renewal_notice_working_days"] == 5
    assert "renewal_notice_days" not in parsed.to_canonical_dict()


def test_both_notice_periods_are_refused_naming_both():
    found = problems(contract(renewal_notice_days=30, renewal_notice_working_days=5))
    message = found["contract.renewal_notice_working_days"]
    assert "renewal_notice_days" in message and "not both" in message
    # null is "not given": no conflict.
    parse_contract(contract(renewal_notice_days=None, renewal_notice_working_days=5))


@pytest.mark.parametrize(("value", "message"), [
    (-1, "must be 0 or more, not -1"),
    (251, "must be 250 or less, not 251"),
    (True, "whole number"),
    ("5", "whole number"),
])
def test_the_working_day_notice_period_is_a_whole_number_from_0_to_250(value, message):
    assert message in problems(contract(renewal_notice_working_days=value))["contract.renewal_notice_working_days"]


def test_the_published_schema_bounds_it_and_excludes_both():
    schema = Contract.model_json_schema()
    field = schema["properties"]["renewal_notice_working_days"]
    assert {"type": "integer", "minimum": 0, "maximum": 250} in field["anyOf"]
    assert schema["not"]["required"] == ["renewal_notice_days", "renewal_notice_working_days"]
