"""The hourly run within a time budget, against moto: a busy hour is paged out to the jobs queue and
every reminder is sent exactly once however the pages are run (each invocation within its budget,
a page delivered twice, SES throttling, a job killed after its claim); a quiet hour is sent by the
hourly invocation itself, and what a spent budget did not reach is handed on.

The contracts are clones of the sales contract of test_reminders_support (Asia/Shanghai), each with
its own number: pay-1's "7 days before" notice is due Tue 2030-01-08 at 09:00 local (01:00 UTC),
and its subject names the contract, so each email says which reminder it is.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.test_reminders_support import active_contract, fire, sales_2030, ses_throttled
from tests.support.interleave import at_once
from tests.support.stack import StackHarness

AT = "2030-01-08T01:00"
DUE_AT = datetime(2030, 1, 8, 1, 0, tzinfo=UTC)
PAGE_SIZE = 50  # hourly.DEFAULT_PAGE_SIZE, set explicitly so the arithmetic below is this file's
# moto spends ~25-30 ms of CPU per reminder sent (claim, contract read, SES, mark sent, timeline
# event: five calls through its response serialiser), so the full hour takes minutes (10,000: 370 s,
# 18 s of it seeding, on two shared cores); the default keeps this test under a minute.
# SIGNBRIDGE_VOLUME_REMINDERS=10000 runs the full hour.
VOLUME = int(os.environ.get("SIGNBRIDGE_VOLUME_REMINDERS", "1000"))


def subject(number: str) -> str:
    return f"付款提醒：{number} 预付款 将于 2030年1月15日 到期"


@dataclass
class Clones:
    numbers: list[str]  # the contract numbers, one reminder each, all due at AT
    keys: list[tuple[str, str]]  # (contract_key, reminder_key)


def clone_contracts(stack: StackHarness, count: int) -> Clones:
    """`count` active contracts, each with pay-1's "7 days before" reminder pending and due at AT.

    The first contract goes through the lifecycle and the planner (test_reminders_support); the
    others are copies of it written in batches, each with the planner's item for that key (the same
    Desired the planner made, under the clone's id and shard), as replan_contract would store it."""
    from chalicelib.reminders.scheduling import PENDING, desired_items, shard_for, tenant_settings
    from chalicelib.store.contracts import contract_key
    from chalicelib.store.models import ContractRecord, ReminderRecord

    record = active_contract(stack, sales_2030())
    cid = record.contract_id
    wanted = f"{cid}:payment:pay-1:2030-01-15:before:-7d"
    planned = {d.key: d for d in desired_items(record, tenant_settings(record.tenant_id), DUE_AT - timedelta(days=1))}
    want = planned[wanted]
    assert want.due_at == DUE_AT
    numbers = [record.number]
    keys = [(contract_key(record.tenant_id, cid), wanted)]
    row = ContractRecord.get(record.tenant_id, cid, consistent_read=True)
    with ContractRecord.batch_write() as contracts, ReminderRecord.batch_write() as reminders:
        for i in range(1, count):
            clone_id, number = f"ctr_clone{i:06d}", f"HT-2030-{i:05d}"
            contracts.save(ContractRecord(**{**row.attribute_values, "contract_id": clone_id, "number": number,
                                             "document": {**record.document, "number": number}}))
            key = wanted.replace(cid, clone_id, 1)
            reminders.save(ReminderRecord(
                contract_key=contract_key(record.tenant_id, clone_id), reminder_key=key, tenant_id=record.tenant_id,
                contract_id=clone_id, kind=want.kind, due_at=want.due_at, pending_shard=shard_for(key),
                state=PENDING, to=list(want.to), cc=list(want.cc), detail=want.detail))
            numbers.append(number)
            keys.append((contract_key(record.tenant_id, clone_id), key))
    return Clones(numbers, keys)


def sent_count() -> int:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses import ses_backends

    return len(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


@dataclass
class Invocation:
    job: dict[str, Any]
    sent: int  # SES messages this invocation sent


def next_message() -> dict[str, Any] | None:
    from chalicelib.core.aws import client, queue_url
    from chalicelib.core.config import settings

    messages = client("sqs").receive_message(QueueUrl=queue_url(settings().jobs_queue_name), MaxNumberOfMessages=1,
                                             WaitTimeSeconds=0).get("Messages", [])
    return messages[0] if messages else None


def drain(stack: StackHarness, limit: int = 100_000) -> list[Invocation]:
    """Runs the jobs queue dry through the app's SQS handler, one message per invocation as Lambda
    does, counting what each invocation sent."""
    runs: list[Invocation] = []
    while (message := next_message()) is not None:
        before = sent_count()
        stack.run_job(message)
        runs.append(Invocation(json.loads(message["Body"]), sent_count() - before))
        assert len(runs) < limit, "the jobs queue does not drain"
    return runs


def states(keys: list[tuple[str, str]]) -> Counter[str]:
    from chalicelib.store.models import ReminderRecord

    return Counter(item.state for item in ReminderRecord.batch_get(keys, consistent_read=True))


def attempts(keys: list[tuple[str, str]]) -> Counter[int]:
    from chalicelib.store.models import ReminderRecord

    return Counter(int(item.attempts) for item in ReminderRecord.batch_get(keys, consistent_read=True))


@pytest.fixture
def paging(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("SIGNBRIDGE_REMINDER_PAGE_SIZE", str(PAGE_SIZE))
    monkeypatch.setenv("SIGNBRIDGE_SES_MAX_SEND_RATE", "0")  # no pacing delays: the queue drains at once
    return monkeypatch


def test_a_busy_hour_is_fanned_out_and_each_reminder_sent_once(stack: StackHarness, paging: Any) -> None:
    started = time.perf_counter()
    clones = clone_contracts(stack, VOLUME)
    seeded = time.perf_counter()
    # A small budget: every invocation starts no new item after one second (a page of 50 takes
    # longer than that in moto), and hands on what it did not reach.
    paging.setenv("SIGNBRIDGE_REMINDER_BUDGET_SECONDS", "1")

    hourly = fire(stack, AT)
    # The hourly invocation sent nothing itself: it paged what it read out to the jobs queue (and,
    # if reading everything took longer than its budget, left a job to read on).
    assert hourly["sent"] == 0 and sent_count() == 0
    assert hourly["pages"] == -(-hourly["read"] // PAGE_SIZE)  # one contract each: full pages
    assert hourly["read"] == VOLUME or hourly["continues"]

    runs = drain(stack)
    planners = [r for r in runs if "resume" in r.job]
    pages = [r for r in runs if "items" in r.job]
    assert len(planners) + len(pages) == len(runs)
    # Each invocation stayed within its budget: no job sent more than a page, a planner sent nothing,
    # and each page job ran its own page (or the rest of one) and no more.
    assert all(len(r.job["items"]) <= PAGE_SIZE and r.sent <= len(r.job["items"]) for r in pages)
    assert all(r.sent == 0 for r in planners)
    assert len(pages) >= VOLUME // PAGE_SIZE
    assert max(r.sent for r in runs) < VOLUME
    # Exactly once: one email per reminder, each naming its own contract, none twice; one claim each.
    subjects = Counter(e.subject for e in stack.sent_emails())
    assert subjects == Counter(subject(n) for n in clones.numbers)
    assert states(clones.keys) == Counter({"sent": VOLUME})
    assert attempts(clones.keys) == Counter({1: VOLUME})
    assert fire(stack, "2030-01-08T02:00")["read"] == 0  # nothing is left in the due index
    rests = sum(1 for r in pages if len(r.job["items"]) < PAGE_SIZE)  # mostly the rest of a page, handed on
    print(f"\n{VOLUME} reminders: seeded in {seeded - started:.1f} s, sent in {time.perf_counter() - seeded:.1f} s; "
          f"{len(runs)} job invocations: {len(planners)} planners, {len(pages)} pages ({rests} short)")


def page_messages(runs: list[Invocation]) -> list[dict[str, Any]]:
    return [r.job for r in runs if "items" in r.job]


def test_a_page_job_delivered_twice_sends_nothing_twice(stack: StackHarness, paging: Any) -> None:
    from devstack.lambda_runtime import FakeLambdaContext, sqs_event

    paging.setenv("SIGNBRIDGE_REMINDER_PAGE_SIZE", "2")
    clones = clone_contracts(stack, 5)
    assert fire(stack, AT)["pages"] == 3  # 2 + 2 + 1
    first = stack.receive_job("reminders")
    page = json.loads(first["Body"])["items"]
    assert len(page) == 2

    # SQS delivers the same message to two consumers at once (its visibility ran out while the
    # first was still at it): both run the page; each reminder goes out once.
    at_once(lambda: stack.app.process_job(sqs_event("arn:aws:sqs:us-east-1:123456789012:jobs", [first]),
                                          FakeLambdaContext("process_job")))
    assert sent_count() == 2
    stack.ack_job(first)

    # ... and once more later (at least once: a third delivery after both finished): nothing new.
    from chalicelib.core.aws import client, queue_url
    from chalicelib.core.config import settings

    client("sqs").send_message(QueueUrl=queue_url(settings().jobs_queue_name), MessageBody=first["Body"])
    runs = drain(stack)
    assert [len(m["items"]) for m in page_messages(runs)] == [2, 1, 2]  # the two other pages, the repeat
    assert [r.sent for r in runs] == [2, 1, 0]
    assert Counter(e.subject for e in stack.sent_emails()) == Counter(subject(n) for n in clones.numbers)
    assert states(clones.keys) == Counter({"sent": 5})
    assert attempts(clones.keys) == Counter({1: 5})  # one claim each: the repeats found them claimed or sent


def test_ses_throttling_is_retried_by_botocore_then_through_the_queue(stack: StackHarness, paging: Any) -> None:
    paging.setenv("SIGNBRIDGE_REMINDER_PAGE_SIZE", "2")
    clones = clone_contracts(stack, 4)
    assert fire(stack, AT)["pages"] == 2
    # SES refuses the next three attempts: botocore's three attempts at the page's first send.
    with ses_throttled(3) as throttle:
        runs = drain(stack)
    pages = page_messages(runs)
    # The first page stopped at its first item (nothing sent), the runner retried that page (attempt 2,
    # no delay in tests) after the other page had gone out, and it went out in full.
    assert [(len(m["items"]), m.get("attempt", 1)) for m in pages] == [(2, 1), (2, 1), (2, 2)]
    assert [r.sent for r in runs] == [0, 2, 2]
    assert "TooManyRequestsException" in pages[2]["last_error"]
    assert pages[2]["items"] == pages[0]["items"]
    # One SendEmail of ours per email plus the refused one; botocore's retries came on top, in it.
    assert (throttle.operations, throttle.attempts) == (5, 7)
    assert Counter(e.subject for e in stack.sent_emails()) == Counter(subject(n) for n in clones.numbers)
    assert states(clones.keys) == Counter({"sent": 4})
    # The refused reminder was claimed twice (its claim was released after SES refused), the rest once.
    assert attempts(clones.keys) == Counter({1: 3, 2: 1})


def test_a_spent_budget_hands_the_rest_on(stack: StackHarness, paging: Any) -> None:
    # A budget spent from the start: each invocation still does one item (work always advances)
    # and hands on the rest. Three reminders are a quiet hour: one page, sent by the hourly run.
    paging.setenv("SIGNBRIDGE_REMINDER_BUDGET_SECONDS", "0")
    clones = clone_contracts(stack, 3)
    hourly = fire(stack, AT)
    assert (hourly["read"], hourly["pages"], hourly["sent"], hourly["left"]) == (3, 0, 1, 2)
    runs = drain(stack)
    assert [(len(r.job["items"]), r.sent) for r in runs] == [(2, 1), (1, 1)]
    assert states(clones.keys) == Counter({"sent": 3})
    assert sent_count() == 3


def test_a_planner_out_of_budget_reads_on_in_a_job(stack: StackHarness, paging: Any) -> None:
    # Reading two items per shard at a time and a spent budget: each planner invocation reads one
    # chunk of each unfinished shard, pages what it read, and leaves a job to read on.
    paging.setenv("SIGNBRIDGE_REMINDER_BUDGET_SECONDS", "0")
    paging.setenv("SIGNBRIDGE_REMINDER_READ_CHUNK", "2")
    paging.setenv("SIGNBRIDGE_REMINDER_PAGE_SIZE", "10")
    count = 13  # in four shards: one shard holds at least four, so one chunk each cannot read them all
    clones = clone_contracts(stack, count)
    hourly = fire(stack, AT)
    assert hourly["continues"] and hourly["sent"] == 0 and hourly["read"] <= 2 * 4
    runs = drain(stack)
    planners = [r.job for r in runs if "resume" in r.job]
    assert planners and all(r.sent == 0 for r in runs if "resume" in r.job)
    pages = page_messages(runs)
    assert sum(len(m["items"]) for m in pages if m.get("attempt", 1) == 1) >= count
    assert states(clones.keys) == Counter({"sent": count})
    assert Counter(e.subject for e in stack.sent_emails()) == Counter(subject(n) for n in clones.numbers)


class Killed(BaseException):
    """The Lambda being killed: not an Exception, so nothing in the job catches it."""


def test_a_page_job_killed_after_its_claim(stack: StackHarness, paging: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import chalicelib.notify.mailer as mailer
    from chalicelib.store import contracts as store

    paging.setenv("SIGNBRIDGE_REMINDER_PAGE_SIZE", "3")
    clones = clone_contracts(stack, 6)
    assert fire(stack, AT)["pages"] == 2
    real_send = mailer.send
    calls: list[str] = []

    def dies_on_second(email: Any) -> str:  # the Lambda dies while SES is being called
        calls.append(email.subject)
        if len(calls) == 2:
            raise Killed("the job's Lambda was killed")
        return real_send(email)

    message = stack.receive_job("reminders")
    monkeypatch.setattr(mailer, "send", dies_on_second)
    with pytest.raises(Killed):
        stack.run_job(message)  # raises: the message is not deleted
    monkeypatch.setattr(mailer, "send", real_send)
    assert sent_count() == 1

    # SQS delivers it again; here before the 10-minute lease has expired (in AWS the visibility
    # timeout, 12 minutes, comes after it): the claimed reminder is passed over, the third sent.
    stack.release_job(message)
    runs = drain(stack)
    assert sorted(r.sent for r in runs) == [1, 3]  # the redelivery, the other page
    assert states(clones.keys) == Counter({"sent": 5, "pending": 1})

    # Once the lease has expired, the item goes out with the next hourly run (or a redelivery), once.
    later = datetime.now(UTC) + timedelta(minutes=11)
    monkeypatch.setattr(store, "now_utc", lambda: later)
    assert fire(stack, "2030-01-08T02:00")["sent"] == 1
    assert fire(stack, "2030-01-08T03:00")["read"] == 0
    assert drain(stack) == []
    assert Counter(e.subject for e in stack.sent_emails()) == Counter(subject(n) for n in clones.numbers)
    assert attempts(clones.keys) == Counter({1: 5, 2: 1})


def test_busy_hours_are_paced_to_the_ses_sending_rate(stack: StackHarness, paging: Any) -> None:
    # 3 pages of 2 at 1 email a second: the second page starts 2 s after the first, the third after 4 s.
    paging.setenv("SIGNBRIDGE_REMINDER_PAGE_SIZE", "2")
    paging.setenv("SIGNBRIDGE_SES_MAX_SEND_RATE", "1")
    clone_contracts(stack, 6)
    assert fire(stack, AT)["pages"] == 3
    planned = time.monotonic()
    visible: list[float] = []
    while len(visible) < 3 and time.monotonic() - planned < 15:
        message = next_message()
        if message is None:
            time.sleep(0.1)
            continue
        visible.append(time.monotonic() - planned)
        stack.run_job(message)
    assert len(visible) == 3 and sent_count() == 6
    # SQS kept each page back for its delay (a lower bound: a busy machine only makes it later).
    assert visible[0] < 1.5 <= visible[1] and 3.5 <= visible[2]
