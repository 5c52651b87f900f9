"""The hourly run: send every reminder that is due, exactly once, and apply the term transitions
(expiring / expired / renewed) that are due.

Reading: the sparse `due` index holds only pending items, keyed by shard and due time, so a run
reads what is due and nothing else, however many contracts exist (one query per shard; see
bench/bench_reminders.py). `now` is the scheduled event's time, so the local clock can travel.

Business hours: planning already puts every reminder at a business moment in the contract's zone.
The run checks again at send time, because a run may be late (a lease that expired overnight, a
catch-up planned at 17:30 and picked up by the 18:00 run): a reminder found outside business hours
is moved to the next business morning instead of being sent at night.

Exactly once: an item is claimed with a conditional write (a lease that expires if the run dies),
sent, then marked sent under the same claim. A second delivery of the same schedule event, or an
overlapping run, cannot claim it again: the claim is conditional on the item still being pending
with no live lease. A run that dies after claiming leaves it to the next run once the lease has
expired. The one remaining window — SES accepted the mail and the run died before marking it — is
narrowed by marking right after sending. SES throttling is retried a few times with backoff inside
the run; after that the claim is released and the item stays pending for the next run.
"""

from __future__ import annotations

import os
import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pynamodb.exceptions import UpdateError

from chalicelib.contracts.lifecycle import IN_FORCE, Status, can_move
from chalicelib.errors import RetryableError
from chalicelib.observability import count, logger
from chalicelib.store import contracts as store
from chalicelib.store.models import REMINDER_SHARDS, ContractRecord, ReminderRecord

from .scheduling import APPLIED, CANCELLED, PENDING, SENT, SUPERSEDED, TRANSITION_KIND, tenant_settings
from .settings import TenantSettings

CLAIM_LEASE = timedelta(minutes=10)
SEND_ATTEMPTS = 3  # SES throttling inside one run (botocore's own retries come on top)
MAX_ATTEMPTS = 24  # claims of one item before it is given up as failed (a day of hourly runs)
FAILED = "failed"
_TRANSITION_ORDER = {"expiring": 0, "expired": 1, "renewed": 2}


def parse_event_time(value: str | None) -> datetime:
    if not value:
        return store.now_utc()
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class DueRead:
    """What one run read from the index: the items and what DynamoDB counted for them."""

    items: list[ReminderRecord] = field(default_factory=list)
    queries: int = 0
    scanned: int = 0  # items the queries evaluated (what read capacity is charged for)


def read_due(now: datetime) -> DueRead:
    """Every pending item due at or before `now`: one query per shard of the sparse index."""
    read = DueRead()
    for shard in range(REMINDER_SHARDS):
        results = ReminderRecord.due_index.query(str(shard), ReminderRecord.due_at <= now)
        read.items.extend(results)
        read.queries += 1
        read.scanned += results.page_iter.total_scanned_count
    return read


def due_reminders(now: datetime) -> list[ReminderRecord]:
    return read_due(now).items


def run_due(event_time: str | None) -> dict[str, Any]:
    now = parse_event_time(event_time)
    read = read_due(now)
    run = _Run(now)
    outcomes: Counter[str] = Counter()
    latest = _latest_of_each_sequence(read.items)
    for item in sorted(read.items, key=_order):
        try:
            if item.kind != TRANSITION_KIND and latest.get(_sequence(item)) is not item:
                outcome = _supersede(item, latest[_sequence(item)], now)
            elif item.kind == TRANSITION_KIND:
                outcome = _apply_transition(item, run)
            else:
                outcome = _deliver(item, run)
        except RetryableError as err:
            outcome = "failed"
            logger.warning("reminder not sent; the next run retries it",
                           extra={"reminder": item.reminder_key, "reason": str(err)})
        except Exception:  # one broken item must not stop the batch; its lease lets a later run retry
            outcome = "failed"
            logger.exception("reminder item failed", extra={"reminder": item.reminder_key})
            _give_up_if_hopeless(item, now)
        outcomes[outcome] += 1
    result: dict[str, Any] = {
        "now": now.isoformat(), "read": len(read.items), "scanned": read.scanned, "queries": read.queries,
        "sent": outcomes["sent"], "applied": outcomes["applied"], "deferred": outcomes["deferred"],
        "cancelled": outcomes["cancelled"], "superseded": outcomes["superseded"],
        "skipped": outcomes["claimed elsewhere"] + outcomes["skipped"],
        "failed": outcomes["failed"],
    }
    if read.items:
        logger.info("reminder run", extra=result)
    if outcomes["sent"]:
        count("RemindersSent", outcomes["sent"])
    if outcomes["failed"]:
        count("RemindersFailed", outcomes["failed"])
    return result


class _Run:
    """Per-run caches (tenant settings)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._settings: dict[str, TenantSettings] = {}

    def settings(self, tenant_id: str) -> TenantSettings:
        if tenant_id not in self._settings:
            self._settings[tenant_id] = tenant_settings(tenant_id)
        return self._settings[tenant_id]


def _order(item: ReminderRecord) -> tuple[datetime, int, int, str]:
    if item.kind == TRANSITION_KIND:
        return item.due_at, 0, _TRANSITION_ORDER.get((item.detail or {}).get("target", ""), 9), item.reminder_key
    return item.due_at, 1, 0, item.reminder_key


# --- one notice per sequence ----------------------------------------------------------------------


def _sequence(item: ReminderRecord) -> tuple[str, str, str, str]:
    """The ladder an item belongs to: the contract, the family (expiry, renewal, payment, delivery),
    the milestone and the deadline."""
    detail = item.detail or {}
    family = str(item.kind).split("_", 1)[0]
    return item.contract_key, family, str(detail.get("milestone_id") or ""), str(detail.get("anchor_date") or "")


def _latest_of_each_sequence(items: list[ReminderRecord]) -> dict[tuple[str, str, str, str], ReminderRecord]:
    """Hourly runs meet one step of a ladder at a time; a run after an outage (or a clock that
    jumped) may find several. Like planning's catch-up rule, only the latest step goes out: it
    carries the current message and the highest escalation, instead of a burst of stale ones."""
    latest: dict[tuple[str, str, str, str], ReminderRecord] = {}
    for item in items:
        if item.kind == TRANSITION_KIND:
            continue
        key = _sequence(item)
        kept = latest.get(key)
        if kept is None or _step(item) > _step(kept):
            latest[key] = item
    return latest


def _step(item: ReminderRecord) -> tuple[int, datetime, str]:
    return int((item.detail or {}).get("offset_days") or 0), item.due_at, item.reminder_key


def _supersede(item: ReminderRecord, by: ReminderRecord, now: datetime) -> str:
    token = _claim(item)
    if token is None:
        return "claimed elsewhere"
    _finish(item, token, SUPERSEDED, now, None, note=f"superseded by {by.reminder_key}")
    return "superseded"


# --- claims -------------------------------------------------------------------------------------


def _claim(reminder: ReminderRecord) -> str | None:
    token = secrets.token_hex(8)
    wall = store.now_utc()
    try:
        reminder.update(
            actions=[ReminderRecord.claim_token.set(token), ReminderRecord.claimed_until.set(wall + CLAIM_LEASE),
                     ReminderRecord.attempts.add(1)],
            condition=(ReminderRecord.state == PENDING)
            & (ReminderRecord.claimed_until.does_not_exist() | (ReminderRecord.claimed_until < wall)),
        )
    except UpdateError:
        return None
    return token


def _release(reminder: ReminderRecord, token: str) -> None:
    try:
        reminder.update(actions=[ReminderRecord.claimed_until.remove()], condition=ReminderRecord.claim_token == token)
    except UpdateError:
        pass


def _finish(reminder: ReminderRecord, token: str, state: str, now: datetime, message_id: str | None,
            note: str | None = None) -> None:
    actions = [ReminderRecord.state.set(state), ReminderRecord.pending_shard.remove(),
               ReminderRecord.sent_at.set(now)]
    if message_id:
        actions.append(ReminderRecord.message_id.set(message_id))
    if note:
        actions.append(ReminderRecord.detail.set({**(reminder.detail or {}), "outcome": note}))
    reminder.update(actions=actions, condition=ReminderRecord.claim_token == token)


def _give_up_if_hopeless(item: ReminderRecord, now: datetime) -> None:
    if int(item.attempts or 0) < MAX_ATTEMPTS:
        return
    try:
        item.update(actions=[ReminderRecord.state.set(FAILED), ReminderRecord.pending_shard.remove()],
                    condition=ReminderRecord.state == PENDING)
    except UpdateError:
        return
    record = store.find_contract(item.tenant_id, item.contract_id)
    if record is not None:
        store.append_event(record, "reminder_failed", {"key": item.reminder_key, "attempts": int(item.attempts)},
                           at=now)


# --- emails ---------------------------------------------------------------------------------------


def _zone(item: ReminderRecord, settings: TenantSettings) -> ZoneInfo:
    """The contract's zone, as planned (stored with the item, so no contract read is needed)."""
    name = (item.detail or {}).get("time_zone")
    if name:
        return ZoneInfo(name)
    from .planning import contract_zone

    record = store.find_contract(item.tenant_id, item.contract_id)
    return contract_zone((record.document if record else None) or {}, settings)


def _defer_to_business_hours(item: ReminderRecord, settings: TenantSettings, zone: ZoneInfo,
                             now: datetime) -> bool:
    """Moves an item found outside business hours to the next business morning (True if moved)."""
    from .planning import business_moment, in_business_hours

    if in_business_hours(settings, zone, now):
        return False
    morning = business_moment(settings, zone, now)
    wall = store.now_utc()
    try:
        item.update(actions=[ReminderRecord.due_at.set(morning)],
                    condition=(ReminderRecord.state == PENDING)
                    & (ReminderRecord.claimed_until.does_not_exist() | (ReminderRecord.claimed_until < wall)))
    except UpdateError:
        pass  # claimed or finished meanwhile: nothing to move
    return True


def _settled(record: ContractRecord, item: ReminderRecord) -> bool:
    milestone_id = (item.detail or {}).get("milestone_id")
    state = (record.milestones or {}).get(milestone_id) if milestone_id else None
    return bool(state) and state.get("status") in ("paid", "delivered")


def _deliver(item: ReminderRecord, run: _Run) -> str:
    now = run.now
    settings = run.settings(item.tenant_id)
    if _defer_to_business_hours(item, settings, _zone(item, settings), now):
        return "deferred"
    token = _claim(item)
    if token is None:
        return "claimed elsewhere"
    record = store.find_contract(item.tenant_id, item.contract_id)
    if record is None or record.status not in IN_FORCE:
        _finish(item, token, CANCELLED, now, None, note=f"contract {record.status if record else 'gone'}")
        return "cancelled"
    if _settled(record, item):  # a payment recorded after the plan was made; re-planning also cancels it
        _finish(item, token, CANCELLED, now, None, note="milestone settled")
        return "cancelled"
    from .content import compose

    email = compose(record, item, now, settings)
    try:
        message_id = send_with_retries(email)
    except RetryableError:
        _release(item, token)
        raise
    _finish(item, token, SENT, now, message_id)
    store.append_event(record, "reminder_sent", {
        "kind": item.kind, "key": item.reminder_key, "to": list(item.to), "cc": list(item.cc),
        "subject": email.subject, "due_at": item.due_at.isoformat(), "message_id": message_id}, at=now)
    return "sent"


def send_with_retries(email: Any, attempts: int = SEND_ATTEMPTS) -> str:
    """SES (v2) with a few tries on throttling or an outage, backing off exponentially with jitter.
    Raises RetryableError when the last try fails too (the item then waits for the next run)."""
    from chalicelib.notify.mailer import send

    for attempt in range(1, attempts + 1):
        try:
            return send(email)
        except RetryableError as err:
            if attempt == attempts:
                raise
            delay = _backoff(attempt)
            logger.info("SES busy; retrying", extra={"attempt": attempt, "delay_s": round(delay, 3),
                                                     "reason": str(err)})
            time.sleep(delay)
    raise AssertionError("unreachable")


def _backoff(attempt: int) -> float:
    base = float(os.environ.get("SIGNBRIDGE_SES_RETRY_BASE_SECONDS", "0.5"))
    return base * (2 ** (attempt - 1)) * random.uniform(0.5, 1.0)


# --- transitions ----------------------------------------------------------------------------------


def _apply_transition(item: ReminderRecord, run: _Run) -> str:
    from chalicelib.jobs.transitions import transition

    from .scheduling import replan_contract
    from .terms import term_from_json

    now = run.now
    token = _claim(item)
    if token is None:
        return "claimed elsewhere"
    detail = item.detail or {}
    target = Status(detail["target"])
    record = store.find_contract(item.tenant_id, item.contract_id)
    if record is None or record.status not in IN_FORCE:
        _finish(item, token, CANCELLED, now, None, note=f"contract {record.status if record else 'gone'}")
        return "cancelled"
    term = term_from_json(detail["term"])
    new_term = term_from_json(detail["new_term"]) if detail.get("new_term") else None
    current = _current_term(record)
    if new_term is not None and current == new_term:
        # Applied by a run that died before marking it: finish what it started.
        replan_contract(record, now=now, keep=[item.reminder_key])
        _finish(item, token, APPLIED, now, None, note="applied earlier")
        return "applied"
    if current != term:
        _finish(item, token, CANCELLED, now, None, note="the term changed")
        return "cancelled"
    if not can_move(record.status, target):
        _finish(item, token, APPLIED, now, None, note=f"already {record.status}")
        return "skipped"
    at = item.due_at
    event_detail: dict[str, Any] = {"term_start": term.start.isoformat(), "term_end": term.end.isoformat()}
    actions = []
    # The reason travels with the status in the CRM callback (and shows as the contract's status_reason).
    reason = {Status.EXPIRING: f"the term ends on {term.end.isoformat()}",
              Status.EXPIRED: f"the term ended on {term.end.isoformat()}"}.get(target)
    if target == Status.RENEWED and new_term is not None:
        actions.append(ContractRecord.term.set(detail["new_term"]))
        event_detail.update(previous_term={"start": term.start.isoformat(), "end": term.end.isoformat()},
                            term={"start": new_term.start.isoformat(), "end": new_term.end.isoformat()},
                            renewals=int(detail["new_term"].get("renewals", 1)))
        reason = f"renewed automatically for the term {new_term.start.isoformat()} to {new_term.end.isoformat()}"
    event_detail["reason"] = reason
    try:
        moved = transition(record, target, event_type=target.value, detail=event_detail, actions=actions,
                           reason=reason, at=at)
    except store.StaleStatus:
        _release(item, token)
        return "skipped"  # the status moved meanwhile; the next run looks again
    if target != Status.EXPIRING:
        # A new term needs its reminders; an ended contract has none left pending.
        replan_contract(moved, now=now, keep=[item.reminder_key])
    _finish(item, token, APPLIED, now, None)
    logger.info("contract transition", extra={"contract_id": record.contract_id, "to": target.value})
    return "applied"


def _current_term(record: ContractRecord) -> Any:
    from .terms import contract_term

    return contract_term(record.document or {}, record.term or None)
