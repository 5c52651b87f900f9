"""Storing a signed contract's planned reminders and term transitions so that the hourly run reads
only what is due, and keeping them in step with the contract (re-planning).

One stored item per planned item, keyed by the contract and the planner's stable key (the reads and
conditional writes are chalicelib.store.reminders'). While an item is pending it carries
`pending_shard`, which puts it in the sparse `due` index (pending_shard, due_at); sending, applying
or cancelling it removes the attribute, and with it the item from the index. Transitions (expiring /
expired / renewed) are items of kind "transition" in the same index: applied by the hourly run
instead of emailed, so finding the contracts whose status must change costs what is due too.

Re-planning (`replan_contract`) reconciles what is stored with a fresh plan, under a short lease
per contract so that two re-plans (a payment and a renewal) cannot interleave:
- a planned key not stored yet is created (conditional put: a concurrent creator wins, harmlessly);
- a pending item whose due time, recipients, amounts or wording changed is updated in place
  (conditional on still being pending), so the email it sends is the current one;
- a pending item whose key left the plan (the milestone was paid, its due date moved, the term
  renewed, the contract ended) is cancelled: state "cancelled", out of the index;
- a cancelled item whose key is planned again (a CRM update moved a date back) becomes pending;
- sent, applied and superseded items are never touched: each key is sent at most once, and a step
  that a later step of its ladder replaced stays replaced.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.contracts.lifecycle import IN_FORCE, Status
from chalicelib.contracts.stored import CANCELLED, PENDING, StoredContract, StoredReminder
from chalicelib.store import reminders as reminder_store
from chalicelib.store.contracts import contract_key, find_contract, now_utc
from chalicelib.store.leases import Lease
from chalicelib.store.registry import get_tenant
from chalicelib.store.reminders import REMINDER_SHARDS

from .milestones import settled_states
from .planning import plan_reminders
from .settings import TenantSettings
from .terms import contract_term, plan_transitions, term_to_json

TRANSITION_KIND = "transition"
REPLAN_LEASE = timedelta(seconds=30)
_LEASE_WAIT_SECONDS = 10.0


def shard_for(reminder_key: str) -> str:
    return str(int(hashlib.sha256(reminder_key.encode()).hexdigest(), 16) % REMINDER_SHARDS)


def tenant_settings(tenant_id: str) -> TenantSettings:
    """The tenant's reminder settings (registry item `settings`), defaults for what is not set."""

    return TenantSettings.from_dict(get_tenant(tenant_id).settings)


@dataclass(frozen=True)
class Desired:
    """One item a fresh plan wants stored."""

    key: str
    kind: str
    due_at: datetime
    to: tuple[str, ...]
    cc: tuple[str, ...]
    detail: dict[str, Any]


@dataclass
class ReplanResult:
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    revived: int = 0
    unchanged: int = 0
    kept: int = 0  # sent or applied: never touched
    planned: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "cancelled": self.cancelled,
                "revived": self.revived, "unchanged": self.unchanged, "kept": self.kept}


def desired_items(record: StoredContract, settings: TenantSettings, now: datetime) -> list[Desired]:
    """Everything the contract should have stored now: reminders and term transitions (pure)."""

    if record.status not in IN_FORCE and record.status != Status.COMPLETED:
        return []  # not signed yet (nothing to plan) or ended (everything pending is cancelled)
    document = record.document or {}
    stored_term = record.term or None
    term = contract_term(document, stored_term) if stored_term else None
    renewals = int((stored_term or {}).get("renewals", 0))
    settled = settled_states(document, record.milestones)
    out: list[Desired] = []
    for r in plan_reminders(document, record.contract_id, settings, term=term, now=now, settled=settled):
        detail: dict[str, Any] = {
            "anchor_date": r.anchor_date.isoformat(),
            "local_due": r.local_due.isoformat(),
            "time_zone": str(r.local_due.tzinfo),
            "offset_days": r.offset_days,
            "milestone_id": r.milestone_id,
            "escalation": r.escalation,
        }
        for name in ("amount_due", "amount_remaining"):
            value = getattr(r, name)
            if value is not None:
                detail[name] = str(value)
        if term is not None:
            detail["term"] = term_to_json(term, renewals)
        out.append(Desired(r.key, str(r.kind), r.due_at, tuple(r.to), tuple(r.cc), detail))
    for t in plan_transitions(document, record.contract_id, settings, term=term, now=now):
        detail = {
            "target": t.target,
            "local_due": t.local_due.isoformat(),
            "time_zone": str(t.local_due.tzinfo),
            "term": term_to_json(t.term, renewals),
        }
        if t.new_term is not None:
            detail["new_term"] = term_to_json(t.new_term, renewals + 1)
        out.append(Desired(t.key, TRANSITION_KIND, t.due_at, (), (), detail))
    return out


def stored_items(record: StoredContract) -> dict[str, StoredReminder]:
    key = contract_key(record.tenant_id, record.contract_id)
    return {item.reminder_key: item for item in reminder_store.contract_reminders(key)}


def replan_contract(record: StoredContract, *, now: datetime | None = None,
                    keep: Iterable[str] = ()) -> ReplanResult:
    """Brings the contract's stored reminders and transitions in line with a fresh plan (see the
    module notes). Call it whenever what planning reads changes: the contract became active, a
    milestone was paid or delivered, the CRM updated an active contract (dates, milestones,
    amounts, owner, auto_renew), the term renewed or ended. Safe to call again at any time.

    `now` (default: the wall clock) is the planner's `now`: what is already past is dropped,
    except one catch-up per sequence. `keep` lists keys this call must not touch (the hourly run
    holds a claim on the transition it is applying)."""

    now = now or now_utc()
    deadline = time.monotonic() + _LEASE_WAIT_SECONDS
    while True:
        with Lease(f"replan#{record.tenant_id}#{record.contract_id}", REPLAN_LEASE) as lease:
            if lease.held:
                # Read the contract again inside the lease: the plan must reflect the newest
                # milestones, term and status, whatever the caller's copy says.
                fresh = find_contract(record.tenant_id, record.contract_id) or record
                return _reconcile(fresh, now, frozenset(keep))
        if time.monotonic() > deadline:
            raise TimeoutError(f"{record.contract_id}: another re-plan holds the lease")
        time.sleep(0.05)


def schedule_contract(record: StoredContract, *, now: datetime | None = None) -> int:
    """Plans and stores a contract's reminders when it becomes active (the archive job calls it).
    Returns how many reminders and transitions it stores in all."""
    result = replan_contract(record, now=now)
    return result.created + result.updated + result.revived + result.unchanged


def _reconcile(record: StoredContract, now: datetime, keep: frozenset[str]) -> ReplanResult:
    settings = tenant_settings(record.tenant_id)
    desired = {d.key: d for d in desired_items(record, settings, now)}
    existing = stored_items(record)
    result = ReplanResult(planned=sorted(desired))
    for key, want in desired.items():
        have = existing.get(key)
        if key in keep:
            continue
        if have is None:
            result.created += _create(record, want)
        elif have.state == PENDING:
            if _differs(have, want):
                result.updated += _update(have, want)
            else:
                result.unchanged += 1
        elif have.state == CANCELLED:
            result.revived += _revive(have, want)
        else:  # sent, applied, superseded, failed
            result.kept += 1
    for key, have in existing.items():
        if key not in desired and key not in keep and have.state == PENDING:
            result.cancelled += cancel(have, reason="no longer planned")
    return result


def _create(record: StoredContract, want: Desired) -> int:
    item = StoredReminder(
        contract_key=contract_key(record.tenant_id, record.contract_id),
        reminder_key=want.key,
        tenant_id=record.tenant_id,
        contract_id=record.contract_id,
        kind=want.kind,
        due_at=want.due_at,
        pending_shard=shard_for(want.key),
        state=PENDING,
        to=want.to,
        cc=want.cc,
        detail=want.detail,
    )
    return 1 if reminder_store.add_pending(item) else 0  # 0: stored concurrently


def _differs(have: StoredReminder, want: Desired) -> bool:
    return (have.due_at != want.due_at or list(have.to) != list(want.to) or list(have.cc) != list(want.cc)
            or have.kind != want.kind or (have.detail or {}) != _normalised(want.detail))


def _normalised(detail: Mapping[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(detail)))


def _update(have: StoredReminder, want: Desired) -> int:
    updated = reminder_store.update_pending(have, kind=want.kind, due_at=want.due_at, to=want.to, cc=want.cc,
                                       detail=want.detail)
    return 1 if updated else 0  # 0: sent or cancelled in the meantime: leave it


def _revive(have: StoredReminder, want: Desired) -> int:
    revived = reminder_store.revive(have, shard=shard_for(want.key), kind=want.kind, due_at=want.due_at, to=want.to,
                               cc=want.cc, detail=want.detail)
    return 1 if revived else 0


def cancel(item: StoredReminder, *, reason: str) -> int:
    """Takes a pending item out of the index for good (unless a later plan revives it)."""
    return 1 if reminder_store.cancel_pending(item, detail={**(item.detail or {}), "cancelled_because": reason}) else 0
