"""Working days: the PRC calendar with its 调休 days, tenant exceptions, and milestones due "N working
days after" a contract date.

Expected dates are worked out by hand from the State Council's published arrangement for 2026
(国务院办公厅关于2026年部分节假日安排的通知), as `chinese_calendar` 1.11.0 carries it in its
constants (`holidays` and `workdays` for 2026):
- 中秋节: Fri 25 Sep to Sun 27 Sep 2026 off;
- 国庆节: Thu 1 Oct to Wed 7 Oct 2026 off; Sun 20 Sep and Sat 10 Oct 2026 are working days (调休).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from chalicelib.contracts import ContractInvalid, WebhookEnvelope, WorkingCalendar, parse_contract, parse_webhook_body
from chalicelib.reminders.planning import plan_reminders
from chalicelib.reminders.settings import PaymentSettings, SettingsError, TenantSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"
CN = WorkingCalendar("CN")
PLAIN = WorkingCalendar()  # no country: Monday to Friday


def sample(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))["contract"]


def with_due(contract: dict[str, Any], due: object, section: str = "payment", index: int = 0) -> dict[str, Any]:
    milestone = contract[section]["milestones"][index]
    del milestone["due_date"]
    milestone["due"] = due
    return contract


def problems(contract: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ContractInvalid) as info:
        parse_contract(contract)
    return {d.path: d.message for d in info.value.details}


# --- the must-show case -------------------------------------------------------------------------------


def test_ten_working_days_after_signing_on_2026_09_28_skip_national_day_and_count_its_make_up_saturday():
    # Signed Mon 28 Sep 2026. Counting from the next day:
    #   Tue 29 Sep = 1, Wed 30 Sep = 2,
    #   Thu 1 Oct .. Wed 7 Oct: 国庆节 holiday, not counted,
    #   Thu 8 Oct = 3, Fri 9 Oct = 4, Sat 10 Oct (调休 make-up working day) = 5,
    #   Sun 11 Oct: weekend, not counted,
    #   Mon 12 Oct = 6, Tue 13 = 7, Wed 14 = 8, Thu 15 = 9, Fri 16 Oct = 10.
    assert CN.add_working_days(date(2026, 9, 28), 10) == date(2026, 10, 16)

    contract = sample("sales")
    contract["signing_date"] = "2026-09-28"
    with_due(contract, {"after": "signing_date", "working_days": 10})
    [first, _] = parse_contract(contract).payment_milestones  # zh-CN contract: the CN calendar
    assert first.due_date == date(2026, 10, 16)


# --- the calendar ---------------------------------------------------------------------------------------


def test_over_a_weekend_with_no_holiday():
    # Fri 20 Nov 2026; no holiday in late November in China or anywhere Monday to Friday.
    for calendar in (CN, PLAIN):
        assert calendar.add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 23)  # Mon
        assert calendar.add_working_days(date(2026, 11, 20), 3) == date(2026, 11, 25)  # Wed
        # Starting on a Saturday: the first counted day is the next working day, Monday.
        assert calendar.add_working_days(date(2026, 11, 21), 1) == date(2026, 11, 23)


def test_an_extra_tenant_holiday_is_skipped():
    company_day_off = WorkingCalendar("CN", extra_holidays=frozenset({date(2026, 11, 23)}))
    assert not company_day_off.is_working_day(date(2026, 11, 23))
    assert company_day_off.add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 24)  # Fri -> Tue


def test_an_extra_tenant_workday_is_counted():
    saturday_worked = WorkingCalendar(extra_workdays=frozenset({date(2026, 11, 21)}))
    assert saturday_worked.add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 21)


def test_make_up_weekend_days_count_and_festival_days_do_not():
    assert CN.is_working_day(date(2026, 10, 10))  # Sat, 国庆 调休
    assert CN.is_working_day(date(2026, 9, 20))  # Sun, 国庆 调休
    assert not CN.is_working_day(date(2026, 10, 1))
    assert not PLAIN.is_working_day(date(2026, 10, 10))
    # Fri 18 Sep + 1: the make-up Sunday 20 Sep in China, Monday 21 Sep elsewhere.
    assert CN.add_working_days(date(2026, 9, 18), 1) == date(2026, 9, 20)
    assert PLAIN.add_working_days(date(2026, 9, 18), 1) == date(2026, 9, 21)
    # Thu 24 Sep + 1: 中秋 Fri 25 .. Sun 27 off, so Mon 28 Sep.
    assert CN.add_working_days(date(2026, 9, 24), 1) == date(2026, 9, 28)
    # Fri 9 Oct + 1: the make-up Saturday 10 Oct.
    assert CN.add_working_days(date(2026, 10, 9), 1) == date(2026, 10, 10)


def test_cn_falls_back_to_monday_to_friday_for_a_year_without_published_data():
    # chinese_calendar 1.11.0 knows 2004-2026; 2027's arrangement is not in it, so Fri 1 Jan 2027
    # counts as a working day (the documented fallback) until the package is upgraded.
    assert CN.is_working_day(date(2027, 1, 1))
    assert not CN.is_working_day(date(2027, 1, 2))


def test_another_country_uses_its_public_holidays():
    # Germany: Fri 25 Dec 2026 (1. Weihnachtstag) is a nationwide holiday; Thu 24 Dec is not.
    germany = WorkingCalendar("DE")
    assert germany.add_working_days(date(2026, 12, 23), 1) == date(2026, 12, 24)
    assert germany.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 28)  # Mon


@pytest.mark.parametrize("n", [0, -1, 3651, True, 1.5])
def test_the_count_is_a_whole_number_from_1_to_3650(n):
    with pytest.raises(ValueError, match="1 to 3650"):
        CN.add_working_days(date(2026, 9, 28), n)


@pytest.mark.parametrize("country", ["cn", "XX", "CHN", ""])
def test_unknown_countries_are_refused(country):
    with pytest.raises(ValueError, match="country"):
        WorkingCalendar(country)


# --- the contract: due resolved at validation ------------------------------------------------------------


def test_the_contract_is_returned_with_the_computed_due_date_and_the_rule_it_came_from():
    contract = sample("sales")
    contract["signing_date"] = "2026-09-28"
    with_due(contract, {"after": "signing_date", "working_days": 10})
    # 30 calendar days after delivery (Fri 15 Jan 2027): Sun 14 Feb 2027, weekends included.
    with_due(contract, {"after": "delivery.date", "days": 30}, index=1)
    parsed = parse_contract(contract)
    stored = parsed.to_canonical_dict()
    first, second = stored["payment"]["milestones"]
    assert first["due_date"] == "2026-10-16"
    assert first["due_rule"] == {"after": "signing_date", "working_days": 10}
    assert "due" not in first
    assert second["due_date"] == "2027-02-14"
    assert second["due_rule"] == {"after": "delivery.date", "days": 30}
    # What is stored re-parses to the same thing (the rule is not re-applied).
    assert parse_contract(stored).to_canonical_dict() == stored
    # The caller's body is not changed.
    assert "due" in contract["payment"]["milestones"][0]


def test_calendar_days_count_holidays():
    # Signed Mon 28 Sep 2026, 10 calendar days: Thu 8 Oct 2026, holidays or not.
    contract = sample("sales")
    contract["signing_date"] = "2026-09-28"
    with_due(contract, {"after": "signing_date", "days": 10})
    assert parse_contract(contract).payment_milestones[0].due_date == date(2026, 10, 8)


def test_an_english_contract_counts_monday_to_friday_unless_the_caller_passes_a_calendar():
    # Service sample: en, effective Fri 1 Jan 2027. Five working days: Mon 4 .. Fri 8 Jan.
    contract = sample("service")
    with_due(contract, {"after": "effective_date", "working_days": 5})
    assert parse_contract(contract).payment_milestones[0].due_date == date(2027, 1, 8)
    # A tenant calendar with Tue 5 Jan off: Mon 4, Wed 6, Thu 7, Fri 8, Mon 11.
    tenant = WorkingCalendar(extra_holidays=frozenset({date(2027, 1, 5)}))
    body = {"event": "contract.created", "contract": contract}
    envelope = parse_webhook_body(body, calendar=tenant)
    assert envelope.full_contract.payment_milestones[0].due_date == date(2027, 1, 11)


def test_a_delivery_milestone_may_be_relative_too():
    # Supplier sample: zh-CN, signed Tue 8 Dec 2026; 5 working days: Wed 9 .. Fri 11, Mon 14, Tue 15.
    contract = sample("supplier")
    with_due(contract, {"after": "signing_date", "working_days": 5}, section="delivery")
    assert parse_contract(contract).delivery_milestones[0].due_date == date(2026, 12, 15)


M0 = "contract.payment.milestones[0]"


@pytest.mark.parametrize(("due", "path", "words"), [
    ({"after": "end_date", "working_days": 10}, f"{M0}.due.after", "signing_date, effective_date, delivery.date"),
    ({"working_days": 10}, f"{M0}.due.after", "required"),
    ({"after": "signing_date", "working_days": 10, "days": 10}, f"{M0}.due", "both given"),
    ({"after": "signing_date"}, f"{M0}.due", "neither given"),
    ({"after": "signing_date", "working_days": 0}, f"{M0}.due.working_days", "1 to 3650"),
    ({"after": "signing_date", "working_days": 3651}, f"{M0}.due.working_days", "1 to 3650"),
    ({"after": "signing_date", "days": "10"}, f"{M0}.due.days", "1 to 3650"),
    ({"after": "signing_date", "days": 2.5}, f"{M0}.due.days", "1 to 3650"),
    ({"after": "signing_date", "working_days": True}, f"{M0}.due.working_days", "1 to 3650"),
    ("10 working days", f"{M0}.due", "must be an object"),
])
def test_bad_due_shapes_are_refused_with_one_clear_message(due, path, words):
    found = problems(with_due(sample("sales"), due))
    assert found.keys() == {path}, found  # no second "due_date: required" for the same mistake
    assert words in found[path]


def test_the_anchor_date_must_be_in_the_contract():
    contract = sample("sales")
    del contract["effective_date"]
    found = problems(with_due(contract, {"after": "effective_date", "working_days": 10}))
    assert found == {f"{M0}.due.after": "the contract has no effective_date to count from"}


def test_due_date_and_due_together_are_refused():
    contract = sample("sales")
    contract["payment"]["milestones"][0]["due"] = {"after": "signing_date", "working_days": 10}
    assert problems(contract) == {f"{M0}.due": "give either due_date or due, not both"}
    contract["payment"]["milestones"][0]["due"] = {"after": "signing_date"}  # and a bad rule: one message
    assert problems(contract) == {f"{M0}.due": "give either due_date or due, not both"}


def test_a_milestone_with_neither_is_missing_its_due_date():
    contract = sample("sales")
    del contract["payment"]["milestones"][0]["due_date"]
    assert problems(contract) == {f"{M0}.due_date": "required"}


# --- tenant settings and reminder planning ---------------------------------------------------------


def test_tenant_settings_name_a_calendar():
    s = TenantSettings.from_dict({"calendar": {"country": "CN", "extra_holidays": ["2026-12-31"]}})
    assert s.calendar == WorkingCalendar("CN", extra_holidays=frozenset({date(2026, 12, 31)}))
    assert TenantSettings.from_dict({}).calendar is None


def test_bad_calendar_settings_are_listed_with_their_paths():
    with pytest.raises(SettingsError) as info:
        TenantSettings.from_dict({"calendar": {"country": "XX"}})
    assert [p for p, _ in info.value.problems] == ["calendar.country"]
    with pytest.raises(SettingsError) as info:
        TenantSettings.from_dict({"calendar": {"extra_holidays": ["2026-13-01"]}})
    assert [p for p, _ in info.value.problems] == ["calendar.extra_holidays[0]"]
    with pytest.raises(SettingsError) as info:
        TenantSettings.from_dict({"calendar": {"extra_holidays": ["2026-10-10"], "extra_workdays": ["2026-10-10"]}})
    assert [p for p, _ in info.value.problems] == ["calendar.extra_workdays"]
    with pytest.raises(SettingsError) as info:
        TenantSettings.from_dict({"calendar": "CN"})
    assert [p for p, _ in info.value.problems] == ["calendar"]


def _payment_due(due: str) -> dict[str, Any]:
    return {
        "signing_date": "2026-09-01", "time_zone": "Asia/Shanghai",
        "owner": {"name": "王敏", "email": "wang.min@yunti.example"},
        "payment": {"method": "bank_transfer",
                    "milestones": [{"id": "p", "name": "p", "due_date": due, "amount": "1.00"}]},
    }


PAY_ONLY = PaymentSettings(before_due_days=(), overdue_ladder_days=(1,))


def test_planning_sends_on_the_tenants_working_days():
    cn = TenantSettings(payment=PAY_ONLY, calendar=CN)
    plain = TenantSettings(payment=PAY_ONLY)
    # Due Thu 1 Oct 2026 (国庆节): with the CN calendar the due-date reminder waits for Thu 8 Oct, the
    # first working day, and "1 day overdue" counts from it: Fri 9 Oct. Without it: Thu 1, Fri 2.
    assert [r.local_due.date() for r in plan_reminders(_payment_due("2026-10-01"), "c", cn)] == [
        date(2026, 10, 8), date(2026, 10, 9)]
    assert [r.local_due.date() for r in plan_reminders(_payment_due("2026-10-01"), "c", plain)] == [
        date(2026, 10, 1), date(2026, 10, 2)]
    # Due Sat 10 Oct 2026, a make-up working day: sent that Saturday; "+1" is Sun 11 Oct, a day off,
    # so Mon 12 Oct. Without the calendar the Saturday is a weekend: Mon 12 Oct, then Tue 13 Oct.
    assert [r.local_due.date() for r in plan_reminders(_payment_due("2026-10-10"), "c", cn)] == [
        date(2026, 10, 10), date(2026, 10, 12)]
    assert [r.local_due.date() for r in plan_reminders(_payment_due("2026-10-10"), "c", plain)] == [
        date(2026, 10, 12), date(2026, 10, 13)]


def test_the_published_schema_takes_due_date_or_due_but_not_both():
    from jsonschema import Draft202012Validator

    # Against the full contract's schema (the envelope's also admits a bare ContractRef).
    defs = WebhookEnvelope.model_json_schema()["$defs"]
    validator = Draft202012Validator({"$ref": "#/$defs/Contract", "$defs": defs})
    contract = sample("sales")
    with_due(contract, {"after": "signing_date", "working_days": 10})
    assert not list(validator.iter_errors(contract))
    contract["payment"]["milestones"][0]["due_date"] = "2026-12-11"
    assert list(validator.iter_errors(contract))  # both
    contract["payment"]["milestones"][0]["due"] = {"after": "end_date", "working_days": 10}
    del contract["payment"]["milestones"][0]["due_date"]
    assert list(validator.iter_errors(contract))  # an unknown anchor
    del contract["payment"]["milestones"][0]["due"]
    assert list(validator.iter_errors(contract))  # neither
