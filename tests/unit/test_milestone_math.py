"""Execution tracking, the pure half: parsing the request, the money arithmetic of full and partial
payments, deliveries, what planning is told, and the paid-versus-planned view."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.errors import Conflict, MalformedBody, ValidationFailed
from chalicelib.reminders.milestones import (
    ExecutionRequest,
    apply_execution,
    find_milestone,
    milestones_view,
    parse_execution,
    settled_states,
)
from chalicelib.reminders.planning import SettledState

AT = datetime(2027, 2, 16, 3, 0, tzinfo=UTC)
TODAY = date(2027, 2, 16)
DOC: dict[str, Any] = {
    "currency": "CNY",
    "amount": "128000.00",
    "payment": {"method": "bank_transfer", "milestones": [
        {"id": "pay-1", "name": "预付款", "due_date": "2026-12-11", "amount": "38400.00"},
        {"id": "pay-2", "name": "尾款", "due_date": "2027-02-14", "amount": "89600.00"},
    ]},
    "delivery": {"date": "2027-01-15", "place": "杭州", "milestones": [
        {"id": "dlv-1", "name": "整批交货", "due_date": "2027-01-15"},
    ]},
}


def apply(milestone_id: str, state: dict[str, Any] | None, body: dict[str, Any], currency: str = "CNY") -> Any:
    ref = find_milestone(DOC, milestone_id)
    assert ref is not None
    return apply_execution(ref, state, parse_execution(body), currency=currency, today=TODAY, recorded_at=AT)


def problems(err: pytest.ExceptionInfo[ValidationFailed] | pytest.ExceptionInfo[Conflict]) -> dict[str, str]:
    return {d["path"]: d["message"] for d in err.value.details}


# --- parsing ----------------------------------------------------------------------------------------


def test_parse_a_payment_and_a_delivery() -> None:
    assert parse_execution(b'{"status": "paid", "amount": "89600.00", "paid_on": "2027-02-01"}') == ExecutionRequest(
        "paid", Decimal("89600.00"), date(2027, 2, 1))
    assert parse_execution({"status": "delivered", "delivered_on": "2027-01-15"}) == ExecutionRequest(
        "delivered", None, date(2027, 1, 15))
    assert parse_execution({"status": "paid", "reference": " tx-1 "}).reference == "tx-1"


@pytest.mark.parametrize(("body", "path"), [
    ({"status": "refunded"}, "status"),
    ({}, "status"),
    ({"status": "paid", "amount": 100}, None),  # an int is exact: accepted
    ({"status": "paid", "amount": 100.5}, "amount"),  # a float is not
    ({"status": "paid", "amount": "1e3"}, "amount"),
    ({"status": "paid", "amount": "-5"}, "amount"),
    ({"status": "paid", "amount": "0.00"}, "amount"),
    ({"status": "paid", "amount": True}, "amount"),
    ({"status": "paid", "paid_on": "2027-02-30"}, "paid_on"),
    ({"status": "paid", "paid_on": "2027-2-1"}, "paid_on"),
    ({"status": "paid", "paid_on": 20270201}, "paid_on"),
    ({"status": "paid", "delivered_on": "2027-02-01"}, "delivered_on"),
    ({"status": "delivered", "amount": "1.00"}, "amount"),
    ({"status": "delivered", "delivered_on": "soon"}, "delivered_on"),
    ({"status": "paid", "reference": ""}, "reference"),
    ({"status": "paid", "reference": "x" * 201}, "reference"),
])
def test_parse_refuses_with_the_path(body: dict[str, Any], path: str | None) -> None:
    if path is None:
        parse_execution(body)
        return
    with pytest.raises(ValidationFailed) as err:
        parse_execution(body)
    assert path in problems(err)
    assert err.value.status == 422


def test_every_problem_at_once() -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_execution({"status": "paid", "amount": "x", "paid_on": "y"})
    assert set(problems(err)) == {"amount", "paid_on"}
    assert err.value.message == "2 problems in the request"


@pytest.mark.parametrize("body", [b"{", b"[1]", b'"paid"', b"", b"null"])
def test_not_an_object_is_400(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_execution(body)


# --- payments ------------------------------------------------------------------------------------


def test_full_payment() -> None:
    state, event = apply("pay-2", None, {"status": "paid", "amount": "89600.00", "paid_on": "2027-02-14"})
    assert event == "milestone_paid"
    assert state["status"] == "paid" and state["paid_amount"] == "89600.00"
    assert state["payments"] == [{"amount": "89600.00", "paid_on": "2027-02-14", "recorded_at": AT.isoformat(),
                                  "source": "api"}]


def test_partial_then_the_rest() -> None:
    state, event = apply("pay-2", None, {"status": "paid", "amount": "40000", "paid_on": "2027-02-10"})
    assert (event, state["status"], state["paid_amount"]) == ("milestone_partially_paid", "partially_paid", "40000.00")
    assert state["payments"][0]["amount"] == "40000.00"  # shown with the currency's places
    state, event = apply("pay-2", state, {"status": "paid", "amount": "9600.50"})
    assert (event, state["paid_amount"]) == ("milestone_partially_paid", "49600.50")
    assert state["payments"][1]["paid_on"] == TODAY.isoformat()  # no date: today in the contract's zone
    state, event = apply("pay-2", state, {"status": "paid"})  # no amount: what is still open
    assert (event, state["status"], state["paid_amount"]) == ("milestone_paid", "paid", "89600.00")
    assert [p["amount"] for p in state["payments"]] == ["40000.00", "9600.50", "39999.50"]


# A body valid on its own that does not fit the milestone is a conflict (409), not an invalid body.


def test_more_than_what_is_open_is_409_and_says_how_much_is() -> None:
    state, _ = apply("pay-2", None, {"status": "paid", "amount": "89000.00"})
    with pytest.raises(Conflict) as err:
        apply("pay-2", state, {"status": "paid", "amount": "600.01"})
    assert err.value.status == 409
    assert problems(err)["amount"] == "at most 600.00 is open (planned 89600.00, paid 89000.00), got 600.01"
    paid, _ = apply("pay-2", state, {"status": "paid", "amount": "600.00"})
    with pytest.raises(Conflict):
        apply("pay-2", paid, {"status": "paid", "amount": "0.01"})


def test_finer_than_the_currency_is_409() -> None:
    with pytest.raises(Conflict) as err:
        apply("pay-1", None, {"status": "paid", "amount": "100.005"})
    assert "CNY has 2 decimal places" in problems(err)["amount"]
    with pytest.raises(Conflict):
        apply("pay-1", None, {"status": "paid", "amount": "100.5"}, currency="JPY")


def test_a_repeated_reference_is_a_duplicate() -> None:
    body = {"status": "paid", "amount": "100.00", "reference": "tx-9"}
    state, _ = apply("pay-1", None, body)
    assert apply("pay-1", state, body) == (None, "duplicate")


def test_wrong_kind_is_409() -> None:
    with pytest.raises(Conflict):
        apply("dlv-1", None, {"status": "paid", "amount": "1.00"})
    with pytest.raises(Conflict):
        apply("pay-1", None, {"status": "delivered"})


# --- deliveries ----------------------------------------------------------------------------------


def test_delivery_once() -> None:
    state, event = apply("dlv-1", None, {"status": "delivered", "delivered_on": "2027-01-14"})
    assert (event, state["status"], state["delivered_on"]) == ("milestone_delivered", "delivered", "2027-01-14")
    assert apply("dlv-1", state, {"status": "delivered", "delivered_on": "2027-01-14"}) == (None, "duplicate")
    assert apply("dlv-1", state, {"status": "delivered"}) == (None, "duplicate")
    with pytest.raises(Conflict):
        apply("dlv-1", state, {"status": "delivered", "delivered_on": "2027-01-20"})


# --- what planning is told, and the view ------------------------------------------------------------


def test_settled_states() -> None:
    partial, _ = apply("pay-2", None, {"status": "paid", "amount": "40000.00"})
    full, _ = apply("pay-1", None, {"status": "paid"})
    delivered, _ = apply("dlv-1", None, {"status": "delivered"})
    assert settled_states(DOC, {"pay-1": full, "pay-2": partial, "dlv-1": delivered}) == {
        "pay-1": SettledState(Decimal("38400.00"), True),
        "pay-2": SettledState(Decimal("40000.00"), False),
        "dlv-1": SettledState(Decimal(0), True),
    }
    assert settled_states(DOC, None) == {}


def test_paid_versus_planned() -> None:
    partial, _ = apply("pay-2", None, {"status": "paid", "amount": "40000.00", "paid_on": "2027-02-15"})
    view = milestones_view(DOC, {"pay-2": partial}, TODAY)
    assert [(p["id"], p["planned_amount"], p["paid_amount"], p["remaining"], p["status"], p["overdue"])
            for p in view["payment"]] == [
        ("pay-1", "38400.00", "0.00", "38400.00", "open", True),
        ("pay-2", "89600.00", "40000.00", "49600.00", "partially_paid", True),
    ]
    assert view["delivery"] == [{"id": "dlv-1", "name": "整批交货", "due_date": "2027-01-15", "status": "open",
                                 "delivered_on": None, "overdue": True}]
    assert view["totals"] == {"currency": "CNY", "planned": "128000.00", "paid": "40000.00",
                              "remaining": "88000.00", "payments_settled": 0, "payments_planned": 2,
                              "deliveries_done": 0, "deliveries_planned": 1}
    assert milestones_view({"currency": "EUR"}, None)["totals"]["planned"] == "0.00"


@given(st.lists(st.integers(min_value=1, max_value=8_960_000), min_size=1, max_size=8))
def test_payments_never_exceed_the_milestone_and_add_up(cents: list[int]) -> None:
    state: dict[str, Any] | None = None
    for c in cents:
        amount = Decimal(c).scaleb(-2)
        try:
            state, _ = apply("pay-2", state, {"status": "paid", "amount": str(amount)})
        except Conflict:  # more than what is still open
            continue
    if state is None:
        return
    paid = Decimal(state["paid_amount"])
    assert paid <= Decimal("89600.00")
    assert paid == sum(Decimal(p["amount"]) for p in state["payments"])
    assert state["status"] == ("paid" if paid == Decimal("89600.00") else "partially_paid")
