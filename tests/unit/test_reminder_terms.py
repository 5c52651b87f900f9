"""Term transitions, planned from the rules (chalicelib/reminders/terms.py). Times worked out by hand:
Asia/Shanghai is UTC+8; Europe/Berlin UTC+1, UTC+2 from 2030-03-31 to 2030-10-27."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib.reminders.planning import Term
from chalicelib.reminders.settings import TenantSettings
from chalicelib.reminders.terms import contract_term, plan_transitions, term_from_json, term_to_json

DEFAULTS = TenantSettings()


def contract(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"signing_date": "2030-01-02", "effective_date": "2030-01-02", "end_date": "2030-11-30",
                            "time_zone": "Asia/Shanghai", "owner": {"email": "o@x.example"}}
    base.update(fields)
    return base


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_fixed_term_expiring_when_the_window_opens_then_expired_after_the_last_day() -> None:
    plan = plan_transitions(contract(), "c", DEFAULTS)
    assert [(t.key, t.target, t.due_at) for t in plan] == [
        ("c:transition:expiring:2030-11-30", "expiring", utc("2030-08-31T16:00")),  # 09-01 00:00 +08:00
        ("c:transition:expired:2030-11-30", "expired", utc("2030-11-30T16:00")),  # 12-01 00:00 +08:00
    ]
    assert plan[0].local_due == datetime.fromisoformat("2030-09-01T00:00:00+08:00")
    assert plan[1].term == Term(date(2030, 1, 2), date(2030, 11, 30))


def test_the_window_follows_the_longest_expiry_notice() -> None:
    plan = plan_transitions(contract(), "c", TenantSettings(expiry_ladder_days=(14, 45)))
    assert plan[0].due_at == utc("2030-10-15T16:00")  # 11-30 - 45 = 10-16
    no_ladder = plan_transitions(contract(), "c", TenantSettings(expiry_ladder_days=()))
    assert [t.target for t in no_ladder] == ["expired"]


def test_a_term_shorter_than_the_window_is_expiring_from_its_start() -> None:
    plan = plan_transitions(contract(effective_date="2030-10-01", signing_date="2030-09-20"), "c", DEFAULTS)
    assert plan[0].due_at == utc("2030-09-30T16:00")  # 10-01 00:00 +08:00


def test_auto_renew_renews_the_day_after_the_end_into_the_next_term() -> None:
    c = contract(time_zone="Europe/Berlin", auto_renew=True, effective_date="2030-01-01", end_date="2030-06-30")
    [renewed] = plan_transitions(c, "c", DEFAULTS)
    assert (renewed.key, renewed.target) == ("c:transition:renewed:2030-06-30", "renewed")
    assert renewed.due_at == utc("2030-06-30T22:00")  # 07-01 00:00 CEST
    assert renewed.new_term == Term(date(2030, 7, 1), date(2030, 12, 31))
    [again] = plan_transitions(c, "c", DEFAULTS, term=renewed.new_term)
    assert again.due_at == utc("2030-12-31T23:00")  # 2031-01-01 00:00 CET
    assert again.new_term == Term(date(2031, 1, 1), date(2031, 6, 30))
    assert again.key == "c:transition:renewed:2030-12-31"


def test_past_moments_are_due_now_and_a_past_end_skips_expiring() -> None:
    now = utc("2030-10-10T05:30")
    plan = plan_transitions(contract(), "c", DEFAULTS, now=now)
    assert [(t.target, t.due_at) for t in plan] == [("expiring", now), ("expired", utc("2030-11-30T16:00"))]
    late = utc("2030-12-05T00:00")
    assert [(t.target, t.due_at) for t in plan_transitions(contract(), "c", DEFAULTS, now=late)] == [
        ("expired", late)]


def test_the_tenant_zone_when_the_contract_has_none() -> None:
    c = contract()
    del c["time_zone"]
    [_, expired] = plan_transitions(c, "c", TenantSettings(time_zone="America/New_York"))
    assert expired.due_at == utc("2030-12-01T05:00")  # 00:00 EST


def test_no_end_date_no_transitions() -> None:
    c = contract()
    del c["end_date"]
    assert plan_transitions(c, "c", DEFAULTS) == []
    assert contract_term(c) is None


def test_terms() -> None:
    assert contract_term(contract()) == Term(date(2030, 1, 2), date(2030, 11, 30))
    assert contract_term(contract(effective_date=None)) == Term(date(2030, 1, 2), date(2030, 11, 30))
    stored = term_to_json(Term(date(2031, 1, 1), date(2031, 6, 30)), 2)
    assert stored == {"start": "2031-01-01", "end": "2031-06-30", "renewals": 2}
    assert contract_term(contract(), stored) == term_from_json(stored) == Term(date(2031, 1, 1), date(2031, 6, 30))


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError):
        plan_transitions(contract(), "c", DEFAULTS, now=datetime(2030, 1, 1))
