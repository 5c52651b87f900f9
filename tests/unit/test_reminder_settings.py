"""TenantSettings: defaults, parsing from the stored dict, and validation that reports every problem."""

from __future__ import annotations

import dataclasses
from datetime import date, time

import pytest

from chalicelib.reminders.settings import (
    BusinessHours,
    DeliverySettings,
    PaymentSettings,
    SettingsError,
    TenantSettings,
)


def problems_of(data: object) -> list[tuple[str, str]]:
    with pytest.raises(SettingsError) as info:
        TenantSettings.from_dict(data)  # type: ignore[arg-type]
    return info.value.problems


def paths_of(data: object) -> list[str]:
    return [path for path, _ in problems_of(data)]


def test_defaults_are_the_documented_ones():
    s = TenantSettings()
    assert s.time_zone == "Asia/Shanghai"
    assert s.business_hours == BusinessHours(time(9, 0), time(18, 0))
    assert s.business_days == frozenset({1, 2, 3, 4, 5})  # Monday..Friday
    assert s.holidays == frozenset() and s.make_up_workdays == frozenset()
    assert s.expiry_ladder_days == (90, 30, 7)
    assert s.renewal_notice_lead_days == (30, 7)
    assert s.renewal_send_buffer_days == 0
    assert s.payment == PaymentSettings(
        before_due_days=(7,),
        on_due=True,
        overdue_ladder_days=(1, 7, 14, 30),
        escalate_after_days=7,
        finance_after_days=14,
        manager_email=None,
        finance_email=None,
    )
    assert s.delivery == DeliverySettings(before_due_days=(3,), overdue_ladder_days=(1, 7))
    assert s.reminder_cc == ()


@pytest.mark.parametrize("data", [None, {}, {"unknown": 1, "payment": {"also_unknown": True}}])
def test_none_empty_and_unknown_keys_give_defaults(data):
    assert TenantSettings.from_dict(data) == TenantSettings()


def test_null_values_mean_the_default():
    assert TenantSettings.from_dict({"time_zone": None, "reminder_cc": None, "payment": None}) == (TenantSettings())


def test_full_document_is_parsed():
    s = TenantSettings.from_dict(
        {
            "time_zone": "Europe/Berlin",
            "business_hours": {"start": "08:30", "end": "17:00"},
            "business_days": ["Mon", "tuesday", 3, "THU", 5, "sat"],
            "holidays": ["2027-10-01", "2027-10-04"],
            "make_up_workdays": ["2027-09-26"],
            "expiry_ladder_days": [7, 90, 30, 30],
            "renewal_notice_lead_days": [7, 60],
            "renewal_send_buffer_days": 5,
            "payment": {
                "before_due_days": [3, 14],
                "on_due": False,
                "overdue_ladder_days": [30, 1, 60],
                "escalate_after_days": 3,
                "finance_after_days": 30,
                "manager_email": "boss@yunti.example",
                "finance_email": "ar@yunti.example",
            },
            "delivery": {"before_due_days": [0, 5], "overdue_ladder_days": [2]},
            "reminder_cc": ["legal@yunti.example"],
        }
    )
    assert s.time_zone == "Europe/Berlin"
    assert s.business_hours == BusinessHours(time(8, 30), time(17, 0))
    assert s.business_days == frozenset({1, 2, 3, 4, 5, 6})
    assert s.holidays == frozenset({date(2027, 10, 1), date(2027, 10, 4)})
    assert s.make_up_workdays == frozenset({date(2027, 9, 26)})
    # Ladders are deduplicated; "before" ladders run far → near, overdue ones near → far.
    assert s.expiry_ladder_days == (90, 30, 7)
    assert s.renewal_notice_lead_days == (60, 7)
    assert s.renewal_send_buffer_days == 5
    assert s.payment.before_due_days == (14, 3)
    assert s.payment.on_due is False
    assert s.payment.overdue_ladder_days == (1, 30, 60)
    assert (s.payment.escalate_after_days, s.payment.finance_after_days) == (3, 30)
    assert (s.payment.manager_email, s.payment.finance_email) == ("boss@yunti.example", "ar@yunti.example")
    assert s.delivery == DeliverySettings(before_due_days=(5, 0), overdue_ladder_days=(2,))
    assert s.reminder_cc == ("legal@yunti.example",)


def test_partial_sections_keep_other_defaults():
    s = TenantSettings.from_dict({"payment": {"manager_email": "boss@yunti.example"}})
    assert s.payment.overdue_ladder_days == (1, 7, 14, 30)
    assert s.payment.manager_email == "boss@yunti.example"
    assert s.delivery == DeliverySettings()


def test_empty_ladders_switch_reminders_off():
    s = TenantSettings.from_dict({"expiry_ladder_days": [], "payment": {"overdue_ladder_days": []}})
    assert s.expiry_ladder_days == () and s.payment.overdue_ladder_days == ()


def test_settings_are_frozen_and_hashable():
    s = TenantSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.time_zone = "UTC"  # type: ignore[misc]
    assert hash(s) == hash(TenantSettings())


# --- validation -------------------------------------------------------------------------------


def test_error_is_a_value_error_with_a_readable_message():
    with pytest.raises(ValueError, match=r"time_zone: unknown time zone: 'Mars/Olympus'"):
        TenantSettings.from_dict({"time_zone": "Mars/Olympus"})


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", 8, "Asia/shanghai "])
def test_bad_time_zone(zone):
    assert paths_of({"time_zone": zone}) == ["time_zone"]


@pytest.mark.parametrize(
    ("hours", "path"),
    [
        ({"start": "18:00", "end": "09:00"}, "business_hours.end"),
        ({"start": "09:00", "end": "09:00"}, "business_hours.end"),
        ({"end": "08:00"}, "business_hours.end"),  # end before the default start
        ({"start": "9 am"}, "business_hours.start"),
        ({"start": "25:00"}, "business_hours.start"),
        ({"start": "09:00+08:00"}, "business_hours.start"),  # hours are local wall time
        ("09:00-18:00", "business_hours"),
    ],
)
def test_bad_business_hours(hours, path):
    assert paths_of({"business_hours": hours}) == [path]


def test_negative_days_name_the_position_given_by_the_caller():
    # The ladder is sorted after validation, so the index is the one in the stored document.
    assert problems_of({"expiry_ladder_days": [-3, 30]}) == [("expiry_ladder_days[0]", "must be >= 0, got -3")]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"renewal_notice_lead_days": [30, -1]}, "renewal_notice_lead_days[1]"),
        ({"payment": {"overdue_ladder_days": [1, -7]}}, "payment.overdue_ladder_days[1]"),
        ({"payment": {"overdue_ladder_days": [0]}}, "payment.overdue_ladder_days[0]"),
        ({"payment": {"before_due_days": [0]}}, "payment.before_due_days[0]"),  # on_due's job
        ({"payment": {"before_due_days": ["7"]}}, "payment.before_due_days[0]"),
        ({"payment": {"before_due_days": [7.5]}}, "payment.before_due_days[0]"),
        ({"payment": {"before_due_days": [True]}}, "payment.before_due_days[0]"),
        ({"payment": {"escalate_after_days": -1}}, "payment.escalate_after_days"),
        ({"payment": {"finance_after_days": 0}}, "payment.finance_after_days"),
        ({"payment": {"on_due": "yes"}}, "payment.on_due"),
        ({"delivery": {"before_due_days": [-1]}}, "delivery.before_due_days[0]"),
        ({"delivery": {"overdue_ladder_days": [0]}}, "delivery.overdue_ladder_days[0]"),
        ({"expiry_ladder_days": [100000]}, "expiry_ladder_days[0]"),
        ({"renewal_send_buffer_days": -2}, "renewal_send_buffer_days"),
        ({"expiry_ladder_days": 30}, "expiry_ladder_days"),
        ({"payment": [7]}, "payment"),
    ],
)
def test_bad_days(data, path):
    assert paths_of(data) == [path]


def test_zero_is_allowed_where_it_means_on_the_day():
    s = TenantSettings.from_dict(
        {"expiry_ladder_days": [0], "renewal_notice_lead_days": [0], "delivery": {"before_due_days": [0]}}
    )
    assert (s.expiry_ladder_days, s.renewal_notice_lead_days, s.delivery.before_due_days) == ((0,), (0,), (0,))


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"business_days": []}, "business_days"),
        ({"business_days": ["mon", "funday"]}, "business_days[1]"),
        ({"business_days": [0]}, "business_days[0]"),
        ({"business_days": [8]}, "business_days[0]"),
        ({"business_days": "mon-fri"}, "business_days"),
        ({"holidays": ["2027-02-30"]}, "holidays[0]"),
        ({"make_up_workdays": [20270926]}, "make_up_workdays[0]"),
        ({"holidays": ["2027-10-01"], "make_up_workdays": ["2027-10-01"]}, "make_up_workdays"),
    ],
)
def test_bad_calendar(data, path):
    assert paths_of(data) == [path]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"reminder_cc": ["legal@yunti.example", "not-an-address"]}, "reminder_cc[1]"),
        ({"reminder_cc": "legal@yunti.example"}, "reminder_cc"),  # a bare string is not a list
        ({"payment": {"manager_email": "boss"}}, "payment.manager_email"),
        ({"payment": {"finance_email": ""}}, "payment.finance_email"),
    ],
)
def test_bad_addresses(data, path):
    assert paths_of(data) == [path]


def test_every_problem_is_reported_at_once():
    paths = paths_of(
        {
            "time_zone": "Nowhere/Land",
            "business_hours": {"start": "18:00", "end": "09:00"},
            "business_days": ["mon", "xyz"],
            "expiry_ladder_days": [-1],
            "payment": {"before_due_days": [-7], "manager_email": "nope"},
            "delivery": {"overdue_ladder_days": [-1]},
            "reminder_cc": ["bad"],
        }
    )
    assert sorted(paths) == sorted(
        [
            "time_zone",
            "business_hours.end",
            "business_days[1]",
            "expiry_ladder_days[0]",
            "payment.before_due_days[0]",
            "payment.manager_email",
            "delivery.overdue_ladder_days[0]",
            "reminder_cc[0]",
        ]
    )


def test_settings_must_be_an_object():
    assert paths_of(["time_zone", "UTC"]) == [""]


def test_direct_construction_validates_too():
    with pytest.raises(SettingsError):
        TenantSettings(expiry_ladder_days=(-1,))
    with pytest.raises(SettingsError):
        PaymentSettings(before_due_days=(0,))
    with pytest.raises(SettingsError):
        BusinessHours(time(18), time(9))
    with pytest.raises(SettingsError):
        TenantSettings(business_days=frozenset())
