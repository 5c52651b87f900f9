"""The retry schedule: Standard Webhooks' steps, then every 10 h, for 72 h in all; SQS can delay a
message 900 s at most, so longer waits ride on a not_before timestamp."""

from __future__ import annotations

import pytest

from chalicelib.notify import callbacks
from chalicelib.notify.callbacks import (
    MAX_ATTEMPTS,
    RETRY_DELAYS_SECONDS,
    next_message,
    parse_retry_after,
    retry_delay_seconds,
)

H = 3600


def test_schedule_follows_standard_webhooks_then_every_ten_hours() -> None:
    assert RETRY_DELAYS_SECONDS[:7] == (5, 5 * 60, 30 * 60, 2 * H, 5 * H, 10 * H, 10 * H)
    assert all(d == 10 * H for d in RETRY_DELAYS_SECONDS[7:-1])
    assert 0 < RETRY_DELAYS_SECONDS[-1] <= 10 * H


def test_schedule_totals_three_days() -> None:
    assert sum(RETRY_DELAYS_SECONDS) == 72 * H
    assert MAX_ATTEMPTS == len(RETRY_DELAYS_SECONDS) + 1 == 13


def test_jitter_stays_within_ten_percent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGNBRIDGE_CALLBACK_DELAY_SCALE", raising=False)
    for attempt, base in enumerate(RETRY_DELAYS_SECONDS, start=1):
        for _ in range(20):
            assert 0.9 * base <= retry_delay_seconds(attempt) <= 1.1 * base
    total = sum(retry_delay_seconds(a) for a in range(1, MAX_ATTEMPTS))
    assert 0.9 * 72 * H <= total <= 1.1 * 72 * H


def test_retry_after_is_honoured_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGNBRIDGE_CALLBACK_DELAY_SCALE", raising=False)
    assert retry_delay_seconds(1, retry_after=120) == 120  # longer than the 5 s step: wait for it
    assert 0.9 * 2 * H <= retry_delay_seconds(4, retry_after=1) <= 1.1 * 2 * H  # never sooner than planned
    assert retry_delay_seconds(1, retry_after=30 * 24 * H) == 24 * H


def test_the_scale_knob_collapses_every_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNBRIDGE_CALLBACK_DELAY_SCALE", "0")
    assert all(retry_delay_seconds(a, retry_after=600) == 0 for a in range(1, MAX_ATTEMPTS))
    monkeypatch.setenv("SIGNBRIDGE_CALLBACK_DELAY_SCALE", "0.01")
    assert retry_delay_seconds(6) <= 1.1 * 360


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    assert parse_retry_after("Fri, 15 Jan 2027 08:01:00 GMT", now=now) == 60
    assert parse_retry_after("Fri, 15 Jan 2027 07:00:00 GMT", now=now) == 0


def test_short_waits_use_sqs_delay_long_ones_not_before() -> None:
    message = {"job": "callback", "delivery_id": "cb_1", "attempt": 2, "not_before": 1.0}
    following, delay = next_message(message, 300.0, now=1000.0)
    assert delay == 300 and following["attempt"] == 3 and "not_before" not in following
    assert following["delivery_id"] == "cb_1"
    following, delay = next_message(message, 10 * H, now=1000.0)
    assert delay == callbacks.SQS_MAX_DELAY_SECONDS == 900
    assert following["not_before"] == 1000.0 + 10 * H
    following, delay = next_message(message, 0.0, now=1000.0)
    assert delay == 0 and "not_before" not in following


def test_a_job_before_its_not_before_only_delays_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    queued: list[tuple[dict, int]] = []
    monkeypatch.setattr(callbacks, "enqueue", lambda message, delay_seconds=0, **_: queued.append(
        (message, delay_seconds)))

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the receiver must not be called before not_before")

    monkeypatch.setattr(callbacks, "attempt_delivery", must_not_run)
    message = {"job": "callback", "delivery_id": "cb_1", "tenant_id": "t", "contract_id": "c",
               "url": "https://crm.example.com/h", "attempt": 7, "not_before": time.time() + 5 * H}
    assert callbacks.run(message).startswith("waiting")
    assert queued == [(message, 900)]  # same message (same attempt, same delivery id), SQS's longest delay
    queued.clear()
    callbacks.run({**message, "not_before": time.time() + 42.2})
    assert queued[0][1] == 43
