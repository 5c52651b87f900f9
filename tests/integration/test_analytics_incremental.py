"""The analytics kept as contracts change (chalicelib/store/analytics.py): a report reads the counters
and rows, never the tenant's contracts or timelines (the DynamoDB calls of each request counted
through botocore); what they say equals an independent computation from the contracts themselves
after payments, reminders, transitions and a renewal; `admin analytics rebuild` recomputes the same;
and two writers interleaved inside a transaction keep the counts exact."""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.contracts.lifecycle import Status
from chalicelib.contracts.stored import StoredContract
from chalicelib.store import analytics
from chalicelib.store import contracts as store
from chalicelib.store.analytics_rows import SHARDS, shard_of
from tests.integration.test_reminders_support import active_contract, canonical, sales_2030, service_2030
from tests.support.interleave import arm_for_thread
from tests.support.stack import StackHarness

ROUTES = ("summary", "receivables", "renewals")


@contextlib.contextmanager
def dynamodb_calls() -> Iterator[list[tuple[str, str, int]]]:
    """(operation, table, items returned) of every DynamoDB call made meanwhile, whichever client."""
    import botocore.client

    calls: list[tuple[str, str, int]] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
        result = original(self, operation, params)
        if self.meta.service_model.service_name == "dynamodb":
            tables = params.get("TableName") or ",".join(sorted(params.get("RequestItems") or {}))
            items = len(result.get("Items", [])) + (1 if result.get("Item") else 0) + sum(
                len(v) for v in (result.get("Responses") or {}).values())
            calls.append((operation, tables.rsplit("-", 1)[-1], items))
        return result

    botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def get(stack: StackHarness, route: str, query: str = "") -> Any:
    response = stack.client.http.get(f"/v1/analytics/{route}{query}", headers=stack.auth())
    assert response.status_code == 200, response.body
    return response.json_body


def signed(stack: StackHarness, crm_id: str, *, end_date: str = "2030-11-30") -> StoredContract:
    body = sales_2030(crm_id)
    body["contract"]["end_date"] = end_date
    return active_contract(stack, body)


def pay(stack: StackHarness, contract_id: str, milestone_id: str, amount: str) -> None:
    answer = stack.client.http.post(f"/v1/contracts/{contract_id}/milestones/{milestone_id}",
                                    headers={**stack.auth(), "Content-Type": "application/json"},
                                    body=json.dumps({"status": "paid", "amount": amount}).encode())
    assert answer.status_code == 200, answer.body


def test_reads_per_request_do_not_grow_with_the_contracts(stack: StackHarness) -> None:
    def measure() -> dict[str, list[tuple[str, str, int]]]:
        out = {}
        for route in ROUTES:
            with dynamodb_calls() as calls:
                get(stack, route, "?as_of=2030-06-15" if route != "summary" else "")
            out[route] = calls
        return out

    for i in range(2):
        signed(stack, f"few-{i}")
    few = measure()
    for i in range(8):
        signed(stack, f"more-{i}")
    many = measure()
    for route in ROUTES:
        # The same reads of the analytics (the API key's and settings' reads are cached, not counted),
        # and none of the contracts or events tables.
        assert [(op, t) for op, t, _ in few[route] if t == "analytics"] == \
            [(op, t) for op, t, _ in many[route] if t == "analytics"], route
        assert not {t for _, t, _ in many[route]} & {"contracts", "events"}, many[route]
    summary = [n for op, t, n in many["summary"] if t == "analytics"]
    assert summary and sum(summary) <= SHARDS  # one creation day: at most a day item per shard
    # Receivables: a row per open milestone (2 per contract), plus the 4 gauges; renewals: none in
    # 90 days of 2030-06-15 (they end 2030-11-30).
    receivables = [n for op, t, n in many["receivables"] if t == "analytics"]
    assert sum(receivables) <= 10 * 2 + SHARDS
    assert [n for op, t, n in many["renewals"] if t == "analytics"] == [0]


def independent_summary(tenant_id: str, start: date, end: date, now: datetime) -> dict[str, Any]:
    """The summary as it was computed before the counters: every contract and its whole timeline."""
    from chalicelib.reminders.planning import contract_zone
    from chalicelib.reminders.scheduling import tenant_settings
    from tests.support.analytics_oracle import contract_facts, summarize

    facts = []
    lower = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    upper = datetime.combine(end, datetime.max.time(), tzinfo=UTC)
    for record in store.contracts_created_between(tenant_id, lower, upper):
        events = [(e.type, e.at) for e in store.timeline(tenant_id, record.contract_id)]
        today = now.astimezone(contract_zone(record.document, tenant_settings(tenant_id))).date()
        facts.append(contract_facts(record.status, record.contract_type, record.document, record.milestones,
                                    events, today))
    return summarize(facts, start, end)


def independent_receivables(tenant_id: str) -> dict[str, tuple[int, Decimal]]:
    """Per currency, the open payment milestones of the contracts in force: (count, amount)."""
    from chalicelib.contracts.lifecycle import EXECUTION_OPEN
    from chalicelib.reminders.milestones import milestones_view

    out: dict[str, tuple[int, Decimal]] = {}
    for record in store.tenant_contracts(tenant_id):
        if record.status not in {s.value for s in EXECUTION_OPEN}:
            continue
        for payment in milestones_view(record.document, record.milestones)["payment"]:
            if Decimal(payment["remaining"]) > 0:
                n, total = out.get(record.document["currency"], (0, Decimal(0)))
                out[record.document["currency"]] = (n + 1, total + Decimal(payment["remaining"]))
    return out


def totals_of(report: dict[str, Any]) -> dict[str, tuple[int, Decimal]]:
    return {c: (row["total"]["count"], Decimal(row["total"]["amount"])) for c, row in report["ageing"].items()}


def without_execution(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "execution"}


def scenario(stack: StackHarness) -> dict[str, str]:
    """Contracts through payments, reminders, a termination, a renewal and an unsigned one."""
    from chalicelib.lifecycle.transitions import transition

    paid = signed(stack, "paid")
    pay(stack, paid.contract_id, "pay-1", "38400.00")
    pay(stack, paid.contract_id, "pay-2", "1000.00")
    reminded = signed(stack, "reminded", end_date="2030-07-20")
    for _ in range(2):
        store.append_event(reminded, "reminder_sent", {"key": "test"})
    ended = signed(stack, "ended")
    transition(ended, Status.TERMINATED, event_type="terminated")
    renewing = active_contract(stack, service_2030("renewing"))
    transition(renewing, Status.RENEWED, event_type="renewed",
               changes=store.ContractChanges(term={"start": "2030-07-01", "end": "2030-12-31", "renewals": 1}))
    document = canonical(sales_2030("unsigned"))
    store.create_contract(tenant_id=stack.tenant_id, source_id=stack.source_id, delivery_id="d-" + secrets.token_hex(4),
                          document=document, signers=[], callback_url=None)
    return {"paid": paid.contract_id, "reminded": reminded.contract_id, "renewing": renewing.contract_id}


def test_figures_equal_an_independent_computation_and_a_rebuild(stack: StackHarness) -> None:
    ids = scenario(stack)
    now = store.now_utc()
    today = now.date()
    summary = get(stack, "summary")
    assert without_execution(summary) == independent_summary(stack.tenant_id, today - timedelta(days=90), today, now)
    assert summary["contracts"] == 5 and summary["reminders_sent"] == 2
    assert summary["by_status"] == {"active": 2, "received": 1, "renewed": 1, "terminated": 1}

    receivables = get(stack, "receivables", "?as_of=2030-06-15")
    assert totals_of(receivables) == independent_receivables(stack.tenant_id)
    # paid: pay-2 88 600.00 open; reminded: 38 400 + 89 600; renewing: H1 and H2 (EUR); ended: nothing.
    assert totals_of(receivables) == {"CNY": (3, Decimal("216600.00")), "EUR": (2, Decimal("36000.00"))}
    assert receivables["contracts"] == 3  # active x2 and renewed; terminated is not in force
    renewals = get(stack, "renewals", "?as_of=2030-06-15")
    # reminded ends 2030-07-20 (35 days); the renewed term's cancel-by is 2030-12-31 - 30 = Sun 12-01,
    # back to Fri 11-29 (a business day in Berlin): outside 90 days; the first term's (05-31) is gone.
    assert [(r["contract_id"], r["deadline"], r["window"]) for r in renewals["contracts"]] == [
        (ids["reminded"], "2030-07-20", 60)]
    later = get(stack, "renewals", "?as_of=2030-11-01")
    assert (ids["renewing"], "2030-11-29", "cancel_by") in [
        (r["contract_id"], r["deadline"], r["deadline_kind"]) for r in later["contracts"]]

    before = {route: get(stack, route, "?as_of=2030-06-15" if route != "summary" else "") for route in ROUTES}
    # An existing deployment: nothing kept yet. The rebuild recomputes the same figures, twice over.
    stored = analytics.stored_keys(stack.tenant_id)
    analytics.write_items({}, stored)
    assert get(stack, "summary")["contracts"] == 0
    from chalicelib.admin.__main__ import main

    rebuilt = []
    for _ in range(2):
        assert main(["analytics", "rebuild", "--tenant", stack.tenant_id]) == 0
        after = {route: get(stack, route, "?as_of=2030-06-15" if route != "summary" else "") for route in ROUTES}
        assert after == before
        rebuilt.append(analytics.stored_keys(stack.tenant_id))
    # The same items (a counter kept at zero by the writes is simply not written by the rebuild).
    assert rebuilt[0] == rebuilt[1] and rebuilt[0] <= stored
    # A stale row (a deadline no contract has) is deleted by the rebuild.
    analytics.write_items({(f"renew#{stack.tenant_id}", "2030-06-20#ctr_gone"): {
        "contract_id": {"S": "ctr_gone"}, "kind": {"S": "end_date"}}})
    assert len(get(stack, "renewals", "?as_of=2030-06-15")["contracts"]) == 2
    assert main(["analytics", "rebuild", "--tenant", stack.tenant_id]) == 0
    assert get(stack, "renewals", "?as_of=2030-06-15") == before["renewals"]


def counters(tenant_id: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    today = store.now_utc().date()
    for numbers, _ in analytics.day_items(tenant_id, today - timedelta(days=1), today + timedelta(days=1)):
        for name, value in numbers.items():
            totals[name] = totals.get(name, Decimal(0)) + value
    return {k: v for k, v in totals.items() if v}


def in_thread(work: Any) -> tuple[threading.Thread, threading.Event, dict[str, Any]]:
    done = threading.Event()
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = work()
        except BaseException as err:  # noqa: BLE001 - reported by the test
            result["error"] = err
        finally:
            done.set()

    return threading.Thread(target=run), done, result


def created(stack: StackHarness, crm_id: str) -> StoredContract:
    document = canonical(sales_2030(crm_id))
    return store.create_contract(tenant_id=stack.tenant_id, source_id=stack.source_id,
                                 delivery_id="d-" + secrets.token_hex(4), document=document, signers=[],
                                 callback_url=None).contract


def test_two_contracts_of_one_counter_item_moved_at_once_count_exactly(stack: StackHarness) -> None:
    first = created(stack, "race-0")
    second = next(c for c in (created(stack, f"race-{i}") for i in range(1, 40))
                  if shard_of(c.contract_id) == shard_of(first.contract_id))
    count = 1 + int(second.crm_record_id.removeprefix("race-"))
    thread, done, result = in_thread(lambda: store.move_status(second, Status.SENDING, event_type="sending"))
    hold = arm_for_thread(first.contract_id, while_held=thread.start, rival_done=done, patience=1.0)
    store.move_status(first, Status.SENDING, event_type="sending")
    thread.join(30)
    assert hold.fired.is_set() and "error" not in result, result
    want = {"s_received": count - 2, "s_sending": 2, "t_sales": count, "v_CNY": Decimal("128000.00") * count}
    assert counters(stack.tenant_id) == {k: v for k, v in want.items() if v}


def test_a_move_from_a_stale_read_counts_from_the_state_it_replaced(stack: StackHarness) -> None:
    """Connect's `delivered` is held inside its transaction while a writer that read `sent` moves the
    contract to completed: that write is refused for the version, reads `delivered` again and
    completes from there, so `sent` and `delivered` are each counted out once."""
    record = created(stack, "stale")
    for status in (Status.SENDING, Status.SENT):
        record = store.move_status(record, status, event_type=status.value)
    stale = record
    thread, done, result = in_thread(
        lambda: store.move_status(stale, Status.COMPLETED, event_type="envelope_completed"))
    hold = arm_for_thread(record.contract_id, while_held=thread.start, rival_done=done, patience=1.0)
    store.move_status(record, Status.DELIVERED, event_type="envelope_delivered")
    thread.join(30)
    assert hold.fired.is_set() and not hold.rival_finished_inside
    assert "error" not in result, result
    assert result["value"].status == "completed"
    assert counters(stack.tenant_id) == {"s_completed": 1, "t_sales": 1, "v_CNY": Decimal("128000.00"),
                                         "sv_CNY": Decimal("128000.00")}
    assert analytics.in_force(stack.tenant_id) == 1
    # A repeat of the completion (a redelivered message) is refused and counts nothing.
    try:
        store.move_status(stale, Status.COMPLETED, event_type="envelope_completed")
    except store.StaleStatus:
        pass
    assert counters(stack.tenant_id)["s_completed"] == 1 and analytics.in_force(stack.tenant_id) == 1


def test_a_long_payment_schedule_is_written_after_its_transaction(stack: StackHarness) -> None:
    """More row changes than a transaction holds (70 open milestones entering force): the rows are
    written right after the move, and a payment afterwards changes one row in the payment's own."""
    body = sales_2030("long")
    body["contract"]["amount"] = "70000.00"
    body["contract"]["items"] = [{**body["contract"]["items"][0], "quantity": "1", "unit_price": "70000.00"}]
    body["contract"]["payment"]["milestones"] = [
        {"id": f"m{i:02d}", "name": f"month {i}", "due_date": (date(2030, 7, 1) + timedelta(days=i)).isoformat(),
         "amount": "1000.00"} for i in range(70)]
    assert 70 > analytics.ROWS_IN_TRANSACTION
    contract_id = active_contract(stack, body).contract_id
    ageing = get(stack, "receivables", "?as_of=2030-06-15")["ageing"]
    assert ageing["CNY"]["total"] == {"count": 70, "amount": "70000.00"}
    pay(stack, contract_id, "m00", "1000.00")
    ageing = get(stack, "receivables", "?as_of=2030-06-15")["ageing"]
    assert ageing["CNY"]["total"] == {"count": 69, "amount": "69000.00"}


def test_a_settings_change_moves_a_renewal_deadline_through_the_replan_job(stack: StackHarness) -> None:
    """A deadline is computed when the contract is written; `admin tenants set` of a setting it reads
    (the send buffer) queues `replan`, which rewrites the contract's rows: the report follows."""
    from chalicelib.admin.__main__ import main
    from chalicelib.jobs.replan import run

    assert main(["--actor", "ops@test", "tenants", "set", "--id", stack.tenant_id,
                 "renewal_send_buffer_days=0"]) == 0
    body = sales_2030("renew-buffer")
    body["contract"].update(auto_renew=True, renewal_notice_days=30)
    contract = active_contract(stack, body)
    # Term ends Sat 2030-11-30; 30 days' notice: Thu 2030-10-31, a working day in Shanghai.
    before = get(stack, "renewals", "?as_of=2030-10-01")["contracts"]
    assert [(r["contract_id"], r["deadline"]) for r in before] == [(contract.contract_id, "2030-10-31")]

    assert main(["--actor", "ops@test", "tenants", "set", "--id", stack.tenant_id,
                 "renewal_send_buffer_days=7"]) == 0
    assert "analytics rows changed: 2" in run({"job": "replan", "tenant_id": stack.tenant_id,
                                                "contract_id": contract.contract_id})
    # Seven days earlier to be received in time: Thu 2030-10-24.
    after = get(stack, "renewals", "?as_of=2030-10-01")["contracts"]
    assert [(r["contract_id"], r["deadline"]) for r in after] == [(contract.contract_id, "2030-10-24")]


def test_a_reminder_sent_counts_in_one_write_and_reads_nothing(stack: StackHarness) -> None:
    """The hourly run's path: a reminder sent adds to its day's counter with the event, and reads
    neither the contract's rows nor the tenant's settings (it cannot move a row)."""
    contract = signed(stack, "reminded-once")
    with dynamodb_calls() as calls:
        store.append_event(contract, "reminder_sent", {"kind": "expiry"})
    assert [operation for operation, _, _ in calls] == ["TransactWriteItems"]
    assert get(stack, "summary")["reminders_sent"] == 1
