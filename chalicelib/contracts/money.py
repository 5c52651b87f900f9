"""Money: exact decimal parsing, display formatting and RMB capitals (大写).

Amounts are `Decimal` end to end and never pass through `float`: a float cannot hold 0.1 exactly,
and a contract that prints 38399.99 instead of 38400.00 is wrong in a way nobody notices.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# Plain decimal notation only: no exponent ("1e3"), no separators ("1,000"), no NaN/Infinity,
# digits on both sides of the point. CRMs that send other shapes are normalised by their adapter.
_DECIMAL_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")

# The largest integer part chinese_capitals can write: 仟万亿 is the top unit (16 digits).
MAX_INTEGER_DIGITS = 16

# ISO 4217 minor units for the currencies that differ from the usual 2.
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
         "VUV", "XAF", "XOF", "XPF"),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}

_CENT = Decimal("0.01")


def parse_amount(value: str | int | Decimal) -> Decimal:
    """An exact Decimal from a decimal string, an int or a Decimal.

    Raises TypeError for float (and bool, and anything else): the value is already inexact.
    Raises ValueError for a string that is not plain decimal notation, and for NaN/Infinity.
    """
    # bool is an int subclass; True as an amount is a mapping bug, not 1.
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"amounts must be decimal strings, not {type(value).__name__}: {value!r}")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {value}")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        if not _DECIMAL_RE.fullmatch(value):
            raise ValueError(f"not a decimal number: {value!r}")
        try:
            return Decimal(value)
        except InvalidOperation:  # unreachable after the regex; kept so bad input never crashes
            raise ValueError(f"not a decimal number: {value!r}") from None
    raise TypeError(f"amounts must be decimal strings, not {type(value).__name__}")


def decimal_to_str(amount: Decimal) -> str:
    """Plain notation, keeping the scale as given ("128000.00" stays, 1E-7 becomes "0.0000001")."""
    return format(amount, "f")


def integer_digits(amount: Decimal) -> int:
    """How many digits the integer part has (0 for amounts below 1)."""
    return 0 if abs(amount) < 1 else amount.adjusted() + 1


def fraction_digits(amount: Decimal) -> int:
    """Significant digits after the point: "1.50" has 1, "36000.00" has 0."""
    if amount == 0:
        return 0
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite amounts only
    return max(0, -exponent)


def minor_units(currency: str) -> int:
    """Decimal places of the currency's minor unit (ISO 4217); 2 when not listed."""
    return _MINOR_UNITS.get(currency.upper(), 2)


def format_amount(amount: Decimal, currency: str) -> str:
    """Thousands separators and the currency's decimal places: "128,000.00", JPY "128,000".

    Never rounds: an amount with more significant places than the currency shows them all.
    """
    if not isinstance(amount, Decimal):
        amount = parse_amount(amount)
    places = max(minor_units(currency), fraction_digits(amount))
    if amount == 0:
        amount = Decimal(0)  # no "-0.00" on a document
    return f"{amount:,.{places}f}"


def chinese_capitals(amount: Decimal | str) -> str:
    """RMB amount in financial capitals (大写), e.g. Decimal("128000.00") -> 壹拾贰万捌仟元整.

    Follows the PBOC rules for filling in bills (正确填写票据和结算凭证的基本规定); where they allow
    writing 零 or not (e.g. 壹拾万柒仟元 / 壹拾万零柒仟元, 壹佰元伍角 / 壹佰元零伍角) this writes cn2an's
    choice, which omits it. Raises ValueError for negative amounts, amounts finer than 1 分 (cn2an
    would silently truncate them) and amounts of 10**16 元 or more (beyond 仟万亿).
    """
    value = amount if isinstance(amount, Decimal) else parse_amount(amount)
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {value}")
    if value < 0:
        raise ValueError(f"no capitals for a negative amount: {value}")
    if fraction_digits(value) > 2:
        raise ValueError(f"an RMB amount has at most 2 decimal places (分): {decimal_to_str(value)}")
    if integer_digits(value) > MAX_INTEGER_DIGITS:
        raise ValueError(f"too large for Chinese capitals (at most {MAX_INTEGER_DIGITS} digits): {value}")
    # Exact after the checks above; also turns -0 and 1E+3 into plain "0.00" / "1000.00".
    text = decimal_to_str(abs(value).quantize(_CENT))

    import cn2an  # lazily: ~0.1-0.3 s of import time that most handlers never need

    # A string, never a number: cn2an would go through str(float) otherwise.
    return str(cn2an.an2cn(text, "rmb"))
