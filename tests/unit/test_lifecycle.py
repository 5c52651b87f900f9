"""The lifecycle table: every move not listed is refused, terminal states are dead ends."""

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

ALL_PAIRS = list(itertools.product(Status, Status))
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in TRANSITIONS[a]]
DISALLOWED = [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]]


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
    assert ENVELOPE_OPEN == {Status.SENT, Status.DELIVERED}
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
