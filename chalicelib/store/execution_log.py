"""A signed contract's execution log: service records, deliveries, acceptances, communications,
feedback and settlements, each an event `execution_<kind>` of the contract's timeline (the events
table already keeps a contract's history in order and the contract view already reads it).

One entry is one DynamoDB transaction (TransactWriteItems through boto3: PynamoDB's TransactWrite has
no ADD on a counter that is not a model attribute):

0. the entry's claim `execentry#{tenant}#{contract}#{entry_id}` (absent; it keeps the entry, so a
   repeat with the same `entry_id` answers what was recorded: idempotent),
1. a check that the contract's status is still one where execution is recorded (a race with a move
   out of it loses cleanly),
2. the timeline event,
3. the tenant's counters of that UTC day, `execstats#{tenant}#{YYYY-MM-DD}` (`ADD n_<kind> 1`),
4. for feedback, the contract's open-feedback marker `execfb#{tenant}#{contract}` (put when opened,
   deleted when closed, each conditional) and the tenant's gauge `execstats#{tenant}` (`open_feedback`
   ± 1): the gauge counts contracts whose latest feedback is open, and moves only when the marker did.

The analytics read the day items of a range with BatchGetItem (one request per 100 days) and the
gauge with one GetItem: never a scan of entries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.contracts.stored import StoredContract
from chalicelib.core.aws import client
from chalicelib.store.contention import TRANSIENT_CODES, StoreBusy, StoreError
from chalicelib.store.contracts import contract_key, now_utc
from chalicelib.store.models import ContractRecord, EventRecord, KeyRecord

KINDS = ("service_record", "delivery", "acceptance", "communication", "feedback", "settlement")
EVENT_PREFIX = "execution_"
BATCH_GET_LIMIT = 100  # DynamoDB's keys per BatchGetItem


@dataclass(frozen=True)
class ExecutionEntry:
    entry_id: str
    kind: str
    at: str  # ISO date-time, UTC, when it happened (the caller's)
    by: str
    text: str
    recorded_at: str  # ISO date-time, UTC, when we stored it
    status: str | None = None  # feedback: open | closed; acceptance: accepted | rejected
    # [{"name", "content_type", "size", "sha256", "url"}], the files in store/attachments.py
    attachments: list[dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class NotOpenForExecution(Exception):
    """The contract's status no longer allows execution entries (checked inside the write)."""


def _entry_of(detail: Mapping[str, Any]) -> ExecutionEntry:
    return ExecutionEntry(**{k: detail.get(k) for k in ExecutionEntry.__dataclass_fields__})  # type: ignore[arg-type]


def _claim_key(contract: StoredContract, entry_id: str) -> str:
    return claim_key(contract.tenant_id, contract.contract_id, entry_id)


def claim_key(tenant_id: str, contract_id: str, entry_id: str) -> str:
    return f"execentry#{tenant_id}#{contract_id}#{entry_id}"


def _day_key(tenant_id: str, day: date) -> str:
    return f"execstats#{tenant_id}#{day.isoformat()}"


def _gauge_key(tenant_id: str) -> str:
    return f"execstats#{tenant_id}"


def _counter_update(key: str, attribute: str, delta: int, now: datetime) -> dict[str, Any]:
    # created_at in PynamoDB's format, so the item reads as a KeyRecord like any other.
    stamp = KeyRecord.created_at.serialize(now)  # type: ignore[no-untyped-call]  # PynamoDB's loose typing
    return {"Update": {
        "TableName": KeyRecord.Meta.table_name, "Key": {"key": {"S": key}},
        "UpdateExpression": "SET created_at = if_not_exists(created_at, :now) ADD #n :d",
        "ExpressionAttributeNames": {"#n": attribute},
        "ExpressionAttributeValues": {":now": {"S": stamp}, ":d": {"N": str(delta)}},
    }}


def _feedback_items(contract: StoredContract, status: str | None, now: datetime) -> list[dict[str, Any]]:
    marker = f"execfb#{contract.tenant_id}#{contract.contract_id}"
    table = KeyRecord.Meta.table_name
    if status == "open":
        item = KeyRecord(key=marker, tenant_id=contract.tenant_id, contract_id=contract.contract_id, created_at=now)
        change: dict[str, Any] = {"Put": {"TableName": table, "Item": item.serialize(),
                                          "ConditionExpression": "attribute_not_exists(#k)",
                                          "ExpressionAttributeNames": {"#k": "key"}}}
        delta = 1
    else:
        change = {"Delete": {"TableName": table, "Key": {"key": {"S": marker}},
                             "ConditionExpression": "attribute_exists(#k)",
                             "ExpressionAttributeNames": {"#k": "key"}}}
        delta = -1
    return [change, _counter_update(_gauge_key(contract.tenant_id), "open_feedback", delta, now)]


def record_entry(contract: StoredContract, entry: ExecutionEntry, open_statuses: Iterable[str]
                 ) -> tuple[ExecutionEntry, bool]:
    """Stores the entry; (the entry as stored, True) the first time, (the first one, False) for a
    repeat of its `entry_id`. NotOpenForExecution when the contract's status does not allow it."""
    now = now_utc()
    statuses = sorted(set(open_statuses))
    claim = KeyRecord(key=_claim_key(contract, entry.entry_id), tenant_id=contract.tenant_id,
                      contract_id=contract.contract_id, detail=entry.as_dict(), created_at=now)
    event = EventRecord(contract_key=contract_key(contract.tenant_id, contract.contract_id),
                        event_key=f"{now.isoformat(timespec='microseconds')}#{entry.entry_id[-6:]}",
                        type=EVENT_PREFIX + entry.kind, at=datetime.fromisoformat(entry.at),
                        status=contract.status, detail=entry.as_dict())
    base: list[dict[str, Any]] = [
        {"Put": {"TableName": KeyRecord.Meta.table_name, "Item": claim.serialize(),
                 "ConditionExpression": "attribute_not_exists(#k)", "ExpressionAttributeNames": {"#k": "key"}}},
        {"ConditionCheck": {
            "TableName": ContractRecord.Meta.table_name,
            "Key": {"tenant_id": {"S": contract.tenant_id}, "contract_id": {"S": contract.contract_id}},
            "ConditionExpression": f"#s IN ({', '.join(f':s{i}' for i in range(len(statuses)))})",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {f":s{i}": {"S": s} for i, s in enumerate(statuses)}}},
        {"Put": {"TableName": EventRecord.Meta.table_name, "Item": event.serialize()}},
        _counter_update(_day_key(contract.tenant_id, now.date()), f"n_{entry.kind}", 1, now),
    ]
    feedback = _feedback_items(contract, entry.status, now) if entry.kind == "feedback" else []
    for items in (base + feedback, base):  # a marker already as wanted: write the entry without it
        try:
            client("dynamodb").transact_write_items(TransactItems=items)
            return entry, True
        except ClientError as err:
            codes = [str(r.get("Code") or "None") for r in err.response.get("CancellationReasons") or []]
            if err.response.get("Error", {}).get("Code") in TRANSIENT_CODES or (
                    codes and "ConditionalCheckFailed" not in codes and set(codes) & TRANSIENT_CODES):
                raise StoreBusy("the store is busy; try again") from err
            if not codes:
                raise StoreError(str(err)) from err
            if codes[0] == "ConditionalCheckFailed":
                return _stored_entry(claim.key) or entry, False
            if codes[1] == "ConditionalCheckFailed":
                raise NotOpenForExecution(f"{contract.contract_id}: not open for execution entries") from err
            if not any(c == "ConditionalCheckFailed" for c in codes[len(base):]):
                raise StoreError(str(err)) from err
    raise StoreBusy("the execution entry could not be written; try again")  # the marker moved twice meanwhile


def find_entry(tenant_id: str, contract_id: str, entry_id: str) -> ExecutionEntry | None:
    """The entry recorded under that id for the contract (its claim keeps it), or None."""
    try:
        return _stored_entry(claim_key(tenant_id, contract_id, entry_id))
    except ClientError as err:
        raise StoreError(str(err), transient=err.response.get("Error", {}).get("Code") in TRANSIENT_CODES) from err


def _stored_entry(key: str) -> ExecutionEntry | None:
    item = client("dynamodb").get_item(TableName=KeyRecord.Meta.table_name, Key={"key": {"S": key}},
                                       ConsistentRead=True).get("Item")
    detail = (item or {}).get("detail", {}).get("S")
    return _entry_of(json.loads(detail)) if detail else None


def entries_of(events: Iterable[Any]) -> list[dict[str, Any]]:
    """The execution entries among a contract's timeline events (TimelineEvent), in timeline order."""
    return [dict(e.detail) for e in events if e.type.startswith(EVENT_PREFIX) and e.detail]


def counts_between(tenant_id: str, start: date, end: date) -> dict[str, int]:
    """Entries per kind recorded on the UTC days [start, end] (every kind present, zero or more)."""
    totals = dict.fromkeys(KINDS, 0)
    days = (end - start).days + 1
    keys = [_day_key(tenant_id, start + timedelta(days=i)) for i in range(max(days, 0))]
    for offset in range(0, len(keys), BATCH_GET_LIMIT):
        request: dict[str, Any] = {KeyRecord.Meta.table_name: {
            "Keys": [{"key": {"S": k}} for k in keys[offset:offset + BATCH_GET_LIMIT]]}}
        while request:
            try:
                answer = client("dynamodb").batch_get_item(RequestItems=request)
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code")
                raise StoreError(str(err), transient=code in TRANSIENT_CODES) from err
            for item in answer.get("Responses", {}).get(KeyRecord.Meta.table_name, []):
                for kind in KINDS:
                    totals[kind] += int(item.get(f"n_{kind}", {}).get("N", "0"))
            request = answer.get("UnprocessedKeys") or {}
    return totals


def open_feedback(tenant_id: str) -> int:
    """How many of the tenant's contracts have feedback open now."""
    try:
        item = client("dynamodb").get_item(TableName=KeyRecord.Meta.table_name,
                                           Key={"key": {"S": _gauge_key(tenant_id)}}).get("Item") or {}
    except ClientError as err:
        raise StoreError(str(err), transient=err.response.get("Error", {}).get("Code") in TRANSIENT_CODES) from err
    return max(int(item.get("open_feedback", {}).get("N", "0")), 0)
