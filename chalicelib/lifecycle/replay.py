"""Sending a `send_failed` contract again on an operator's word (`python -m chalicelib.admin contracts
replay`): the contract goes back into the send path and the send job is enqueued, through the
approval gate as a CRM's corrected update does (chalicelib.intake.events.updated), with the operator
on the timeline (`replay_requested`).

Where it goes:
- `sending` when no approval is needed, or when the approved version is the document (the approval
  binds to that version, as the send job's own check does: asking again would change nothing, and
  the approvers' email goes out once per version, so they would not even be asked). From `sending`
  the send job first looks for an envelope an earlier attempt may have made before it failed, so a
  replay cannot make a second one.
- `pending_approval` when the tenant's rules (as they are now) or an earlier gate want an approval
  that this version does not have; the send job then asks the approvers, once per version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.contracts.approval import changed_after_approval, document_version
from chalicelib.contracts.lifecycle import Status
from chalicelib.contracts.stored import StoredContract
from chalicelib.lifecycle.approvals import reasons_for
from chalicelib.lifecycle.sending import enqueue_send
from chalicelib.lifecycle.transitions import transition
from chalicelib.store import contracts as store

REPLAY_EVENT = "replay_requested"


@dataclass(frozen=True)
class SendReplay:
    """Where a replayed `send_failed` contract goes, and why."""

    target: Status  # SENDING or PENDING_APPROVAL
    why: str
    reasons: list[str] = field(default_factory=list)  # why an approval is needed (PENDING_APPROVAL)


def send_replay(record: StoredContract) -> SendReplay:
    """The move a replay of this `send_failed` contract makes (reads the tenant's approval rules)."""
    version = document_version(record.document or {})
    if record.approved_version is not None and record.approved_version == version:
        return SendReplay(Status.SENDING, f"approved version {version} is the document: the approval stands")
    reasons = [str(r) for r in reasons_for(record)]
    if record.approval_required and record.approved_version and not reasons:
        reasons = [str(changed_after_approval(record.approved_version, version))]
    if reasons or record.approval_required:
        return SendReplay(Status.PENDING_APPROVAL, "needs approval: " + ("; ".join(reasons) or "an earlier gate"),
                          reasons)
    return SendReplay(Status.SENDING, "no approval needed")


def replay_send(record: StoredContract, *, by: str, why: str) -> StoredContract:
    """Moves a `send_failed` contract back into the send path and enqueues the send job. Raises
    StaleStatus when the contract is no longer `send_failed`, or its document changed since it was
    read (a CRM update re-sent it meanwhile): nothing is enqueued then."""
    plan = send_replay(record)
    version = document_version(record.document or {})
    detail: dict[str, object] = {"by": by, "step": "send", "why": why, "version": version,
                                 "approved_version": record.approved_version, "gate": plan.why}
    if plan.reasons:
        detail["reasons"] = plan.reasons
    # As the send job's gate does: the contract is marked as one that needs approval.
    changes = (store.ContractChanges(approval_required=True) if plan.target == Status.PENDING_APPROVAL
               else store.NO_CHANGES)
    # expect_version: the gate decision above holds only for the document it read.
    moved = transition(record, plan.target, event_type=REPLAY_EVENT, detail=detail, changes=changes,
                       expect_version=version)
    enqueue_send(moved)
    return moved
