"""DocuSign's API budget runs out mid-batch: nothing fails, nothing is dead-lettered, every contract is
sent once the budget resets (issue 12).

DocuSign answers a spent hourly budget with 400 `HOURLY_APIINVOCATION_LIMIT_EXCEEDED` and reports
the budget on every answer (`X-RateLimit-Limit/-Remaining/-Reset`); the sandbox does the same, with
its "hour" shortened to a few seconds (`hour_seconds`) so that the reset comes within the test."""

from __future__ import annotations

import json
import time

import pytest

from tests.reliability.batch import envelopes_per_contract, post_contracts, statuses
from tests.support.stack import StackHarness

HOURLY = 4  # calls per window
WINDOW_SECONDS = 6


def _dead_letters(stack: StackHarness) -> int:
    from chalicelib.core.aws import client, queue_url
    from chalicelib.core.config import settings

    attributes = client("sqs").get_queue_attributes(
        QueueUrl=queue_url(settings().jobs_queue_name + "-dlq"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(v) for v in attributes.values())


def _drive(stack: StackHarness, ids: list[str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        stack.drain_jobs(max_rounds=1000)
        now = statuses(stack, ids)
        if all(s == "sent" for s in now.values()) or time.monotonic() > deadline:
            return now
        time.sleep(0.2)


def test_the_budget_runs_out_mid_batch_and_every_contract_is_sent_after_the_reset(
        stack: StackHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    # One worker here: nothing to keep back for other containers' calls in flight.
    monkeypatch.setenv("SIGNBRIDGE_DOCUSIGN_HOURLY_RESERVE", "0")
    stack.sandbox("POST", "/sandbox/limits", {"hourly": HOURLY, "hour_seconds": WINDOW_SECONDS})
    ids = post_contracts(stack, 3 * HOURLY, "budget")  # three windows' worth of creates

    final = _drive(stack, ids, timeout=8 * WINDOW_SECONDS)

    assert set(final.values()) == {"sent"}, final
    assert _dead_letters(stack) == 0
    per = envelopes_per_contract(stack, ids)
    assert sorted(per.values()) == [1] * len(ids)  # one envelope each: a wait never made a duplicate
    sends = [json.loads(body) for body in stack.job_log if json.loads(body)["job"] == "send"]
    waited = [m for m in sends if m.get("rate_limited")]
    assert waited, "the budget never ran out: the test did not test anything"
    assert all(m.get("attempt", 1) == 1 for m in sends), "a wait for the budget spent an attempt"
    timeline = [e["type"] for cid in ids for e in stack.timeline(cid)]
    assert "send_failed" not in timeline and "job_dead_lettered" not in timeline
    # One call per contract, the create: no look-up first, not even after a wait for the budget.
    usage = next(iter(stack.sandbox("GET", "/sandbox/limits")["accounts"].values()))
    assert usage["total"] == len(ids), usage


def test_a_refusal_the_governor_did_not_foresee_is_a_wait_too(stack: StackHarness, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """Another container spent the last call: DocuSign's 400 is taken as the budget's answer, the
    job waits for the reset and sends then, still on its first attempt."""
    import logging

    from tests.support.esign import envelope_api

    monkeypatch.setenv("SIGNBRIDGE_DOCUSIGN_HOURLY_RESERVE", "0")
    [first] = post_contracts(stack, 1, "unforeseen-1")
    assert _drive(stack, [first], timeout=30) == {first: "sent"}
    # A fresh window of two calls: "another container" (the SDK, not through the governor) spends
    # one, after which the governor's newest reading still says one is left. It is not.
    stack.sandbox("POST", "/sandbox/limits", {"hourly": 2, "hour_seconds": WINDOW_SECONDS})
    api, account_id = envelope_api()
    api.list_status_changes(account_id, from_date="2020-01-01", _request_timeout=(3, 10))
    api.list_status_changes(account_id, from_date="2020-01-01", _request_timeout=(3, 10))
    caplog.set_level(logging.WARNING)
    [second] = post_contracts(stack, 1, "unforeseen-2")
    assert _drive(stack, [second], timeout=6 * WINDOW_SECONDS) == {second: "sent"}
    assert _dead_letters(stack) == 0
    refused = [r for r in caplog.records if r.getMessage() == "DocuSign rate limit"]
    assert refused and refused[0].__dict__.get("error_code") == "HOURLY_APIINVOCATION_LIMIT_EXCEEDED"
    sends = [json.loads(body) for body in stack.job_log if json.loads(body)["job"] == "send"]
    assert all(m.get("attempt", 1) == 1 for m in sends)
