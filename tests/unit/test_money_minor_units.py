"""format_amount against ISO 4217's minor units, written out here by hand (the List One table's
"Minor unit" column), and the inputs the mutation run found unchecked: zero, strings and ints."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.contracts.money import format_amount, integer_digits, minor_units, parse_amount

# ISO 4217 List One: every active code whose minor unit is not 2.
ZERO_DECIMALS = ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                 "VUV", "XAF", "XOF", "XPF"]
THREE_DECIMALS = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]
FOUR_DECIMALS = ["CLF", "UYW"]  # Unidad de Fomento, Unidad Previsional
TWO_DECIMALS = ["CNY", "USD", "EUR", "GBP", "HKD", "CHF", "INR"]


@pytest.mark.parametrize(("currencies", "places"), [
    (ZERO_DECIMALS, 0), (THREE_DECIMALS, 3), (FOUR_DECIMALS, 4), (TWO_DECIMALS, 2),
])
def test_minor_units_are_iso_4217s(currencies: list[str], places: int) -> None:
    for code in currencies:
        assert minor_units(code) == places, code
        assert minor_units(code.lower()) == places, code  # CRMs send "jpy" too


@pytest.mark.parametrize("code", ZERO_DECIMALS)
def test_zero_decimal_currencies_show_no_point(code: str) -> None:
    assert format_amount(Decimal("1234567"), code) == "1,234,567"


@pytest.mark.parametrize(("code", "expected"), [("CLF", "1,234.5000"), ("UYW", "1,234.5000"), ("KWD", "1,234.500")])
def test_finer_currencies_show_all_their_places(code: str, expected: str) -> None:
    assert format_amount(Decimal("1234.5"), code) == expected


@pytest.mark.parametrize(("amount", "code", "expected"), [
    ("0", "JPY", "0"), ("0.00", "JPY", "0"), ("-0", "JPY", "0"), ("0E+3", "JPY", "0"),
    ("0", "USD", "0.00"), ("-0.00", "USD", "0.00"), ("0", "KWD", "0.000"), ("0", "CLF", "0.0000"),
])
def test_zero_is_written_in_the_currencys_places_without_a_sign(amount: str, code: str, expected: str) -> None:
    assert format_amount(Decimal(amount), code) == expected


def test_more_places_than_the_currency_are_kept_not_rounded() -> None:
    assert format_amount(Decimal("1.005"), "USD") == "1.005"
    assert format_amount(Decimal("100.5"), "JPY") == "100.5"
    assert format_amount(Decimal("1.50"), "USD") == "1.50"


@pytest.mark.parametrize(("amount", "code", "expected"), [
    ("128000.00", "CNY", "128,000.00"), ("1234.5", "USD", "1,234.50"), ("1234", "JPY", "1,234"),
    (1234, "JPY", "1,234"), (1234, "USD", "1,234.00"), (0, "JPY", "0"), (-5, "EUR", "-5.00"),
])
def test_strings_and_ints_are_read_exactly(amount: str | int, code: str, expected: str) -> None:
    assert format_amount(amount, code) == expected  # type: ignore[arg-type] - what a template may pass


def test_format_amount_refuses_what_parse_amount_refuses() -> None:
    with pytest.raises(ValueError):
        format_amount("1,000", "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_amount(1.5, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize(("amount", "digits"), [
    ("0", 0), ("0.05", 0), ("0.5", 0), ("1", 1), ("1.5", 1), ("9.99", 1), ("10", 2), ("-12.5", 2),
    ("1E+3", 4), ("9999999999999999.99", 16),
])
def test_integer_digits_counts_the_digits_before_the_point(amount: str, digits: int) -> None:
    assert integer_digits(Decimal(amount)) == digits


def test_parse_amount_names_what_it_refuses() -> None:
    for value, error, message in (
        (Decimal("NaN"), ValueError, "not a finite amount: NaN"),
        ("1e3", ValueError, "not a decimal number: '1e3'"),
        (["1"], TypeError, "amounts must be decimal strings, not list"),
        (1.5, TypeError, "amounts must be decimal strings, not float: 1.5"),
    ):
        with pytest.raises(error) as info:
            parse_amount(value)  # type: ignore[arg-type]
        assert str(info.value) == message
