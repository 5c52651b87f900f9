"""The analytics summary's pure aggregation: facts from a contract, then the summary of many."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.core.errors import BadRequest
from chalicelib.web.analytics import parse_range, percentile
from tests.support.analytics_oracle import ContractFacts, contract_facts, summarize

T0 = datetime(2027, 1, 10, 8, 0, tzinfo=UTC)
DOC = {
    "currency": "CNY", "amount": "128000.00",
    "payment": {"milestones": [
        {"id": "pay-1", "name": "预付款", "due_date": "2027-01-20", "amount": "38400.00"},
        {"id": "pay-2", "name": "尾款", "due_date": "2027-03-01", "amount": "89600.00"},
    ]},
}


def facts(status: str = "active", type_: str = "sales", currency: str | None = "CNY", amount: str | None = "100.00",
          hours: float | None = None, reminders: int = 0, overdue: tuple[str, ...] = ()) -> ContractFacts:
    return ContractFacts(status=status, contract_type=type_, currency=currency,
                         amount=Decimal(amount) if amount is not None else None,
                         sent_at=T0 if hours is not None else None,
                         completed_at=T0 + timedelta(hours=hours) if hours is not None else None,
                         reminders_sent=reminders, overdue=tuple(Decimal(o) for o in overdue))


def test_facts_from_the_timeline_and_milestones() -> None:
    events = [
        ("received", T0 - timedelta(hours=1)),
        ("envelope_completed", T0 + timedelta(hours=30)),
        ("envelope_sent", T0),
        ("envelope_sent", T0 + timedelta(hours=2)),  # a re-send: the first one counts
        ("reminder_sent", T0 + timedelta(days=5)),
        ("reminder_sent", T0 + timedelta(days=9)),
    ]
    stored = {"pay-1": {"status": "partially_paid", "paid_amount": "8400.00", "payments": []}}
    f = contract_facts("active", "sales", DOC, stored, events, date(2027, 2, 1))
    assert f.hours_to_sign == 30
    assert f.reminders_sent == 2
    assert f.overdue == (Decimal("30000.00"),)  # pay-1 open and past due; pay-2 not due yet
    assert f.amount == Decimal("128000.00") and f.currency == "CNY"


def test_payments_are_overdue_only_on_contracts_in_force() -> None:
    assert contract_facts("voided", "sales", DOC, None, [], date(2027, 6, 1)).overdue == ()
    assert len(contract_facts("expiring", "sales", DOC, None, [], date(2027, 6, 1)).overdue) == 2


def test_unsigned_has_no_time_to_sign() -> None:
    f = contract_facts("sent", "service", {"currency": "USD"}, None, [("envelope_sent", T0)], date(2027, 1, 1))
    assert f.hours_to_sign is None and f.amount is None


def test_summary_counts_values_and_percentiles() -> None:
    rows = [
        facts("active", "sales", "CNY", "100.00", hours=10, reminders=2, overdue=("40.00",)),
        facts("active", "sales", "CNY", "50.50", hours=20, overdue=("10.00", "5.25")),
        facts("sent", "service", "USD", "1000", reminders=1),
        facts("voided", "partner", "USD", "7.00"),
        facts("expired", "supplier", "JPY", "300", hours=40),
        facts("received", "sales", None, None),
    ]
    out = summarize(rows, date(2027, 1, 1), date(2027, 3, 31))
    assert out["from"] == "2027-01-01" and out["to"] == "2027-03-31" and out["contracts"] == 6
    assert out["by_status"] == {"active": 2, "expired": 1, "received": 1, "sent": 1, "voided": 1}
    assert out["by_type"] == {"partner": 1, "sales": 3, "service": 1, "supplier": 1}
    assert out["value_by_currency"] == {"CNY": "150.50", "JPY": "300", "USD": "1007.00"}
    assert out["signed_value_by_currency"] == {"CNY": "150.50", "JPY": "300"}
    assert out["time_to_sign_hours"] == {"count": 3, "median": 20.0, "p90": 40.0}
    assert out["reminders_sent"] == 3
    assert out["overdue_payments"] == {"count": 3, "by_currency": {"CNY": {"count": 3, "open_amount": "55.25"}}}


def test_empty_summary() -> None:
    out = summarize([], date(2027, 1, 1), date(2027, 1, 1))
    assert out["contracts"] == 0 and out["by_status"] == {} and out["value_by_currency"] == {}
    assert out["time_to_sign_hours"] == {"count": 0, "median": None, "p90": None}
    assert out["overdue_payments"] == {"count": 0, "by_currency": {}}


def test_percentile_nearest_rank() -> None:
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 90) == 9.0 and percentile(values, 50) == 5.0 and percentile(values, 100) == 10.0


def test_range_defaults_to_the_last_90_days() -> None:
    today = date(2027, 5, 1)
    assert parse_range({}, today) == (date(2027, 1, 31), today)
    assert parse_range({"to": "2027-02-01"}, today) == (date(2026, 11, 3), date(2027, 2, 1))
    assert parse_range({"from": "2027-01-01"}, today) == (date(2027, 1, 1), date(2027, 4, 1))
    assert parse_range({"from": "2027-01-01", "to": "2027-01-01"}, today) == (date(2027, 1, 1), date(2027, 1, 1))


@pytest.mark.parametrize("params, path", [
    ({"from": "2027-13-01"}, "from"),
    ({"to": "yesterday"}, "to"),
    ({"from": "20270101"}, "from"),
    ({"from": "2027-02-01", "to": "2027-01-01"}, "from"),
    ({"from": "2020-01-01", "to": "2027-01-01"}, "to"),
    ({"since": "2027-01-01"}, "since"),
])
def test_bad_ranges_are_400_with_the_path(params: dict[str, str], path: str) -> None:
    with pytest.raises(BadRequest) as err:
        parse_range(params, date(2027, 5, 1))
    assert err.value.status == 400 and [d["path"] for d in err.value.details] == [path]
