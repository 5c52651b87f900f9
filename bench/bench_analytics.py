"""Items read per analytics request (summary, receivables, renewals) at 1,000 and 100,000 contracts
in a tenant's range, from the analytics kept as contracts change, against the old way (every
contract of the tenant, and each one's timeline for the summary).

    .venv/bin/python -m bench.bench_analytics            # prints the table
    .venv/bin/python -m bench.bench_analytics --write    # and updates its section of BENCHMARKS.md

What it does, for each size, in a fresh in-process moto (mock_aws):
1. builds `size` contracts of one tenant created over the 90 days before "now" (the summary's
   default range), from the sales sample: 60 % active (two payment milestones, the first paid for
   half of them), 10 % renewed (a second term), 10 % expired, 10 % sent, 10 % received; terms end
   spread over the next year (so some are in the renewal window); each signed contract's timeline
   has an `envelope_sent`, an `envelope_completed` hours later and 0-2 `reminder_sent`;
2. writes the analytics items the store would have kept for them (`store.analytics.computed_items`,
   the rebuild's computation: the same items the writes keep) straight into moto's table (fast:
   100,000 contracts seed in about a minute);
3. calls the three reports' functions as the routes do (`web.analytics.analytics_summary`,
   `web.collections.receivables_report`, `renewals_report`) and counts, through a botocore hook,
   every DynamoDB call, the items each returned and their size by DynamoDB's rule (attribute names
   plus values), per table;
4. the baseline is computed, not run: the old summary read every contract item of the tenant's
   range (one Query, 1 MB pages) and one timeline Query per contract; the old receivables and
   renewals read every contract item of the tenant (a filtered Query: the filter applies after the
   read). Sizes: the seeded contracts' and events' items, measured the same way.

Moto's timings are not DynamoDB's; the bench reports items and bytes, never seconds.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

from bench.bench_reminders import _environment, _fast_moto_sorts
from bench.report import write_section

SIZES = (1_000, 100_000)
NOW = datetime(2030, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
RANGE_DAYS = 90
TENANT = "demo"
SAMPLE = Path(__file__).resolve().parents[1] / "devstack" / "samples" / "sales.json"
START, END = "<!-- bench_analytics:start -->", "<!-- bench_analytics:end -->"
COMMAND = ".venv/bin/python -m bench.bench_analytics"
ROUTES = ("summary", "receivables", "renewals")


@dataclass
class Reads:
    calls: int = 0
    queries: int = 0
    items: int = 0
    bytes: int = 0
    by_table: dict[str, int] = field(default_factory=dict)


@dataclass
class SizeResult:
    size: int
    analytics_items: int
    seed_seconds: float
    reads: dict[str, Reads]
    baseline: dict[str, tuple[int, int, int]]  # route -> (queries, items, bytes)
    answers: dict[str, Any]


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: each attribute's name plus its value (strings and
    numbers by their text, sets and lists by their members)."""
    def value(v: dict[str, Any]) -> int:
        (kind, raw), = v.items()
        if kind in ("S", "N", "B"):
            return len(str(raw).encode())
        if kind in ("SS", "NS"):
            return sum(len(str(m).encode()) for m in raw)
        if kind == "L":
            return 3 + sum(value(m) for m in raw)
        if kind == "M":
            return 3 + sum(len(k.encode()) + value(m) for k, m in raw.items())
        return 1
    return sum(len(name.encode()) + value(v) for name, v in item.items())


@contextmanager
def counting() -> Iterator[Reads]:
    import botocore.client

    reads = Reads()
    original = botocore.client.BaseClient._make_api_call

    def hook(self: Any, operation: str, params: dict[str, Any]) -> Any:
        result = original(self, operation, params)
        if self.meta.service_model.service_name == "dynamodb":
            table = str(params.get("TableName") or ",".join(sorted(params.get("RequestItems") or {})))
            items = list(result.get("Items", [])) + ([result["Item"]] if result.get("Item") else []) + [
                i for v in (result.get("Responses") or {}).values() for i in v]
            reads.calls += 1
            reads.queries += operation == "Query"
            reads.items += len(items)
            reads.bytes += sum(item_bytes(i) for i in items)
            name = table.rsplit("-", 1)[-1]
            reads.by_table[name] = reads.by_table.get(name, 0) + len(items)
        return result

    with patch.object(botocore.client.BaseClient, "_make_api_call", hook):
        yield reads


def contracts(size: int, rng: random.Random) -> tuple[list[Any], dict[str, list[Any]]]:
    """The tenant's contracts (StoredContract values) and their timelines."""
    from chalicelib.contracts import parse_webhook_body
    from chalicelib.contracts.stored import StoredContract, TimelineEvent

    body = json.loads(SAMPLE.read_text())
    base = parse_webhook_body(body).contract.to_canonical_dict()
    out: list[Any] = []
    timelines: dict[str, list[Any]] = {}
    first = NOW - timedelta(days=RANGE_DAYS - 1)
    for n in range(size):
        created = first + timedelta(seconds=int(n * (RANGE_DAYS - 1) * 86400 / size))
        end = NOW.date() + timedelta(days=rng.randint(1, 365))
        document = dict(base, crm_record_id=f"deal-{n}", number=f"HT-{n:06d}", signing_date=created.date().isoformat(),
                        effective_date=created.date().isoformat(), end_date=end.isoformat(),
                        auto_renew=rng.random() < 0.3)
        document["payment"] = {**base["payment"], "milestones": [
            {"id": "pay-1", "name": "预付款", "due_date": (created.date() + timedelta(days=30)).isoformat(),
             "amount": "38400.00"},
            {"id": "pay-2", "name": "尾款", "due_date": (created.date() + timedelta(days=120)).isoformat(),
             "amount": "89600.00"}]}
        roll = n % 10
        status = ("active",) * 6 + ("renewed", "expired", "sent", "received")
        contract = StoredContract(
            tenant_id=TENANT, contract_id=f"ctr_{n:020x}", source_id="bench", crm_record_id=f"deal-{n}",
            contract_type=str(document["type"]), number=document["number"], locale=str(document["locale"]),
            status=status[roll], created_at=created, updated_at=created, document=document,
            milestones={"pay-1": {"status": "paid", "paid_amount": "38400.00"}} if n % 2 else None,
            term={"start": end.isoformat(), "end": (end + timedelta(days=365)).isoformat(), "renewals": 1}
            if status[roll] == "renewed" else None)
        events = [TimelineEvent(type="received", at=created, status="received", detail=None)]
        if status[roll] not in ("received",):
            sent = created + timedelta(hours=1)
            events.append(TimelineEvent(type="envelope_sent", at=sent, status="sent", detail=None))
            if status[roll] != "sent":
                events.append(TimelineEvent(type="envelope_completed", at=sent + timedelta(hours=rng.randint(1, 200)),
                                            status="completed", detail=None))
                events += [TimelineEvent(type="reminder_sent", at=sent + timedelta(days=40), status="active",
                                         detail=None)] * rng.randint(0, 2)
        out.append(contract)
        timelines[contract.contract_id] = events
    return out, timelines


def _sizes(sample: list[Any], timelines: dict[str, list[Any]]) -> tuple[int, int]:
    """The mean bytes of a contract item and of an event item, as the store writes them."""
    from chalicelib.store.contracts import _event, _row

    contract_bytes = [item_bytes(_row(replace(c, version=1)).serialize()) for c in sample]
    event_bytes = [item_bytes(_event(c.tenant_id, c.contract_id, e.type, e.status, e.detail, e.at).serialize())
                   for c in sample for e in timelines[c.contract_id]]
    return sum(contract_bytes) // len(contract_bytes), sum(event_bytes) // max(len(event_bytes), 1)


def measure(size: int, seed: int = 20300615) -> SizeResult:
    from moto import mock_aws

    _environment()
    with mock_aws(), _fast_moto_sorts():
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        from chalicelib.core.aws import reset_clients
        from chalicelib.core.config import reset_settings
        from chalicelib.reminders import projection  # noqa: F401 - the analytics projection, as app.py wires it
        from chalicelib.store import analytics
        from chalicelib.store import contracts as store
        from chalicelib.store.models import AnalyticsRecord, bind_tables, create_tables
        from chalicelib.store.registry import put_tenant
        from chalicelib.web.analytics import analytics_summary
        from chalicelib.web.collections import receivables_report, renewals_report

        reset_settings()
        reset_clients()
        bind_tables()
        create_tables()
        put_tenant(TENANT, "Bench Co.")
        rng = random.Random(seed)
        started = time.perf_counter()
        seeded, timelines = contracts(size, rng)
        items = analytics.computed_items(seeded, analytics.tenant_settings(TENANT), lambda c: timelines[c.contract_id])
        table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(AnalyticsRecord.Meta.table_name)
        for (pk, sk), item in items.items():
            table.put_item({"pk": {"S": pk}, "sk": {"S": sk}, **item})
        seed_seconds = time.perf_counter() - started

        reads: dict[str, Reads] = {}
        answers: dict[str, Any] = {}
        with patch.object(store, "now_utc", lambda: NOW):
            analytics_summary(TENANT, None)  # the tenant's settings cached, as in a warm Lambda
            for route, call in (("summary", lambda: analytics_summary(TENANT, None)),
                                ("receivables", lambda: receivables_report(TENANT, {"as_of": NOW.date().isoformat()})),
                                ("renewals", lambda: renewals_report(TENANT, {"as_of": NOW.date().isoformat()}))):
                with counting() as counted:
                    answers[route] = call()
                reads[route] = counted
        check(answers, seeded, timelines)
        contract_bytes, event_bytes = _sizes(seeded[:200], timelines)
        events = sum(len(t) for t in timelines.values())
        pages = -(-size * contract_bytes // 1_000_000)  # a Query answers 1 MB a page
        baseline = {
            "summary": (pages + size, size + events, size * contract_bytes + events * event_bytes),
            "receivables": (pages, size, size * contract_bytes),
            "renewals": (pages, size, size * contract_bytes),
        }
        return SizeResult(size, len(items), seed_seconds, reads, baseline, answers)


def check(answers: dict[str, Any], seeded: list[Any], timelines: dict[str, list[Any]]) -> None:
    """The reports answer what the contracts say (counted here directly), so the reads measured are
    those of right answers."""
    summary = answers["summary"]
    assert summary["contracts"] == len(seeded), summary["contracts"]
    reminders = sum(1 for t in timelines.values() for e in t if e.type == "reminder_sent")
    assert summary["reminders_sent"] == reminders
    signed = sum(1 for c in seeded if c.status in ("active", "renewed", "expired"))
    assert summary["time_to_sign_hours"]["count"] == signed
    _, receivables = answers["receivables"]
    open_count = sum(2 - (1 if c.milestones else 0) for c in seeded if c.status in ("active", "renewed"))
    assert sum(row["total"]["count"] for row in receivables["ageing"].values()) == open_count
    assert receivables["contracts"] == sum(1 for c in seeded if c.status in ("active", "renewed"))


def report(results: list[SizeResult]) -> str:
    lines = [
        "## Analytics: items read per request",
        "",
        f"`{COMMAND}` (add `--write` to refresh this section). In-process moto; one tenant, all its "
        f"contracts created in the {RANGE_DAYS} days of the summary's default range (60 % active, 10 % "
        "renewed, expired, sent, received; two payment milestones each, the first paid on half of them; "
        "signed ones with a timeline of sent, completed and 0-2 reminders). Items and bytes = what each "
        "request's DynamoDB calls returned (bytes by DynamoDB's item-size rule; read capacity is charged "
        "per 4 KB of that). Baseline (computed, same seed): the old summary read every contract item of "
        "the range and each contract's timeline (one Query per contract); the old receivables and "
        "renewals read every contract item of the tenant.",
        "",
        "| contracts | request | queries | items read | KB read | baseline queries | baseline items | "
        "baseline KB | KB / baseline KB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for route in ROUTES:
            reads = result.reads[route]
            queries, items, size = result.baseline[route]
            lines.append(f"| {result.size:,} | {route} | {reads.queries} | {reads.items:,} | "
                         f"{reads.bytes / 1000:,.0f} | {queries:,} | {items:,} | {size / 1000:,.0f} | "
                         f"{reads.bytes / size:.4f} |")
    lines += [
        "",
        "What a request reads: the summary, the range's day items (days x 4 shards: at most 360 for 90 "
        "days, whatever the number of contracts) plus the overdue receivable rows of the last days "
        "(open milestones due before today) and the execution counters; receivables, one row per open "
        "payment milestone of the contracts in force and the 4 in-force gauges; renewals, the deadline "
        "rows of the next 90 days. None reads a contract or a timeline. The summary's bytes grow with "
        "the contracts signed in the range (each day item keeps the exact seconds-to-sign of its signed "
        "contracts, about 31 bytes each, for an exact median and p90); receivables grow with the open "
        "milestones, renewals with the contracts coming up for renewal: the report's own content.",
        "",
        "Seeding: " + "; ".join(f"{r.size:,} contracts -> {r.analytics_items:,} analytics items in "
                                 f"{r.seed_seconds:.0f} s" for r in results) + ".",
    ]
    return "\n".join(lines) + "\n"


def write(section: str) -> None:
    write_section("bench_analytics", f"{START}\n{section}{END}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_analytics", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="update the section in BENCHMARKS.md")
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    args = parser.parse_args(argv)
    results = []
    for size in args.sizes:
        started = time.perf_counter()
        result = measure(size)
        print(f"# {size:,} contracts: {result.analytics_items:,} analytics items seeded in "
              f"{result.seed_seconds:.1f} s, measured in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        results.append(result)
    section = report(results)
    print(section)
    if args.write:
        write(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
