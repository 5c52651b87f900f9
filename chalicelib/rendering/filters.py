"""Template filters: money as Decimal (never float), Chinese capitals, dates per locale.

Parsing and formatting of amounts is the domain's (``chalicelib.contracts.money``); cn2an is
reached only through ``chinese_capitals``, which imports it lazily, so importing the rendering
package stays cheap on a cold start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from chalicelib.contracts.money import chinese_capitals, format_amount, parse_amount

_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def to_decimal(value: Any) -> Decimal:
    """A money or quantity value of the contract (a decimal string) as an exact Decimal.

    Floats are refused (the value is already inexact); so are strings that are not plain decimal
    notation. An undefined template value raises its "missing field ..." error here.
    """
    if isinstance(value, str | int | Decimal) and not isinstance(value, bool):
        return parse_amount(value.strip() if isinstance(value, str) else value)
    str(value)  # a StrictUndefined raises its own, better, error
    return parse_amount(value)


def money(value: Any, currency: str = "CNY") -> str:
    """``"128000"`` -> ``"128,000.00"``: thousands separators, the currency's minor units
    (JPY ``"128,000"``), never rounded (extra significant places are kept)."""
    return format_amount(to_decimal(value), str(currency))


def number(value: Any) -> str:
    """A quantity with thousands separators, keeping the scale the CRM sent: ``"50000"`` ->
    ``"50,000"``, ``"1.50"`` -> ``"1.50"``."""
    return format(to_decimal(value), ",f")


def line_total(quantity: Any, unit_price: Any) -> Decimal:
    """quantity × unit price, exact (``{{ q | line_total(p) | money(currency) }}``)."""
    return to_decimal(quantity) * to_decimal(unit_price)


def items_total(items: Iterable[Any]) -> Decimal:
    """The exact sum of the line totals of ``items`` (each with ``quantity`` and ``unit_price``)."""
    total = Decimal(0)
    for item in items:
        total += line_total(item["quantity"], item["unit_price"])
    return total


def capitals(value: Any) -> str:
    """The amount in Chinese capitals (大写), e.g. ``"128000.00"`` -> ``"壹拾贰万捌仟元整"``."""
    return chinese_capitals(to_decimal(value))


def to_date(value: Any) -> dt.date:
    """An ISO date (``"2026-12-01"``), a date or a datetime, as a date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10] if len(text) > 10 and text[10] in "T " else text)
    except ValueError:
        raise ValueError(f"not a date: {text[:40]!r}") from None


def format_date(value: Any, locale: str) -> str:
    """``2026-12-01`` -> ``"2026年12月1日"`` (zh-CN, zh-CN+en) or ``"1 December 2026"`` (en)."""
    day = to_date(value)
    if locale in ("zh-CN", "zh-CN+en"):  # a bilingual document's shared dates are written in Chinese
        return f"{day.year}年{day.month}月{day.day}日"
    if locale == "en":
        return f"{day.day} {_EN_MONTHS[day.month - 1]} {day.year}"
    raise ValueError(f"unsupported locale for dates: {locale!r}")


FILTERS: dict[str, Any] = {
    "money": money,
    "number": number,
    "line_total": line_total,
    "items_total": items_total,
    "capitals": capitals,
    "date": format_date,
}
