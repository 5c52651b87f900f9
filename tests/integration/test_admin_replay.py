"""`python -m chalicelib.admin contracts replay` through the real pieces: a send that DocuSign's 5xx
dead-letters (the runner's MAX_ATTEMPTS, no backoff in tests) leaves the contract `send_failed` with
its job in the DLQ; the dry run shows the plan and changes nothing; `--apply` sends it once, deletes
the dead letter and names the operator on the timeline; a second run does nothing more. Archive and
void jobs that dead-lettered are re-driven the same way (`--dead-letters`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.admin.__main__ import main as admin
from chalicelib.admin.callbacks import list_dead_letters
from chalicelib.jobs.runner import MAX_ATTEMPTS
from tests.integration.test_approval import set_rules
from tests.support.esign import signer, signing_link, submit, webhook_body
from tests.support.stack import StackHarness, form_post

APPROVER = "legal@yunti.example"
# Enough 500s for every attempt of a job, whatever it calls per attempt; cleared once it dead-lettered.
STORM = {"rest_5xx": 4 * MAX_ATTEMPTS}


def body(crm_record_id: str) -> dict[str, Any]:
    return webhook_body("sales.en", crm_record_id=crm_record_id,
                        signers=[signer("Rachel Tan", "rachel.tan@harbourline.example", 1)])


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()  # drop what the jobs printed (their EMF metric lines): only the CLI's output counts
    code = admin(["contracts", "replay", *args])
    return code, capsys.readouterr().out


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]]]:
    code, out = run(capsys, *args, "--json")
    return code, [json.loads(line) for line in out.splitlines()]


def letters_of(contract_id: str) -> list[dict[str, Any]]:
    return [d for d in list_dead_letters() if d["contract_id"] == contract_id]


def dead_lettered_send(stack: StackHarness, crm_record_id: str) -> str:
    """A contract whose send job DocuSign's 5xx made dead-letter: send_failed, its job in the DLQ."""
    stack.sandbox("POST", "/sandbox/faults", STORM)
    contract_id = submit(stack, body(crm_record_id))
    stack.wait_status(contract_id, "send_failed")
    stack.sandbox("DELETE", "/sandbox/faults")
    assert [(d["job"], d["attempt"]) for d in letters_of(contract_id)] == [("send", MAX_ATTEMPTS)]
    assert stack.sandbox_envelopes(contract_id) == []
    return contract_id


def snapshot(stack: StackHarness, contract_id: str) -> tuple[Any, ...]:
    contract = stack.get_contract(contract_id)
    return (contract["status"], len(contract["timeline"]), list_dead_letters(), stack.sandbox_envelopes())


def test_a_dead_lettered_send_is_replayed_once(stack: StackHarness, capsys: pytest.CaptureFixture[str]) -> None:
    contract_id = dead_lettered_send(stack, "replay-send")
    before = snapshot(stack, contract_id)
    assert "job_dead_lettered" in stack.timeline_types(contract_id)

    # Dry run, whichever way the contract is named: the plan, and nothing changed.
    code, out = run(capsys, "--contract", contract_id, "--tenant", stack.tenant_id)
    assert code == 0, out
    assert out.startswith("dry run: nothing is changed; run again with --apply")
    line = next(x for x in out.splitlines() if contract_id in x)
    assert "[send_failed]: would re-drive send" in line and "its send job dead-lettered (" in line
    assert "HTTP 500" in line and "moves to sending (no approval needed)" in line
    assert "1 dead letter(s) replayed, deleted once the re-drive succeeded" in line
    for mode in (["--send-failed"], ["--send-failed", "--tenant", stack.tenant_id], ["--dead-letters"]):
        code, plans = run_json(capsys, *mode)
        assert code == 0
        [plan] = [p for p in plans if p["contract_id"] == contract_id]
        assert (plan["status"], plan["step"], plan["move_to"], plan["outcome"]) == (
            "send_failed", "send", "sending", None), mode
        assert len(plan["dead_letters"]["replayed"]) == 1
    assert snapshot(stack, contract_id) == before
    assert stack.drain_jobs() == 0  # nothing was enqueued

    code, out = run(capsys, "--contract", contract_id, "--tenant", stack.tenant_id, "--apply", "--by", "ops.alice")
    assert code == 0, out
    assert "moved to sending; send job enqueued" in out and "1 message(s) deleted from" in out
    assert letters_of(contract_id) == []  # deleted once the re-drive succeeded
    sent = stack.wait_status(contract_id, "sent")
    [envelope] = stack.sandbox_envelopes(contract_id)
    assert sent["envelope_id"] == envelope["envelopeId"]
    [replay] = [e for e in sent["timeline"] if e["type"] == "replay_requested"]
    assert replay["status"] == "sending"
    assert replay["detail"]["by"] == "ops.alice" and replay["detail"]["step"] == "send"
    assert "its send job dead-lettered" in replay["detail"]["why"]
    types = [e["type"] for e in sent["timeline"]]
    assert types.index("job_dead_lettered") < types.index("replay_requested") < types.index("envelope_sent")

    # Again: nothing left to do, nothing enqueued, still one envelope.
    code, out = run(capsys, "--contract", contract_id, "--tenant", stack.tenant_id, "--apply")
    assert code == 0 and "nothing to re-drive (sent)" in out, out
    code, plans = run_json(capsys, "--send-failed", "--apply")
    assert code == 0 and contract_id not in {p["contract_id"] for p in plans}
    assert stack.drain_jobs() == 0
    assert len(stack.sandbox_envelopes()) == 1
    assert stack.timeline_types(contract_id).count("replay_requested") == 1


def test_replay_twice_before_the_send_job_runs_sends_once(stack: StackHarness,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Two operators (or one, twice) replay the same contract, and its send job is enqueued twice
    anyway: the send job's own once-only guards (lease, look-up, step marker) make one envelope."""
    from chalicelib.core.aws import enqueue

    contract_id = dead_lettered_send(stack, "replay-twice")
    first = run(capsys, "--send-failed", "--apply")
    assert first[0] == 0 and "moved to sending; send job enqueued" in first[1], first
    # The second run, before the send job ran: the contract is sending and its dead letter is gone.
    code, out = run(capsys, "--contract", contract_id, "--tenant", stack.tenant_id, "--apply")
    assert code == 0 and "nothing to re-drive (sending)" in out, out
    assert stack.get_contract(contract_id)["status"] == "sending"
    # A duplicate send job all the same (an old `callbacks replay --all`, SQS delivering twice).
    enqueue({"job": "send", "tenant_id": stack.tenant_id, "contract_id": contract_id})

    contract = stack.wait_status(contract_id, "sent")
    stack.drain_jobs()
    assert len(stack.sandbox_envelopes()) == 1
    types = [e["type"] for e in stack.timeline(contract_id)]
    assert types.count("envelope_sent") == 1 and types.count("replay_requested") == 1
    assert contract["envelope_id"] == stack.sandbox_envelopes(contract_id)[0]["envelopeId"]


def approval_emails(stack: StackHarness) -> int:
    return len([m for m in stack.sent_emails() if APPROVER in m.to])


def test_a_contract_that_needs_approval_goes_to_the_approvers(stack: StackHarness,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The tenant's rules, as they are now, catch the contract: the replay takes it to
    pending_approval (as a CRM's corrected update would), nothing goes to DocuSign until approved."""
    contract_id = dead_lettered_send(stack, "replay-gated")
    set_rules(stack, {"approvers": [APPROVER], "always": True})

    code, out = run(capsys, "--contract", contract_id, "--tenant", stack.tenant_id)
    assert code == 0 and "moves to pending_approval (needs approval: every contract of this tenant" in out, out
    code, out = run(capsys, "--contract", contract_id, "--tenant", stack.tenant_id, "--apply", "--by", "ops.bob")
    assert code == 0 and "moved to pending_approval; send job enqueued" in out, out
    stack.drain_jobs()
    contract = stack.get_contract(contract_id)
    assert contract["status"] == "pending_approval" and stack.sandbox_envelopes() == []
    assert approval_emails(stack) == 1  # the send job asked the approvers
    [replay] = [e for e in contract["timeline"] if e["type"] == "replay_requested"]
    assert replay["status"] == "pending_approval" and replay["detail"]["by"] == "ops.bob"
    assert replay["detail"]["reasons"] == ["every contract of this tenant needs approval"]
    assert letters_of(contract_id) == []

    response = stack.client.http.post(f"/v1/contracts/{contract_id}/approve", body=b"",
                                      headers={"Content-Type": "application/json", **stack.auth()})
    assert response.status_code == 200, response.body
    stack.wait_status(contract_id, "sent")
    assert len(stack.sandbox_envelopes(contract_id)) == 1


def test_an_approved_contract_keeps_its_approval(stack: StackHarness, capsys: pytest.CaptureFixture[str]) -> None:
    """Approved, then its send dead-lettered: the approval binds to this very version, so the replay
    sends it (asking again would change nothing, and the approvers were asked about it once already)."""
    set_rules(stack, {"approvers": [APPROVER], "always": True})
    contract_id = submit(stack, body("replay-approved"))
    stack.wait_status(contract_id, "pending_approval")
    stack.sandbox("POST", "/sandbox/faults", STORM)
    response = stack.client.http.post(f"/v1/contracts/{contract_id}/approve", body=b"",
                                      headers={"Content-Type": "application/json", **stack.auth()})
    assert response.status_code == 200, response.body
    stack.wait_status(contract_id, "send_failed")
    stack.sandbox("DELETE", "/sandbox/faults")

    code, out = run(capsys, "--dead-letters", "--apply")
    assert code == 0 and "moves to sending (approved version" in out and "the approval stands" in out, out
    stack.wait_status(contract_id, "sent")
    assert len(stack.sandbox_envelopes(contract_id)) == 1
    assert approval_emails(stack) == 1


def test_a_bad_contract_id_says_so(stack: StackHarness, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "--contract", "no-such-contract", "--tenant", stack.tenant_id, "--apply")
    assert code == 1
    assert f"no contract 'no-such-contract' for tenant '{stack.tenant_id}'" in out
    assert "0 re-driven, 0 failed" in out and "1 not found" in out
    code, out = run(capsys, "--contract", "no-such-contract")
    assert code == 2 and "--contract needs --tenant" in out
    with pytest.raises(SystemExit):  # one way of naming the contracts, not two
        admin(["contracts", "replay", "--send-failed", "--dead-letters"])


def sign(stack: StackHarness, contract_id: str) -> None:
    link = signing_link(stack, contract_id, 1)
    opened = stack.client.http.get(link["url"].split(stack.api_url, 1)[1])
    assert opened.status_code == 302, opened.body
    status, location = form_post(opened.headers["Location"], {"action": "sign"})
    assert status == 302 and location and "event=signing_complete" in location, (status, location)


def test_dead_lettered_archive_and_void_jobs_are_re_driven(stack: StackHarness,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # Signed while DocuSign will not hand over the signed PDF: the archive job dead-letters.
    signed = submit(stack, body("replay-archive"))
    stack.wait_status(signed, "sent")
    stack.sandbox("POST", "/sandbox/faults", {**STORM, "only_path": "/documents/combined"})
    sign(stack, signed)
    stack.wait_until(lambda: [d["job"] for d in letters_of(signed)] == ["archive"], what="the archive dead letter")
    stack.sandbox("DELETE", "/sandbox/faults")
    # Cancelled while DocuSign refuses every void: the void job dead-letters.
    cancelled = submit(stack, body("replay-void"))
    envelope_id = stack.wait_status(cancelled, "sent")["envelope_id"]
    stack.settle_connect()
    stack.sandbox("POST", "/sandbox/faults", {**STORM, "only_method": "PUT"})
    response = stack.client.http.post(f"/v1/contracts/{cancelled}/void", body=json.dumps({"reason": "deal lost"}),
                                      headers={"Content-Type": "application/json", **stack.auth()})
    assert response.status_code == 200, response.body
    stack.wait_until(lambda: [d["job"] for d in letters_of(cancelled)] == ["void"], what="the void dead letter")
    stack.sandbox("DELETE", "/sandbox/faults")
    assert stack.get_contract(signed)["status"] == "completed"
    assert stack.sandbox("GET", f"/sandbox/envelopes/{envelope_id}")["status"] == "sent"
    before = (snapshot(stack, signed), snapshot(stack, cancelled))

    code, plans = run_json(capsys, "--dead-letters")
    assert code == 0
    assert {p["contract_id"]: (p["status"], p["step"]) for p in plans} == {
        signed: ("completed", "archive"), cancelled: ("voided", "void")}
    assert (snapshot(stack, signed), snapshot(stack, cancelled)) == before
    assert stack.drain_jobs() == 0

    code, plans = run_json(capsys, "--dead-letters", "--apply", "--by", "ops.carol")
    assert code == 0 and {p["outcome"] for p in plans} == {"archive job enqueued", "void job enqueued"}, plans
    assert list_dead_letters() == []
    stack.wait_status(signed, "active")
    stack.wait_until(lambda: stack.sandbox("GET", f"/sandbox/envelopes/{envelope_id}")["status"] == "voided",
                     what="the envelope voided at the sandbox")
    for contract_id, step in ((signed, "archive"), (cancelled, "void")):
        [replay] = [e for e in stack.timeline(contract_id) if e["type"] == "replay_requested"]
        assert replay["detail"]["by"] == "ops.carol" and replay["detail"]["step"] == step
    assert stack.get_contract(signed)["documents"]["signed"]["sha256"]

    code, plans = run_json(capsys, "--dead-letters", "--apply")
    assert code == 0 and plans == []
