"""A contract's planned reminders and term transitions (the reminders table), as StoredReminder values:
the reads and the conditional writes that planning (chalicelib.reminders.scheduling) and sending
(chalicelib.reminders.sending) are made of. The rules are theirs; the conditions that make each write
exactly-once are here, next to the rows.

An item is keyed by its contract and the planner's stable key. While pending it carries
`pending_shard`, which puts it in the sparse `due` index (pending_shard, due_at): a run reads only
what is due. Every write that ends an item removes the attribute, and with it the item from the index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.contracts.stored import CANCELLED, FAILED, PENDING, StoredReminder
from chalicelib.store.contention import translated
from chalicelib.store.models import REMINDER_SHARDS, ReminderRecord

__all__ = ["REMINDER_SHARDS", "DueChunk", "add_pending", "cancel_pending", "claim", "contract_reminders",
           "defer", "due_chunk", "finish", "give_up", "reminders_by_key", "release", "revive", "update_pending"]


def stored_reminder(row: ReminderRecord) -> StoredReminder:
    return StoredReminder(
        contract_key=row.contract_key, reminder_key=row.reminder_key, tenant_id=row.tenant_id,
        contract_id=row.contract_id, kind=row.kind, due_at=row.due_at, state=row.state,
        pending_shard=row.pending_shard, claim_token=row.claim_token, claimed_until=row.claimed_until,
        sent_at=row.sent_at, message_id=row.message_id, to=_texts(row.to), cc=_texts(row.cc),
        detail=row.detail, attempts=int(row.attempts or 0),
    )


def _row(item: StoredReminder) -> ReminderRecord:
    return ReminderRecord(
        contract_key=item.contract_key, reminder_key=item.reminder_key, tenant_id=item.tenant_id,
        contract_id=item.contract_id, kind=item.kind, due_at=item.due_at, state=item.state,
        pending_shard=item.pending_shard, claim_token=item.claim_token, claimed_until=item.claimed_until,
        sent_at=item.sent_at, message_id=item.message_id, to=list(item.to), cc=list(item.cc), detail=item.detail,
        attempts=item.attempts,
    )


def _texts(values: Any) -> tuple[str, ...]:
    # A ListAttribute(of=UnicodeAttribute) holds plain strings (its stubs say attributes).
    return tuple(str(v) for v in values or ())


def _strings(values: Iterable[str]) -> Any:
    return list(values)  # what a ListAttribute of UnicodeAttribute is set to (see _texts)


def _update_if(item: StoredReminder, actions: list[Action], condition: Condition) -> StoredReminder | None:
    """The item as stored after the write; None when the condition no longer held (or the write failed)."""
    row = _row(item)
    try:
        row.update(actions=actions, condition=condition)
    except UpdateError:
        return None
    return stored_reminder(row)


def _unclaimed(wall: datetime) -> Condition:
    """Pending, with no live claim (a claim's lease ends at `claimed_until`, by the wall clock)."""
    condition: Condition = (ReminderRecord.state == PENDING) & (
        ReminderRecord.claimed_until.does_not_exist() | (ReminderRecord.claimed_until < wall))
    return condition


# --- reads ------------------------------------------------------------------------------------------


@translated
def contract_reminders(contract_key: str) -> list[StoredReminder]:
    """Everything stored for one contract ("{tenant_id}#{contract_id}"), consistently."""
    return [stored_reminder(row) for row in ReminderRecord.query(contract_key, consistent_read=True)]


@translated
def reminders_by_key(keys: Sequence[tuple[str, str]]) -> list[StoredReminder]:
    """The items (contract key, reminder key) as stored now (consistent), in the order given; missing
    ones are left out."""
    found = {(i.contract_key, i.reminder_key): i for i in ReminderRecord.batch_get(keys, consistent_read=True)}
    return [stored_reminder(found[k]) for k in keys if k in found]


@dataclass
class DueChunk:
    items: list[StoredReminder]
    scanned: int  # items DynamoDB evaluated for the query
    last_key: dict[str, Any] | None  # where the shard's next chunk starts; None: the shard is done


@translated
def due_chunk(shard: str, now: datetime, *, limit: int | None, start: dict[str, Any] | None) -> DueChunk:
    """Up to `limit` (None: all) pending items of one shard of the due index due at `now` or before, in
    due order, from `start` (a previous chunk's `last_key`)."""
    results = ReminderRecord.due_index.query(shard, ReminderRecord.due_at <= now, limit=limit, page_size=limit,
                                             last_evaluated_key=start)
    items = [stored_reminder(row) for row in results]
    return DueChunk(items, results.page_iter.total_scanned_count, results.last_evaluated_key)


# --- planning's writes --------------------------------------------------------------------------------


@translated
def add_pending(item: StoredReminder) -> bool:
    """Stores a newly planned item; False if its key is stored already (a concurrent planner won)."""
    try:
        _row(item).save(condition=ReminderRecord.reminder_key.does_not_exist())
    except PutError:
        return False
    return True


@translated
def update_pending(item: StoredReminder, *, kind: str, due_at: datetime, to: Iterable[str], cc: Iterable[str],
                   detail: dict[str, Any]) -> bool:
    """Rewrites what a pending item sends and when; False if it is no longer pending."""
    return _update_if(item, [ReminderRecord.due_at.set(due_at), ReminderRecord.to.set(_strings(to)),
                             ReminderRecord.cc.set(_strings(cc)), ReminderRecord.kind.set(kind),
                             ReminderRecord.detail.set(detail)],
                      ReminderRecord.state == PENDING) is not None


@translated
def revive(item: StoredReminder, *, shard: str, kind: str, due_at: datetime, to: Iterable[str], cc: Iterable[str],
           detail: dict[str, Any]) -> bool:
    """Makes a cancelled item pending again (back in the due index, unclaimed); False if it is not
    cancelled any more."""
    return _update_if(item, [ReminderRecord.state.set(PENDING), ReminderRecord.pending_shard.set(shard),
                             ReminderRecord.due_at.set(due_at), ReminderRecord.to.set(_strings(to)),
                             ReminderRecord.cc.set(_strings(cc)), ReminderRecord.kind.set(kind),
                             ReminderRecord.detail.set(detail), ReminderRecord.claim_token.remove(),
                             ReminderRecord.claimed_until.remove()],
                      ReminderRecord.state == CANCELLED) is not None


@translated
def cancel_pending(item: StoredReminder, *, detail: dict[str, Any]) -> bool:
    """Takes a pending item out of the index (with `detail` saying why); False if it is not pending."""
    return _update_if(item, [ReminderRecord.state.set(CANCELLED), ReminderRecord.pending_shard.remove(),
                             ReminderRecord.detail.set(detail)],
                      ReminderRecord.state == PENDING) is not None


# --- sending's writes ---------------------------------------------------------------------------------


@translated
def claim(item: StoredReminder, token: str, *, until: datetime, wall: datetime) -> StoredReminder | None:
    """Claims a pending, unclaimed item until `until` (the attempt counted): the item as claimed, whose
    `claim_token` is `token`; None if it is claimed, or done, elsewhere."""
    return _update_if(item, [ReminderRecord.claim_token.set(token), ReminderRecord.claimed_until.set(until),
                             ReminderRecord.attempts.add(1)],
                      _unclaimed(wall))


def _token(claimed: StoredReminder) -> str:
    if claimed.claim_token is None:
        raise ValueError(f"{claimed.reminder_key}: not a claimed item")
    return claimed.claim_token


@translated
def release(claimed: StoredReminder) -> None:
    """Ends the claim early (nothing was sent), if it is still this one."""
    _update_if(claimed, [ReminderRecord.claimed_until.remove()], ReminderRecord.claim_token == _token(claimed))


@translated
def finish(claimed: StoredReminder, *, state: str, at: datetime, message_id: str | None = None,
           detail: dict[str, Any] | None = None) -> None:
    """Ends a claimed item in `state` (out of the index), under its claim: raises StoreError if the
    claim was lost meanwhile."""
    actions: list[Action] = [ReminderRecord.state.set(state), ReminderRecord.pending_shard.remove(),
                             ReminderRecord.sent_at.set(at)]
    if message_id:
        actions.append(ReminderRecord.message_id.set(message_id))
    if detail is not None:
        actions.append(ReminderRecord.detail.set(detail))
    _row(claimed).update(actions=actions, condition=ReminderRecord.claim_token == _token(claimed))


@translated
def give_up(item: StoredReminder) -> bool:
    """Marks a pending item failed, out of the index; False if it is not pending any more."""
    return _update_if(item, [ReminderRecord.state.set(FAILED), ReminderRecord.pending_shard.remove()],
                      ReminderRecord.state == PENDING) is not None


@translated
def defer(item: StoredReminder, due_at: datetime, *, wall: datetime) -> None:
    """Moves a pending, unclaimed item to `due_at`; nothing if it was claimed or finished meanwhile."""
    _update_if(item, [ReminderRecord.due_at.set(due_at)], _unclaimed(wall))

