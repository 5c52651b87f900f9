"""Intake when the store is contended: a conflict or throttle is never a 500, a racing duplicate
resolves to the sequential answer (202, then 200 with the same contract id) or to a 503 with
Retry-After that the CRM's retry turns into that answer, and nothing is stored twice or lost.

DynamoDB cancels a transaction that meets another one on the same item with
`TransactionCanceledException` / reason `TransactionConflict` (AWS API reference, TransactWriteItems,
"CancellationReasons"); the embedded AWS produces exactly that on demand
(devstack/embedded_aws.inject_transaction_conflicts)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from devstack.embedded_aws import inject_transaction_conflicts
from tests.support.esign import signer, webhook_body
from tests.support.stack import StackHarness


@pytest.fixture(autouse=True)
def no_leftover_conflicts() -> Any:
    yield
    inject_transaction_conflicts(0)


def body(crm_record_id: str) -> dict[str, Any]:
    return webhook_body("sales.en", crm_record_id=crm_record_id,
                        signers=[signer("Rachel Tan", "rachel.tan@harbourline.example", 1)])


def contracts_for(stack: StackHarness, crm_record_id: str) -> list[dict[str, Any]]:
    response = stack.client.http.get(f"/v1/contracts?crm_record_id={crm_record_id}", headers=stack.auth())
    assert response.status_code == 200, response.body
    return list(response.json_body["contracts"])


def test_a_transaction_conflict_is_a_503_with_retry_after_and_stores_nothing(stack: StackHarness) -> None:
    inject_transaction_conflicts(1)
    first = stack.post_webhook(body("conflict-1"), webhook_id="msg_conflict_1")
    assert first.status_code == 503, first.body
    assert int(first.headers["Retry-After"]) >= 1
    assert first.json_body["error"]["code"] == "retry_later"
    assert contracts_for(stack, "conflict-1") == []
    # The CRM retries the same delivery: it is the first one that counts.
    retried = stack.post_webhook(body("conflict-1"), webhook_id="msg_conflict_1")
    assert retried.status_code == 202, retried.body
    again = stack.post_webhook(body("conflict-1"), webhook_id="msg_conflict_1")
    assert again.status_code == 200
    assert again.json_body["contract_id"] == retried.json_body["contract_id"]
    assert len(contracts_for(stack, "conflict-1")) == 1


def test_a_status_move_that_meets_a_conflict_is_retried_not_lost(stack: StackHarness) -> None:
    """The send job's first transaction is cancelled for a conflict: the job is retried (SQS) and the
    contract is sent once."""
    response = stack.post_webhook(body("conflict-send"))
    contract_id = response.json_body["contract_id"]
    inject_transaction_conflicts(1)  # the job's move to `sending`
    stack.wait_status(contract_id, "sent")
    types = stack.timeline_types(contract_id)
    assert types.count("sending") == 1 and types.count("envelope_sent") == 1, types
    assert len(stack.sandbox_envelopes(contract_id)) == 1


def test_sixteen_concurrent_deliveries_of_one_event(stack: StackHarness) -> None:
    """A CRM (or a proxy in front of it) delivers one event 16 times at once, some under new delivery
    ids, while the store reports conflicts now and then: one contract; every answer is 202 (once),
    200 or 503; each 503 retried gives the same contract."""
    inject_transaction_conflicts(3)
    payload = body("burst-1")
    answers: list[tuple[str, Any]] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def deliver(n: int) -> None:
        webhook_id = f"msg_burst_{n % 4}"  # four distinct deliveries of the same CRM record
        start.wait()
        response = stack.post_webhook(payload, webhook_id=webhook_id)
        with lock:
            answers.append((webhook_id, response))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(r.status_code for _, r in answers)
    assert set(statuses) <= {200, 202, 503}, statuses
    assert statuses.count(202) <= 1
    ids = set()
    for webhook_id, response in answers:
        while response.status_code == 503:  # what the CRM does after Retry-After
            response = stack.post_webhook(payload, webhook_id=webhook_id)
        ids.add(response.json_body["contract_id"])
    assert len(ids) == 1, ids
    assert len(contracts_for(stack, "burst-1")) == 1
