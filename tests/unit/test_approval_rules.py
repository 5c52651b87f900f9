"""The approval gate's rules (chalicelib.contracts.approval): pure, Decimal only, currency-aware."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.contracts.approval import approvers, needs_approval

RULES: dict[str, Any] = {
    "approvers": ["legal@x.example"],
    "amount_over": {"CNY": "100000.00", "USD": "15000.00"},
    "types": ["partner"],
    "always": False,
}


def doc(amount: Any = "128000.00", currency: str = "CNY", type_: str = "sales") -> dict[str, Any]:
    return {"type": type_, "currency": currency, "amount": amount}


@pytest.mark.parametrize("rules", [None, {}, {"approvers": ["legal@x.example"]}])
def test_no_rules_no_approval(rules: Any) -> None:
    assert needs_approval(doc(amount="99999999.00"), rules) == []


def test_amount_over_the_threshold_of_its_currency() -> None:
    assert needs_approval(doc("128000.00", "CNY"), RULES) == ["amount CNY 128000.00 is over CNY 100000.00"]
    assert needs_approval(doc("15000.01", "USD"), RULES) == ["amount USD 15000.01 is over USD 15000.00"]


def test_threshold_itself_and_below_need_nothing() -> None:
    assert needs_approval(doc("100000.00", "CNY"), RULES) == []
    assert needs_approval(doc("100000", "CNY"), RULES) == []
    assert needs_approval(doc("15000.00", "USD"), RULES) == []


def test_thresholds_are_per_currency() -> None:
    # 20000 is over the USD limit but far below the CNY one; EUR has no rule at all.
    assert needs_approval(doc("20000.00", "CNY"), RULES) == []
    assert needs_approval(doc("20000.00", "USD"), RULES) != []
    assert needs_approval(doc("99999999.00", "EUR"), RULES) == []


def test_decimal_precision_not_float() -> None:
    rules = {"amount_over": {"CNY": "0.3"}}
    # 0.1 + 0.2 as a float is 0.30000000000000004; as decimal strings the comparison is exact.
    assert needs_approval(doc("0.30", "CNY"), rules) == []
    assert needs_approval(doc("0.31", "CNY"), rules) != []
    assert needs_approval(doc(Decimal("100000.01"), "CNY"), RULES) != []


def test_integer_threshold_is_accepted() -> None:
    assert needs_approval(doc("100001.00"), {"amount_over": {"CNY": 100000}}) != []


def test_lowercase_currency_keys() -> None:
    assert needs_approval(doc("100001.00", "CNY"), {"amount_over": {"cny": "100000"}}) != []


def test_type_rule() -> None:
    assert needs_approval(doc("1.00", type_="partner"), RULES) == ["contract type partner needs approval"]
    assert needs_approval(doc("1.00", type_="sales"), RULES) == []
    assert needs_approval(doc("1.00", type_="partner"), {"types": "partner"}) != []


def test_always() -> None:
    assert needs_approval(doc("1.00"), {"always": True}) == ["every contract of this tenant needs approval"]
    assert needs_approval(doc("1.00"), {"always": False}) == []
    assert needs_approval(doc("1.00"), {"always": "false"}) == []  # only a real true asks


def test_several_reasons_together() -> None:
    reasons = needs_approval(doc("200000.00", "CNY", "partner"), {**RULES, "always": True})
    assert len(reasons) == 3


def test_contract_without_amount() -> None:
    assert needs_approval({"type": "sales", "currency": "CNY"}, RULES) == []
    assert needs_approval({"type": "sales"}, RULES) == []


@pytest.mark.parametrize("threshold", [100000.0, "1e5", "100,000", "abc", True])
def test_unreadable_threshold_fails_closed(threshold: Any) -> None:
    reasons = needs_approval(doc("1.00"), {"amount_over": {"CNY": threshold}})
    assert len(reasons) == 1 and "not a decimal amount" in reasons[0]


def test_unreadable_amount_over_fails_closed() -> None:
    assert needs_approval(doc("1.00"), {"amount_over": ["CNY", "100"]}) != []


def test_unreadable_contract_amount_fails_closed() -> None:
    assert needs_approval(doc(128000.0), RULES) != []


def test_approvers() -> None:
    assert approvers(RULES) == ["legal@x.example"]
    assert approvers({"approvers": "cfo@x.example"}) == ["cfo@x.example"]
    assert approvers({"approvers": ["", " a@x.example "]}) == ["a@x.example"]
    assert approvers(None) == []
