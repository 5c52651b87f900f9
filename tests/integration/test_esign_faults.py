"""E-signature under faults, through the real pieces (webhook → SQS job → SDK → sandbox → Connect →
app): each ends with exactly one envelope at "DocuSign", the right final status and every expected
event on the contract's timeline."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from chalicelib.jobs import send as send_job
from tests.support.esign import send, signer, signing_link, submit, webhook_body
from tests.support.interleave import at_once
from tests.support.stack import StackHarness, form_post


class SimulatedCrash(BaseException):
    """The Lambda dies (timeout, out of memory): nothing in our code gets to handle it."""


def two_signer_body(crm_record_id: str, *, second_delivery: str = "embedded") -> dict[str, Any]:
    return webhook_body("sales.en", crm_record_id=crm_record_id, signers=[
        signer("Rachel Tan", "rachel.tan@harbourline.example", 1),
        signer("Min Wang", "wang.min@yunti.example", 2, delivery=second_delivery, party="ours"),
    ])


def events_of(stack: StackHarness, contract_id: str, type_: str) -> list[dict[str, Any]]:
    return [e for e in stack.timeline(contract_id) if e["type"] == type_]


def assert_one_envelope(stack: StackHarness, contract_id: str) -> dict[str, Any]:
    everything = stack.sandbox_envelopes()
    assert len(everything) == 1, [(e["envelopeId"], e["status"]) for e in everything]
    mine = stack.sandbox_envelopes(contract_id)
    assert len(mine) == 1
    contract = stack.get_contract(contract_id)
    assert contract["envelope_id"] == mine[0]["envelopeId"]
    return mine[0]


def sign_in_browserless(stack: StackHarness, contract_id: str, position: int, *, open_first: bool = False) -> None:
    """The embedded signer follows the stable link to the sandbox and signs (plain HTTP)."""
    link = signing_link(stack, contract_id, position)
    opened = stack.client.http.get(link["url"].split(stack.api_url, 1)[1])
    assert opened.status_code == 302, opened.body
    view = opened.headers["Location"]
    if open_first:  # the signer looks at the page first: "delivered" events go out now
        import urllib.request

        with urllib.request.urlopen(view, timeout=30) as page:
            assert b'id="sign"' in page.read()
    status, location = form_post(view, {"action": "sign"})
    assert status == 302 and location and "event=signing_complete" in location, (status, location)


@pytest.mark.parametrize("connect_drops", [2, 0], ids=["connect-lost-too", "connect-repairs-first"])
def test_send_job_dies_after_docusign_accepted_the_envelope(stack: StackHarness, connect_drops: int) -> None:
    """The job dies between create_envelope and recording the envelope id; SQS delivers it again."""
    if connect_drops:
        # envelope-sent and recipient-sent are lost too, so only the job itself can find the envelope.
        stack.sandbox("POST", "/sandbox/faults", {"connect_drop": connect_drops})
    contract_id = submit(stack, webhook_body("sales.en", crm_record_id=f"crash-{connect_drops}",
                                             signers=[signer("Rachel Tan", "rachel.tan@harbourline.example", 1)]))

    created: list[str] = []

    def die(ref: Any) -> None:
        created.append(ref.envelope_id)
        raise SimulatedCrash("the Lambda was killed")

    message = stack.receive_job("send")
    send_job.after_create_hook = die
    try:
        with pytest.raises(SimulatedCrash):
            stack.run_job(message)
    finally:
        send_job.after_create_hook = None
    assert len(created) == 1 and len(stack.sandbox_envelopes(contract_id)) == 1
    stack.settle_connect()
    if connect_drops:
        assert stack.get_contract(contract_id)["envelope_id"] is None  # nothing recorded it

    stack.release_job(message)  # the visibility timeout runs out: SQS delivers the job again
    contract = stack.wait_status(contract_id, "sent")
    envelope = assert_one_envelope(stack, contract_id)
    assert envelope["envelopeId"] == created[0] == contract["envelope_id"]
    sent_events = [e for e in contract["timeline"] if e["type"] == "envelope_sent"]
    assert len(sent_events) == 1
    if connect_drops:
        assert sent_events[0]["detail"]["how"] == "recovered"
        assert [e["event"] for e in stack.connect_log(outcome="dropped")] == ["envelope-sent", "recipient-sent"]
    else:
        # Connect got there first (it found the contract by the envelope's custom field and recorded
        # the envelope); the redelivered job then has nothing left to do.
        assert sent_events[0]["detail"]["source"] == "connect"
    assert [e["type"] for e in contract["timeline"]].count("sending") == 1

    # And it goes on to be signed normally.
    sign_in_browserless(stack, contract_id, 1)
    done = stack.wait_status(contract_id, "active")
    assert done["signers"][0]["status"] == "signed" and done["documents"]["signed"]["sha256"]
    assert_one_envelope(stack, contract_id)


def test_two_workers_race_for_the_same_contract(stack: StackHarness) -> None:
    """SQS delivers the send job twice, to two workers at the same moment."""
    # A slow DocuSign keeps the first worker inside the critical section while the second arrives.
    stack.sandbox("POST", "/sandbox/faults", {"slow_ms": 400, "slow_count": 2, "only_method": "POST",
                                               "only_path": "/envelopes"})
    contract_id = submit(stack, two_signer_body("race"))
    message = stack.receive_job("send")
    from chalicelib.jobs.runner import handle

    outcomes = at_once(lambda: handle(message["Body"]))  # what the SQS handler runs for this message
    assert sum(o.startswith("sent ") for o in outcomes) == 1, outcomes
    # The loser found the lease taken and backs off through SQS (or, if it came late, saw it sent).
    loser = next(o for o in outcomes if not o.startswith("sent "))
    assert loser.startswith("retry in") or loser.startswith("nothing to do"), outcomes
    stack.ack_job(message)

    contract = stack.wait_status(contract_id, "sent")
    stack.drain_jobs()  # the loser's retry, if any: nothing to do any more
    if loser.startswith("retry in"):
        assert any(json.loads(b).get("attempt") == 2 for b in stack.job_log)
    assert_one_envelope(stack, contract_id)
    types = [e["type"] for e in stack.timeline(contract_id)]
    assert types.count("sending") == 1 and types.count("envelope_sent") == 1 and types.count("rendered") == 1
    assert contract["status"] == "sent"


def test_a_5xx_and_timeout_storm_is_ridden_out(stack: StackHarness, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """Every kind of transient DocuSign failure, one per delivery of the send job, then success."""
    monkeypatch.setenv("DOCUSIGN_READ_TIMEOUT_SECONDS", "0.3")
    caplog.set_level(logging.WARNING)
    contract_id = submit(stack, two_signer_body("storm"))
    storm = [
        # The first attempt creates without looking first (nothing can exist yet): its create is refused.
        ({"rest_5xx": 1, "only_method": "POST"}, "HTTP 500"),  # create itself, refused before processing
        # Every later attempt finds the contract `sending` and looks for an envelope before creating.
        ({"rest_5xx": 1, "only_method": "GET"}, "HTTP 500"),  # the look-up before create
        # A read timeout: urllib3 itself retries a GET three times, so four slow answers.
        ({"slow_ms": 700, "slow_count": 4, "only_method": "GET"}, "Read timed out"),
        # (A rate limit is no failure: the job waits for the budget without spending an attempt;
        # tests/integration/test_docusign_budget.py.)
    ]
    for attempt, (fault, reason) in enumerate(storm, start=1):
        stack.sandbox("POST", "/sandbox/faults", fault)
        message = stack.receive_job("send")
        assert json.loads(message["Body"]).get("attempt", 1) == attempt
        stack.run_job(message)
        assert stack.sandbox("GET", "/sandbox/faults")["rest"] == [], fault  # the fault was spent on us
        queued = stack.receive_job("send")  # re-enqueued with backoff, not failed
        retry = json.loads(queued["Body"])
        assert retry["attempt"] == attempt + 1 and reason in retry["last_error"], retry
        stack.release_job(queued)
        assert stack.get_contract(contract_id)["status"] == "sending"
        assert stack.sandbox_envelopes() == []
    contract = stack.wait_status(contract_id, "sent")

    assert_one_envelope(stack, contract_id)
    attempts = [json.loads(b).get("attempt", 1) for b in stack.job_log if json.loads(b)["job"] == "send"]
    assert attempts == list(range(1, len(storm) + 2)), attempts
    # Every answer DocuSign gave is logged with its trace token; the timeout has none to give.
    failures = [r for r in caplog.records if r.getMessage() == "DocuSign call failed"]
    assert len(failures) == 2, [(getattr(r, "status", None), getattr(r, "error_code", None)) for r in failures]
    assert all(getattr(r, "trace_token", None) and getattr(r, "retryable", None) for r in failures)
    assert len([r for r in caplog.records if r.getMessage() == "DocuSign unreachable"]) == 1
    assert len([r for r in caplog.records if r.getMessage() == "job will be retried"]) == len(storm)

    types = [e["type"] for e in contract["timeline"]]
    assert types.count("envelope_sent") == 1 and types.count("sending") == 1
    assert contract["status"] == "sent" and "send_failed" not in types


@pytest.mark.parametrize("retry", ["after-docusign-finished", "while-docusign-still-working"])
def test_a_create_that_timed_out_is_not_sent_twice(stack: StackHarness, monkeypatch: pytest.MonkeyPatch,
                                                   retry: str) -> None:
    """create_envelope times out at our end, but DocuSign goes on and makes the envelope."""
    monkeypatch.setenv("DOCUSIGN_READ_TIMEOUT_SECONDS", "0.3")
    stack.sandbox("POST", "/sandbox/faults", {"slow_ms": 1200, "slow_count": 1, "only_method": "POST",
                                               "only_path": "/envelopes"})
    contract_id = submit(stack, two_signer_body(f"timeout-{retry}"))
    stack.run_job(stack.receive_job("send"))
    assert stack.get_contract(contract_id)["status"] == "sending"  # retried through SQS, not failed

    def envelopes_made(n: int) -> None:  # waits without running any job
        deadline = time.monotonic() + 20
        while len(stack.sandbox_envelopes()) != n:
            assert time.monotonic() < deadline, f"expected {n} envelope(s) at DocuSign"
            time.sleep(0.05)

    if retry == "after-docusign-finished":
        # Connect's word on it is lost as well, so only the job's look-up can find the envelope.
        stack.sandbox("POST", "/sandbox/faults", {"connect_drop": 2})
        envelopes_made(1)  # the backoff outlasts DocuSign's slow request (10 s and more in production)
        contract = stack.wait_status(contract_id, "sent")
        assert [e["detail"]["how"] for e in contract["timeline"] if e["type"] == "envelope_sent"] == ["recovered"]
        assert_one_envelope(stack, contract_id)
        return

    # The retry comes first: it finds nothing yet and creates a second envelope.
    contract = stack.wait_status(contract_id, "sent")
    envelopes_made(2)
    stack.settle_connect()
    kept = stack.get_contract(contract_id)["envelope_id"]
    assert kept == contract["envelope_id"]
    # The daily reconcile sees the stray (it carries our contract id) and voids it before anyone signs.
    result = stack.fire_schedule("daily_reconcile", "2026-12-02T02:30:00Z")
    assert result["duplicates_voided"] == 1, result
    states = {e["envelopeId"]: (e["status"], e["voidedReason"]) for e in stack.sandbox_envelopes(contract_id)}
    assert states.pop(kept) == ("sent", None)
    [(status, reason)] = states.values()
    assert status == "voided" and reason.startswith(f"Duplicate of envelope {kept}")
    stack.settle_connect()
    # Its Connect messages are acknowledged and ignored: the contract is untouched and not retried.
    stray = next(iter(states))
    assert {e["outcome"] for e in stack.connect_log(envelope_id=stray)} == {"delivered"}
    final = stack.get_contract(contract_id)
    assert final["status"] == "sent" and final["envelope_id"] == kept
    assert [e["detail"]["duplicate"] for e in final["timeline"] if e["type"] == "duplicate_envelope"] == [stray]


def test_a_dropped_connect_message_is_repaired_by_the_daily_reconcile(stack: StackHarness) -> None:
    contract = send(stack, two_signer_body("dropped"))
    contract_id = contract["contract_id"]
    stack.settle_connect()
    # Everything Connect would say about the signing is lost on the way.
    stack.sandbox("POST", "/sandbox/faults", {"connect_drop": 50})
    sign_in_browserless(stack, contract_id, 1)
    sign_in_browserless(stack, contract_id, 2)
    stack.settle_connect()
    dropped = {e["event"] for e in stack.connect_log(outcome="dropped")}
    assert {"recipient-completed", "envelope-completed"} <= dropped
    stale = stack.get_contract(contract_id)
    assert stale["status"] == "sent" and [s["status"] for s in stale["signers"]] == ["sent", "created"]
    stack.sandbox("DELETE", "/sandbox/faults")

    result = stack.fire_schedule("daily_reconcile", "2026-12-02T02:30:00Z")
    assert result["repaired"] == 1 and result["seen"] >= 1, result
    done = stack.wait_status(contract_id, "active")
    assert [s["status"] for s in done["signers"]] == ["signed", "signed"]
    completed = [e for e in done["timeline"] if e["type"] == "envelope_completed"]
    assert len(completed) == 1 and completed[0]["detail"]["source"] == "reconcile"
    for expected in ("envelope_sent", "signers_updated", "envelope_completed", "archived", "active"):
        assert expected in [e["type"] for e in done["timeline"]]
    assert done["documents"]["signed"]["sha256"]
    assert_one_envelope(stack, contract_id)

    # The next run starts from its checkpoint and finds nothing left to repair.
    again = stack.fire_schedule("daily_reconcile", "2026-12-03T02:30:00Z")
    assert again["repaired"] == 0


def test_duplicated_and_reordered_connect_messages(stack: StackHarness) -> None:
    stack.sandbox("POST", "/sandbox/faults", {"connect_duplicate": 40})
    contract = send(stack, two_signer_body("dup-reorder"))
    contract_id = contract["contract_id"]
    sign_in_browserless(stack, contract_id, 1)
    stack.wait_until(lambda: stack.get_contract(contract_id)["signers"][0]["status"] == "signed",
                     what="signer 1 signed")
    stack.settle_connect()
    # The second signer opens the page (delivered), then signs: recipient-completed is held back
    # until envelope-completed has been queued, so the envelope's completion arrives first.
    link = signing_link(stack, contract_id, 2)
    view = stack.client.http.get(link["url"].split(stack.api_url, 1)[1]).headers["Location"]
    import urllib.request

    with urllib.request.urlopen(view, timeout=30) as page:
        assert b'id="sign"' in page.read()
    stack.settle_connect()
    stack.sandbox("POST", "/sandbox/faults", {"connect_reorder": 1})
    status, _ = form_post(view, {"action": "sign"})
    assert status == 302

    done = stack.wait_status(contract_id, "active")
    stack.settle_connect()
    log = [e for e in stack.connect_log() if e["outcome"] == "delivered"]
    order = [e["event"] for e in log if not e["duplicate"]]
    assert order.index("envelope-completed") < len(order) - 1 and order[-1] == "recipient-completed", order
    assert sum(e["duplicate"] for e in log) >= 8  # the twins were delivered (and acknowledged) too
    assert all(e["http_status"] == 200 for e in log)

    final = stack.get_contract(contract_id)
    assert final["status"] == "active"
    assert [s["status"] for s in final["signers"]] == ["signed", "signed"]
    types = [e["type"] for e in final["timeline"]]
    for once in ("envelope_sent", "envelope_delivered", "envelope_completed", "archived", "active"):
        assert types.count(once) == 1, (once, types)
    # Statuses only ever moved forward.
    order_of = ["received", "sending", "sent", "delivered", "completed", "active"]
    statuses = [e["status"] for e in final["timeline"] if e["status"] in order_of]
    assert statuses == sorted(statuses, key=order_of.index), statuses
    assert done["documents"]["signed"]["sha256"]
    assert_one_envelope(stack, contract_id)
