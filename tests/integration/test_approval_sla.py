"""The approval SLA (issue 15): a contract still waiting `sla_hours` after its approvers were asked
gets one reminder to them, then the question goes to the escalation approver with links of their
own; a decision (or a changed contract) ends the chain. The SLA here is 1.8 s (0.0005 h) so the
delayed jobs come due within the test."""

from __future__ import annotations

import time

from tests.integration.test_approval import APPROVER, RULES, pending, post, set_rules
from tests.support.stack import StackHarness

ESCALATE_TO = "cfo@yunti.example"
SLA_HOURS = 0.0005  # 1.8 s


def to_of(stack: StackHarness, address: str) -> int:
    return sum(address in e.to for e in stack.sent_emails())


def wait_and_drain(stack: StackHarness, seconds: float = SLA_HOURS * 3600 + 0.7) -> None:
    time.sleep(seconds)
    stack.drain_jobs()


def test_a_waiting_contract_is_reminded_then_escalated_once(stack: StackHarness) -> None:
    set_rules(stack, {**RULES, "sla_hours": SLA_HOURS, "escalate_to": [ESCALATE_TO]})
    contract_id = pending(stack, "sla-1")
    assert (to_of(stack, APPROVER), to_of(stack, ESCALATE_TO)) == (1, 0)  # asked, no one else yet

    wait_and_drain(stack)  # one SLA later: a reminder to the approver
    assert (to_of(stack, APPROVER), to_of(stack, ESCALATE_TO)) == (2, 0)
    wait_and_drain(stack)  # another: the escalation approver is asked, with links of their own
    assert (to_of(stack, APPROVER), to_of(stack, ESCALATE_TO)) == (2, 1)
    escalation = next(e for e in stack.sent_emails() if ESCALATE_TO in e.to)
    assert "/approval/" in escalation.text
    wait_and_drain(stack)  # nothing more: each step once per version
    assert (to_of(stack, APPROVER), to_of(stack, ESCALATE_TO)) == (2, 1)
    kinds = stack.timeline_types(contract_id)
    assert kinds.count("approval_reminder_sent") == 1 and kinds.count("approval_escalated") == 1


def test_a_decision_ends_the_chain(stack: StackHarness) -> None:
    set_rules(stack, {**RULES, "sla_hours": SLA_HOURS, "escalate_to": [ESCALATE_TO]})
    contract_id = pending(stack, "sla-2")
    assert post(stack, contract_id, "approve", {"reason": "ok"}).status_code == 200
    stack.drain_jobs()
    wait_and_drain(stack)
    assert (to_of(stack, APPROVER), to_of(stack, ESCALATE_TO)) == (1, 0)
    assert "approval_reminder_sent" not in stack.timeline_types(contract_id)


def test_without_sla_hours_nothing_is_scheduled(stack: StackHarness) -> None:
    set_rules(stack, {**RULES, "escalate_to": [ESCALATE_TO]})
    pending(stack, "sla-3")
    wait_and_drain(stack, 0.5)
    assert [m for m in stack.job_log if '"approval_sla"' in m] == []
