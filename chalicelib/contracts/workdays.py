"""Working days: which dates count as 工作日 in a country, and "N working days after" a date.

Pure (no clock, no I/O). It lives in the contracts package because both the contract validation
(which turns a milestone's `due: {"after": ..., "working_days": N}` into a `due_date`) and the
reminder planner (business days for sending and notice deadlines) need it, and both may import
contracts.

- CN uses `chinese_calendar`, the State Council's yearly arrangement (国务院办公厅关于...部分节假日
  安排的通知): public holidays and the 调休 make-up working Saturdays and Sundays. It covers the
  years the installed package knows (2004-2026 for 1.11.0); outside them a CN calendar falls back to
  Monday to Friday, because the arrangement for a year is only published late in the year before.
- Any other country uses the `holidays` package (its public holidays and its weekend); `holidays`
  takes ~0.1 s to import, so it is loaded only when such a calendar is first asked about, never on
  the webhook path of a CN or plain calendar.
- No country: Monday to Friday, no holidays.

A tenant's own extra holidays and extra workdays win over all of these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

import chinese_calendar  # ~6 ms to import: light enough for the webhook path

__all__ = [
    "DEFAULT_COUNTRY_BY_LOCALE",
    "MAX_DUE_DAYS",
    "MAX_NOTICE_WORKING_DAYS",
    "WorkingCalendar",
    "add_calendar_days",
    "calendar_for_locale",
]

# "N days after" beyond ten years is a typo (and the counting loop stays short).
MAX_DUE_DAYS = 3650  # also the bound of a contract milestone's `due` (model.py, validation.py)
# A renewal notice period in working days: about a year of them (~250) at most; more is a typo.
MAX_NOTICE_WORKING_DAYS = 250
# A contract's locale names its country when nothing else does: zh-CN contracts follow the PRC
# calendar (so do bilingual zh-CN+en ones: a Chinese text means a Chinese contract); an English
# contract could be anywhere, so it gets plain Monday to Friday.
DEFAULT_COUNTRY_BY_LOCALE: dict[str, str | None] = {"zh-CN": "CN", "en": None, "zh-CN+en": "CN"}

_MON_TO_FRI = frozenset({1, 2, 3, 4, 5})
_ONE_DAY = timedelta(days=1)
_COUNTRY_RE = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class WorkingCalendar:
    """The working days of one country, plus a tenant's own exceptions.

    `country` is an ISO 3166-1 alpha-2 code ("CN", "DE"), or None for Monday to Friday with no
    public holidays. `extra_holidays` are days off although the country works (a company holiday);
    `extra_workdays` are working days although the country rests. For CN, outside the years
    `chinese_calendar` covers (2004-2026 for 1.11.0), the calendar is Monday to Friday plus the
    extras: the official arrangement of a year is not known until it is published.
    """

    country: str | None = None
    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra_holidays", frozenset(self.extra_holidays))
        object.__setattr__(self, "extra_workdays", frozenset(self.extra_workdays))
        if self.country is not None and not (isinstance(self.country, str) and _COUNTRY_RE.fullmatch(self.country)):
            raise ValueError(f"country: not an ISO 3166 two-letter code like 'CN': {self.country!r}")
        if self.country not in (None, "CN") and self.country not in _supported_countries():
            raise ValueError(f"country: no public-holiday calendar for {self.country!r}")
        for name in ("extra_holidays", "extra_workdays"):
            for d in getattr(self, name):
                if not isinstance(d, date):
                    raise ValueError(f"{name}: not a date: {d!r}")
        both = self.extra_holidays & self.extra_workdays
        if both:
            raise ValueError(f"extra_workdays: also listed as extra holidays: {', '.join(sorted(map(str, both)))}")

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if self.country == "CN":
            try:
                return bool(chinese_calendar.is_workday(day))
            except NotImplementedError:
                return day.isoweekday() in _MON_TO_FRI  # a year the package has no data for
        if self.country is not None:
            weekend, days_off = _country_year(self.country, day.year)
            return day.weekday() not in weekend and day not in days_off
        return day.isoweekday() in _MON_TO_FRI

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start`: the first counted day is the next working day after
        `start` (whether or not `start` itself is one), so n = 1 is "the next working day"."""
        _check_count(n)
        day = start
        for _ in range(n):
            day = self.next_working_day(day + _ONE_DAY)
        return day

    def next_working_day(self, day: date) -> date:
        """`day` itself if it is a working day, else the first working day after it."""
        # Terminates: every country works most days and the extras are finite.
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def previous_working_day(self, day: date) -> date:
        """`day` itself if it is a working day, else the last working day before it."""
        while not self.is_working_day(day):
            day -= _ONE_DAY
        return day


def add_calendar_days(start: date, n: int) -> date:
    """`n` calendar days after `start` (weekends and holidays count)."""
    _check_count(n)
    return start + timedelta(days=n)


def calendar_for_locale(locale: object, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()
                        ) -> WorkingCalendar:
    """The default calendar of a contract's locale (zh-CN and zh-CN+en: CN; anything else: Monday to Friday)."""
    country = DEFAULT_COUNTRY_BY_LOCALE.get(locale) if isinstance(locale, str) else None
    return WorkingCalendar(country, frozenset(extra_holidays), frozenset(extra_workdays))


def _check_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_DUE_DAYS:
        raise ValueError(f"must be a whole number of days from 1 to {MAX_DUE_DAYS}, not {n!r}")


@cache
def _supported_countries() -> frozenset[str]:
    import holidays  # lazily: ~0.1 s, needed only for calendars of countries other than CN

    return frozenset(holidays.list_supported_countries())


@cache
def _country_year(country: str, year: int) -> tuple[frozenset[int], frozenset[date]]:
    """(weekend as date.weekday() numbers, public holidays) of one country in one year."""
    import holidays  # lazily, see _supported_countries

    table = holidays.country_holidays(country, years=year)
    return frozenset(table.weekend), frozenset(table)
