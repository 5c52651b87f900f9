"""The hourly run against moto: each reminder key is sent once whatever the schedule does (fired
twice, overlapping runs, a run that dies mid-batch), SES throttling is retried, nothing goes out at
night, and a run that finds several steps of one ladder sends only the latest.

The sales contract of test_reminders_support (Asia/Shanghai, 09:00 local = 01:00 UTC): pay-1 is due
Tue 2030-01-15, so its "7 days before" notice is Tue 2030-01-08 at 01:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.test_reminders_support import (
    OWNER,
    active_contract,
    emails_since,
    fire,
    sales_2030,
    ses_throttled,
    stored,
)
from tests.support.interleave import at_once
from tests.support.stack import StackHarness

BEFORE_PAY_1 = "2030-01-08T01:00"


def before_key(contract_id: str) -> str:
    return f"{contract_id}:payment:pay-1:2030-01-15:before:-7d"


def test_schedule_fired_twice_sends_once(stack: StackHarness) -> None:
    record = active_contract(stack, sales_2030())
    assert fire(stack, "2030-01-08T00:00")["sent"] == 0  # 08:00 local: not yet
    first = fire(stack, BEFORE_PAY_1)
    second = fire(stack, BEFORE_PAY_1)  # EventBridge delivers the same event again
    assert (first["sent"], second["sent"]) == (1, 0)
    assert second["read"] == 0  # a sent reminder has left the due index
    emails = emails_since(stack, 0)
    assert len(emails) == 1
    assert emails[0].to == [OWNER]
    assert emails[0].subject == "付款提醒：HT-2030-0001 预付款 将于 2030年1月15日 到期"
    item = stored(record.contract_id)[before_key(record.contract_id)]
    assert item.state == "sent" and item.pending_shard is None and item.message_id
    sent_events = [e for e in stack.get_contract(record.contract_id)["timeline"] if e["type"] == "reminder_sent"]
    assert [e["detail"]["key"] for e in sent_events] == [before_key(record.contract_id)]


def test_two_overlapping_runs_send_each_reminder_once(stack: StackHarness) -> None:
    contracts = [active_contract(stack, sales_2030(f"deal-{i}")) for i in range(4)]
    results = at_once(lambda: fire(stack, BEFORE_PAY_1))
    assert sum(r["sent"] for r in results) == 4
    emails = emails_since(stack, 0)
    assert len(emails) == 4
    assert all(e.subject == "付款提醒：HT-2030-0001 预付款 将于 2030年1月15日 到期" for e in emails)
    for record in contracts:
        assert stored(record.contract_id)[before_key(record.contract_id)].state == "sent"


class Killed(BaseException):
    """The Lambda being killed: not an Exception, so nothing in the run catches it."""


def test_a_run_that_dies_mid_batch_leaves_its_claim_to_the_next_run(stack: StackHarness,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import chalicelib.notify.mailer as mailer
    from chalicelib.store import contracts as store

    contracts = [active_contract(stack, sales_2030(f"deal-{i}")) for i in range(3)]
    real_send = mailer.send
    calls: list[str] = []

    def dies_on_second(email: Any) -> str:
        calls.append(email.subject)
        if len(calls) == 2:
            raise Killed("the run's Lambda timed out")
        return real_send(email)

    monkeypatch.setattr(mailer, "send", dies_on_second)
    with pytest.raises(Killed):
        fire(stack, BEFORE_PAY_1)
    monkeypatch.setattr(mailer, "send", real_send)
    assert len(emails_since(stack, 0)) == 1
    states = sorted(stored(r.contract_id)[before_key(r.contract_id)].state for r in contracts)
    assert states == ["pending", "pending", "sent"]

    # The next hourly run (or a repeat of this one) sends the untouched one; the claimed one waits
    # for its lease, so it cannot be sent twice by runs that overlap the dead one.
    again = fire(stack, BEFORE_PAY_1)
    assert (again["sent"], again["skipped"]) == (1, 1)
    assert len(emails_since(stack, 0)) == 2

    # Eleven minutes later (wall clock) the lease has expired: the next run sends it, once.
    later = datetime.now(UTC) + timedelta(minutes=11)
    monkeypatch.setattr(store, "now_utc", lambda: later)
    assert fire(stack, "2030-01-08T02:00")["sent"] == 1
    assert fire(stack, "2030-01-08T03:00")["sent"] == 0
    emails = emails_since(stack, 0)
    assert len(emails) == 3
    for record in contracts:
        item = stored(record.contract_id)[before_key(record.contract_id)]
        assert item.state == "sent"
    assert sorted(int(stored(r.contract_id)[before_key(r.contract_id)].attempts) for r in contracts) == [1, 1, 2]


def test_ses_throttling_is_retried_by_botocore(stack: StackHarness) -> None:
    record = active_contract(stack, sales_2030())
    with ses_throttled(2) as throttle:
        result = fire(stack, BEFORE_PAY_1)
    assert result["sent"] == 1 and result["failed"] == 0
    # One SendEmail of ours; botocore made three attempts: two throttled answers, then accepted.
    assert (throttle.operations, throttle.attempts) == (1, 3)
    assert len(emails_since(stack, 0)) == 1
    assert stored(record.contract_id)[before_key(record.contract_id)].state == "sent"


def test_ses_still_throttling_leaves_the_reminder_for_later(stack: StackHarness) -> None:
    record = active_contract(stack, sales_2030())
    with ses_throttled(1000) as throttle:
        result = fire(stack, BEFORE_PAY_1)
        assert (result["sent"], result["failed"], result["left"]) == (0, 1, 1)
        # botocore's three attempts (SES's sesv2 retry setting: two retries), and no loop of ours on top.
        assert (throttle.operations, throttle.attempts) == (1, 3)
        item = stored(record.contract_id)[before_key(record.contract_id)]
        assert item.state == "pending" and item.claimed_until is None and item.pending_shard is not None
        assert emails_since(stack, 0) == []
    # SES has recovered by the next hourly run; the page handed to the jobs queue finds it sent.
    assert fire(stack, "2030-01-08T02:00")["sent"] == 1
    assert fire(stack, "2030-01-08T03:00")["sent"] == 0
    assert stack.drain_jobs() == 1
    assert len(emails_since(stack, 0)) == 1


def test_a_reminder_found_at_night_waits_for_the_morning(stack: StackHarness) -> None:
    record = active_contract(stack, sales_2030())
    # The first run that sees it is late: 21:00 in Shanghai. It is not sent at night...
    late = fire(stack, "2030-01-08T13:00")
    assert (late["sent"], late["deferred"]) == (0, 1)
    item = stored(record.contract_id)[before_key(record.contract_id)]
    assert item.due_at == datetime(2030, 1, 9, 1, 0, tzinfo=UTC)  # Wed 09:00 local
    assert fire(stack, "2030-01-08T23:00")["read"] == 0  # 07:00 local: not due any more
    assert fire(stack, "2030-01-09T00:00")["sent"] == 0  # 08:00 local
    assert fire(stack, "2030-01-09T01:00")["sent"] == 1  # 09:00 local
    assert len(emails_since(stack, 0)) == 1


def test_a_run_after_an_outage_sends_the_latest_step_only(stack: StackHarness) -> None:
    record = active_contract(stack, sales_2030())
    cid = record.contract_id
    # No run for three weeks; the first one is on Wed 2030-01-30 at 10:00 local. Of pay-1's ladder,
    # before (01-08), due (01-15), +1 (01-16), +7 (01-22) and +14 (01-29) are all due: one email,
    # the 14-days-overdue one, goes out (15 calendar days after the due date by now).
    result = fire(stack, "2030-01-30T02:00")
    emails = emails_since(stack, 0)
    assert [e.subject for e in emails] == ["付款逾期：HT-2030-0001 预付款 已逾期 15 天"]
    assert result["superseded"] == 4
    states = {k.split(":", 1)[1]: v.state for k, v in stored(cid).items() if ":pay-1:" in k}
    assert states == {
        "payment:pay-1:2030-01-15:before:-7d": "superseded",
        "payment:pay-1:2030-01-15:due": "superseded",
        "payment:pay-1:2030-01-15:overdue:+1d": "superseded",
        "payment:pay-1:2030-01-15:overdue:+7d": "superseded",
        "payment:pay-1:2030-01-15:overdue:+14d": "sent",
        "payment:pay-1:2030-01-15:overdue:+30d": "pending",
    }
