"""`GET /v1/analytics/receivables` and `GET /v1/analytics/renewals`: what a tenant's contracts in
force (completed, active, expiring, renewed) still have to collect, and which of them come up for
renewal or end soon. JSON, or CSV with a header row (`?format=csv`).

"Today" is `as_of` (YYYY-MM-DD) when given, else today's date in the tenant's time zone (its
reminder settings' `time_zone`; UTC if that zone is unusable). One date for the whole report: the
figures do not shift between contracts of different zones.

Receivables: each payment milestone's remaining amount (planned - paid, `milestones_view`), per
currency, by age: `not_due` (due on or after today: a milestone due today is not overdue yet, as in
`milestones_view`), then days past due 1-30, 31-60, 61-90 and over 90; plus the expected cash, the
not-yet-due remaining amounts grouped by due month.

Renewals: contracts whose deadline falls within the next 90 days (today included): the cancel-by
date for an auto-renewing contract (`planning.cancel_by_date`, of the term in force), else the end
of the term in force. Each contract's `window` is the smallest of 30, 60, 90 that holds its deadline;
the totals per window are cumulative (the 60-day figures include the 30-day ones).

Reads per request (`store.analytics`, rows kept in the transaction of every write that changes a
contract's status, payments or term): the tenant's settings (one registry get, cached) and
receivables: one Query of the tenant's open-milestone rows (one per payment milestone with money
open of a contract in force) and one of its 4 in-force gauges (`contracts`); renewals: one Query of
the deadline rows between today and today + 90. Never a contract item, never a scan: the reads are
the report's own rows. A change of the tenant's settings (notice, calendar, zone) moves deadlines
only once `python -m chalicelib.admin analytics rebuild --tenant T` has run.

The aggregation is pure (`receivables`, `renewals`, `*_csv`, over the rows); the two `*_report`
functions read.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.contracts.lifecycle import EXECUTION_OPEN
from chalicelib.contracts.money import decimal_to_str, fraction_digits, minor_units
from chalicelib.core.errors import BadRequest
from chalicelib.reminders.scheduling import tenant_settings
from chalicelib.reminders.settings import TenantSettings
from chalicelib.store import analytics
from chalicelib.store import contracts as store
from chalicelib.store.analytics_rows import Row

IN_FORCE_STATUSES: tuple[str, ...] = tuple(sorted(s.value for s in EXECUTION_OPEN))
BUCKETS: tuple[str, ...] = ("not_due", "1_30", "31_60", "61_90", "over_90")
WINDOWS: tuple[int, ...] = (30, 60, 90)
FORMATS: tuple[str, ...] = ("json", "csv")
RECEIVABLES_CSV_COLUMNS = ("section", "currency", "key", "count", "amount")
RENEWALS_CSV_COLUMNS = ("contract_id", "number", "counterparty", "currency", "amount", "deadline_kind",
                        "deadline", "days_left", "window")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@dataclass(frozen=True)
class Query:
    as_of: date | None
    format: str


def parse_query(params: Mapping[str, str] | None) -> Query:
    """`as_of` (an ISO date) and `format` (json | csv); anything else is a 400 listing each problem."""
    params = params or {}
    problems: list[dict[str, str]] = []
    as_of: date | None = None
    raw = params.get("as_of")
    if raw is not None:
        try:
            if not _ISO_DATE.fullmatch(raw):
                raise ValueError
            as_of = date.fromisoformat(raw)
        except ValueError:
            problems.append({"path": "as_of", "message": f"not an ISO date like 2027-01-31: {raw!r}"})
    fmt = params.get("format", "json")
    if fmt not in FORMATS:
        problems.append({"path": "format", "message": f"must be one of {', '.join(FORMATS)}: {fmt!r}"})
    for name in sorted(set(params) - {"as_of", "format"}):
        problems.append({"path": name, "message": "unknown parameter; use as_of and format"})
    if problems:
        raise BadRequest(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the query string", problems)
    return Query(as_of=as_of, format=fmt)


def money(amount: Decimal, currency: str) -> str:
    """At least the currency's minor units ("49600" -> "49600.00"), never rounding."""
    places = minor_units(currency) if currency else 2
    if fraction_digits(amount) > places:
        return decimal_to_str(amount)
    return decimal_to_str(amount.quantize(Decimal(1).scaleb(-places)))


def bucket(due: date, today: date) -> str:
    late = (today - due).days
    if late <= 0:
        return "not_due"
    if late <= 30:
        return "1_30"
    if late <= 60:
        return "31_60"
    if late <= 90:
        return "61_90"
    return "over_90"


def _figure(count: int, amount: Decimal, currency: str) -> dict[str, Any]:
    return {"count": count, "amount": money(amount, currency)}


# --- receivables -------------------------------------------------------------------------------

def receivables(rows: Iterable[Row], today: date, contracts: int) -> dict[str, Any]:
    """Open amounts of payment milestones (the projection's rows: one per milestone with money open
    of a contract in force), per currency, by age and (not yet due) by due month. `contracts`: how
    many contracts are in force."""
    ageing: dict[str, dict[str, list[Any]]] = {}  # currency -> bucket -> [count, amount]
    months: dict[str, dict[str, list[Any]]] = {}  # currency -> YYYY-MM -> [count, amount]
    for row in rows:
        currency = row.get("currency")
        remaining = Decimal(row.get("remaining"))
        due = date.fromisoformat(row.sk[:10])
        if remaining <= 0:
            continue
        slot = ageing.setdefault(currency, {b: [0, Decimal(0)] for b in BUCKETS})[bucket(due, today)]
        slot[0] += 1
        slot[1] += remaining
        if due >= today:
            month = months.setdefault(currency, {}).setdefault(f"{due.year:04d}-{due.month:02d}", [0, Decimal(0)])
            month[0] += 1
            month[1] += remaining
    out_ageing: dict[str, Any] = {}
    for currency in sorted(ageing):
        slots = ageing[currency]
        row_out = {b: _figure(slots[b][0], slots[b][1], currency) for b in BUCKETS}
        row_out["total"] = _figure(sum(s[0] for s in slots.values()),
                                   sum((s[1] for s in slots.values()), Decimal(0)), currency)
        out_ageing[currency] = row_out
    return {
        "as_of": today.isoformat(),
        "contracts": contracts,
        "ageing": out_ageing,
        "expected_by_month": {currency: {m: _figure(v[0], v[1], currency) for m, v in sorted(months[currency].items())}
                              for currency in sorted(months)},
    }


def receivables_csv(report: Mapping[str, Any]) -> str:
    """One row per currency and bucket (`ageing`, totals included) and per currency and month (`expected`)."""
    rows: list[tuple[str, str, str, int, str]] = []
    for currency, slots in report["ageing"].items():
        rows += [("ageing", currency, key, f["count"], f["amount"]) for key, f in slots.items()]
    for currency, by_month in report["expected_by_month"].items():
        rows += [("expected", currency, month, f["count"], f["amount"]) for month, f in by_month.items()]
    return _csv(RECEIVABLES_CSV_COLUMNS, rows)


# --- renewals ----------------------------------------------------------------------------------

def renewals(deadlines: Iterable[Row], today: date) -> dict[str, Any]:
    """Contracts whose cancel-by (auto-renewing) or end date is within the next 90 days, soonest first,
    and per window (cumulative) their count and value per currency; from the projection's deadline
    rows (`analytics_rows.projection_rows`)."""
    rows: list[dict[str, Any]] = []
    for deadline in deadlines:
        day = date.fromisoformat(deadline.sk[:10])
        days_left = (day - today).days
        if not 0 <= days_left <= WINDOWS[-1]:
            continue
        currency = deadline.get("currency")
        raw = deadline.get("amount")
        amount = Decimal(raw) if raw else None
        rows.append({
            "contract_id": deadline.get("contract_id"), "number": deadline.get("number"),
            "counterparty": deadline.get("counterparty") or None, "status": deadline.get("status"),
            "value": {"amount": money(amount, currency) if amount is not None else None,
                      "currency": currency or None},
            "deadline_kind": deadline.get("kind"), "deadline": day.isoformat(), "days_left": days_left,
            "window": next(w for w in WINDOWS if days_left <= w),
        })
    rows.sort(key=lambda r: (r["deadline"], r["number"], r["contract_id"]))
    totals: dict[str, dict[str, Any]] = {}
    for window in WINDOWS:
        per_currency: dict[str, list[Any]] = {}
        for row in rows:
            if row["days_left"] > window:
                continue
            slot = per_currency.setdefault(row["value"]["currency"] or "", [0, Decimal(0)])
            slot[0] += 1
            if row["value"]["amount"] is not None:
                slot[1] += Decimal(row["value"]["amount"])
        totals[str(window)] = {c: _figure(v[0], v[1], c) for c, v in sorted(per_currency.items())}
    return {"as_of": today.isoformat(), "contracts": rows, "totals": totals}


def renewals_csv(report: Mapping[str, Any]) -> str:
    """One row per contract of the pipeline (the totals are sums of these rows)."""
    rows = [(r["contract_id"], r["number"], r["counterparty"] or "", r["value"]["currency"] or "",
             r["value"]["amount"] or "", r["deadline_kind"], r["deadline"], r["days_left"], r["window"])
            for r in report["contracts"]]
    return _csv(RENEWALS_CSV_COLUMNS, rows)


def _csv(columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue()


# --- the store side ----------------------------------------------------------------------------

def _today(settings: TenantSettings, now: datetime) -> tuple[date, str]:
    try:
        return now.astimezone(ZoneInfo(settings.time_zone)).date(), settings.time_zone
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return now.date(), "UTC"


def _later(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


def _dated(report: dict[str, Any], query: Query, zone: str) -> dict[str, Any]:
    """`time_zone`: the zone whose date was today's (None when the caller gave `as_of`)."""
    report["time_zone"] = None if query.as_of is not None else zone
    return report


def receivables_report(tenant_id: str, params: Mapping[str, str] | None) -> tuple[str, dict[str, Any] | str]:
    """("json", the report) or ("csv", its text)."""
    query = parse_query(params)
    settings = tenant_settings(tenant_id)
    today, zone = _today(settings, store.now_utc())
    report = _dated(receivables(analytics.receivable_rows(tenant_id), query.as_of or today,
                                analytics.in_force(tenant_id)), query, zone)
    return ("csv", receivables_csv(report)) if query.format == "csv" else ("json", report)


def renewals_report(tenant_id: str, params: Mapping[str, str] | None) -> tuple[str, dict[str, Any] | str]:
    query = parse_query(params)
    settings = tenant_settings(tenant_id)
    today, zone = _today(settings, store.now_utc())
    day = query.as_of or today
    report = _dated(renewals(analytics.deadline_rows(tenant_id, day, _later(day, WINDOWS[-1])), day), query, zone)
    return ("csv", renewals_csv(report)) if query.format == "csv" else ("json", report)


__all__ = ["BUCKETS", "WINDOWS", "bucket", "money", "parse_query", "receivables", "receivables_csv",
           "receivables_report", "renewals", "renewals_csv", "renewals_report"]
