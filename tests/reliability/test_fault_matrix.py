"""The fault matrix: each row is a batch of contracts driven through the real pieces (webhook → SQS job
→ SDK → DocuSign sandbox → Connect → app → archive → CRM callback) while one thing goes wrong, and each
ends with every contract where it should be, one envelope each, and no 5xx from our code.

Faults come from the doubles' own switches (the sandbox's `/sandbox/faults`, the receiver's
`/behaviour`, the embedded AWS's transaction conflicts) or from seams where a real process would die
(the send job's after_create_hook); none replaces our code."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from chalicelib.jobs import send as send_job
from devstack.embedded_aws import inject_transaction_conflicts
from tests.integration.test_esign_faults import SimulatedCrash, sign_in_browserless
from tests.reliability.batch import drive, envelopes_per_contract, outcome, post_contracts, timeline_counts
from tests.support.fixtures import volume
from tests.support.stack import StackHarness

pytestmark = pytest.mark.reliability

BATCH = volume(20)
FAULTS = 3 * BATCH // 2  # DocuSign calls refused: about one and a half per contract
CONFLICTS = 3 * BATCH // 4  # transactions cancelled during intake, then as many during the jobs
THROTTLED = 30
SENT = frozenset({"sent"})
SIGNED = frozenset({"active"})


def test_docusign_down(stack: StackHarness, reliability_row: Any) -> None:
    """DocuSign answers 5xx to the next 30 REST calls: jobs back off and retry; all are sent."""
    stack.sandbox("POST", "/sandbox/faults", {"rest_5xx": FAULTS})
    ids = post_contracts(stack, BATCH, "down")
    drive(stack, ids, SENT)
    result = outcome(stack, ids, SENT)
    reliability_row(f"DocuSign down ({FAULTS} calls answered 500)", f"{BATCH} contracts", lost=result["lost"],
                    duplicate_envelopes=result["duplicate_envelopes"], detail=str(dict(result["statuses"])))


# A small budget with short windows (the sandbox's `hour_seconds`, `burst_window_seconds`): DocuSign's
# hourly and burst limits, refused with its 400 codes and reported in its headers.
BUDGETS = {"hourly": {"hourly": 4, "hour_seconds": 4}, "burst": {"burst": 3, "burst_window_seconds": 3}}


@pytest.mark.parametrize("kind", sorted(BUDGETS))
def test_docusign_rate_limited(stack: StackHarness, reliability_row: Any, kind: str,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """DocuSign's hourly or burst budget runs out again and again: the jobs wait for it (no attempt
    spent, nothing dead-lettered), none failed."""
    monkeypatch.setenv("SIGNBRIDGE_DOCUSIGN_HOURLY_RESERVE", "0")
    monkeypatch.setenv("SIGNBRIDGE_DOCUSIGN_BURST_RESERVE", "0")
    monkeypatch.setenv("SIGNBRIDGE_DOCUSIGN_BURST_WINDOW_SECONDS", "3")
    stack.sandbox("POST", "/sandbox/limits", BUDGETS[kind])
    ids = post_contracts(stack, BATCH, f"rate-{kind}")
    drive(stack, ids, SENT)
    result = outcome(stack, ids, SENT)
    waits = sum(1 for body in stack.job_log if json.loads(body).get("rate_limited"))
    reliability_row(f"DocuSign rate limited ({kind} budget {BUDGETS[kind]})", f"{BATCH} contracts",
                    lost=result["lost"], duplicate_envelopes=result["duplicate_envelopes"],
                    detail=f"{waits} jobs waited for the budget; {dict(result['statuses'])}")


def test_worker_killed_after_docusign_accepted(stack: StackHarness, reliability_row: Any) -> None:
    """Every send job dies once right after DocuSign created the envelope (Lambda timeout, OOM): SQS
    delivers it again; the job finds the envelope it made instead of making a second one."""
    ids = post_contracts(stack, BATCH, "killed")
    crashed: set[str] = set()

    def die_once(ref: Any) -> None:
        if ref.envelope_id not in crashed:
            crashed.add(ref.envelope_id)
            raise SimulatedCrash("the Lambda was killed")

    send_job.after_create_hook = die_once
    try:
        in_flight = [stack.receive_job("send") for _ in range(BATCH)]
        for message in in_flight:
            with pytest.raises(SimulatedCrash):
                stack.run_job(message)
        for message in in_flight:
            stack.release_job(message)  # its visibility timeout ran out: SQS delivers it again
        drive(stack, ids, SENT)
    finally:
        send_job.after_create_hook = None
    result = outcome(stack, ids, SENT)
    assert len(crashed) == BATCH
    # Who recorded the envelope the dead job had made: its retry (found by the contractId field) or
    # DocuSign's envelope-sent, which may arrive first.
    how = Counter(str((e.get("detail") or {}).get("how") or (e.get("detail") or {}).get("source"))
                  for cid in ids for e in stack.timeline(cid) if e["type"] == "envelope_sent")
    assert sum(how.values()) == BATCH
    reliability_row("worker killed mid-job (after DocuSign accepted)", f"{BATCH} contracts, {BATCH} kills",
                    lost=result["lost"], duplicate_envelopes=result["duplicate_envelopes"],
                    detail=f"envelope recorded by: the retried job {how['recovered']}, Connect {how['connect']}")


def _sign_all(stack: StackHarness, ids: list[str]) -> None:
    for cid in ids:
        sign_in_browserless(stack, cid, 1)


@pytest.mark.parametrize("fault", ["connect_drop", "connect_duplicate", "connect_reorder"])
def test_connect_lost_duplicated_reordered(stack: StackHarness, reliability_row: Any, fault: str) -> None:
    """Connect messages about the signing are lost (reconcile repairs), sent twice, or out of order:
    each contract is signed, archived and active once."""
    count = volume(10)
    ids = post_contracts(stack, count, fault.replace("_", "-"), embedded=True)
    drive(stack, ids, SENT)
    stack.settle_connect()
    if fault == "connect_reorder":
        for cid in ids:  # one held back per signing: the message after it overtakes it
            stack.sandbox("POST", "/sandbox/faults", {"connect_reorder": 1})
            sign_in_browserless(stack, cid, 1)
            stack.settle_connect()
    else:
        stack.sandbox("POST", "/sandbox/faults", {fault: 1000})
        _sign_all(stack, ids)
        stack.settle_connect()
        stack.sandbox("DELETE", "/sandbox/faults")
    if fault == "connect_drop":
        summary = stack.fire_schedule("daily_reconcile", "2026-11-30T02:30:00Z")
        assert summary["failed"] == 0, summary
    drive(stack, ids, SIGNED)
    result = outcome(stack, ids, SIGNED)
    doubled = 0
    for cid in ids:
        counts = timeline_counts(stack, cid, "envelope_completed", "archived", "active")
        doubled += sum(n - 1 for n in counts.values() if n > 1)
    assert doubled == 0
    names = {"connect_drop": "Connect lost (every message; reconcile repairs)",
             "connect_duplicate": "Connect duplicated (every message twice)",
             "connect_reorder": "Connect reordered (one message held per signing)"}
    reliability_row(names[fault], f"{count} contracts signed", lost=result["lost"],
                    duplicate_envelopes=result["duplicate_envelopes"],
                    detail=f"steps recorded twice: {doubled}; {dict(result['statuses'])}")


def test_callback_receiver_down(stack: StackHarness, crm: Any, reliability_row: Any) -> None:
    """The CRM's endpoint answers 503 to the next 40 callbacks: each callback is retried until it
    is taken; none is lost and none is delivered twice as a new message."""
    _hook, receiver = crm
    receiver.set_behaviour({"status": 503, "fail_times": 2 * BATCH})
    ids = post_contracts(stack, BATCH, "crm-down")
    drive(stack, ids, SENT)
    # Retries wait in SQS (a second at least, with the local delay scale): drain until the receiver
    # has refused its share and nothing is queued or delayed, by the clock, not by a count of rounds.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stack.drain_jobs(max_rounds=1000)
        if receiver.behaviour.fail_times == 0 and not _callbacks_queued(stack):
            break
        time.sleep(0.05)
    result = outcome(stack, ids, SENT)
    taken = [e for e in receiver.snapshot()["callbacks"] if e["answered"] == 200]
    per_contract: dict[str, set[str]] = {}
    for entry in taken:
        per_contract.setdefault(entry["contract_id"], set()).add(entry["status"])
    # Every status change is told once: sending, then sent (received is the answer to the webhook).
    missing = sum(1 for cid in ids if not {"sending", "sent"} <= per_contract.get(cid, set()))
    ids_taken = [e["webhook_id"] for e in taken]
    reliability_row(f"CRM callback receiver down ({2 * BATCH} callbacks answered 503)", f"{BATCH} contracts",
                    lost=result["lost"] + missing, duplicate_envelopes=result["duplicate_envelopes"],
                    detail=f"{len(taken)} callbacks taken, {len(ids_taken) - len(set(ids_taken))} taken twice")


def _callbacks_queued(stack: StackHarness) -> bool:
    from chalicelib.core.aws import client, queue_url
    from chalicelib.core.config import settings

    attributes = client("sqs").get_queue_attributes(
        QueueUrl=queue_url(settings().jobs_queue_name),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed",
                        "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return any(int(v) for v in attributes.values())


def test_store_conflicts(stack: StackHarness, reliability_row: Any) -> None:
    """DynamoDB cancels transactions for conflicts now and then (TransactionConflict), during intake
    and during the jobs: intake answers 503 + Retry-After and the CRM's retry lands; jobs retry."""
    inject_transaction_conflicts(CONFLICTS)
    ids = post_contracts(stack, BATCH, "conflicts")
    inject_transaction_conflicts(CONFLICTS)
    drive(stack, ids, SENT)
    inject_transaction_conflicts(0)
    result = outcome(stack, ids, SENT)
    per = envelopes_per_contract(stack, ids)
    reliability_row(f"store conflicts ({2 * CONFLICTS} transactions cancelled: TransactionConflict)",
                    f"{BATCH} contracts",
                    lost=result["lost"], duplicate_envelopes=result["duplicate_envelopes"],
                    detail=f"{sum(per.values())} envelopes")


def test_ses_throttled(stack: StackHarness, reliability_row: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """SES refuses 30 sends (429 Throttling) while a busy hour of reminders goes out in pages:
    botocore retries, then the page is retried through the queue; each reminder is sent once."""
    from tests.integration.test_reminders_fanout import AT, clone_contracts, drain, fire, states, subject

    monkeypatch.setenv("SIGNBRIDGE_REMINDER_PAGE_SIZE", "10")
    monkeypatch.setenv("SIGNBRIDGE_SES_MAX_SEND_RATE", "0")
    from tests.integration.test_reminders_support import ses_throttled

    count = volume(100)
    clones = clone_contracts(stack, count)
    fire(stack, AT)
    with ses_throttled(THROTTLED):
        drain(stack)
    drain(stack)
    sent = Counter(e.subject for e in stack.sent_emails())
    expected = Counter(subject(n) for n in clones.numbers)
    missing = sum((expected - sent).values())
    twice = sum((sent - expected).values())
    assert states(clones.keys) == Counter({"sent": count})
    reliability_row(f"SES throttled ({THROTTLED} sends answered 429)", f"{count} reminders due in one hour",
                    lost=missing, duplicate_envelopes=0, detail=f"emails sent twice: {twice}")
    assert twice == 0
