"""The embedded AWS (moto), made faithful where our correctness depends on it.

DynamoDB applies each write, and each TransactWriteItems as a whole, atomically: of two concurrent
transactions whose conditions cannot both hold, exactly one succeeds (the other is cancelled with
`ConditionalCheckFailed` or `TransactionConflict`). moto does not: its backend evaluates a
condition and then applies the write with no lock, so two threads (the local stack's API and its
dispatcher through moto's threaded server, or two threads of a test process) can both pass the
same condition, and concurrent transactions over HTTP fail inside moto with
`RuntimeError: dictionary changed size during iteration`. Both would make a test pass or fail for a
reason the real service does not have.

`make_faithful()` (idempotent) fixes both, for moto in-process (`mock_aws`) and for moto's server:
- one lock around every DynamoDB action, so each request is atomic as DynamoDB's are (it serialises
  only DynamoDB; SQS long polls and S3 uploads go on in parallel);
- TransactWriteItems keeps a copy of the items it touches to roll back, instead of moto's copy of
  every table it touches (which made each transaction cost the size of the table: quadratic over a
  load test). What a transaction does and how it fails are moto's own code, unchanged;
- item answers (GetItem, Query, ...) are written as the JSON moto already holds (see below);
- SQS checks a received message's retention without recomputing every queue attribute, and reads
  the clock directly;
- KMS refuses Encrypt and Decrypt with a key that is not enabled, as AWS does (`DisabledException`,
  `KMSInvalidStateException` when pending deletion); moto uses the key anyway;
- GetItem refuses a key over DynamoDB's limits, as a write does (moto checks writes only).

`python -m devstack.embedded_aws -H 127.0.0.1 -p PORT` runs moto's server with these fixes (the
local stack starts it so).

`inject_transaction_conflicts(n)` makes the next n transactions fail as DynamoDB fails one that
meets another transaction on the same item: `TransactionCanceledException` whose reasons are
`TransactionConflict` ("Transaction is ongoing for the item"; AWS API reference, TransactWriteItems,
CancellationReasons). moto never produces it by itself; tests of contention do.
"""

from __future__ import annotations

import copy
import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

DYNAMODB_LOCK = threading.RLock()
_applied = False
_faults = {"transaction_conflicts": 0}


def inject_transaction_conflicts(count: int) -> None:
    with DYNAMODB_LOCK:
        _faults["transaction_conflicts"] = count


def _take_conflict() -> bool:
    if _faults["transaction_conflicts"] > 0:
        _faults["transaction_conflicts"] -= 1
        return True
    return False


def make_faithful() -> None:
    global _applied
    if _applied:
        return
    _serialise_dynamodb()
    _item_level_transaction_rollback()
    _direct_item_responses()
    _cheap_retention_check()
    _kms_key_state()
    _refuse_oversized_keys_on_reads()
    _applied = True


def _refuse_oversized_keys_on_reads() -> None:
    """DynamoDB answers a GetItem whose key is longer than its limits (partition 2,048 bytes, sort
    1,024) with a ValidationException, as it does a write; moto checks writes only. Checking reads
    too lets a hostile id (a path parameter) reach the error it would reach in AWS."""
    from moto.dynamodb.exceptions import HashKeyTooLong, RangeKeyTooLong
    from moto.dynamodb.limits import HASH_KEY_MAX_LENGTH, RANGE_KEY_MAX_LENGTH
    from moto.dynamodb.models.table import Table

    original = Table.get_item

    @functools.wraps(original)
    def get_item(self: Any, hash_key: Any, range_key: Any = None, projection_expression: Any = None) -> Any:
        if hash_key.size() > HASH_KEY_MAX_LENGTH:
            raise HashKeyTooLong
        if range_key is not None and range_key.size() > RANGE_KEY_MAX_LENGTH:
            raise RangeKeyTooLong
        return original(self, hash_key, range_key, projection_expression)

    Table.get_item = get_item  # type: ignore[method-assign]


def _kms_key_state() -> None:
    """What the DocuSign token cache does when its key is disabled is only testable if the key
    being disabled makes KMS fail (AWS KMS API reference, Encrypt/Decrypt errors)."""
    from moto.core.exceptions import JsonRESTError
    from moto.kms.models import KmsBackend

    def usable(backend: Any, key_id: str) -> None:
        key = backend.keys[backend.get_key_id(key_id)]
        if key.key_state == "Disabled":
            raise JsonRESTError("DisabledException", f"{key.arn} is disabled.")
        if key.key_state != "Enabled":
            state = "pending deletion" if key.key_state == "PendingDeletion" else key.key_state
            raise JsonRESTError("KMSInvalidStateException", f"{key.arn} is {state}.")

    original_encrypt = KmsBackend.encrypt
    original_decrypt = KmsBackend.decrypt

    def encrypt(self: Any, key_id: str, plaintext: bytes, encryption_context: dict[str, str]) -> tuple[bytes, str]:
        usable(self, self.any_id_to_key_id(key_id))
        return original_encrypt(self, key_id, plaintext, encryption_context)

    def decrypt(self: Any, ciphertext_blob: bytes, encryption_context: dict[str, str],
                key_id: str | None = None) -> tuple[bytes, str]:
        plaintext, arn = original_decrypt(self, ciphertext_blob, encryption_context, key_id)
        usable(self, arn)  # the key the ciphertext names, checked before the plaintext leaves
        return plaintext, arn

    KmsBackend.encrypt = encrypt  # type: ignore[method-assign]
    KmsBackend.decrypt = decrypt  # type: ignore[method-assign]


def _cheap_retention_check() -> None:
    """moto checks each received message's retention by computing every attribute of its queue,
    approximate counts included (a pass over every message): receiving from a queue with a backlog
    cost the square of the backlog. The retention period alone gives the same answer."""
    import time as _time

    from moto.sqs.models import SQSBackend

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_period = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_period + message.sent_timestamp / 1000 > _time.time())

    SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period)
    # Every receive checks each queued message's visibility and delay against "now", which moto
    # computes through datetime arithmetic; with a backlog that was most of the server's time.
    # The clock is the same (wall time, as moto's own), read directly.
    import moto.sqs.models as sqs_models

    def unix_time(dt: Any = None) -> float:
        return _time.time() if dt is None else original_unix_time(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    original_unix_time = sqs_models.unix_time
    sqs_models.unix_time = unix_time  # type: ignore[assignment]
    sqs_models.unix_time_millis = unix_time_millis  # type: ignore[assignment]


# Data-plane answers whose result moto already holds in DynamoDB's JSON wire form (AttributeValue
# maps, counts, keys): they are written out as they are instead of through moto's model-driven
# serializer, which walked every attribute of every item and was half of the embedded AWS's time
# under load. SIGNBRIDGE_CHECK_DIRECT_RESPONSES=1 serialises both ways and fails on any difference
# (run over the integration tier when moto is upgraded).
DIRECT_ACTIONS = frozenset({"GetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems",
                            "TransactGetItems", "BatchGetItem", "BatchWriteItem"})


def _direct_item_responses() -> None:
    import json
    import os

    from moto.dynamodb.responses import DynamoHandler

    original: Callable[..., Any] = DynamoHandler.serialized
    check = os.environ.get("SIGNBRIDGE_CHECK_DIRECT_RESPONSES") == "1"

    @functools.wraps(original)
    def serialized(self: Any, action_result: Any) -> Any:
        result = action_result.result
        if not isinstance(result, dict) or self._get_action() not in DIRECT_ACTIONS:
            return original(self, action_result)
        try:
            body = json.dumps(result, separators=(",", ":"))
        except (TypeError, ValueError):
            return original(self, action_result)
        if check:
            status, _, expected = original(self, action_result)
            wanted = json.loads(expected)  # members outside the output shape (botocore drops them) aside
            if status != 200 or any(result.get(k) != v for k, v in wanted.items()):
                raise AssertionError(f"direct {self._get_action()} response differs: {expected!r} vs {body!r}")
        return 200, {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}, body

    DynamoHandler.serialized = serialized  # type: ignore[method-assign]


def _serialise_dynamodb() -> None:
    from moto.dynamodb.responses import DynamoHandler

    original: Callable[..., Any] = DynamoHandler.call_action

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with DYNAMODB_LOCK:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]


class _CopyKeepingTables:
    """Stands in for the `copy` module inside moto's DynamoDB backend: a table is "copied" as
    itself (the transaction wrapper below rolls back item by item); anything else is copied."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _item_level_transaction_rollback() -> None:
    import moto.dynamodb.models as backend_module
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    backend_module.copy = _CopyKeepingTables(Table)  # type: ignore[assignment]
    original: Callable[..., Any] = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if _take_conflict():
            from moto.dynamodb.exceptions import TransactionCanceledException

            conflict = ("TransactionConflict", "Transaction is ongoing for the item", None)
            raise TransactionCanceledException([conflict, *[(None, None, None)] * (len(transact_items) - 1)])
        saved = _snapshot(self, transact_items)
        try:
            original(self, transact_items)
        except BaseException:
            _restore(self, saved)
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


_Slot = tuple[str, Any, Any]  # table name, hash key, range key


def _snapshot(backend: Any, transact_items: list[dict[str, Any]]) -> dict[_Slot, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved: dict[_Slot, Any] = {}
    for entry in transact_items:
        try:
            _, op = next(iter(entry.items()))
            table = backend.tables[op["TableName"]]
            attrs = op.get("Key") or op["Item"]
            hash_key = DynamoType(attrs[table.hash_key_attr])
            range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, StopIteration, AttributeError, TypeError):
            continue  # moto's own validation answers this one
        slot = (op["TableName"], hash_key, range_key)
        if slot not in saved:
            saved[slot] = copy.deepcopy(table.get_item(hash_key, range_key))
    return saved


def _restore(backend: Any, saved: dict[_Slot, Any]) -> None:
    for (table_name, hash_key, range_key), item in saved.items():
        table = backend.tables.get(table_name)
        if table is None:
            continue
        live = table.get_item(hash_key, range_key)
        if item is None:
            if live is not None:
                table.delete_item(hash_key, range_key)
        elif live is not None:
            live.attrs = item.attrs  # in place: whoever holds the live item keeps holding the table's
        elif range_key is None:
            table.items[hash_key] = item
        else:
            table.items[hash_key][range_key] = item


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_server

    make_faithful()
    moto_server(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
