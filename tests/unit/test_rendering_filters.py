"""The template filters and the data wrapper, on their own."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from chalicelib.rendering.data import MissingField, Record, RecordList, path_of, wrap_contract
from chalicelib.rendering.filters import (
    capitals,
    format_date,
    items_total,
    line_total,
    money,
    number,
    to_decimal,
)


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("128000.00", "CNY", "128,000.00"),
        ("128000", "CNY", "128,000.00"),
        ("0.5", "EUR", "0.50"),
        ("1234567.891", "USD", "1,234,567.891"),  # never rounded away
        ("500", "JPY", "500"),
        (Decimal("9000.00"), "EUR", "9,000.00"),
        (36000, "EUR", "36,000.00"),
    ],
)
def test_money(value: object, currency: str, expected: str) -> None:
    assert money(value, currency) == expected


@pytest.mark.parametrize("value", [0.1, True, "1e3", "1,000", "abc", "", "NaN", None])
def test_money_refuses_what_is_not_a_decimal_string(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        to_decimal(value)


def test_number_and_line_totals_are_exact() -> None:
    assert number("50000") == "50,000"
    assert number("1.50") == "1.50"
    assert line_total("3", "0.10") == Decimal("0.30")
    assert line_total("200", "640.00") == Decimal("128000.00")
    assert line_total("1.1", "1.1") == Decimal("1.21")
    assert isinstance(line_total("3", "0.105"), Decimal)
    assert line_total("3", "0.105") == Decimal("0.315")
    items = [{"quantity": "200", "unit_price": "640.00"}, {"quantity": "3", "unit_price": "0.10"}]
    assert items_total(items) == Decimal("128000.30")
    with pytest.raises(TypeError):
        line_total(3.0, "0.1")


def test_capitals() -> None:
    assert capitals("128000.00") == "壹拾贰万捌仟元整"
    assert capitals("38400.00") == "叁万捌仟肆佰元整"
    assert capitals("450000") == "肆拾伍万元整"


@pytest.mark.parametrize(
    ("value", "locale", "expected"),
    [
        ("2026-12-01", "zh-CN", "2026年12月1日"),
        ("2026-12-01", "en", "1 December 2026"),
        (dt.date(2027, 1, 15), "zh-CN", "2027年1月15日"),
        ("2027-02-14T09:00:00+08:00", "en", "14 February 2027"),
    ],
)
def test_dates(value: object, locale: str, expected: str) -> None:
    assert format_date(value, locale) == expected


def test_bad_dates_and_locales() -> None:
    with pytest.raises(ValueError, match="not a date"):
        format_date("2027-02-30", "en")
    with pytest.raises(ValueError, match="locale"):
        format_date("2027-02-01", "fr")


def test_records_read_like_the_contract_and_know_their_paths() -> None:
    contract = wrap_contract({"items": [{"description": "x"}], "payment": {"method": "cash"}})
    assert isinstance(contract, Record)
    assert isinstance(contract.items, RecordList)  # a field, not dict.items
    assert contract.items[0].description == contract["items"][0]["description"] == "x"
    assert path_of(contract.items[0]) == "contract.items[0]"
    assert path_of(contract.payment) == "contract.payment"
    assert "payment" in contract and len(contract) == 2 and list(contract) == ["items", "payment"]
    with pytest.raises(MissingField, match=r"missing field contract\.payment\.terms"):
        contract.payment["terms"]
    with pytest.raises(AttributeError):
        contract.payment.terms  # noqa: B018 - absent fields are absent attributes (Jinja: undefined)
