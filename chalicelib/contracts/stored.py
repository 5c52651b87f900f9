"""What the store holds about a contract, as plain values: a contract with its signers' progress and
document references, its timeline events, its planned reminders.

Pure (stdlib only). chalicelib.store builds these from its rows on every read and takes them on every
write; the names are the stored attributes' own, so reading code does not care where a value came
from. Frozen: a change is a store operation, which answers with the contract as it is now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SignerProgress:
    """One signer of the contract and how far they got at DocuSign."""

    position: int  # 1-based index in the contract's signers
    recipient_id: str
    name: str
    email: str
    routing_order: int
    delivery: str
    status: str = "created"
    signed_at: str | None = None
    declined_reason: str | None = None


@dataclass(frozen=True)
class StoredDocument:
    """A document kept in S3 (the rendered HTML, the signed PDF), pinned by its sha256 and version."""

    key: str
    sha256: str
    version_id: str | None = None
    template_version: str | None = None


@dataclass(frozen=True)
class StoredContract:
    """A contract as stored: the canonical document plus everything its lifecycle recorded."""

    tenant_id: str
    contract_id: str
    source_id: str
    crm_record_id: str
    contract_type: str
    number: str
    locale: str
    status: str
    created_at: datetime
    updated_at: datetime
    document: dict[str, Any]  # the canonical contract, as validated
    status_reason: str | None = None
    envelope_id: str | None = None
    envelope_status: str | None = None
    last_connect_at: str | None = None  # generatedDateTime of the newest applied Connect message
    signers: tuple[SignerProgress, ...] = ()
    rendered: StoredDocument | None = None
    signed: StoredDocument | None = None
    callback_url: str | None = None
    approval_required: bool = False
    approved_version: str | None = None  # document_version() of what the approver approved
    document_version: str | None = None  # document_version() of `document`
    # {milestone_id: {"status", "paid_amount", "payments": [...], "delivered_on"}} (reminders.milestones)
    milestones: dict[str, Any] | None = None
    term: dict[str, Any] | None = None  # the term in force once renewed; None: the document's own
    version: int | None = None  # the store's write counter, for writes conditional on what was read


@dataclass(frozen=True)
class TimelineEvent:
    """One entry of a contract's append-only timeline."""

    type: str
    at: datetime  # when it happened (the scheduled 'now' for time-driven events)
    status: str | None = None  # the contract's status after the event
    detail: dict[str, Any] | None = None


# The states of a stored reminder. Pending items are in the due index; every other state is final,
# except cancelled, which a later plan may revive.
PENDING, SENT, CANCELLED, APPLIED = "pending", "sent", "cancelled", "applied"
SUPERSEDED = "superseded"  # a later step of its ladder went out instead (the run's one-per-ladder rule): done
FAILED = "failed"  # given up after too many claims
SKIPPED = "skipped"  # not sent: every recipient's address is suppressed (a bounce or a complaint): done


@dataclass(frozen=True)
class StoredReminder:
    """One planned reminder or term transition of a contract, and where its sending stands."""

    contract_key: str  # "{tenant_id}#{contract_id}"
    reminder_key: str  # the planner's stable key
    tenant_id: str
    contract_id: str
    kind: str
    due_at: datetime
    state: str = PENDING
    pending_shard: str | None = None  # set while pending: the item is in the due index
    claim_token: str | None = None
    claimed_until: datetime | None = None
    sent_at: datetime | None = None
    message_id: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    detail: dict[str, Any] | None = None
    attempts: int = 0
