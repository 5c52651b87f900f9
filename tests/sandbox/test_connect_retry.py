"""The Connect retry schedule: quick by default (the suites stay fast), DocuSign-like on request.

DocuSign retries a failed SIM delivery (requireAcknowledgment "true") on a growing schedule over
hours and days, not within seconds: a third-party account, marked unverified in the project's
DocuSign reference (§3.3), gives about 15 s first, exponential backoff, up to about 45 attempts or
7 days; the older official text says at least 24 hours between later retries, ten at most. Both
are approximate, so the schedule is a setting; on a schedule the retries follow the sandbox clock,
and these tests move the clock instead of sleeping.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from devstack.sandbox.connect import REALISTIC_SCHEDULE

from .helpers import Listener, SandboxHandle, definition, embedded_signer, http, wait_for

SCHEDULE = [15, 60, 300]


def send(sandbox: SandboxHandle, listener: Listener) -> str:
    envelope = definition([embedded_signer(1)], listener_url=listener.url, events=["envelope-sent"])
    return sandbox.api().create_envelope(sandbox.account_id, envelope_definition=envelope).envelope_id


def when(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def queued_retry(sandbox: SandboxHandle, retry_count: int) -> dict[str, Any]:
    """The message waiting for its next attempt (once the failure has been handled)."""

    def find() -> dict[str, Any] | None:
        queue = sandbox.control("GET", "/sandbox/connect-log")["queue"]
        return next((q for q in queue if q["retry_count"] == retry_count), None)

    return wait_for(find, what=f"retry {retry_count} queued")


def test_a_failed_delivery_is_retried_on_the_configured_schedule_by_the_sandbox_clock(
    sandbox: SandboxHandle, listener: Listener
) -> None:
    sandbox.control("POST", "/sandbox/clock", {"now": "2031-05-06T10:00:00Z"})
    state = sandbox.control("POST", "/sandbox/connect-retry", {"schedule_seconds": SCHEDULE})
    assert (state["mode"], state["schedule_seconds"], state["timing"]) == ("schedule", SCHEDULE, "sandbox-clock")
    listener.fail_first = len(SCHEDULE)
    envelope_id = send(sandbox, listener)

    for n, delay in enumerate(SCHEDULE, start=1):
        failures = wait_for(
            lambda n=n: len(entries := sandbox.connect_log(envelope_id=envelope_id)) == n and entries,
            what=f"attempt {n} logged",
        )
        failed = failures[-1]
        assert failed["outcome"] == "failed" and failed["http_status"] == 500
        retry = queued_retry(sandbox, n)
        assert retry["timing"] == "sandbox-clock" and retry["attempt"] == n + 1
        wait = (when(retry["due"]) - when(failed["sandbox_at"])).total_seconds()
        assert delay <= wait < delay + 5, (n, wait)
        assert len(listener.received) == n  # not retried in real time
        sandbox.control("POST", "/sandbox/clock", {"advance_seconds": delay})

    listener.wait(len(SCHEDULE) + 1)
    sandbox.connect_idle()
    entries = sandbox.connect_log(envelope_id=envelope_id)
    assert [e["outcome"] for e in entries] == ["failed", "failed", "failed", "delivered"]
    assert [m["retryCount"] for m in listener.messages()] == [0, 1, 2, 3]
    stamps = [when(e["sandbox_at"]) for e in entries]
    for delay, earlier, later in zip(SCHEDULE, stamps, stamps[1:], strict=False):
        assert delay <= (later - earlier).total_seconds() < delay + 5  # by the sandbox clock
    assert len({m["generatedDateTime"] for m in listener.messages()}) == 1  # the same event, re-sent


def test_the_message_is_given_up_after_the_last_scheduled_retry(sandbox: SandboxHandle, listener: Listener) -> None:
    sandbox.control("POST", "/sandbox/connect-retry", {"schedule_seconds": [5]})
    listener.fail_first = 10
    envelope_id = send(sandbox, listener)
    queued_retry(sandbox, 1)
    sandbox.control("POST", "/sandbox/clock", {"advance_seconds": 5})
    listener.wait(2)
    sandbox.connect_idle()
    assert [e["outcome"] for e in sandbox.connect_log(envelope_id=envelope_id)] == ["failed", "gave_up"]


def test_the_realistic_preset_grows_from_15_seconds_over_days() -> None:
    assert list(REALISTIC_SCHEDULE[:5]) == [15, 30, 60, 120, 240]
    assert list(REALISTIC_SCHEDULE) == sorted(REALISTIC_SCHEDULE)
    assert len(REALISTIC_SCHEDULE) + 1 <= 45  # attempts, the first included
    assert 5 * 86400 < sum(REALISTIC_SCHEDULE) <= 7 * 86400


def test_the_schedule_can_be_chosen_read_and_dropped(sandbox: SandboxHandle) -> None:
    default = sandbox.control("GET", "/sandbox/connect-retry")
    assert (default["mode"], default["timing"], default["schedule_seconds"]) == ("fast", "real-time", None)
    assert default["fast"]["initial_seconds"] == 0.05  # the suite's quick config
    realistic = sandbox.control("POST", "/sandbox/connect-retry", {"preset": "realistic"})
    assert realistic["schedule_seconds"] == list(REALISTIC_SCHEDULE)
    assert sandbox.control("DELETE", "/sandbox/connect-retry")["mode"] == "fast"
    sandbox.control("POST", "/sandbox/connect-retry", {"schedule_seconds": [1, 2]})
    sandbox.control("POST", "/sandbox/reset")  # back to the config's (fast)
    assert sandbox.control("GET", "/sandbox/connect-retry")["mode"] == "fast"
    for bad in ({"preset": "slow"}, {"schedule_seconds": [-1]}, {"schedule_seconds": "15"}, {}, {"x": 1}):
        assert http("POST", sandbox.base + "/sandbox/connect-retry", json_body=bad).status == 400


def test_a_schedule_from_the_config(make_sandbox: Any, listener: Listener) -> None:
    sandbox = make_sandbox(connect_retry_schedule_seconds=[30])
    listener.fail_first = 1
    envelope_id = send(sandbox, listener)
    retry = queued_retry(sandbox, 1)
    assert retry["timing"] == "sandbox-clock"
    sandbox.control("POST", "/sandbox/clock", {"advance_seconds": 30})
    listener.wait(2)
    wait_for(lambda: sandbox.connect_log(envelope_id=envelope_id, outcome="delivered"), what="delivered")
