"""`GET /v1/analytics/summary?from=&to=`: one tenant's contracts created in [from, to] (UTC dates,
both included; default the last 90 days), summarised.

- counts by status and by type;
- contract value by currency (all contracts in range, and those signed), Decimal strings;
- time to sign in hours: from the first `envelope_sent` event to the first `envelope_completed`
  (median, and p90 by the nearest-rank method), over the contracts that were signed;
- reminders sent: `reminder_sent` events in those contracts' timelines (whenever they were sent:
  the range selects the contracts, a cohort, like every other figure here);
- overdue payments: payment milestones past due with money still open (`milestones_view`) on
  contracts in force, counted and summed per currency;
- execution log entries per kind recorded on the range's days (all contracts, from the per-day
  counters `store.execution_log` keeps) and the contracts whose feedback is open now.

Reads per request, none of them growing with the tenant's contracts (`store.analytics`, kept in the
transaction of every contract write): one Query of the tenant's day items for the range (a counter
item per UTC creation day and shard: at most days x 4 items, MAX_DAYS bounding the days), one Query
of the open payment milestones due before today (the overdue ones), and the execution counters
(BatchGetItem per 100 days, one GetItem). Time to sign is exact: each day item keeps the seconds of
its signed contracts, and the median and p90 are taken over them. `summarize_counters` is the pure
aggregation of those items (the tests compare it with the same figures computed from the contracts
and their timelines, tests/support/analytics_oracle.py).
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.contracts.money import decimal_to_str
from chalicelib.core.errors import BadRequest
from chalicelib.store import analytics, execution_log
from chalicelib.store import contracts as store
from chalicelib.store.analytics_rows import IN_FORCE_STATUSES, Row, hours_of
from chalicelib.web.collections import money

DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def parse_range(params: Mapping[str, str] | None, today: date) -> tuple[date, date]:
    params = params or {}
    problems: list[dict[str, str]] = []
    parsed: dict[str, date] = {}
    for name in ("from", "to"):
        raw = params.get(name)
        if raw is None:
            continue
        try:
            if not _ISO_DATE.fullmatch(raw):
                raise ValueError
            parsed[name] = date.fromisoformat(raw)
        except ValueError:
            problems.append({"path": name, "message": f"not an ISO date like 2027-01-31: {raw!r}"})
    for name in sorted(set(params) - {"from", "to"}):
        problems.append({"path": name, "message": "unknown parameter; use from and to"})
    if not problems:
        end = parsed.get("to") or (_shift(parsed["from"], DEFAULT_DAYS) if "from" in parsed else today)
        start = parsed.get("from") or _shift(end, -DEFAULT_DAYS)
        if start > end:
            problems.append({"path": "from", "message": f"from ({start}) is after to ({end})"})
        elif (end - start).days > MAX_DAYS:
            problems.append({"path": "to", "message": f"the range is longer than {MAX_DAYS} days"})
        else:
            return start, end
    raise BadRequest(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the query string", problems)


def _shift(day: date, days: int) -> date:
    """`day` moved by `days`, stopping at the first and last dates there are (any valid date is a
    valid `from` or `to`, 0001-01-01 and 9999-12-31 included)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile (a value that occurred), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(pct / 100 * len(ordered)), 1) - 1]


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _named(totals: Mapping[str, Decimal], prefix: str) -> dict[str, Decimal]:
    return {name[len(prefix):]: value for name, value in totals.items() if name.startswith(prefix) and value != 0}


def summarize_counters(days: Iterable[tuple[Mapping[str, Decimal], Iterable[str]]],
                       overdue: Iterable[tuple[str, Decimal]], start: date, end: date) -> dict[str, Any]:
    """The summary from the range's day items (`store.analytics.day_items`: counters, and the set of
    each signed contract's seconds to sign) and the overdue payments (currency, open amount): the same
    figures the contracts and their timelines give."""
    totals: dict[str, Decimal] = {}
    members: set[str] = set()
    for numbers, signed in days:
        for name, value in numbers.items():
            totals[name] = totals.get(name, Decimal(0)) + value
        members.update(signed)
    by_status = {k: int(v) for k, v in sorted(_named(totals, "s_").items())}
    hours = hours_of(members)
    overdue_count: Counter[str] = Counter()
    overdue_amount: dict[str, Decimal] = {}
    for currency, remaining in overdue:
        overdue_count[currency] += 1
        overdue_amount[currency] = overdue_amount.get(currency, Decimal(0)) + remaining
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "contracts": sum(by_status.values()),
        "by_status": by_status,
        "by_type": {k: int(v) for k, v in sorted(_named(totals, "t_").items())},
        "value_by_currency": {c: money(v, c) for c, v in sorted(_named(totals, "v_").items())},
        "signed_value_by_currency": {c: money(v, c) for c, v in sorted(_named(totals, "sv_").items())},
        "time_to_sign_hours": {
            "count": len(hours),
            "median": _hours(statistics.median(hours) if hours else None),
            "p90": _hours(percentile(hours, 90)),
        },
        "reminders_sent": int(totals.get("rem", 0)),
        "overdue_payments": {
            "count": sum(overdue_count.values()),
            "by_currency": {c: {"count": overdue_count[c], "open_amount": decimal_to_str(overdue_amount[c])}
                            for c in sorted(overdue_amount)},
        },
    }


def overdue_rows(rows: Iterable[Row], start: date, end: date, now: datetime) -> list[tuple[str, Decimal]]:
    """(currency, open amount) of the open payments past due in their contract's zone today, of the
    contracts created in [start, end] that are in force (active, expiring, renewed)."""
    today: dict[str, date] = {}
    out: list[tuple[str, Decimal]] = []
    for row in rows:
        if row.get("status") not in IN_FORCE_STATUSES or not start.isoformat() <= row.get("created") <= end.isoformat():
            continue
        zone = row.get("zone") or "UTC"
        if zone not in today:
            try:
                today[zone] = now.astimezone(ZoneInfo(zone)).date()
            except (ZoneInfoNotFoundError, ValueError):
                today[zone] = now.date()
        if row.sk[:10] < today[zone].isoformat():
            out.append((row.get("currency"), Decimal(row.get("remaining"))))
    return out


def analytics_summary(tenant_id: str, params: Mapping[str, str] | None) -> dict[str, Any]:
    now = store.now_utc()
    start, end = parse_range(params, now.date())
    # Overdue in some zone today: due before tomorrow in the zones furthest ahead (UTC+14).
    due_before = _shift(now.date(), 2)
    summary = summarize_counters(analytics.day_items(tenant_id, start, end),
                                 overdue_rows(analytics.receivable_rows(tenant_id, due_before), start, end, now),
                                 start, end)
    # Execution entries recorded on the range's days (counters kept as they are written, not a scan);
    # open feedback is as of now: contracts whose latest feedback entry is open.
    summary["execution"] = {"by_kind": execution_log.counts_between(tenant_id, start, end),
                            "open_feedback": execution_log.open_feedback(tenant_id)}
    return summary
