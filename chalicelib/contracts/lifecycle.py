"""The contract's states and the moves allowed between them: one explicit table.

Status writes in the store are conditional on the current state and go through `can_move`,
so a late or repeated event (a Connect message that arrives after a newer one, a retried job)
can never move a contract backwards.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    RECEIVED = "received"  # accepted from the CRM, valid, not yet sent
    PENDING_APPROVAL = "pending_approval"  # the tenant's rules ask for an approval first
    APPROVED = "approved"
    REJECTED = "rejected"  # an approver said no: terminal
    SENDING = "sending"  # a send job holds it: rendering and creating the envelope
    SEND_FAILED = "send_failed"  # refused, or the send job dead-lettered; a CRM update or a replay retries
    SENT = "sent"  # envelope sent to the signers
    DELIVERED = "delivered"  # a signer opened it
    COMPLETED = "completed"  # every signer signed; archive pending
    DECLINED = "declined"  # a signer declined: terminal
    VOIDED = "voided"  # cancelled by the CRM or us, or the envelope expired: terminal
    ACTIVE = "active"  # signed and archived, in force: reminders run
    EXPIRING = "expiring"  # inside the expiry notice window
    RENEWED = "renewed"  # auto-renewed into a new term (in force again)
    EXPIRED = "expired"  # the term ended without renewal: terminal
    TERMINATED = "terminated"  # ended early by the CRM: terminal


S = Status

# Every allowed move. Anything not listed is refused. Reasons for the less obvious ones:
# - send_failed -> sending / pending_approval: a corrected CRM update re-sends, and so does an
#   operator's replay (`admin contracts replay`); send_failed is not terminal.
# - received/approved -> send_failed: rendering can fail on the contract's data before DocuSign.
# - sent -> completed: Connect may deliver "completed" without "delivered" (embedded signing).
# - renewed -> renewed: an auto-renewing contract renews once per term.
# - completed -> active only after the signed PDF is archived.
# - approved -> pending_approval: the document changed after it was approved; it is approved again.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.RECEIVED: frozenset({S.PENDING_APPROVAL, S.SENDING, S.SEND_FAILED, S.VOIDED}),
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.VOIDED}),
    S.APPROVED: frozenset({S.SENDING, S.SEND_FAILED, S.VOIDED, S.PENDING_APPROVAL}),
    S.SENDING: frozenset({S.SENT, S.SEND_FAILED, S.VOIDED}),
    S.SEND_FAILED: frozenset({S.SENDING, S.PENDING_APPROVAL, S.VOIDED}),
    S.SENT: frozenset({S.DELIVERED, S.COMPLETED, S.DECLINED, S.VOIDED}),
    S.DELIVERED: frozenset({S.COMPLETED, S.DECLINED, S.VOIDED}),
    S.COMPLETED: frozenset({S.ACTIVE}),
    S.ACTIVE: frozenset({S.EXPIRING, S.EXPIRED, S.RENEWED, S.TERMINATED}),
    S.EXPIRING: frozenset({S.EXPIRED, S.RENEWED, S.TERMINATED}),
    S.RENEWED: frozenset({S.EXPIRING, S.EXPIRED, S.RENEWED, S.TERMINATED}),
    S.REJECTED: frozenset(),
    S.DECLINED: frozenset(),
    S.VOIDED: frozenset(),
    S.EXPIRED: frozenset(),
    S.TERMINATED: frozenset(),
}

TERMINAL: frozenset[Status] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)

# States in which the envelope exists at DocuSign and is still open (a cancel must void it).
ENVELOPE_OPEN: frozenset[Status] = frozenset({S.SENT, S.DELIVERED})

# States before anything was sent: a CRM update may still change the contract.
EDITABLE: frozenset[Status] = frozenset({S.RECEIVED, S.PENDING_APPROVAL, S.APPROVED, S.SEND_FAILED})

# States in which the contract is signed and in force (reminders apply).
IN_FORCE: frozenset[Status] = frozenset({S.ACTIVE, S.EXPIRING, S.RENEWED})

# States in which execution (payments received, deliveries done) is recorded: from the last signature
# on. `completed` is included because CRMs react to its callback at once, before the archive job made
# the contract active; what they report then must be kept, not refused.
EXECUTION_OPEN: frozenset[Status] = IN_FORCE | {S.COMPLETED}

# States in which every signer has signed: the signed PDF exists (archived, or being archived while
# `completed`), so asking for it is never "not found".
SIGNED: frozenset[Status] = IN_FORCE | {S.COMPLETED, S.EXPIRED, S.TERMINATED}


class IllegalTransition(ValueError):
    def __init__(self, current: Status, target: Status) -> None:
        super().__init__(f"a contract cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_move(current: Status | str, target: Status | str) -> bool:
    return Status(target) in TRANSITIONS[Status(current)]


def check_move(current: Status | str, target: Status | str) -> None:
    if not can_move(current, target):
        raise IllegalTransition(Status(current), Status(target))


def sources_of(target: Status | str) -> frozenset[Status]:
    """The states a contract may be in for a move to `target` (used as a write condition)."""
    t = Status(target)
    return frozenset(s for s, nxt in TRANSITIONS.items() if t in nxt)
