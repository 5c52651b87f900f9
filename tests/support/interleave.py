"""Forcing an interleaving of two writers deterministically, at the one moment that matters: inside
a DynamoDB transaction, after the store checked its condition and before it applied the update.

`arm_for_thread(contract_id)` arms a pause for the calling thread's next transactional update of
that contract's item. When the write reaches it, `while_held` runs (typically: start the rival writer in another
thread) and the write waits until the rival says it is done, or `patience` seconds. DynamoDB (and the
embedded AWS, made faithful by devstack/embedded_aws.py) keeps the rival out until the held write
has committed, so the patience runs out and the rival then sees the committed state; a store that
checks and writes without isolation lets the rival commit inside the held write, which is exactly the
race a test wants to show it cannot lose.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Hold:
    contract_id: str
    thread: threading.Thread
    while_held: Callable[[], None]
    rival_done: threading.Event
    patience: float
    transactions_only: bool = True
    fired: threading.Event = field(default_factory=threading.Event)
    rival_finished_inside: bool = False


_holds: list[Hold] = []
_installed = False
# Holds fire only inside TransactWriteItems: the store's status moves and once-only records are
# transactions (the move, its event and its step marker together); plain field updates are not.
_in_transaction = threading.local()


def _install() -> None:
    global _installed
    if _installed:
        return
    import moto.dynamodb.models as backend

    base = backend.UpdateExpressionExecutor

    class HoldingExecutor(base):  # type: ignore[misc, valid-type]
        def execute(self, node: Any = None) -> None:
            if node is None:  # the top-level call: the conditions have been checked, nothing written yet
                _maybe_hold(self.item)
            super().execute(node)

    backend.UpdateExpressionExecutor = HoldingExecutor  # type: ignore[misc]
    original_transaction = backend.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: Any) -> Any:
        _in_transaction.active = True
        try:
            return original_transaction(self, transact_items)
        finally:
            _in_transaction.active = False

    backend.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _installed = True


def _maybe_hold(item: Any) -> None:
    in_transaction = getattr(_in_transaction, "active", False)
    attribute = getattr(item, "attrs", {}).get("contract_id")
    contract_id = getattr(attribute, "value", None)
    for hold in list(_holds):
        if hold.transactions_only and not in_transaction:
            continue
        if hold.contract_id == contract_id and hold.thread is threading.current_thread() and not hold.fired.is_set():
            hold.fired.set()
            _holds.remove(hold)
            hold.while_held()
            hold.rival_finished_inside = hold.rival_done.wait(hold.patience)
            return


def arm_for_thread(contract_id: str, *, while_held: Callable[[], None], rival_done: threading.Event,
                   patience: float = 2.0, transactions_only: bool = True) -> Hold:
    """Arms the pause for the calling thread, from inside the writer's own thread (a seam such as
    the send job's after_create_hook); disarmed once it fires, which the Hold's `fired` tells.
    `transactions_only=False` holds a plain UpdateItem of the contract too (signers' progress)."""
    _install()
    hold = Hold(contract_id, threading.current_thread(), while_held, rival_done, patience, transactions_only)
    _holds.append(hold)
    return hold


def at_once(work: Callable[[], Any], workers: int = 2, timeout: float = 60.0) -> list[Any]:
    """Runs `work` in `workers` threads released together (two Lambdas given the same message, two
    overlapping runs); returns what each returned, and fails if any raised."""
    barrier = threading.Barrier(workers)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not errors, errors
    assert len(results) == workers, "a worker did not finish"
    return results
