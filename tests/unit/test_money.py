"""Money: exact parsing, display, and RMB capitals checked against hand-derived strings.

The expected capitals below are written from the PBOC rules for bills (正确填写票据和结算凭证的
基本规定): 拾 always carries its digit (壹拾), one 零 stands for a run of zeros inside the number,
元 is followed by 整 when there are no 角/分, 零 is required between 元 and 分 when 角 is 0.
"""

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.contracts import money
from chalicelib.contracts.money import chinese_capitals, format_amount, parse_amount

# --- parse_amount ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("128000.00", Decimal("128000.00")),
        ("0.05", Decimal("0.05")),
        ("200", Decimal("200")),
        ("-3.5", Decimal("-3.5")),
        (200, Decimal(200)),
        (Decimal("9.90"), Decimal("9.90")),
    ],
)
def test_parse_amount_is_exact(raw, expected):
    parsed = parse_amount(raw)
    assert parsed == expected
    # Same scale as given: "128000.00" keeps both zeros.
    assert str(parsed) == str(expected)


@pytest.mark.parametrize("raw", [0.1, 128000.0, True, None, ["1"]])
def test_parse_amount_refuses_non_exact_types(raw):
    with pytest.raises(TypeError):
        parse_amount(raw)


@pytest.mark.parametrize("raw", ["", "1e3", "1,000", "NaN", "Infinity", ".5", "5.", " 5", "+5", "¥5", "五"])
def test_parse_amount_refuses_non_decimal_strings(raw):
    with pytest.raises(ValueError, match="not a decimal number"):
        parse_amount(raw)


def test_parse_amount_refuses_non_finite_decimal():
    with pytest.raises(ValueError):
        parse_amount(Decimal("NaN"))


@given(
    st.from_regex(r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,20})?", fullmatch=True),
)
def test_any_decimal_string_round_trips_exactly(text):
    assert money.decimal_to_str(parse_amount(text)) == text


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_any_decimal_round_trips_through_its_string(value):
    assert parse_amount(money.decimal_to_str(value)) == value


# --- format_amount --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("128000.00", "CNY", "128,000.00"),
        ("128000", "CNY", "128,000.00"),
        ("1.5", "EUR", "1.50"),
        ("0", "USD", "0.00"),
        ("-0", "USD", "0.00"),
        ("1234567.891", "USD", "1,234,567.891"),  # never rounds money away
        ("128000", "JPY", "128,000"),
        ("12.345", "KWD", "12.345"),
        ("999", "XYZ", "999.00"),
    ],
)
def test_format_amount(amount, currency, expected):
    assert format_amount(Decimal(amount), currency) == expected


# --- chinese_capitals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.05", "伍分"),
        ("0.5", "伍角"),
        ("0.10", "壹角"),
        ("0", "零元整"),
        ("0.00", "零元整"),
        ("1", "壹元整"),
        ("10", "壹拾元整"),
        ("15", "壹拾伍元整"),
        ("20", "贰拾元整"),
        ("110", "壹佰壹拾元整"),
        ("1001", "壹仟零壹元整"),
        ("1010", "壹仟零壹拾元整"),
        ("10100", "壹万零壹佰元整"),
        ("100000", "壹拾万元整"),
        ("100010", "壹拾万零壹拾元整"),
        ("128000.00", "壹拾贰万捌仟元整"),
        ("38400.00", "叁万捌仟肆佰元整"),
        ("89600.00", "捌万玖仟陆佰元整"),
        ("1000001.10", "壹佰万零壹元壹角"),
        ("16409.02", "壹万陆仟肆佰零玖元零贰分"),  # the PBOC rules' own example
        ("1.05", "壹元零伍分"),
        ("100000000", "壹亿元整"),
        ("100000001", "壹亿零壹元整"),
        ("100010000", "壹亿零壹万元整"),
        ("1000000000000", "壹万亿元整"),
        ("123456789.12", "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元壹角贰分"),
        ("9999999999999999.99", "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ],
)
def test_chinese_capitals(amount, expected):
    assert chinese_capitals(Decimal(amount)) == expected
    assert chinese_capitals(amount) == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        # The rules allow writing 零 or not where the 万 or 元 digit is 0 and the next one is not;
        # these pin the form we print (without it) so a cn2an upgrade cannot change it silently.
        ("107000.53", "壹拾万柒仟元伍角叁分"),
        ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
        ("100.5", "壹佰元伍角"),
    ],
)
def test_chinese_capitals_optional_zero_style(amount, expected):
    assert chinese_capitals(amount) == expected


@pytest.mark.parametrize(
    "amount",
    [Decimal("1E+12"), Decimal("1.000E+3"), Decimal("-0"), Decimal("1.000")],
)
def test_chinese_capitals_normalises_decimal_forms(amount):
    # Exponent forms would reach cn2an as "1E+12" and fail there; the function writes them out.
    expected = {Decimal("1E+12"): "壹万亿元整", Decimal("1000"): "壹仟元整", Decimal(0): "零元整",
                Decimal(1): "壹元整"}[amount]
    assert chinese_capitals(amount) == expected


@pytest.mark.parametrize(
    ("amount", "match"),
    [
        ("1.005", "2 decimal places"),  # cn2an alone would print 壹元整
        ("1.999", "2 decimal places"),
        ("-5", "negative"),
        ("10000000000000000", "too large"),
        ("NaN", "not a decimal"),
    ],
)
def test_chinese_capitals_refuses(amount, match):
    with pytest.raises(ValueError, match=match):
        chinese_capitals(amount)


def test_chinese_capitals_refuses_float():
    with pytest.raises(TypeError):
        chinese_capitals(0.1)  # type: ignore[arg-type]


def test_cn2an_is_fed_a_string(monkeypatch):
    import cn2an

    seen: list[object] = []
    real = cn2an.an2cn

    def spy(inputs, mode="low"):
        seen.append(inputs)
        return real(inputs, mode)

    monkeypatch.setattr(cn2an, "an2cn", spy)
    assert chinese_capitals(Decimal("128000.00")) == "壹拾贰万捌仟元整"
    assert seen == ["128000.00"]


def test_importing_the_contracts_package_loads_no_heavy_or_impure_module():
    # Cold start: cn2an is imported inside chinese_capitals only; and the domain stays pure (no
    # AWS, HTTP or Jinja). A fresh interpreter, because this session may have loaded them already.
    code = (
        "import sys, chalicelib.contracts;"
        "print(sorted(m for m in ('cn2an', 'boto3', 'botocore', 'jinja2', 'docusign_esign', 'requests',"
        " 'urllib3', 'pynamodb', 'chalice') if m in sys.modules))"
    )
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- property: the capitals read back to the same amount -----------------------------------

_DIGITS = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_SMALL_UNITS = {"拾": 10, "佰": 100, "仟": 1000}
_BIG_UNITS = {"万": 10**4, "亿": 10**8}


def _read_capitals(text: str) -> Decimal:
    """An independent reader for 大写 amounts (a 万 or 亿 multiplies everything smaller before it)."""
    shape = r"[零壹贰叁肆伍陆柒捌玖拾佰仟万亿]*元?([零壹贰叁肆伍陆柒捌玖]角)?(零?[壹贰叁肆伍陆柒捌玖]分)?整?"
    assert re.fullmatch(shape, text), text
    body = text.removesuffix("整")
    whole, _, fraction = body.rpartition("元") if "元" in body else ("", "", body)
    cents = 0
    if m := re.search(r"(.)角", fraction):
        cents += _DIGITS[m.group(1)] * 10
    if m := re.search(r"(.)分", fraction):
        cents += _DIGITS[m.group(1)]
    terms: list[int] = []
    digit = 0
    for ch in whole:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _SMALL_UNITS:
            assert digit, f"{ch} without its digit in {text}"
            terms.append(digit * _SMALL_UNITS[ch])
            digit = 0
        else:
            terms.append(digit)
            digit = 0
            unit = _BIG_UNITS[ch]
            below = sum(t for t in terms if t < unit)
            terms = [t for t in terms if t >= unit] + [below * unit]
    terms.append(digit)
    return Decimal(sum(terms)) + Decimal(cents) / 100


_amounts = st.builds(
    lambda whole, cents: Decimal(whole) + Decimal(cents) / 100,
    st.one_of(
        st.integers(0, 10**16 - 1),
        # Sparse digits exercise the 零 rules far more than uniform integers do.
        st.lists(st.sampled_from("0000000123456789"), min_size=1, max_size=16).map(lambda d: int("".join(d))),
    ),
    st.integers(0, 99),
)


@given(_amounts)
def test_capitals_read_back_to_the_amount(amount):
    text = chinese_capitals(amount)
    assert _read_capitals(text) == amount
    assert "零零" not in text
    assert not re.search(r"零[万亿元拾佰仟角分整]", text) or text == "零元整"
    assert not re.search(r"(^|[^壹贰叁肆伍陆柒捌玖])[拾佰仟]", text)  # 壹拾, never a bare 拾
    assert text.endswith("整") == (amount % 1 == 0)
