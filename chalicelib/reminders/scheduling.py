"""Storing a signed contract's planned reminders so that the hourly run reads only what is due."""

from __future__ import annotations

import hashlib
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.store.contracts import contract_key, now_utc
from chalicelib.store.models import REMINDER_SHARDS, ContractRecord, ReminderRecord


def shard_for(reminder_key: str) -> str:
    return str(int(hashlib.sha256(reminder_key.encode()).hexdigest(), 16) % REMINDER_SHARDS)


def schedule_contract(record: ContractRecord, *, settled: Any = None, term: Any = None) -> int:
    """Plans and stores the contract's reminders; an existing reminder (same stable key) is kept as
    it is, so re-planning never re-sends. Returns how many new reminders were stored."""
    from chalicelib.reminders.planning import plan_reminders
    from chalicelib.reminders.settings import TenantSettings
    from chalicelib.store.registry import get_tenant

    settings = TenantSettings.from_dict(get_tenant(record.tenant_id).settings)
    kwargs: dict[str, Any] = {"now": now_utc()}
    if settled is not None:
        kwargs["settled"] = settled
    if term is not None:
        kwargs["term"] = term
    planned = plan_reminders(record.document, record.contract_id, settings, **kwargs)
    stored = 0
    for reminder in planned:
        item = ReminderRecord(
            contract_key=contract_key(record.tenant_id, record.contract_id),
            reminder_key=reminder.key,
            tenant_id=record.tenant_id,
            contract_id=record.contract_id,
            kind=reminder.kind,
            due_at=reminder.due_at,
            pending_shard=shard_for(reminder.key),
            to=list(reminder.to),
            cc=list(reminder.cc),
            detail=_detail(reminder),
        )
        try:
            item.save(condition=ReminderRecord.reminder_key.does_not_exist())
            stored += 1
        except PutError:
            pass
    return stored


def _detail(reminder: Any) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "anchor_date": reminder.anchor_date.isoformat(),
        "local_due": reminder.local_due.isoformat(),
        "offset_days": reminder.offset_days,
        "milestone_id": reminder.milestone_id,
        "escalation": reminder.escalation,
    }
    for name in ("amount_due", "amount_remaining"):
        value = getattr(reminder, name, None)
        if value is not None:
            detail[name] = str(value)
    return detail
