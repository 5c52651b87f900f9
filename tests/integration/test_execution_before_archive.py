"""Right after the last signature the contract is `completed` and the archive job has not run yet; CRMs
react to the `completed` callback at once. Execution reported then (the API or a CRM update) is
accepted and kept, the reminders planned once the contract is active account for it, and the signed
document is answered 409 `archiving` with `Retry-After` until the archive exists, then 302.

The contract is driven the real way (webhook → envelope at the sandbox → both signers sign → Connect
→ completed) and the archive job is held back off the queue, then run when the test says so. The
races between the archive job and a payment are run deterministically: the test wraps one of our
functions at the point where the other writer must step in, calls the real function unchanged, and
runs the other writer there (nothing of ours is replaced).

Calendar (Asia/Shanghai, see test_reminders_milestones.py): pay-1 38,400.00 due Tue 2030-01-15, its
"7 days before" notice at 2030-01-08T01:00Z; pay-2 89,600.00 due Fri 2030-03-15 with its ladder
-7d, due, +1d, +7d, +14d, +30d.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.integration.test_crm_execution import milestone, update_with
from tests.integration.test_reminders_milestones import post
from tests.integration.test_reminders_support import active_contract, fire, pending_keys, sales_2030, stored
from tests.support.esign import combined_pdf_via_sdk
from tests.support.stack import StackHarness, sign_as

PAY_1 = "payment:pay-1:2030-01-15"
PAY_2_LADDER = {f"payment:pay-2:2030-03-15:{step}" for step in
                ("before:-7d", "due", "overdue:+1d", "overdue:+7d", "overdue:+14d", "overdue:+30d")}
PAY_1_IN_FULL = {"status": "paid", "amount": "38400.00", "paid_on": "2030-01-10", "reference": "bank-tx-1"}


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Polls without running queued jobs (StackHarness.wait_until drains them: the archive job would run)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def sent_contract(stack: StackHarness, body: dict[str, Any]) -> str:
    response = stack.post_webhook(body)
    assert response.status_code == 202, response.body
    contract_id = str(response.json_body["contract_id"])
    stack.wait_status(contract_id, "sent")
    return contract_id


def complete(stack: StackHarness, contract_id: str) -> dict[str, Any]:
    """Both signers sign on the sandbox; returns the archive job's message, held off the queue (in
    flight, as if a Lambda had picked it up and not got far yet)."""
    sign_as(stack, contract_id, 1)
    stack.wait_until(lambda: stack.get_contract(contract_id)["signers"][0]["status"] == "signed", what="signer 1")
    status, _ = sign_as(stack, contract_id, 2)
    assert status == 302
    wait_for(lambda: stack.get_contract(contract_id)["status"] == "completed", "completed")
    held: list[dict[str, Any]] = []

    def archive_job_queued() -> bool:
        try:  # the Connect handler enqueues it right after the status move: it may be a moment behind
            held.append(stack.receive_job("archive"))
        except AssertionError:
            return False
        return True

    wait_for(archive_job_queued, "the archive job")
    assert stack.get_contract(contract_id)["status"] == "completed"
    return held[0]


def completed_contract(stack: StackHarness, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    contract_id = sent_contract(stack, body)
    return contract_id, complete(stack, contract_id)


def document(stack: StackHarness, contract_id: str, version: str) -> Any:
    return stack.client.http.get(f"/v1/contracts/{contract_id}/document?version={version}", headers=stack.auth())


def pending(contract_id: str, prefix: str) -> set[str]:
    """The pending reminder keys of one milestone, without the contract id."""
    return {k.split(":", 1)[1] for k in pending_keys(contract_id) if k.split(":", 1)[1].startswith(prefix)}


def assert_archived_and_planned_around_pay_1(stack: StackHarness, contract_id: str) -> dict[str, Any]:
    """Active, the signed PDF archived and served, pay-1 paid once and not chased, pay-2 chased."""
    import requests  # moto answers the presigned S3 URL

    contract = stack.get_contract(contract_id)
    assert contract["status"] == "active"
    pay_1 = milestone(contract, "pay-1")
    assert (pay_1["status"], pay_1["paid_amount"], pay_1["remaining"]) == ("paid", "38400.00", "0.00")
    assert [p["amount"] for p in pay_1["payments"]] == ["38400.00"]
    types = [e["type"] for e in contract["timeline"]]
    assert types.count("milestone_paid") == 1 and "archived" in types and "active" in types

    assert pending(contract_id, PAY_1) == set()
    assert pending(contract_id, "payment:pay-2:") == PAY_2_LADDER
    assert fire(stack, "2030-01-08T01:00")["sent"] == 0  # pay-1's "7 days before" notice: it is paid

    served = document(stack, contract_id, "signed")
    assert served.status_code == 302, served.body
    pdf = requests.get(served.headers["Location"], timeout=10).content
    assert hashlib.sha256(pdf).hexdigest() == contract["documents"]["signed"]["sha256"]
    assert pdf == combined_pdf_via_sdk(contract["envelope_id"])  # what DocuSign holds, fetched on its own
    return contract


def test_a_payment_and_the_signed_document_right_after_signing(stack: StackHarness) -> None:
    contract_id = sent_contract(stack, sales_2030("deal-early"))
    # Before signing: execution is refused (409 conflict) and there is no signed document (404).
    early = post(stack, contract_id, "pay-1", PAY_1_IN_FULL)
    assert early.status_code == 409 and early.json_body["error"]["code"] == "conflict"
    not_yet = document(stack, contract_id, "signed")
    assert not_yet.status_code == 404 and not_yet.json_body["error"]["code"] == "not_found"

    archive_job = complete(stack, contract_id)
    answer = post(stack, contract_id, "pay-1", PAY_1_IN_FULL)
    assert answer.status_code == 200, answer.body
    assert (answer.json_body["milestone"]["status"], answer.json_body["milestone"]["remaining"]) == ("paid", "0.00")

    archiving = document(stack, contract_id, "signed")
    assert archiving.status_code == 409, archiving.body
    error = archiving.json_body["error"]
    assert error["code"] == "archiving" and "archived" in error["message"]
    retry_after = archiving.headers["Retry-After"]
    assert retry_after.isdigit() and int(retry_after) > 0  # delay-seconds (RFC 9110)
    assert f"{retry_after} seconds" in error["message"]
    assert archiving.headers["Content-Type"].startswith("application/json")
    assert document(stack, contract_id, "rendered").status_code == 302  # the rendered one is there already
    # Still completed: what was recorded shows, and a repeat of the same payment is not counted twice.
    contract = stack.get_contract(contract_id)
    assert contract["status"] == "completed" and contract["milestones"]["totals"]["paid"] == "38400.00"
    again = post(stack, contract_id, "pay-1", PAY_1_IN_FULL)
    assert again.status_code == 200 and again.json_body["duplicate"] is True

    stack.run_job(archive_job)
    contract = assert_archived_and_planned_around_pay_1(stack, contract_id)
    types = [e["type"] for e in contract["timeline"]]
    assert types.index("milestone_paid") < types.index("archived") < types.index("active")
    assert not [k for k in stored(contract_id) if f":{PAY_1}:" in k]  # paid before any plan: never stored


# (milestone, body, the path the error names, the status when the body is wrong on its own). Those that
# depend on the milestone (more than is open, finer than CNY's cents, the wrong kind) must be answered
# on a completed contract exactly as on an active one, whatever that answer is.
BAD_REQUESTS: list[tuple[str, Any, str | None, int | None]] = [
    ("nope", {"status": "paid", "amount": "1.00"}, None, 404),
    ("pay-1", {"status": "paid", "amount": "0"}, "amount", 422),
    ("pay-1", {"status": "paid", "amount": "lots"}, "amount", 422),
    ("pay-1", {"status": "paid", "amount": 100.5}, "amount", 422),
    ("pay-1", {"status": "paid", "amount": "100.00", "paid_on": "2030-02-30"}, "paid_on", 422),
    ("pay-1", {"status": "paid", "amount": "38400.01"}, "amount", None),  # 38,400.00 planned
    ("pay-1", {"status": "paid", "amount": "12.345"}, "amount", None),
    ("dlv-1", {"status": "paid", "amount": "1.00"}, "status", None),
]


def error_outline(answer: Any) -> tuple[int, str, list[str]]:
    error = answer.json_body["error"]
    assert error["message"]
    return answer.status_code, error["code"], [d["path"] for d in error.get("details", [])]


def test_bad_requests_on_a_completed_contract_get_the_usual_4xx_and_change_nothing(stack: StackHarness) -> None:
    active_id = active_contract(stack, sales_2030("deal-active-bad")).contract_id
    contract_id, archive_job = completed_contract(stack, sales_2030("deal-early-bad"))
    for milestone_id, body, path, status in BAD_REQUESTS:
        answer = error_outline(post(stack, contract_id, milestone_id, body))
        assert answer == error_outline(post(stack, active_id, milestone_id, body)), (milestone_id, body)
        assert 400 <= answer[0] < 500 and (path is None or path in answer[2]), (milestone_id, body, answer)
        assert status is None or answer[0] == status, (milestone_id, body, answer)
    contract = stack.get_contract(contract_id)
    assert contract["milestones"]["totals"]["paid"] == "0.00"
    assert not [e for e in contract["timeline"] if e["type"].startswith("milestone_")]

    stack.run_job(archive_job)
    assert stack.get_contract(contract_id)["status"] == "active"
    assert len(pending(contract_id, PAY_1)) == 6  # -7d, due, +1d, +7d, +14d, +30d: nothing was paid


def test_a_crm_update_reporting_a_payment_right_after_signing_is_recorded(stack: StackHarness) -> None:
    body = sales_2030("deal-early-crm")
    contract_id, archive_job = completed_contract(stack, body)
    partial = update_with(body, **{"pay-1": {"paid_amount": "20000.00", "paid_on": "2030-01-05"}})
    response = stack.post_webhook(partial, webhook_id="early-exec-1")
    assert response.status_code == 200, response.body
    pay_1 = milestone(stack.get_contract(contract_id), "pay-1")
    assert (pay_1["status"], pay_1["paid_amount"], pay_1["remaining"]) == ("partially_paid", "20000.00", "18400.00")
    # Anything else about the signed contract is still refused.
    changed = update_with(body)
    changed["contract"]["title"] = "另一个标题"
    refused = stack.post_webhook(changed, webhook_id="early-exec-2")
    assert refused.status_code == 409
    assert {d["path"] for d in refused.json_body["error"]["details"]} == {"contract.title"}

    stack.run_job(archive_job)
    assert stack.get_contract(contract_id)["status"] == "active"
    # Partly paid: pay-1's ladder stays, chasing what is still open.
    items = stored(contract_id)
    overdue = items[f"{contract_id}:{PAY_1}:overdue:+1d"]
    assert overdue.state == "pending" and overdue.detail["amount_remaining"] == "18400.00"
    # The rest, reported once the contract is active, stops it.
    full = update_with(body, **{"pay-1": {"paid_amount": "38400.00", "paid_on": "2030-01-12"}})
    assert stack.post_webhook(full, webhook_id="early-exec-3").status_code == 200
    assert pending(contract_id, PAY_1) == set()
    crm_events = [e for e in stack.timeline(contract_id) if (e.get("detail") or {}).get("source") == "crm"]
    assert [(e["detail"]["milestone_id"], e["detail"]["amount"]) for e in crm_events] == [
        ("pay-1", "20000.00"), ("pay-1", "18400.00")]


# --- the archive job and a payment on the same contract, interleaved ------------------------------


def test_a_payment_recorded_while_the_archive_job_fetches_the_pdf_is_kept(
        stack: StackHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The archive job has read the contract and is downloading the signed PDF (after its read, before
    any of its writes) when the payment comes in."""
    from chalicelib.esign import envelopes

    contract_id, archive_job = completed_contract(stack, sales_2030("deal-race-read"))
    real_combined_pdf = envelopes.combined_pdf
    answers: list[Any] = []

    def combined_pdf_then_a_payment(tenant_id: str, envelope_id: str) -> bytes:
        pdf = real_combined_pdf(tenant_id, envelope_id)
        answers.append(post(stack, contract_id, "pay-1", PAY_1_IN_FULL))
        return pdf

    monkeypatch.setattr(envelopes, "combined_pdf", combined_pdf_then_a_payment)
    stack.run_job(archive_job)
    [answer] = answers
    assert answer.status_code == 200, answer.body
    assert_archived_and_planned_around_pay_1(stack, contract_id)


def test_a_payment_recorded_between_the_archive_jobs_planning_and_its_move_to_active(
        stack: StackHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The archive job has planned the reminders (pay-1's included: nothing was paid when it read)
    and not yet moved the contract to active when the payment comes in."""
    from chalicelib.reminders import scheduling

    contract_id, archive_job = completed_contract(stack, sales_2030("deal-race-plan"))
    real_schedule = scheduling.schedule_contract
    answers: list[Any] = []

    def schedule_then_a_payment(record: Any, **kwargs: Any) -> int:
        planned = real_schedule(record, **kwargs)
        assert pending(contract_id, PAY_1)  # planned: the payment is not there yet
        answers.append(post(stack, contract_id, "pay-1", PAY_1_IN_FULL))
        return planned

    monkeypatch.setattr(scheduling, "schedule_contract", schedule_then_a_payment)
    stack.run_job(archive_job)
    [answer] = answers
    assert answer.status_code == 200, answer.body
    assert answer.json_body["reminders"]["cancelled"] == 6  # pay-1's whole ladder, planned a moment before
    assert_archived_and_planned_around_pay_1(stack, contract_id)
    assert {item.state for key, item in stored(contract_id).items() if f":{PAY_1}:" in key} == {"cancelled"}


def test_the_archive_job_running_between_a_payments_read_and_its_write(
        stack: StackHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The payment has read the contract (completed) and worked out the new settlement when the whole
    archive job runs; its write then finds the item changed, reads it again (active) and records the
    payment once, and the re-plan after it stops pay-1's reminders that the archive job planned."""
    from chalicelib.reminders import milestones
    from chalicelib.store.contracts import find_contract

    contract_id, archive_job = completed_contract(stack, sales_2030("deal-race-write"))
    real_apply = milestones.apply_execution
    statuses_seen: list[str] = []

    def archive_job_runs_first_time(ref: Any, state: Any, request: Any, **kwargs: Any) -> Any:
        record = find_contract(stack.tenant_id, contract_id)  # the store, not the API: we are inside a request
        assert record is not None
        statuses_seen.append(record.status)
        result = real_apply(ref, state, request, **kwargs)
        if len(statuses_seen) == 1:
            stack.run_job(archive_job)
        return result

    monkeypatch.setattr(milestones, "apply_execution", archive_job_runs_first_time)
    answer = post(stack, contract_id, "pay-1", PAY_1_IN_FULL)
    assert answer.status_code == 200, answer.body
    # The first attempt saw completed and lost its write to the archive job's; the second saw active.
    assert statuses_seen == ["completed", "active"]
    assert_archived_and_planned_around_pay_1(stack, contract_id)
    assert {item.state for key, item in stored(contract_id).items() if f":{PAY_1}:" in key} == {"cancelled"}
