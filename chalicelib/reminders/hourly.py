"""The hourly reminder run, within a time budget: read what is due, cut it into pages, and send each
page exactly once — in the hourly invocation itself when the hour is quiet, fanned out to the jobs
queue when it is busy. Sending one page is chalicelib/reminders/sending.py.

Why. A Lambda stops at its timeout (60 s here, 15 minutes at most). One invocation that sends
10,000 reminders one after another (SES answers in ~0.1 s; an account's sending rate starts at
14 emails a second) is killed part-way, and what it had not reached waits for the next hour, or
behind the lease of the claim it died holding.

How:
1. The hourly invocation reads the sparse `due` index (one query per shard; 10,000 due items are
   about ten 1 MB pages, a second or two) and cuts what is due into pages of at most
   SIGNBRIDGE_REMINDER_PAGE_SIZE items (default 50), never splitting a contract, so that each page
   applies the run's per-contract rules on its own (one step per ladder, transitions in order).
2. A quiet hour — everything due fits in one page, the usual case — is sent right there.
3. A busy hour is fanned out: one job per page, `{"job": "reminders", "now": …, "items":
   [[contract_key, reminder_key], …]}`, ten to a SendMessageBatch call. Each page is delayed so
   that together they keep to SES's sending rate (SIGNBRIDGE_SES_MAX_SEND_RATE, default 14/s, 0 =
   no pacing; SQS delays a message 15 minutes at most, so beyond ~12,600 at 14/s the rest
   starts together and SES throttling paces it). The jobs Lambda runs pages in parallel; each is
   small, and retried on its own.

Fan-out rather than one chain of continuations: a chain is sequential (10,000 × 0.1 s is 17 minutes
of one hour's work before any throttling) and one stuck link holds up everything behind it; pages
are independent, parallel up to the SES rate, and a failing page costs only its own retries.

Budget (budget.py): every invocation — the hourly one and each job — works until the Lambda's
remaining time minus a safety margin, starts at least one item (so work always advances) and
hands on what it did not reach:
- a page (the quiet hour's, or a page job) enqueues the items it did not reach as a new page job;
- a planner reads the index 1,000 items per shard at a time (SIGNBRIDGE_REMINDER_READ_CHUNK); if
  its budget is spent once every shard has had a turn, it pages what it read and enqueues
  `{"job": "reminders", "now": …, "resume": {shard: position}, "queued": n}`, which reads on from
  there (and paces its pages after the n already queued).

Exactly once (the claims in sending.py hold whoever runs a page):
- a page job delivered twice (SQS is at least once), or the schedule firing twice and paging the
  same items again: each delivery reads its items afresh (BatchGetItem, consistent); what another
  delivery sent is no longer pending, what it is sending is claimed, so nothing goes out twice;
- a job killed after a claim and before SES answered: its message was not deleted, so SQS delivers
  it again after the visibility timeout (12 minutes, longer than the 10-minute lease); the
  redelivery claims the item afresh and sends it. A redelivery that comes back while the lease is
  still live passes the item over, and the next hourly run (the item is still pending, in the
  index) sends it. Killed after SES accepted and before the item was marked: the window the claim
  narrows and cannot close (SES has no idempotency key), as before;
- SES throttling: botocore retries (standard mode, chalicelib.core.aws); then the item's claim is
  released, the page stops, and the job is retried by the runner with backoff (what it sent is no
  longer pending; after the last attempt the dead-letter queue, and the items, still pending, go out
  with the next hourly run). The quiet hour's page hands the rest to a page job the same way.

One limit: a planner that has to continue (hundreds of thousands of items due in one hour, more
than it reads within its budget) may put one contract's due items in two pages. Each key is still
sent at most once; only a catch-up after an outage could then send two steps of one ladder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.contracts.stored import StoredReminder
from chalicelib.core.aws import SQS_MAX_DELAY_SECONDS, backoff_seconds, enqueue, enqueue_batch
from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import count, logger
from chalicelib.store import reminders as reminder_store

from .budget import Budget
from .sending import READ_CHUNK, PageResult, parse_event_time, read_due, send_page

JOB = "reminders"
DEFAULT_PAGE_SIZE = 50
DEFAULT_SES_SEND_RATE = 14.0  # emails a second: SES's starting quota; set the account's own


def page_size() -> int:
    return max(1, int(os.environ.get("SIGNBRIDGE_REMINDER_PAGE_SIZE", "").strip() or DEFAULT_PAGE_SIZE))


def send_rate() -> float:
    return float(os.environ.get("SIGNBRIDGE_SES_MAX_SEND_RATE", "").strip() or DEFAULT_SES_SEND_RATE)


def read_chunk() -> int:
    return max(1, int(os.environ.get("SIGNBRIDGE_REMINDER_READ_CHUNK", "").strip() or READ_CHUNK))


def run_due(event_time: str | None, context: Any = None) -> dict[str, Any]:
    """The hourly handler: everything due at the event's time, sent here (a quiet hour) or paged
    out to the jobs queue (a busy one), within this invocation's budget."""
    return _plan(parse_event_time(event_time), Budget.for_invocation(context), resume=None, queued=0)


def run_job(message: dict[str, Any], context: Any = None) -> str:
    """A "reminders" job: a page to send, or a planner's continuation."""
    now = parse_event_time(message["now"])
    budget = Budget.for_invocation(context)
    if "resume" in message:
        result = _plan(now, budget, resume=message["resume"], queued=int(message.get("queued", 0)))
        return f"read {result['read']}, {result['pages']} pages" + (", continues" if result["continues"] else "")
    keys = [(str(c), str(r)) for c, r in message["items"]]
    attempt = int(message.get("attempt", 1))
    page = send_page(_load(keys), now, budget)
    summary = {"now": now.isoformat(), "items": len(keys), **page.counts(), "left": len(page.left),
               "attempt": attempt}
    logger.info("reminder page", extra=summary)
    if page.busy:
        # The runner re-enqueues this message with backoff; what it sent is no longer pending then.
        raise RetryableError(f"SES busy, {len(page.left)} of {len(keys)} left: {page.busy}")
    if page.left:  # the budget ran out: the rest goes on at once, counting the same attempts
        enqueue({**_page_message(now, page.left), **({"attempt": attempt} if attempt > 1 else {})})
    return ", ".join(f"{k} {v}" for k, v in summary.items() if k in ("sent", "skipped", "failed", "left") and v) \
        or "nothing left to do"


# --- planning -----------------------------------------------------------------------------------


def _plan(now: datetime, budget: Budget, resume: dict[str, Any] | None, queued: int) -> dict[str, Any]:
    """Reads what is due (from `resume` on), then sends it here or pages it out; `queued` is how
    many items earlier invocations of this run paged out (the pacing goes on after them)."""
    read = read_due(now, start=resume, budget=budget, chunk=read_chunk())
    pages = paginate(read.items, page_size())
    result: dict[str, Any] = {"now": now.isoformat(), "read": len(read.items), "scanned": read.scanned,
                              "queries": read.queries, **PageResult().counts(), "pages": 0, "left": 0,
                              "continues": read.resume is not None}
    if len(pages) == 1 and read.resume is None and resume is None:
        page = send_page(pages[0], now, budget)
        result.update(page.counts(), left=len(page.left))
        if page.left:
            _hand_on(now, page)
    elif pages:
        delays = pacing([len(p) for p in pages], send_rate(), already=queued)
        enqueue_batch([(_page_message(now, p), d) for p, d in zip(pages, delays, strict=True)])
        result["pages"] = len(pages)
        queued += len(read.items)
        count("ReminderPagesQueued", len(pages))
    if read.resume is not None:
        enqueue({"job": JOB, "now": now.isoformat(), "resume": read.resume, "queued": queued})
    if read.items or resume:
        logger.info("reminder run", extra=result)
    return result


def _hand_on(now: datetime, page: PageResult) -> None:
    """The quiet hour's page stopped early: the rest becomes a page job (after a backoff when SES
    refused, as the runner would retry it)."""
    if page.busy:
        enqueue({**_page_message(now, page.left), "attempt": 2, "last_error": page.busy[:500]},
                delay_seconds=backoff_seconds(1))
    else:
        enqueue(_page_message(now, page.left))


def paginate(items: Sequence[StoredReminder], size: int) -> list[list[StoredReminder]]:
    """Pages of at most `size` items, each contract whole (a contract with more due items than
    `size`, which planning does not produce, gets a page of its own), in the order first seen."""
    by_contract: dict[str, list[StoredReminder]] = {}
    for item in items:
        by_contract.setdefault(item.contract_key, []).append(item)
    pages: list[list[StoredReminder]] = []
    for group in by_contract.values():
        if not pages or len(pages[-1]) + len(group) > size:
            pages.append([])
        pages[-1].extend(group)
    return pages


def pacing(sizes: Sequence[int], rate: float, *, already: int = 0) -> list[int]:
    """Delay (seconds) of each page so that the pages start at `rate` items a second, after
    `already` items queued before them; 0 for all without a rate."""
    delays: list[int] = []
    before = already
    for size in sizes:
        delays.append(min(SQS_MAX_DELAY_SECONDS, int(before / rate)) if rate > 0 else 0)
        before += size
    return delays


def _page_message(now: datetime, items: Sequence[StoredReminder]) -> dict[str, Any]:
    return {"job": JOB, "now": now.isoformat(), "items": [[i.contract_key, i.reminder_key] for i in items]}


def _load(keys: Sequence[tuple[str, str]]) -> list[StoredReminder]:
    """The page's items as stored now (consistent), in the page's order; missing ones are dropped."""
    return reminder_store.reminders_by_key(keys)
