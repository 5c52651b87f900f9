"""The tenant's analytics, kept as contracts change (the analytics table), so a report reads what it
shows and never the tenant's contracts.

Writes: every store write that changes what a contract contributes adds, in its own transaction,
the difference (`analytics_rows.counter_delta`, `projection_rows`): `ADD` on the contract's day item
`stats#{tenant}` / `{created UTC day}#{shard}` and gauge `gauge#{shard}`, the rows that changed put
and the rows gone deleted, and the contract's list of rows `rows#{tenant}#{contract}` rewritten. The
write's own condition (the contract's version, its status, a step marker) covers them: a refused or
repeated write changes no counter. A contract's shard is fixed by its id; 4 shards spread one busy
day's concurrent transactions (DynamoDB cancels two transactions on one item as a conflict).

Reads: `day_items` one Query (days in range x shards, 1 MB pages), `in_force` one Query (the 4
gauges), `receivable_rows` one Query of the open milestones' rows, `deadline_rows` one Query of the
deadlines between two dates.

`rebuild` recomputes everything of one tenant from its contracts and timelines (an existing
deployment, a repair, tenant settings changed under renewal deadlines): `python -m chalicelib.admin
analytics rebuild --tenant T`. Idempotent; run it when the tenant is quiet (a write during the
rebuild can be lost from the counters: run it again)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist, PynamoDBException
from pynamodb.expressions.operand import Path, Value
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.contracts.stored import StoredContract, TimelineEvent
from chalicelib.core.aws import client
from chalicelib.store.analytics_rows import (
    GAUGE,
    OPEN_STATUSES,
    Row,
    contribution,
    counter_delta,
    hours_member,
    shard_of,
)
from chalicelib.store.contention import TRANSIENT_CODES, StoreError
from chalicelib.store.models import AnalyticsRecord, RegistryRecord

MANIFEST_SK = "rows"
BATCH_WRITE_LIMIT = 25
# Row writes carried inside the contract's transaction (DynamoDB takes 100 items in one); a contract
# with more rows to change (a long payment schedule entering force) has them written right after.
ROWS_IN_TRANSACTION = 60


def stats_pk(tenant_id: str) -> str:
    return f"stats#{tenant_id}"


def day_sk(day: date, shard: int) -> str:
    return f"{day.isoformat()}#{shard}"


def gauge_sk(shard: int) -> str:
    return f"gauge#{shard}"  # sorts after every date: a day range never reads it


def manifest_pk(tenant_id: str, contract_id: str) -> str:
    return f"rows#{tenant_id}#{contract_id}"


# The contract's projection rows given its tenant's settings (as stored): chalicelib.reminders.projection,
# which needs the milestones, terms and calendar, all above the store; importing it registers it.
Projector = Callable[[StoredContract, Mapping[str, Any]], frozenset[Row]]
_projector: list[Projector] = []


def use_projector(projector: Projector) -> None:
    _projector[:] = [projector]


def projection_rows(contract: StoredContract, settings: Mapping[str, Any]) -> frozenset[Row]:
    if not _projector:
        raise RuntimeError("no analytics projection registered: import chalicelib.reminders.projection")
    return _projector[0](contract, settings)


def tenant_settings(tenant_id: str) -> dict[str, Any]:
    """The tenant's settings as stored (its registry item, read here: store.registry builds on the
    contracts module, which writes through this one); the renewal deadline depends on them."""
    try:
        data = RegistryRecord.get(f"tenant#{tenant_id}").data or {}
    except DoesNotExist:
        data = {}
    except PynamoDBException as err:
        raise StoreError.of(err) from err
    return dict(data.get("settings") or {})


def _n(value: Decimal | int) -> Value:
    return Value({"N": str(value)})


def _item(pk: str, sk: str) -> AnalyticsRecord:
    return AnalyticsRecord(pk=pk, sk=sk)


# --- writes inside a contract's transaction ----------------------------------------------------

@dataclass
class Changes:
    """What one contract write adds to the analytics, computed before its transaction."""

    counters: dict[tuple[str, str], list[Action]] = field(default_factory=dict)
    puts: list[Row] = field(default_factory=list)
    deletes: list[tuple[str, str]] = field(default_factory=list)
    manifest: dict[str, str] | None = None  # the contract's rows after the write, when they changed
    tenant_id: str = ""
    contract_id: str = ""

    @property
    def rows_after_commit(self) -> bool:
        return len(self.puts) + len(self.deletes) > ROWS_IN_TRANSACTION

    def add_to(self, tx: TransactWrite) -> None:
        for (pk, sk), actions in self.counters.items():
            tx.update(_item(pk, sk), actions=actions)
        if self.rows_after_commit:
            return
        for pk, sk in self.deletes:
            tx.delete(_item(pk, sk))
        for row in self.puts:
            tx.update(_item(row.pk, row.sk), actions=[Path([k]).set(Value({"S": v})) for k, v in row.attrs])
        if self.manifest is not None:
            item = _item(manifest_pk(self.tenant_id, self.contract_id), MANIFEST_SK)
            if self.manifest:
                tx.update(item, actions=[Path(["body"]).set(Value({"S": json.dumps(self.manifest, sort_keys=True)}))])
            else:
                tx.delete(item)

    def after_commit(self) -> None:
        """The row changes too many for the transaction, once it committed: rows first, the contract's
        list last, so a failure in between leaves the old list and the next write of the contract (or
        a rebuild) writes them again; puts and deletes are idempotent."""
        if self.rows_after_commit:
            self.write_rows()

    def write_rows(self) -> None:
        """The row changes and the contract's list, outside any transaction (idempotent)."""
        write_items({(r.pk, r.sk): {k: {"S": v} for k, v in r.attrs} for r in self.puts}, self.deletes)
        key = (manifest_pk(self.tenant_id, self.contract_id), MANIFEST_SK)
        if self.manifest:
            write_items({key: {"body": {"S": json.dumps(self.manifest, sort_keys=True)}}})
        elif self.manifest is not None:
            write_items({}, [key])


def changes(before: StoredContract | None, after: StoredContract, *, reminders: int = 0,
            signed_seconds: int | None = None, with_rows: bool = True) -> Changes:
    """The analytics writes of a contract going from `before` (None: created) to `after`; `with_rows=False`
    for a write that cannot move its rows (a reminder sent: no read of the contract's list or the
    tenant's settings on the hourly run's path)."""
    out = Changes(tenant_id=after.tenant_id, contract_id=after.contract_id)
    delta = counter_delta(before, after)
    shard = shard_of(after.contract_id)
    day_actions: list[Action] = [Path([name]).add(_n(value)) for name, value in delta.items() if name != GAUGE]
    if reminders:
        day_actions.append(Path(["rem"]).add(_n(reminders)))
    if signed_seconds is not None:
        day_actions.append(Path(["h"]).add(Value({"SS": [hours_member(after.contract_id, signed_seconds)]})))
    if day_actions:
        out.counters[(stats_pk(after.tenant_id), day_sk(after.created_at.date(), shard))] = day_actions
    if GAUGE in delta:
        out.counters[(stats_pk(after.tenant_id), gauge_sk(shard))] = [Path(["n"]).add(_n(delta[GAUGE]))]
    if not with_rows or ((before is None or before.status not in OPEN_STATUSES) and after.status not in OPEN_STATUSES):
        return out  # no rows before or after: nothing to read
    stored = _manifest(after.tenant_id, after.contract_id)
    rows = projection_rows(after, tenant_settings(after.tenant_id))
    wanted = {f"{r.pk}|{r.sk}": r.digest for r in rows}
    out.puts = sorted((r for r in rows if stored.get(f"{r.pk}|{r.sk}") != r.digest), key=lambda r: (r.pk, r.sk))
    out.deletes = sorted(tuple(k.split("|", 1)) for k in stored.keys() - wanted.keys())  # type: ignore[misc]
    if wanted != stored:
        out.manifest = wanted
    return out


def resync_rows(contract: StoredContract) -> int:
    """Rewrites one contract's rows from its state and its tenant's settings as they are now: a
    settings change (time zone, calendar, notice buffer) moves a deadline without a contract write,
    so the `replan` job calls this. Idempotent; outside a transaction, so a contract write at the same
    moment can leave a row the next write of the contract (or `analytics rebuild`) corrects."""
    out = changes(contract, contract)
    if out.manifest is None and not out.puts and not out.deletes:
        return 0
    out.write_rows()
    return len(out.puts) + len(out.deletes)


def _manifest(tenant_id: str, contract_id: str) -> dict[str, str]:
    item = _call("get_item", TableName=AnalyticsRecord.Meta.table_name, ConsistentRead=True,
                 Key={"pk": {"S": manifest_pk(tenant_id, contract_id)}, "sk": {"S": MANIFEST_SK}}).get("Item")
    body = (item or {}).get("body", {}).get("S")
    return dict(json.loads(body)) if body else {}


def _call(operation: str, **kwargs: Any) -> dict[str, Any]:
    try:
        return dict(getattr(client("dynamodb"), operation)(**kwargs))
    except ClientError as err:
        raise StoreError(str(err), transient=err.response.get("Error", {}).get("Code") in TRANSIENT_CODES) from err


# --- reads -------------------------------------------------------------------------------------

def _query(pk: str, low: str | None = None, high: str | None = None) -> Iterator[dict[str, Any]]:
    """Every item of the partition `pk` (sort key between low and high, both included), page by page."""
    kwargs: dict[str, Any] = {
        "TableName": AnalyticsRecord.Meta.table_name, "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}}}
    if low is not None and high is not None:
        kwargs["KeyConditionExpression"] += " AND sk BETWEEN :low AND :high"
        kwargs["ExpressionAttributeValues"].update({":low": {"S": low}, ":high": {"S": high}})
    while True:
        page = _call("query", **kwargs)
        yield from page.get("Items", [])
        if not page.get("LastEvaluatedKey"):
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def counters_of(item: Mapping[str, Any]) -> tuple[dict[str, Decimal], set[str]]:
    """(the numeric counters, the `h` set) of a raw day item."""
    numbers = {k: Decimal(v["N"]) for k, v in item.items() if "N" in v}
    return numbers, set(item.get("h", {}).get("SS", []))


def day_items(tenant_id: str, start: date, end: date) -> list[tuple[dict[str, Decimal], set[str]]]:
    """The day items of the UTC creation days [start, end], every shard."""
    return [counters_of(i) for i in _query(stats_pk(tenant_id), f"{start.isoformat()}#", f"{end.isoformat()}#~")]


def in_force(tenant_id: str) -> int:
    """How many of the tenant's contracts are in force now (completed, active, expiring, renewed)."""
    return sum(int(i.get("n", {}).get("N", "0")) for i in _query(stats_pk(tenant_id), "gauge#", "gauge#~"))


def _row(item: Mapping[str, Any]) -> Row:
    attrs = tuple(sorted((k, v["S"]) for k, v in item.items() if k not in ("pk", "sk") and "S" in v))
    return Row(item["pk"]["S"], item["sk"]["S"], attrs)


def receivable_rows(tenant_id: str, due_before: date | None = None) -> list[Row]:
    """The open payment milestones of the tenant's contracts in force, by due date (those due before
    `due_before` only, when given)."""
    if due_before is None:
        return [_row(i) for i in _query(f"recv#{tenant_id}")]
    return [_row(i) for i in _query(f"recv#{tenant_id}", "0", f"{due_before.isoformat()}#")]


def deadline_rows(tenant_id: str, first: date, last: date) -> list[Row]:
    """The contracts in force whose deadline is in [first, last], by deadline."""
    return [_row(i) for i in _query(f"renew#{tenant_id}", f"{first.isoformat()}#", f"{last.isoformat()}#~")]


# --- rebuild -----------------------------------------------------------------------------------

Timeline = Callable[[StoredContract], Iterable[TimelineEvent]]
Items = dict[tuple[str, str], dict[str, Any]]


def computed_items(contracts: Iterable[StoredContract], settings: Mapping[str, Any], timeline: Timeline) -> Items:
    """Every analytics item of a tenant, as DynamoDB items keyed by (pk, sk), from its contracts and
    their timelines: what the writes would have kept, had they run from the start."""
    items: dict[tuple[str, str], dict[str, Any]] = {}
    numbers: dict[tuple[str, str], dict[str, Decimal]] = {}
    hours: dict[tuple[str, str], set[str]] = {}
    for contract in contracts:
        shard = shard_of(contract.contract_id)
        day = (stats_pk(contract.tenant_id), day_sk(contract.created_at.date(), shard))
        counted = numbers.setdefault(day, {})
        for name, value in contribution(contract).items():
            key = (stats_pk(contract.tenant_id), gauge_sk(shard)) if name == GAUGE else day
            target = counted if key == day else numbers.setdefault(key, {})
            target[name if name != GAUGE else "n"] = target.get(name if name != GAUGE else "n", Decimal(0)) + value
        sent_at = completed_at = None
        for event in timeline(contract):
            if event.type == "reminder_sent":
                counted["rem"] = counted.get("rem", Decimal(0)) + 1
            elif event.type == "envelope_sent" and (sent_at is None or event.at < sent_at):
                sent_at = event.at
            elif event.type == "envelope_completed" and (completed_at is None or event.at < completed_at):
                completed_at = event.at
        if sent_at is not None and completed_at is not None and completed_at >= sent_at:
            hours.setdefault(day, set()).add(hours_member(contract.contract_id,
                                                          int((completed_at - sent_at).total_seconds())))
        rows = projection_rows(contract, settings)
        for row in rows:
            items[(row.pk, row.sk)] = {k: {"S": v} for k, v in row.attrs}
        if rows:
            items[(manifest_pk(contract.tenant_id, contract.contract_id), MANIFEST_SK)] = {"body": {"S": json.dumps(
                {f"{r.pk}|{r.sk}": r.digest for r in rows}, sort_keys=True)}}
    for key, counted in numbers.items():
        item: dict[str, Any] = {k: {"N": str(v)} for k, v in counted.items() if v != 0}
        if key in hours:
            item["h"] = {"SS": sorted(hours[key])}
        if item:
            items[key] = item
    for key, members in hours.items():
        items.setdefault(key, {"h": {"SS": sorted(members)}})
    return items


def stored_keys(tenant_id: str) -> set[tuple[str, str]]:
    """The keys of the tenant's counter and projection items now stored (manifests are per contract:
    `rebuild` rewrites those of the contracts it reads)."""
    return {(i["pk"]["S"], i["sk"]["S"]) for pk in (stats_pk(tenant_id), f"recv#{tenant_id}", f"renew#{tenant_id}")
            for i in _query(pk)}


def write_items(items: Mapping[tuple[str, str], Mapping[str, Any]], delete: Iterable[tuple[str, str]] = ()) -> int:
    """Puts each item whole and deletes the `delete` keys, 25 a BatchWriteItem; the number of requests."""
    requests: list[dict[str, Any]] = [
        {"PutRequest": {"Item": {"pk": {"S": pk}, "sk": {"S": sk}, **item}}} for (pk, sk), item in items.items()]
    requests += [{"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}} for pk, sk in delete]
    calls = 0
    table = AnalyticsRecord.Meta.table_name
    for offset in range(0, len(requests), BATCH_WRITE_LIMIT):
        pending: dict[str, Any] = {table: requests[offset:offset + BATCH_WRITE_LIMIT]}
        while pending:
            calls += 1
            pending = _call("batch_write_item", RequestItems=pending).get("UnprocessedItems") or {}
    return calls


@dataclass(frozen=True)
class Rebuilt:
    contracts: int
    written: int
    deleted: int


def rebuild(tenant_id: str, contracts: Iterable[StoredContract], timeline: Timeline) -> Rebuilt:
    """Recomputes the tenant's analytics from `contracts` (all of them) and replaces what is stored:
    items put whole, items no contract accounts for deleted, each contract's list of rows rewritten."""
    settings = tenant_settings(tenant_id)
    seen: list[StoredContract] = []

    def counted() -> Iterator[StoredContract]:
        for contract in contracts:
            seen.append(contract)
            yield contract

    items = computed_items(counted(), settings, timeline)
    stale = stored_keys(tenant_id) - items.keys()
    stale |= {(manifest_pk(tenant_id, c.contract_id), MANIFEST_SK) for c in seen} - items.keys()
    write_items(items, sorted(stale))
    return Rebuilt(contracts=len(seen), written=len(items), deleted=len(stale))
