"""The hourly run: send every reminder that is due, exactly once.

Reading: a sparse index holds only pending reminders, keyed by shard and due time, so a run reads
what is due and nothing else, however many contracts exist.
Exactly once: a reminder is claimed with a conditional write (a lease that expires if the run dies),
sent, then marked sent under the same claim. Two overlapping runs cannot both claim it; a run that dies
after claiming leaves it to the next run once the lease has expired. The one remaining window — SES
accepted the mail and the run died before marking it — is narrowed by marking right after sending.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.contracts.lifecycle import IN_FORCE
from chalicelib.errors import RetryableError
from chalicelib.observability import logger
from chalicelib.store import contracts as store
from chalicelib.store.models import REMINDER_SHARDS, ReminderRecord

CLAIM_LEASE = timedelta(minutes=10)


def parse_event_time(value: str | None) -> datetime:
    if not value:
        return store.now_utc()
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def due_reminders(now: datetime) -> list[ReminderRecord]:
    due: list[ReminderRecord] = []
    for shard in range(REMINDER_SHARDS):
        due.extend(ReminderRecord.due_index.query(str(shard), ReminderRecord.due_at <= now))
    return due


def run_due(event_time: str | None) -> dict[str, Any]:
    now = parse_event_time(event_time)
    due = due_reminders(now)
    sent = skipped = failed = 0
    for reminder in sorted(due, key=lambda r: r.due_at):
        try:
            outcome = _deliver(reminder, now)
        except RetryableError as err:
            failed += 1
            logger.warning("reminder not sent; next run retries", extra={"reminder": reminder.reminder_key,
                                                                        "reason": str(err)})
            continue
        if outcome == "sent":
            sent += 1
        else:
            skipped += 1
    result = {"now": now.isoformat(), "read": len(due), "sent": sent, "skipped": skipped, "failed": failed}
    logger.info("reminder run", extra=result)
    return result


def _claim(reminder: ReminderRecord) -> str | None:
    token = secrets.token_hex(8)
    wall = store.now_utc()
    try:
        reminder.update(
            actions=[ReminderRecord.claim_token.set(token), ReminderRecord.claimed_until.set(wall + CLAIM_LEASE),
                     ReminderRecord.attempts.add(1)],
            condition=(ReminderRecord.state == "pending")
            & (ReminderRecord.claimed_until.does_not_exist() | (ReminderRecord.claimed_until < wall)),
        )
    except UpdateError:
        return None
    return token


def _finish(reminder: ReminderRecord, token: str, state: str, now: datetime, message_id: str | None) -> None:
    actions = [ReminderRecord.state.set(state), ReminderRecord.pending_shard.remove(),
               ReminderRecord.sent_at.set(now)]
    if message_id:
        actions.append(ReminderRecord.message_id.set(message_id))
    reminder.update(actions=actions, condition=ReminderRecord.claim_token == token)


def _deliver(reminder: ReminderRecord, now: datetime) -> str:
    token = _claim(reminder)
    if token is None:
        return "claimed elsewhere"
    record = store.find_contract(reminder.tenant_id, reminder.contract_id)
    if record is None or record.status not in IN_FORCE:
        _finish(reminder, token, "cancelled", now, None)
        return "cancelled"
    from chalicelib.notify.mailer import send
    from chalicelib.reminders.content import compose

    try:
        message_id = send(compose(record, reminder, now))
    except RetryableError:
        reminder.update(actions=[ReminderRecord.claimed_until.remove()],
                        condition=ReminderRecord.claim_token == token)
        raise
    _finish(reminder, token, "sent", now, message_id)
    store.append_event(record, "reminder_sent", {
        "kind": reminder.kind, "key": reminder.reminder_key, "to": list(reminder.to), "cc": list(reminder.cc),
        "due_at": reminder.due_at.isoformat(), "message_id": message_id}, at=now)
    return "sent"
