"""The hourly run's pure parts: pages that keep each contract whole, pacing to the SES sending rate,
and the invocation's time budget."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.reminders.budget import Budget
from chalicelib.reminders.hourly import pacing, paginate
from chalicelib.store.models import ReminderRecord


def item(contract: str, n: int) -> ReminderRecord:
    return ReminderRecord(contract_key=f"demo#{contract}", reminder_key=f"{contract}:r{n}")


def shape(pages: list[list[ReminderRecord]]) -> list[list[str]]:
    return [[i.reminder_key for i in page] for page in pages]


def test_pages_hold_whole_contracts_in_the_order_read() -> None:
    # a has two items due, read apart (another shard); b three; c one; d two.
    items = [item("a", 1), item("b", 1), item("b", 2), item("a", 2), item("c", 1), item("b", 3), item("d", 1),
             item("d", 2)]
    assert shape(paginate(items, 4)) == [["a:r1", "a:r2"], ["b:r1", "b:r2", "b:r3", "c:r1"], ["d:r1", "d:r2"]]


def test_a_contract_larger_than_a_page_gets_a_page_of_its_own() -> None:
    items = [item("a", 1), item("b", 1), item("b", 2), item("b", 3), item("c", 1)]
    assert shape(paginate(items, 2)) == [["a:r1"], ["b:r1", "b:r2", "b:r3"], ["c:r1"]]


def test_nothing_due_is_no_page() -> None:
    assert paginate([], 50) == []


def test_one_contract_each_makes_full_pages() -> None:
    pages = paginate([item(f"c{n}", 1) for n in range(120)], 50)
    assert [len(p) for p in pages] == [50, 50, 20]


def test_pages_start_at_the_sending_rate() -> None:
    # 14 emails a second: the second page of 50 starts after 50/14 = 3.57 s, the third after 100/14 = 7.14 s.
    assert pacing([50, 50, 50], 14) == [0, 3, 7]
    # ... and after what an earlier invocation of the same run queued: 700 items are 50 s of sending.
    assert pacing([50, 50], 14, already=700) == [50, 53]


def test_pacing_stops_at_sqs_longest_delay_and_can_be_off() -> None:
    assert pacing([50] * 300, 14)[-1] == 900  # 14,950 items before the last page: beyond 15 minutes
    assert pacing([50, 50, 50], 0) == [0, 0, 0]


class Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("SIGNBRIDGE_REMINDER_BUDGET_SECONDS", raising=False)
    monkeypatch.delenv("SIGNBRIDGE_REMINDER_SAFETY_MARGIN_SECONDS", raising=False)
    return monkeypatch


def test_the_budget_is_the_lambdas_remaining_time_less_the_margin(clean_env: Any) -> None:
    budget = Budget.for_invocation(Context(60_000))
    assert 39.0 < budget.left() <= 40.0 and not budget.spent()  # 60 s - 20 s
    clean_env.setenv("SIGNBRIDGE_REMINDER_SAFETY_MARGIN_SECONDS", "5")
    assert 54.0 < Budget.for_invocation(Context(60_000)).left() <= 55.0


def test_a_lambda_about_to_time_out_has_no_budget(clean_env: Any) -> None:
    assert Budget.for_invocation(Context(15_000)).spent()  # less left than the margin


def test_the_budget_setting_caps_it(clean_env: Any) -> None:
    clean_env.setenv("SIGNBRIDGE_REMINDER_BUDGET_SECONDS", "2")
    assert 1.0 < Budget.for_invocation(Context(900_000)).left() <= 2.0
    clean_env.setenv("SIGNBRIDGE_REMINDER_BUDGET_SECONDS", "0")
    assert Budget.for_invocation(Context(900_000)).spent()


def test_without_a_context_the_configured_timeout_is_assumed(clean_env: Any) -> None:
    assert 39.0 < Budget.for_invocation(None).left() <= 40.0
