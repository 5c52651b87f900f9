"""The lifecycle table: every move not listed is refused, terminal states are dead ends.

The allowed moves below are written out by hand from the documented life of a contract (README,
docs/architecture.md, docs/reminders.md, docs/crm-setup.md), each with its reason, not derived from
`TRANSITIONS`: the code and this test are two statements of the rules, and they must agree.
"""

import itertools

import pytest

from chalicelib.contracts.lifecycle import (
    EDITABLE,
    ENVELOPE_OPEN,
    EXECUTION_OPEN,
    IN_FORCE,
    SIGNED,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    Status,
    can_move,
    check_move,
    sources_of,
)

S = Status

# (from, to): why the documented life of a contract needs the move.
DOCUMENTED_MOVES: dict[tuple[Status, Status], str] = {
    # Before sending: the send job's approval gate, the send itself, a cancel.
    (S.RECEIVED, S.PENDING_APPROVAL): "the tenant's approval rules catch it at the send job's gate",
    (S.RECEIVED, S.SENDING): "no approval needed: the send job takes it",
    (S.RECEIVED, S.SEND_FAILED): "the send job dead-lettered before it reached `sending`",
    (S.RECEIVED, S.VOIDED): "cancelled by the CRM or POST …/void before anything was sent",
    (S.PENDING_APPROVAL, S.APPROVED): "POST …/approve or an approver's email link",
    (S.PENDING_APPROVAL, S.REJECTED): "POST …/reject or an approver's email link",
    (S.PENDING_APPROVAL, S.VOIDED): "POST …/void or a CRM cancel while it waits for approval",
    (S.APPROVED, S.SENDING): "the send job sends the version that was approved",
    (S.APPROVED, S.SEND_FAILED): "the send job dead-lettered before it reached `sending`",
    (S.APPROVED, S.VOIDED): "cancelled by the CRM or POST …/void before anything was sent",
    (S.APPROVED, S.PENDING_APPROVAL): "a CRM update changed the approved document: asked again",
    (S.SENDING, S.SENT): "DocuSign accepted the envelope",
    (S.SENDING, S.SEND_FAILED): "DocuSign refused the data, or the send job dead-lettered",
    (S.SENDING, S.VOIDED): "POST …/void: not signed yet, the void job voids any envelope",
    (S.SEND_FAILED, S.SENDING): "a corrected CRM update or `admin contracts replay` sends it again",
    (S.SEND_FAILED, S.PENDING_APPROVAL): "a replay or an update the tenant's rules want approved",
    (S.SEND_FAILED, S.VOIDED): "cancelled: send_failed is a contract not sent yet",
    # The envelope is out: Connect reports the signers' progress.
    (S.SENT, S.DELIVERED): "a signer opened the envelope",
    (S.SENT, S.COMPLETED): "Connect dropped or never sent `delivered` (embedded signing, a lost message)",
    (S.SENT, S.DECLINED): "a signer declined",
    (S.SENT, S.VOIDED): "cancelled, or the envelope expired at DocuSign",
    (S.DELIVERED, S.COMPLETED): "every signer signed",
    (S.DELIVERED, S.DECLINED): "a signer declined",
    (S.DELIVERED, S.VOIDED): "cancelled, or the envelope expired at DocuSign",
    (S.COMPLETED, S.ACTIVE): "the archive job stored the signed PDF",
    # In force: the hourly run's term transitions (docs/reminders.md) and an early end.
    (S.ACTIVE, S.EXPIRING): "a fixed term's expiry notice window opened",
    (S.ACTIVE, S.EXPIRED): "a fixed term ended without an expiry ladder (no expiring window)",
    (S.ACTIVE, S.RENEWED): "an auto-renewing term ended: the next term",
    (S.ACTIVE, S.TERMINATED): "ended early",
    (S.EXPIRING, S.EXPIRED): "the day after the end date",
    (S.EXPIRING, S.RENEWED): "auto_renew turned on in the CRM inside the notice window",
    (S.EXPIRING, S.TERMINATED): "ended early",
    (S.RENEWED, S.EXPIRING): "auto_renew turned off: the term in force gets its expiry window",
    (S.RENEWED, S.EXPIRED): "auto_renew turned off and the term in force ended",
    (S.RENEWED, S.RENEWED): "an auto-renewing contract renews once per term",
    (S.RENEWED, S.TERMINATED): "ended early",
}

ALL_PAIRS = list(itertools.product(Status, Status))
ALLOWED = sorted(DOCUMENTED_MOVES)
DISALLOWED = [pair for pair in ALL_PAIRS if pair not in DOCUMENTED_MOVES]


def test_the_table_is_the_documented_one():
    in_code = {(a, b) for a, nxt in TRANSITIONS.items() for b in nxt}
    assert in_code - DOCUMENTED_MOVES.keys() == set(), "allowed in the code, not documented"
    assert DOCUMENTED_MOVES.keys() - in_code == set(), "documented, refused by the code"


def test_every_status_has_a_row():
    assert set(TRANSITIONS) == set(Status)


@pytest.mark.parametrize(("current", "target"), ALLOWED, ids=lambda s: str(s))
def test_allowed_moves(current, target):
    assert can_move(current, target)
    check_move(current, target)
    check_move(str(current), str(target))  # plain strings, as read from the store


@pytest.mark.parametrize(("current", "target"), DISALLOWED, ids=lambda s: str(s))
def test_every_other_move_is_refused(current, target):
    assert not can_move(current, target)
    with pytest.raises(IllegalTransition) as info:
        check_move(current, target)
    assert info.value.current is current
    assert info.value.target is target
    assert str(info.value) == f"a contract cannot go from {current.value} to {target.value}"


def test_terminal_states_have_no_exits():
    # Written out by hand: the states the lifecycle documents as terminal.
    expected = {Status.REJECTED, Status.DECLINED, Status.VOIDED, Status.EXPIRED, Status.TERMINATED}
    assert expected == TERMINAL
    for state in TERMINAL:
        assert TRANSITIONS[state] == frozenset()
        assert not any(can_move(state, target) for target in Status)


def test_no_state_moves_back_to_received():
    assert sources_of(Status.RECEIVED) == frozenset()


def test_nothing_reopens_a_signed_contract():
    before_signing = {Status.RECEIVED, Status.PENDING_APPROVAL, Status.APPROVED, Status.SENDING,
                      Status.SEND_FAILED, Status.SENT, Status.DELIVERED}
    for state in (Status.COMPLETED, *IN_FORCE):
        assert not TRANSITIONS[state] & before_signing


def test_sources_of_is_the_inverse_of_the_table():
    for target in Status:
        assert sources_of(target) == {s for s in Status if target in TRANSITIONS[s]}
        assert sources_of(str(target)) == sources_of(target)


def test_the_named_sets():
    # docs/crm-setup.md's columns: "not sent yet" and "envelope out"; docs/reminders.md's "in force".
    assert EDITABLE == {Status.RECEIVED, Status.PENDING_APPROVAL, Status.APPROVED, Status.SEND_FAILED}
    assert ENVELOPE_OPEN == {Status.SENT, Status.DELIVERED}
    assert IN_FORCE == {Status.ACTIVE, Status.EXPIRING, Status.RENEWED}
    # README: execution is recorded on contracts "completed, active, expiring, renewed".
    assert EXECUTION_OPEN == {Status.COMPLETED, Status.ACTIVE, Status.EXPIRING, Status.RENEWED}
    assert SIGNED == {Status.COMPLETED, Status.ACTIVE, Status.EXPIRING, Status.RENEWED, Status.EXPIRED,
                      Status.TERMINATED}
    assert EDITABLE.isdisjoint(TERMINAL) and IN_FORCE.isdisjoint(TERMINAL)
    assert all(Status.VOIDED in TRANSITIONS[s] for s in ENVELOPE_OPEN | EDITABLE)


def reachable_from(start: Status) -> set[Status]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_signed_is_completed_and_every_state_after_it():
    # Once every signer signed, the signed PDF exists whatever happens next.
    assert SIGNED == reachable_from(Status.COMPLETED)


def test_execution_is_recorded_from_completed_until_the_contract_ends():
    # Completed included: CRMs report a payment as soon as the completed callback arrives.
    assert EXECUTION_OPEN == SIGNED - TERMINAL
    assert Status.COMPLETED in EXECUTION_OPEN and IN_FORCE < EXECUTION_OPEN


def test_illegal_transition_is_a_value_error():
    assert issubclass(IllegalTransition, ValueError)


@pytest.mark.parametrize("bad", ["", "signed", "RECEIVED"])
def test_unknown_status_names_are_refused(bad):
    with pytest.raises(ValueError):
        can_move(bad, Status.SENT)
    with pytest.raises(ValueError):
        check_move(Status.SENT, bad)
