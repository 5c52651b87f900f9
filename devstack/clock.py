"""`python -m devstack clock --at ISO-TIME`: fires every scheduled handler once for that instant
against the running stack, and returns when they have finished. The handlers take 'now' from the
event's `time`, so time travel needs nothing special in the app."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from devstack.lambda_runtime import FakeLambdaContext, app_module, scheduled_event
from devstack.stack import STATE_FILE, StackState, use_environment

SCHEDULED_HANDLERS = ("hourly_reminders", "daily_reconcile")


def event_time(at: str) -> str:
    instant = datetime.fromisoformat(at)
    if instant.tzinfo is None:
        raise ValueError(f"--at needs a time zone offset, e.g. 2027-11-01T09:00:00+08:00 (got {at!r})")
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fire(at: str) -> dict[str, Any]:
    state = StackState.load()
    use_environment(state.env)
    app = app_module()
    when = event_time(at)
    results: dict[str, Any] = {}
    for name in SCHEDULED_HANDLERS:
        handler = getattr(app, name)
        results[name] = handler(scheduled_event(when, name), FakeLambdaContext(name))
    return {"time": when, "results": results}


def main(at: str) -> int:
    import sys

    try:
        event_time(at)
    except ValueError as err:
        print(f"clock: {err}", file=sys.stderr)
        return 2
    if not STATE_FILE.exists():
        print("clock: no running stack (.devstack/state.json is missing): start one with `make run`", file=sys.stderr)
        return 2
    print(json.dumps(fire(at), ensure_ascii=False, indent=2, default=str))
    return 0
