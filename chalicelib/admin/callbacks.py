"""python -m chalicelib.admin callbacks {list-dlq,replay,enable}

- `list-dlq [--limit N]`: one JSON line per dead-lettered job (callbacks and every other job): job,
  contract, delivery id, attempts, reason. The messages stay in the queue.
- `replay [--limit N] [--all]`: moves dead-lettered callback jobs (with --all: every job) back to the
  jobs queue with a fresh attempt count (a callback starts its ~3-day schedule again) and the SAME
  delivery id, so the CRM can still dedupe on webhook-id. Other messages stay in the DLQ.
  A send job replayed this way does nothing for a contract the dead letter left `send_failed`: for
  send, archive and void jobs use `contracts replay` (chalicelib/admin/contracts.py).
- `enable --url URL --tenant T`: re-enables a callback endpoint that answered 410 Gone.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from chalicelib.admin import audit
from chalicelib.core.aws import client, enqueue, queue_url
from chalicelib.core.config import settings
from chalicelib.notify import callbacks

# What a previous life of the job left behind; a replay starts clean (the delivery id stays).
_RUN_STATE_KEYS = ("dead_letter_reason", "last_error", "last_status_code", "not_before", "first_attempt_at")
_BATCH = 10
_HOLD_SECONDS = 60  # how long a scanned message stays invisible before we release it


def dlq_name() -> str:
    return settings().jobs_queue_name + "-dlq"


def fresh(message: dict[str, Any]) -> dict[str, Any]:
    """The job as it would be enqueued the first time: attempt 1, no leftovers, same delivery id."""
    return {**{k: v for k, v in message.items() if k not in _RUN_STATE_KEYS}, "attempt": 1}


def summary(message: dict[str, Any]) -> dict[str, Any]:
    url = message.get("url")
    return {
        "job": message.get("job"),
        "tenant_id": message.get("tenant_id"),
        "contract_id": message.get("contract_id"),
        "delivery_id": message.get("delivery_id"),
        "attempt": message.get("attempt"),
        "url": callbacks.redact(str(url)) if url else None,
        "reason": message.get("dead_letter_reason") or message.get("last_error"),
    }


def _scan(take: Callable[[dict[str, Any] | None], bool], limit: int | None,
          done: Callable[[], bool] = lambda: False) -> int:
    """scan_dead_letters for a `take` that needs only the body."""
    return scan_dead_letters(lambda _message_id, body: take(body), limit, done)


def scan_dead_letters(take: Callable[[str, dict[str, Any] | None], bool], limit: int | None,
                      done: Callable[[], bool] = lambda: False) -> int:
    """Receives every visible DLQ message once (until `limit` were taken or `done()`);
    `take(message_id, body)` True deletes it (body None: not JSON). Messages not taken are made
    visible again at the end. Returns how many were taken. The SQS message id stays the same across
    receives, so a caller can name exactly the messages it saw in an earlier scan."""
    sqs = client("sqs")
    url = queue_url(dlq_name())
    kept: list[str] = []
    taken = 0
    try:
        while (limit is None or taken < limit) and not done():
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=_BATCH, WaitTimeSeconds=0,
                                        VisibilityTimeout=_HOLD_SECONDS).get("Messages", [])
            if not batch:
                break
            for message in batch:
                try:
                    body = json.loads(message["Body"])
                except ValueError:
                    body = None
                if (limit is None or taken < limit) and not done() and take(
                        message["MessageId"], body if isinstance(body, dict) else None):
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    taken += 1
                else:
                    kept.append(message["ReceiptHandle"])
    finally:
        for handle in kept:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return taken


def list_dead_letters(limit: int | None = 100) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def look(body: dict[str, Any] | None) -> bool:
        found.append(summary(body) if body is not None else {"job": None, "reason": "not JSON"})
        return False

    _scan(look, None, done=lambda: limit is not None and len(found) >= limit)
    return found


def replay(limit: int | None = None, include_all: bool = False) -> list[dict[str, Any]]:
    replayed: list[dict[str, Any]] = []

    def take(body: dict[str, Any] | None) -> bool:
        if body is None or not (include_all or body.get("job") == callbacks.JOB):
            return False
        enqueue(fresh(body))  # enqueue first, then delete: at worst a duplicate, deduped by delivery id
        replayed.append(summary(body))
        return True

    _scan(take, limit)
    return replayed


# --- CLI ------------------------------------------------------------------------------------------


def add_parser(groups: Any) -> None:
    parser = groups.add_parser("callbacks", help="outbound CRM callbacks: dead letters, replay, 410s")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list-dlq", help="show the dead-lettered jobs (left in the queue)")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(run=_cmd_list)
    again = commands.add_parser("replay", help="re-enqueue dead-lettered callbacks (same delivery id)")
    again.add_argument("--limit", type=int, default=None, help="replay at most N messages")
    again.add_argument("--all", action="store_true", help="replay every dead-lettered job, not only callbacks")
    again.set_defaults(run=_cmd_replay)
    enable = commands.add_parser("enable", help="re-enable an endpoint that answered 410 Gone")
    enable.add_argument("--url", required=True)
    enable.add_argument("--tenant", required=True)
    enable.set_defaults(run=_cmd_enable)


def _cmd_list(args: argparse.Namespace) -> int:
    for item in list_dead_letters(args.limit):
        print(json.dumps(item, ensure_ascii=False))
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    replayed = replay(args.limit, include_all=args.all)
    if replayed:
        audit.record(None, "callbacks.replay", dlq_name(), None, None, messages=len(replayed))
    for item in replayed:
        print(json.dumps(item, ensure_ascii=False))
    print(f"replayed {len(replayed)} message(s) from {dlq_name()}")
    return 0


def _cmd_enable(args: argparse.Namespace) -> int:
    if callbacks.enable_endpoint(args.tenant, args.url):
        audit.record(args.tenant, "callbacks.enable", f"callback endpoint {callbacks.redact(args.url)}",
                     {"disabled": True}, {"disabled": False})
        print(f"enabled callbacks to {callbacks.redact(args.url)} for tenant {args.tenant}")
    else:
        print(f"callbacks to {callbacks.redact(args.url)} were not disabled for tenant {args.tenant}")
    return 0
