"""Sending a page of due items exactly once, and applying the term transitions (expiring / expired /
renewed) that are due. The hourly run that reads the due index, cuts it into pages and hands them
to this module — in its own invocation or through the jobs queue — is chalicelib/reminders/hourly.py.

Reading: the sparse `due` index holds only pending items, keyed by shard and due time, so a run
reads what is due and nothing else, however many contracts exist (one query per shard; see
bench/bench_reminders.py). `now` is the scheduled event's time, so the local clock can travel.

Business hours: planning already puts every reminder at a business moment in the contract's zone.
The run checks again at send time, because a run may be late (a lease that expired overnight, a
catch-up planned at 17:30 and picked up by the 18:00 run): a reminder found outside business hours
is moved to the next business morning instead of being sent at night.

Exactly once: an item is claimed with a conditional write (a lease that expires if the run dies),
sent, then marked sent under the same claim. A second delivery of the same schedule event or page
job, or an overlapping run, cannot claim it again: the claim is conditional on the item still
being pending with no live lease. A run that dies after claiming leaves it to whoever finds it
after the lease has expired (the page job's redelivery or the next hourly run). The one remaining
window — SES accepted the mail and the run died before marking it — is narrowed by marking right
after sending.

SES: botocore retries throttling and transient errors itself (standard mode, configured once in
chalicelib.core.aws); nothing here loops around a send. When botocore gives up, the item's claim is
released (nothing was sent; it stays pending) and the page stops there (SES is saturated: the next
items would only be throttled too); the caller retries the rest of the page later.

Budget: `send_page` starts no new item once the invocation's budget is spent (it always does one,
so work advances) and returns what it did not reach, for the caller to hand on.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.contracts.lifecycle import IN_FORCE, Status, can_move
from chalicelib.contracts.stored import (
    APPLIED,
    CANCELLED,
    PENDING,
    SENT,
    SKIPPED,
    SUPERSEDED,
    StoredContract,
    StoredReminder,
)
from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import count, logger
from chalicelib.lifecycle.transitions import transition
from chalicelib.notify import mailer
from chalicelib.store import contracts as store
from chalicelib.store import reminders as reminder_store
from chalicelib.store.reminders import REMINDER_SHARDS

from .budget import Budget
from .content import compose
from .planning import business_moment, contract_zone, in_business_hours
from .scheduling import TRANSITION_KIND, replan_contract, tenant_settings
from .settings import TenantSettings
from .terms import contract_term, term_from_json

CLAIM_LEASE = timedelta(minutes=10)
READ_CHUNK = 1_000  # items per due-index query when reading within a budget (about a 1 MB page)
MAX_ATTEMPTS = 24  # claims of one item before it is given up as failed (a day of hourly runs)
_TRANSITION_ORDER = {"expiring": 0, "expired": 1, "renewed": 2}


def parse_event_time(value: str | None) -> datetime:
    if not value:
        return store.now_utc()
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class DueRead:
    """What one run read from the index: the items and what DynamoDB counted for them."""

    items: list[StoredReminder] = field(default_factory=list)
    queries: int = 0
    scanned: int = 0  # items the queries evaluated (what read capacity is charged for)
    # Where a read cut short by its budget stopped: {shard: position (DynamoDB's LastEvaluatedKey)}
    # for each shard not read to the end.
    resume: dict[str, Any] | None = None


def read_due(now: datetime, *, start: dict[str, Any] | None = None, budget: Budget | None = None,
             chunk: int = READ_CHUNK) -> DueRead:
    """Every pending item due at or before `now`: one query per shard of the sparse index.

    With a budget, each shard is read `chunk` items at a time, in turns, and the read stops once
    the budget is spent, though never before every shard has had one chunk (so a read always
    advances); `resume` then says where each unfinished shard stopped, and `start` (a previous
    read's `resume`) reads on from there."""
    read = DueRead()
    if start is None:
        positions: dict[str, Any] = {str(shard): None for shard in range(REMINDER_SHARDS)}
    else:
        positions = dict(start)
    limit = chunk if budget is not None else None
    first_turn = True
    while positions:
        for shard in list(positions):
            if not first_turn and budget is not None and budget.spent():
                read.resume = positions
                return read
            results = reminder_store.due_chunk(shard, now, limit=limit, start=positions[shard])
            read.items.extend(results.items)
            read.queries += 1
            read.scanned += results.scanned
            if results.last_key:
                positions[shard] = results.last_key
            else:
                del positions[shard]
        first_turn = False
    return read


def due_reminders(now: datetime) -> list[StoredReminder]:
    return read_due(now).items


class SesBusy(RetryableError):
    """SES still refused after botocore's retries (throttling, an outage): the page stops here."""


@dataclass
class PageResult:
    """What `send_page` did with one page, and what it left for a later invocation."""

    outcomes: Counter[str] = field(default_factory=Counter)
    left: list[StoredReminder] = field(default_factory=list)  # not reached (budget) or refused by SES
    busy: str | None = None  # SES's refusal, when that is why the page stopped (left[0] is the item)

    def counts(self) -> dict[str, int]:
        o = self.outcomes
        return {"sent": o["sent"], "applied": o["applied"], "deferred": o["deferred"], "cancelled": o["cancelled"],
                "superseded": o["superseded"], "skipped": o["claimed elsewhere"] + o["skipped"],
                "suppressed": o["suppressed"], "failed": o["failed"]}


def send_page(items: list[StoredReminder], now: datetime, budget: Budget) -> PageResult:
    """Sends, applies, supersedes or cancels each pending item of `items` due at `now`, exactly once
    (the claims), in due order, until the budget is spent or SES refuses. Items no longer pending or
    not due any more (sent by another delivery of the page, re-planned later) are passed over.

    A page holds whole contracts (hourly.paginate), so the per-contract rules hold inside it: one
    step per ladder, transitions in order."""
    due = [i for i in items if i.state == PENDING and i.pending_shard is not None and i.due_at <= now]
    run = _Run(now)
    result = PageResult()
    latest = _latest_of_each_sequence(due)
    ordered = sorted(due, key=_order)
    for position, item in enumerate(ordered):
        if position and budget.spent():
            result.left = ordered[position:]
            break
        try:
            if item.kind != TRANSITION_KIND and latest.get(_sequence(item)) is not item:
                outcome = _supersede(item, latest[_sequence(item)], run)
            elif item.kind == TRANSITION_KIND:
                outcome = _apply_transition(item, run)
            else:
                outcome = _deliver(item, run)
        except SesBusy as err:
            result.outcomes["failed"] += 1
            result.busy, result.left = str(err), ordered[position:]
            logger.warning("SES refused after botocore's retries; the rest of the page is retried later",
                           extra={"reminder": item.reminder_key, "reason": str(err), "left": len(result.left)})
            break
        except RetryableError as err:
            outcome = "failed"
            logger.warning("reminder not sent; the next run retries it",
                           extra={"reminder": item.reminder_key, "reason": str(err)})
        except Exception:  # one broken item must not stop the batch; its lease lets a later run retry
            outcome = "failed"
            logger.exception("reminder item failed", extra={"reminder": item.reminder_key})
            _give_up_if_hopeless(run.claimed.get(item.reminder_key, item), now)
        result.outcomes[outcome] += 1
    if result.outcomes["sent"]:
        count("RemindersSent", result.outcomes["sent"])
    if result.outcomes["failed"]:
        count("RemindersFailed", result.outcomes["failed"])
    return result


class _Run:
    """Per-run caches (tenant settings), and the items this run claimed as the claim left them."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._settings: dict[str, TenantSettings] = {}
        self.claimed: dict[str, StoredReminder] = {}

    def settings(self, tenant_id: str) -> TenantSettings:
        if tenant_id not in self._settings:
            self._settings[tenant_id] = tenant_settings(tenant_id)
        return self._settings[tenant_id]


def _order(item: StoredReminder) -> tuple[datetime, int, int, str]:
    if item.kind == TRANSITION_KIND:
        return item.due_at, 0, _TRANSITION_ORDER.get((item.detail or {}).get("target", ""), 9), item.reminder_key
    return item.due_at, 1, 0, item.reminder_key


# --- one notice per sequence ----------------------------------------------------------------------


def _sequence(item: StoredReminder) -> tuple[str, str, str, str]:
    """The ladder an item belongs to: the contract, the family (expiry, renewal, payment, delivery),
    the milestone and the deadline."""
    detail = item.detail or {}
    family = str(item.kind).split("_", 1)[0]
    return item.contract_key, family, str(detail.get("milestone_id") or ""), str(detail.get("anchor_date") or "")


def _latest_of_each_sequence(items: list[StoredReminder]) -> dict[tuple[str, str, str, str], StoredReminder]:
    """Hourly runs meet one step of a ladder at a time; a run after an outage (or a clock that
    jumped) may find several. Like planning's catch-up rule, only the latest step goes out: it
    carries the current message and the highest escalation, instead of a burst of stale ones."""
    latest: dict[tuple[str, str, str, str], StoredReminder] = {}
    for item in items:
        if item.kind == TRANSITION_KIND:
            continue
        key = _sequence(item)
        kept = latest.get(key)
        if kept is None or _step(item) > _step(kept):
            latest[key] = item
    return latest


def _step(item: StoredReminder) -> tuple[int, datetime, str]:
    return int((item.detail or {}).get("offset_days") or 0), item.due_at, item.reminder_key


def _supersede(item: StoredReminder, by: StoredReminder, run: _Run) -> str:
    claimed = _claim(item, run)
    if claimed is None:
        return "claimed elsewhere"
    _finish(claimed, SUPERSEDED, run.now, None, note=f"superseded by {by.reminder_key}")
    return "superseded"


# --- claims -------------------------------------------------------------------------------------


def _claim(item: StoredReminder, run: _Run) -> StoredReminder | None:
    """The item as claimed by this run (its claim_token is the claim; the attempt counted), None if
    it is claimed or done elsewhere."""
    token = secrets.token_hex(8)
    wall = store.now_utc()
    claimed = reminder_store.claim(item, token, until=wall + CLAIM_LEASE, wall=wall)
    if claimed is not None:
        run.claimed[item.reminder_key] = claimed  # a failure after this counts the claim's attempt
    return claimed


def _release(claimed: StoredReminder) -> None:
    reminder_store.release(claimed)


def _finish(claimed: StoredReminder, state: str, now: datetime, message_id: str | None,
            note: str | None = None) -> None:
    detail = {**(claimed.detail or {}), "outcome": note} if note else None
    reminder_store.finish(claimed, state=state, at=now, message_id=message_id, detail=detail)


def _give_up_if_hopeless(item: StoredReminder, now: datetime) -> None:
    if int(item.attempts or 0) < MAX_ATTEMPTS:
        return
    if not reminder_store.give_up(item):
        return
    record = store.find_contract(item.tenant_id, item.contract_id)
    if record is not None:
        store.append_event(record, "reminder_failed", {"key": item.reminder_key, "attempts": int(item.attempts)},
                           at=now)


# --- emails ---------------------------------------------------------------------------------------


def _zone(item: StoredReminder, settings: TenantSettings) -> ZoneInfo:
    """The contract's zone, as planned (stored with the item, so no contract read is needed)."""
    name = (item.detail or {}).get("time_zone")
    if name:
        return ZoneInfo(name)

    record = store.find_contract(item.tenant_id, item.contract_id)
    return contract_zone((record.document if record else None) or {}, settings)


def _defer_to_business_hours(item: StoredReminder, settings: TenantSettings, zone: ZoneInfo,
                             now: datetime) -> bool:
    """Moves an item found outside business hours to the next business morning (True if moved)."""

    if in_business_hours(settings, zone, now):
        return False
    morning = business_moment(settings, zone, now)
    reminder_store.defer(item, morning, wall=store.now_utc())  # claimed or finished meanwhile: nothing moves
    return True


def _settled(record: StoredContract, item: StoredReminder) -> bool:
    milestone_id = (item.detail or {}).get("milestone_id")
    state = (record.milestones or {}).get(milestone_id) if milestone_id else None
    return isinstance(state, dict) and state.get("status") in ("paid", "delivered")


def _deliver(item: StoredReminder, run: _Run) -> str:
    now = run.now
    settings = run.settings(item.tenant_id)
    if _defer_to_business_hours(item, settings, _zone(item, settings), now):
        return "deferred"
    claimed = _claim(item, run)
    if claimed is None:
        return "claimed elsewhere"
    record = store.find_contract(claimed.tenant_id, claimed.contract_id)
    if record is None or record.status not in IN_FORCE:
        _finish(claimed, CANCELLED, now, None, note=f"contract {record.status if record else 'gone'}")
        return "cancelled"
    if _settled(record, claimed):  # a payment recorded after the plan was made; re-planning also cancels it
        _finish(claimed, CANCELLED, now, None, note="milestone settled")
        return "cancelled"

    email = compose(record, claimed, now, settings)

    try:
        message_id = mailer.send(email)  # botocore has already retried throttling and transient errors
    except RetryableError as err:
        _release(claimed)  # nothing was sent: the item stays pending for the page's retry
        raise SesBusy(str(err)) from err
    except mailer.EmailSuppressed as err:
        # Done, not failed: no run would ever send it (the timeline already shows the bounce or complaint).
        _finish(claimed, SKIPPED, now, None, note="every recipient's address is suppressed")
        store.append_event(record, "reminder_suppressed", {
            "kind": claimed.kind, "key": claimed.reminder_key, "suppressed": err.suppressed}, at=now)
        return "suppressed"
    _finish(claimed, SENT, now, message_id)
    store.append_event(record, "reminder_sent", {
        "kind": claimed.kind, "key": claimed.reminder_key, "to": list(claimed.to), "cc": list(claimed.cc),
        "subject": email.subject, "due_at": claimed.due_at.isoformat(), "message_id": message_id}, at=now)
    return "sent"


# --- transitions ----------------------------------------------------------------------------------


def _apply_transition(item: StoredReminder, run: _Run) -> str:


    now = run.now
    claimed = _claim(item, run)
    if claimed is None:
        return "claimed elsewhere"
    detail = claimed.detail or {}
    target = Status(detail["target"])
    record = store.find_contract(claimed.tenant_id, claimed.contract_id)
    if record is None or record.status not in IN_FORCE:
        _finish(claimed, CANCELLED, now, None, note=f"contract {record.status if record else 'gone'}")
        return "cancelled"
    term = term_from_json(detail["term"])
    new_term = term_from_json(detail["new_term"]) if detail.get("new_term") else None
    current = _current_term(record)
    if new_term is not None and current == new_term:
        # Applied by a run that died before marking it: finish what it started.
        replan_contract(record, now=now, keep=[claimed.reminder_key])
        _finish(claimed, APPLIED, now, None, note="applied earlier")
        return "applied"
    if current != term:
        _finish(claimed, CANCELLED, now, None, note="the term changed")
        return "cancelled"
    if not can_move(record.status, target):
        _finish(claimed, APPLIED, now, None, note=f"already {record.status}")
        return "skipped"
    at = claimed.due_at
    event_detail: dict[str, Any] = {"term_start": term.start.isoformat(), "term_end": term.end.isoformat()}
    changes = store.NO_CHANGES
    # The reason travels with the status in the CRM callback (and shows as the contract's status_reason).
    reason = {Status.EXPIRING: f"the term ends on {term.end.isoformat()}",
              Status.EXPIRED: f"the term ended on {term.end.isoformat()}"}.get(target)
    if target == Status.RENEWED and new_term is not None:
        changes = store.ContractChanges(term=detail["new_term"])
        event_detail.update(previous_term={"start": term.start.isoformat(), "end": term.end.isoformat()},
                            term={"start": new_term.start.isoformat(), "end": new_term.end.isoformat()},
                            renewals=int(detail["new_term"].get("renewals", 1)))
        reason = f"renewed automatically for the term {new_term.start.isoformat()} to {new_term.end.isoformat()}"
    event_detail["reason"] = reason
    try:
        moved = transition(record, target, event_type=target.value, detail=event_detail, changes=changes,
                           reason=reason, at=at)
    except store.StaleStatus:
        _release(claimed)
        return "skipped"  # the status moved meanwhile; the next run looks again
    if target != Status.EXPIRING:
        # A new term needs its reminders; an ended contract has none left pending.
        replan_contract(moved, now=now, keep=[claimed.reminder_key])
    _finish(claimed, APPLIED, now, None)
    logger.info("contract transition", extra={"contract_id": record.contract_id, "to": target.value})
    return "applied"


def _current_term(record: StoredContract) -> Any:
    return contract_term(record.document or {}, record.term or None)
