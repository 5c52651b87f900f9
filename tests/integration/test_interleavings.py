"""Two writers on one contract at the worst moment, forced deterministically (tests/support/interleave.py):
the rival runs while the first writer is inside its DynamoDB write, after the condition check and
before the update is applied. Whatever the interleaving, each step is on the timeline once and the
status is right.

Each test runs twice: against the embedded AWS made faithful (each DynamoDB request atomic, as in AWS),
and against a store with no isolation at all (moto as it comes: condition checked, then written, with
nothing in between held). The second shows the timeline is exactly-once by construction (each step's
marker is written only if absent, in the same transaction), not by the luck of the store's locking.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.contracts.stored import StoredDocument
from chalicelib.jobs import send as send_job
from chalicelib.store import documents
from tests.support.esign import signer, submit, webhook_body
from tests.support.interleave import arm_for_thread
from tests.support.stack import StackHarness


@pytest.fixture(params=["faithful store", "store without isolation"])
def isolation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextlib.contextmanager
def racing(isolation: str) -> Iterator[None]:
    """The window of the forced interleaving. Without isolation only there: outside it, concurrent
    writes that no test holds (the sandbox's Connect deliveries during setup) would meet moto's
    unguarded rollback, a harness artefact rather than anything DynamoDB does."""
    if isolation != "store without isolation":
        yield
        return
    import devstack.embedded_aws as embedded

    saved = embedded.DYNAMODB_LOCK
    embedded.DYNAMODB_LOCK = contextlib.nullcontext()  # type: ignore[assignment]
    try:
        yield
    finally:
        embedded.DYNAMODB_LOCK = saved


def patience(isolation: str) -> float:
    """How long the held write waits for its rival. A faithful store keeps the rival out, so the wait
    always runs out (kept short); without isolation the rival finishes inside it, so the wait ends as
    soon as it does (kept long, for a busy machine)."""
    return 30.0 if isolation == "store without isolation" else 1.5


def one_signer(crm_record_id: str) -> dict[str, Any]:
    return webhook_body("sales.en", crm_record_id=crm_record_id,
                        signers=[signer("Rachel Tan", "rachel.tan@harbourline.example", 1)])


def deliver_connect(stack: StackHarness, payload: dict[str, Any]) -> Any:
    """POSTs a Connect message to the app as DocuSign does: JSON SIM, HMAC-signed with our Connect key."""
    from chalicelib.jobs.connect_listener import connect_keys
    from devstack.sandbox.connect import sign_body

    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-DocuSign-Signature-1": sign_body(connect_keys()[0], body)}
    return stack.client.http.post("/v1/esign/docusign/connect", headers=headers, body=body)


def dropped(stack: StackHarness, event: str) -> dict[str, Any]:
    entries = [e for e in stack.connect_log() if e["outcome"] == "dropped" and e["event"] == event]
    assert entries, f"the sandbox dropped no {event}"
    return dict(entries[-1]["payload"])


def settle(stack: StackHarness, answer: Any, payload_of: Any) -> None:
    """The rival Connect message's answer: 200, or 503 when it met the other write half-done (then
    DocuSign delivers it again, and the repeat is acknowledged without a second step)."""
    if answer.status_code == 503:
        answer = deliver_connect(stack, payload_of())
    assert answer.status_code == 200, answer.body


def in_thread(work: Any) -> tuple[threading.Thread, threading.Event, dict[str, Any]]:
    done, result = threading.Event(), {}

    def run() -> None:
        try:
            result["value"] = work()
        except BaseException as err:  # noqa: BLE001 - reported by the test's assertions
            result["error"] = err
        finally:
            done.set()

    return threading.Thread(target=run, daemon=True), done, result


def count_of(stack: StackHarness, contract_id: str, type_: str) -> int:
    return stack.timeline_types(contract_id).count(type_)


def test_send_job_and_connect_record_sent_at_once(stack: StackHarness, isolation: str) -> None:
    """The send job writes `sending → sent` while DocuSign's envelope-sent (lost at first, retried)
    arrives and writes the same move: one `envelope_sent`, whoever wins."""
    # DocuSign's own envelope-sent and recipient-sent are lost here; the test delivers envelope-sent
    # itself, at the worst moment (as DocuSign's retry of it could).
    stack.sandbox("POST", "/sandbox/faults", {"connect_drop": 2})
    contract_id = submit(stack, one_signer(f"race-sent-{isolation[:5]}"))
    message = stack.receive_job("send")
    holds: list[Any] = []
    rival: dict[str, Any] = {}

    def after_create(ref: Any) -> None:
        stack.settle_connect()
        payload = dropped(stack, "envelope-sent")
        assert payload["data"]["envelopeId"] == ref.envelope_id
        thread, done, result = in_thread(lambda: deliver_connect(stack, payload))
        rival.update(done=done, result=result, thread=thread)
        holds.append(arm_for_thread(contract_id, while_held=thread.start, rival_done=done,
                                    patience=patience(isolation)))

    send_job.after_create_hook = after_create
    with racing(isolation):
        try:
            stack.run_job(message)
        finally:
            send_job.after_create_hook = None
        rival["thread"].join(30)
    assert holds and holds[0].fired.is_set(), "the send job's write was never held"
    # On a faithful store the rival waited for the write; without isolation it ran inside it.
    assert holds[0].rival_finished_inside == (isolation == "store without isolation")
    assert "error" not in rival["result"], rival["result"].get("error")
    settle(stack, rival["result"]["value"], payload_of=lambda: dropped(stack, "envelope-sent"))

    contract = stack.get_contract(contract_id)
    assert contract["status"] == "sent"
    assert count_of(stack, contract_id, "envelope_sent") == 1, stack.timeline_types(contract_id)
    assert len(stack.sandbox_envelopes(contract_id)) == 1


def test_connect_and_reconcile_record_completed_at_once(stack: StackHarness, isolation: str) -> None:
    """DocuSign's envelope-completed and the daily reconcile (which read the same change) both move the
    contract to completed at once: one `envelope_completed`, one archive job, one `archived`."""
    from chalicelib.jobs import reconcile
    from tests.integration.test_esign_faults import sign_in_browserless

    response = stack.post_webhook(one_signer(f"race-completed-{isolation[:5]}"))
    contract_id = response.json_body["contract_id"]
    stack.wait_status(contract_id, "sent")
    stack.settle_connect()
    stack.sandbox("POST", "/sandbox/faults", {"connect_drop": 10})  # every message about the signing is lost
    sign_in_browserless(stack, contract_id, 1)
    stack.settle_connect()
    stack.sandbox("DELETE", "/sandbox/faults")
    payload = dropped(stack, "envelope-completed")

    thread, done, result = in_thread(lambda: deliver_connect(stack, payload))
    holds: list[Any] = []
    original = reconcile.apply_change

    def reconcile_apply(record: Any, **kwargs: Any) -> str:
        if kwargs.get("status") == "completed" and not holds:
            holds.append(arm_for_thread(contract_id, while_held=thread.start, rival_done=done,
                                    patience=patience(isolation)))
        return original(record, **kwargs)

    reconcile.apply_change = reconcile_apply  # the seam: arm the hold in reconcile's own thread
    with racing(isolation):
        try:
            summary = reconcile.run()
        finally:
            reconcile.apply_change = original
        thread.join(30)
    assert holds and holds[0].fired.is_set(), "reconcile's write was never held"
    assert "error" not in result, result.get("error")
    settle(stack, result["value"], payload_of=lambda: payload)
    assert summary["failed"] == 0

    archive_jobs = []
    while True:
        try:
            archive_jobs.append(stack.receive_job("archive"))
        except AssertionError:
            break
    assert len(archive_jobs) == 1, "exactly one archive job for one completion"
    stack.run_job(archive_jobs[0])
    stack.drain_jobs()
    contract = stack.get_contract(contract_id)
    assert contract["status"] == "active"
    types = stack.timeline_types(contract_id)
    for once in ("envelope_sent", "envelope_completed", "archived", "active"):
        assert types.count(once) == 1, (once, types)


def test_two_archive_jobs_at_once(stack: StackHarness, isolation: str) -> None:
    """SQS delivers the archive job twice and both copies run at once (two Lambdas): one signed
    document recorded, one `archived`, one `active`, reminders planned once."""
    from chalicelib.jobs import archive

    response = stack.post_webhook(one_signer(f"race-archive-{isolation[:5]}"))
    contract_id = response.json_body["contract_id"]
    stack.wait_status(contract_id, "sent")
    stack.settle_connect()
    from tests.integration.test_esign_faults import sign_in_browserless

    sign_in_browserless(stack, contract_id, 1)
    wait_without_jobs(stack, contract_id, "completed")  # Connect moved it; the archive job waits in SQS
    first = stack.receive_job("archive")
    tenant = stack.tenant_id
    thread, done, result = in_thread(lambda: archive.run(tenant, contract_id))
    holds: list[Any] = []
    original = archive.envelopes.combined_pdf

    def combined_pdf(tenant_id: str, envelope_id: str) -> bytes:
        pdf = original(tenant_id, envelope_id)
        if not holds and threading.current_thread() is not thread:
            holds.append(arm_for_thread(contract_id, while_held=thread.start, rival_done=done,
                                    patience=patience(isolation)))
        return pdf

    archive.envelopes.combined_pdf = combined_pdf  # the seam: arm the hold once the PDF is in hand
    with racing(isolation):
        try:
            stack.run_job(first)
        finally:
            archive.envelopes.combined_pdf = original
        thread.join(60)
    assert holds and holds[0].fired.is_set(), "the first archive job's write was never held"
    assert "error" not in result, result.get("error")
    stack.drain_jobs()
    contract = stack.get_contract(contract_id)
    assert contract["status"] == "active"
    types = stack.timeline_types(contract_id)
    for once in ("archived", "active"):
        assert types.count(once) == 1, (once, types)
    # The one `archived` event names the certificate its own job stored: that S3 version has that sha256.
    [archived] = [e for e in contract["timeline"] if e["type"] == "archived"]
    cert = archived["detail"]["certificate"]
    stored = documents.get_bytes(StoredDocument(cert["s3_key"], cert["sha256"], cert["version_id"]))
    assert hashlib.sha256(stored).hexdigest() == cert["sha256"]


def wait_without_jobs(stack: StackHarness, contract_id: str, status: str, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while stack.get_contract(contract_id)["status"] != status:
        assert time.monotonic() < deadline, f"{contract_id} never became {status}"
        time.sleep(0.05)


def test_two_connect_messages_about_different_signers_at_once(stack: StackHarness, isolation: str) -> None:
    """Two signers act at the same moment (parallel routing): DocuSign generates two recipient
    events, each with the envelope as it was then (one signer signed, the other still `sent`; the
    other opened, the first still `sent`), and delivers them at once. Both signers' progress is
    kept: each message writes only the signers it moves, conditional on what it read."""
    from tests.support.esign import signer

    body = webhook_body("sales.en", crm_record_id=f"race-signers-{isolation[:5]}", signers=[
        signer("Rachel Tan", "rachel.tan@harbourline.example", 1),
        signer("Min Wang", "wang.min@yunti.example", 1, party="ours")])
    contract_id = stack.post_webhook(body).json_body["contract_id"]
    stack.wait_status(contract_id, "sent")
    stack.settle_connect()
    stack.sandbox("POST", "/sandbox/faults", {"connect_drop": 1000})
    from tests.integration.test_esign_faults import sign_in_browserless

    sign_in_browserless(stack, contract_id, 1)
    stack.settle_connect()
    stack.sandbox("DELETE", "/sandbox/faults")
    template = dropped(stack, "recipient-completed")

    def event_about(recipient: str, event: str, status: str) -> dict[str, Any]:
        payload = json.loads(json.dumps(template))
        payload["event"], payload["data"]["recipientId"] = event, recipient
        payload["generatedDateTime"] = payload["generatedDateTime"][:-4] + ("1Z" if recipient == "1" else "2Z")
        for entry in payload["data"]["envelopeSummary"]["recipients"]["signers"]:
            entry["status"] = status if entry["recipientId"] == recipient else "sent"
            entry.pop("signedDateTime", None) if entry["recipientId"] != recipient else None
        return payload

    first = event_about("1", "recipient-completed", "completed")
    second = event_about("2", "recipient-delivered", "delivered")
    thread, done, result = in_thread(lambda: deliver_connect(stack, second))
    from chalicelib.jobs.connect_listener import connect_keys, receive_connect
    from devstack.sandbox.connect import sign_body

    raw = json.dumps(first).encode()
    hold = arm_for_thread(contract_id, while_held=thread.start, rival_done=done, patience=patience(isolation),
                          transactions_only=False)
    with racing(isolation):
        status, outcome = receive_connect({"X-DocuSign-Signature-1": sign_body(connect_keys()[0], raw)}, raw)
        thread.join(30)
    assert hold.fired.is_set(), "the first message's write was never held"
    assert status in (200, 503), outcome
    if status == 503:  # it met the other write half-done: DocuSign delivers it again
        status, outcome = receive_connect({"X-DocuSign-Signature-1": sign_body(connect_keys()[0], raw)}, raw)
        assert status == 200, outcome
    settle(stack, result["value"], payload_of=lambda: second)
    signers = stack.get_contract(contract_id)["signers"]
    assert [s["status"] for s in signers] == ["signed", "delivered"], signers
