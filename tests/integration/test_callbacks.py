"""Outbound status callbacks end to end: a contract from a real webhook, the callback job run from the
jobs queue (moto's SQS), signed requests over HTTP to devstack/receiver.py on a thread.

A delay scale of 0 (SIGNBRIDGE_CALLBACK_DELAY_SCALE=0) collapses the ~3-day schedule so that every
attempt runs as soon as the queue is drained; the attempts, ids, signatures and outcomes are the real
ones."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.notify import callbacks
from devstack.receiver import Receiver, serve_in_thread
from devstack.stack import http_json
from tests.support.stack import StackHarness

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"


@pytest.fixture
def no_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    """What SIGNBRIDGE_CALLBACK_DELAY_SCALE=0 does, patched on the module rather than set in os.environ:
    the chalice test client swaps os.environ during each call, so an env change made while a Connect
    delivery is in flight on the app server's thread would be lost."""
    monkeypatch.setattr(callbacks, "delay_scale", lambda: 0.0)


@pytest.fixture
def receiver(stack: StackHarness, no_delays: None) -> Iterator[tuple[str, Receiver]]:
    rx = Receiver([stack.secret], out=open(os.devnull, "w"))  # noqa: SIM115 - closed with the process
    url, stop = serve_in_thread(rx)
    yield url, rx
    stop()


def behave(url: str, spec: dict[str, Any]) -> None:
    status, body = http_json("POST", f"{url}/behaviour", spec)
    assert status == 200, body


def settled_contract(stack: StackHarness, crm_record_id: str) -> str:
    """A contract created through the webhook, without a callback target, left once it is sent (so
    that nothing else moves it while the test drives its callbacks)."""
    body = json.loads((SAMPLES / "sales.json").read_text())
    body = copy.deepcopy(body)
    body["contract"]["crm_record_id"] = crm_record_id
    body["contract"].pop("callback_url", None)
    response = stack.post_webhook(body)
    assert response.status_code == 202, response.body
    contract_id = response.json_body["contract_id"]
    stack.wait_status(contract_id, "sent")
    stack.drain_jobs()
    return contract_id


def set_contract_callback(stack: StackHarness, contract_id: str, url: str) -> Any:
    from chalicelib.store import contracts as store
    from chalicelib.store.models import ContractRecord

    record = ContractRecord.get(stack.tenant_id, contract_id, consistent_read=True)
    record.update(actions=[ContractRecord.callback_url.set(url)], add_version_condition=False)
    return store.get_contract(stack.tenant_id, contract_id)


def set_source_callback(stack: StackHarness, url: str) -> None:
    from chalicelib.store import registry

    source = registry.get_source(stack.source_id)
    assert source is not None
    registry.put_source(dataclasses.replace(source, options={**source.options, "callback_url": url}))
    registry.clear_cache()


def status_changed(stack: StackHarness, contract_id: str, event: str = "sent", previous: str = "sending") -> None:
    from chalicelib.store import contracts as store

    record = store.get_contract(stack.tenant_id, contract_id)
    callbacks.status_changed(record, event, record.status, {"previous_status": previous}, store.now_utc())


def callback_events(stack: StackHarness, contract_id: str) -> list[dict[str, Any]]:
    return [e for e in stack.get_contract(contract_id)["timeline"] if e["type"].startswith("callback")]


def test_a_receiver_failing_five_times_gets_one_delivery_id_and_one_success(
        stack: StackHarness, receiver: tuple[str, Receiver]) -> None:
    url, rx = receiver
    contract_id = settled_contract(stack, "deal-cb-retry")
    set_contract_callback(stack, contract_id, f"{url}/hooks/crm")
    behave(url, {"status": 500, "fail_times": 5})

    status_changed(stack, contract_id)
    stack.wait_until(lambda: any(c["answered"] == 200 for c in rx.snapshot()["callbacks"]), what="a delivery")
    stack.drain_jobs()

    got = rx.snapshot()["callbacks"]
    assert [c["answered"] for c in got] == [500] * 5 + [200]
    ids = {c["webhook_id"] for c in got}
    assert len(ids) == 1 and next(iter(ids)).startswith("cb_")
    delivery_id = next(iter(ids))
    assert all(c["verified"] is True for c in got)  # signed with the source's secret, verified by the CRM side
    payload = got[-1]["payload"]
    assert payload["type"] == "contract.status_changed" and payload["id"] == delivery_id
    assert payload["data"]["contract_id"] == contract_id
    assert payload["data"]["crm_record_id"] == "deal-cb-retry"
    assert payload["data"]["status"] == "sent" and payload["data"]["previous_status"] == "sending"
    assert [s["position"] for s in payload["data"]["signers"]] == [1, 2]
    # The timeline shows the outcome once, not every attempt.
    events = callback_events(stack, contract_id)
    assert [e["type"] for e in events] == ["callback_delivered"]
    assert events[0]["detail"]["delivery_id"] == delivery_id and events[0]["detail"]["attempts"] == 6
    from chalicelib.admin.callbacks import list_dead_letters

    assert list_dead_letters() == []


def test_a_410_disables_the_endpoint_until_it_is_enabled_again(
        stack: StackHarness, receiver: tuple[str, Receiver], capsys: pytest.CaptureFixture[str]) -> None:
    url, rx = receiver
    contract_id = settled_contract(stack, "deal-cb-gone")
    hook = f"{url}/hooks/crm"
    set_source_callback(stack, hook)  # the source's callback URL this time (the contract has none)
    behave(url, {"status": 410})

    status_changed(stack, contract_id)
    status_changed(stack, contract_id, "delivered", "sent")  # already queued when the 410 comes back
    stack.drain_jobs()
    assert [c["answered"] for c in rx.snapshot()["callbacks"]] == [410]
    assert callbacks.is_disabled(stack.tenant_id, hook)
    events = callback_events(stack, contract_id)
    assert [e["type"] for e in events] == ["callback_endpoint_disabled"]

    # Later status changes: nothing is even queued, and the receiver hears nothing more.
    status_changed(stack, contract_id, "completed", "delivered")
    assert stack.drain_jobs() == 0
    assert len(rx.snapshot()["callbacks"]) == 1

    # An operator re-enables it.
    from chalicelib.admin.__main__ import main as admin

    assert admin(["callbacks", "enable", "--url", hook, "--tenant", stack.tenant_id]) == 0
    assert "enabled callbacks" in capsys.readouterr().out
    behave(url, {})
    status_changed(stack, contract_id, "completed", "delivered")
    stack.drain_jobs()
    assert [c["answered"] for c in rx.snapshot()["callbacks"]] == [410, 200]


def test_a_private_address_is_refused_when_the_flag_is_off(
        stack: StackHarness, receiver: tuple[str, Receiver], monkeypatch: pytest.MonkeyPatch) -> None:
    url, rx = receiver
    contract_id = settled_contract(stack, "deal-cb-ssrf")
    port = url.rsplit(":", 1)[1]
    # The local stack's flag (SIGNBRIDGE_ALLOW_PRIVATE_CALLBACKS=1, which lets the other tests reach the
    # receiver on loopback) switched off. Patched on the settings object rather than os.environ, which
    # an in-flight call of the chalice test client (a Connect delivery) would restore under our feet.
    from chalicelib.core.config import settings

    assert settings().allow_private_callbacks
    flag_off = dataclasses.replace(settings(), allow_private_callbacks=False)
    monkeypatch.setattr(callbacks, "settings", lambda: flag_off)

    set_contract_callback(stack, contract_id, f"https://127.0.0.1:{port}/hooks/crm")
    status_changed(stack, contract_id)
    stack.drain_jobs()
    set_contract_callback(stack, contract_id, f"http://localhost:{port}/hooks/crm")
    status_changed(stack, contract_id, "delivered", "sent")
    stack.drain_jobs()

    assert rx.snapshot()["callbacks"] == []  # never called
    failed = callback_events(stack, contract_id)
    assert [e["type"] for e in failed] == ["callback_failed", "callback_failed"]
    assert all(e["detail"]["attempts"] == 1 for e in failed)  # refused at once, not retried for 3 days
    loopback, plain_http = (e["detail"]["reason"] for e in failed)
    assert "127.0.0.1 (loopback)" in loopback and "refused" in loopback
    assert "must be https" in plain_http
    from chalicelib.admin.callbacks import list_dead_letters

    dead = list_dead_letters()
    assert {d["job"] for d in dead} == {"callback"} and len(dead) == 2


def test_exhausted_retries_dead_letter_and_replay_keeps_the_delivery_id(
        stack: StackHarness, receiver: tuple[str, Receiver], capsys: pytest.CaptureFixture[str]) -> None:
    url, rx = receiver
    contract_id = settled_contract(stack, "deal-cb-dlq")
    set_contract_callback(stack, contract_id, f"{url}/hooks/crm")
    behave(url, {"status": 503})

    status_changed(stack, contract_id)
    stack.wait_until(lambda: bool(callback_events(stack, contract_id)), what="the callback to give up")
    got = rx.snapshot()["callbacks"]
    assert len(got) == callbacks.MAX_ATTEMPTS == 13
    delivery_id = got[0]["webhook_id"]
    assert {c["webhook_id"] for c in got} == {delivery_id}
    events = callback_events(stack, contract_id)
    assert [e["type"] for e in events] == ["callback_failed"]
    assert events[0]["detail"]["attempts"] == 13 and events[0]["detail"]["status_code"] == 503

    from chalicelib.admin.__main__ import main as admin

    capsys.readouterr()  # drop what the jobs printed (their EMF metric lines): only the CLI's output counts
    assert admin(["callbacks", "list-dlq"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["job"], d["delivery_id"], d["reason"]) for d in listed] == [("callback", delivery_id, "HTTP 503")]

    behave(url, {})
    assert admin(["callbacks", "replay"]) == 0
    assert "replayed 1 message(s)" in capsys.readouterr().out
    stack.drain_jobs()
    got = rx.snapshot()["callbacks"]
    assert len(got) == 14 and got[-1]["answered"] == 200 and got[-1]["webhook_id"] == delivery_id
    events = callback_events(stack, contract_id)
    assert [e["type"] for e in events] == ["callback_failed", "callback_delivered"]
    assert events[1]["detail"] == {**events[1]["detail"], "delivery_id": delivery_id, "attempts": 1}
    capsys.readouterr()
    assert admin(["callbacks", "list-dlq"]) == 0
    assert capsys.readouterr().out == ""
