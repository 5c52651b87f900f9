"""Helpers shared by the reminder integration tests (and a test that they build what they claim).

`active_contract` stores a contract and walks it through the lifecycle's real conditional moves
(received → sending → sent → completed), plans its reminders as the archive job does and makes it
active; signing itself is covered by test_contract_lifecycle.py and the year simulation, so these
tests spend their time on reminders. AWS is moto; nothing of ours is mocked.

Dates are in 2030, far after the wall clock, so that planning at activation (wall-clock `now`)
drops nothing. 2030-01-01 is a Tuesday.
"""

from __future__ import annotations

import copy
import io
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.support.stack import StackHarness

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"
OWNER = "wang.min@yunti.example"
ANNA = "anna.keller@yunti.example"


def utc(text: str) -> str:
    """An ISO instant for the schedule event: '2030-01-08T01:00' -> '2030-01-08T01:00:00Z'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sales_2030(crm_record_id: str = "deal-2030") -> dict[str, Any]:
    """zh-CN, Asia/Shanghai, fixed term Wed 2030-01-02 .. Sat 2030-11-30.
    pay-1 38,400.00 due Tue 2030-01-15; dlv-1 due Wed 2030-02-20; pay-2 89,600.00 due Fri 2030-03-15."""
    body = json.loads((SAMPLES / "sales.json").read_text())
    c = body["contract"]
    c.update(crm_record_id=crm_record_id, number="HT-2030-0001", signing_date="2030-01-02",
             effective_date="2030-01-02", end_date="2030-11-30")
    c["payment"]["milestones"] = [
        {"id": "pay-1", "name": "预付款", "due_date": "2030-01-15", "amount": "38400.00"},
        {"id": "pay-2", "name": "尾款", "due_date": "2030-03-15", "amount": "89600.00"},
    ]
    c["delivery"].update(date="2030-02-20", milestones=[{"id": "dlv-1", "name": "整批交货", "due_date": "2030-02-20"}])
    c.pop("callback_url", None)
    return body


def service_2030(crm_record_id: str = "svc-2030") -> dict[str, Any]:
    """en, Europe/Berlin, auto-renewing, term Tue 2030-01-01 .. Sun 2030-06-30, 30 days' notice.
    Cancel-by = 2030-06-30 - 30 = Fri 05-31; renewal notices -30 = Wed 05-01, -7 = Fri 05-24.
    Renews at 2030-07-01 00:00 Berlin (CEST) = 2030-06-30T22:00Z into 2030-07-01 .. 2030-12-31."""
    body = json.loads((SAMPLES / "service.json").read_text())
    c = body["contract"]
    c.update(crm_record_id=crm_record_id, number="SVC-2030-007", signing_date="2029-12-20",
             effective_date="2030-01-01", end_date="2030-06-30", auto_renew=True, renewal_notice_days=30)
    c["payment"]["milestones"] = [
        {"id": "h1", "name": "H1 2030", "due_date": "2030-01-31", "amount": "18000.00"},
        {"id": "h2", "name": "H2 2030", "due_date": "2030-07-31", "amount": "18000.00"},
    ]
    c.pop("callback_url", None)
    return body


def canonical(body: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.contracts import parse_webhook_body

    return parse_webhook_body(copy.deepcopy(body)).contract.to_canonical_dict()


def active_contract(stack: StackHarness, body: dict[str, Any], *, callback_url: str | None = None,
                    now: str | None = None) -> Any:
    """Stores the contract, moves it to completed, plans its reminders and makes it active."""
    from chalicelib.contracts.lifecycle import Status
    from chalicelib.contracts.stored import SignerProgress as SignerState
    from chalicelib.lifecycle.transitions import transition
    from chalicelib.reminders.scheduling import schedule_contract
    from chalicelib.store import contracts as store

    document = canonical(body)
    if callback_url:
        document["callback_url"] = callback_url
    signers = [SignerState(position=i, recipient_id=str(i), name=s["name"], email=s["email"],
                           routing_order=int(s["routing_order"]), delivery=s.get("delivery", "email"))
               for i, s in enumerate(document["signers"], start=1)]
    record = store.create_contract(tenant_id=stack.tenant_id, source_id=stack.source_id,
                                   delivery_id="msg_" + secrets.token_hex(6), document=document, signers=signers,
                                   callback_url=document.get("callback_url")).contract
    for status in (Status.SENDING, Status.SENT, Status.COMPLETED):
        record = store.move_status(record, status, event_type=status.value)
    planned = schedule_contract(record, now=datetime.fromisoformat(now) if now else None)
    return transition(record, Status.ACTIVE, event_type="active", detail={"reminders_planned": planned})


def stored(contract_id: str, tenant_id: str = "demo") -> dict[str, Any]:
    from chalicelib.reminders.scheduling import stored_items
    from chalicelib.store.contracts import find_contract

    record = find_contract(tenant_id, contract_id)
    assert record is not None
    return stored_items(record)


def pending_keys(contract_id: str) -> set[str]:
    return {k for k, item in stored(contract_id).items() if item.state == "pending"}


def fire(stack: StackHarness, at: str) -> dict[str, Any]:
    """One hourly run at `at` (UTC, '2030-01-08T01:00')."""
    result: dict[str, Any] = stack.fire_schedule("hourly_reminders", utc(at))
    return result


def emails_since(stack: StackHarness, before: int) -> list[Any]:
    return stack.sent_emails()[before:]


class SesThrottle:
    """SES answering 429 TooManyRequestsException ("Maximum sending rate exceeded") to the next
    `times` HTTP attempts of SendEmail, as the real service does under load, and moto's answer
    otherwise. It stands where moto's own endpoint stands (botocore's `before-send`), below
    botocore's retry handler, which sees the 429 as it would the real service's: `attempts` counts
    HTTP attempts (botocore's retries included), `operations` the SendEmail calls our code made."""

    def __init__(self, times: int, endpoint: Any) -> None:
        self.times = times
        self.endpoint = endpoint  # moto's
        self.throttled = 0
        self.attempts = 0
        self.operations = 0

    def before_send(self, request: Any, event_name: str, **kwargs: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        if not event_name.endswith(".SendEmail") or self.throttled >= self.times:
            self.attempts += event_name.endswith(".SendEmail")
            return self.endpoint(event_name=event_name, request=request, **kwargs)
        self.attempts += 1
        self.throttled += 1
        body = json.dumps({"__type": "TooManyRequestsException", "message": "Maximum sending rate exceeded."})
        headers = {"x-amzn-ErrorType": "TooManyRequestsException", "Content-Type": "application/json"}
        return AWSResponse(request.url, 429, headers, _RawBody(body.encode()))

    def before_call(self, **_: Any) -> None:
        self.operations += 1


class _RawBody(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


@contextmanager
def ses_throttled(times: int) -> Iterator[SesThrottle]:
    """Throttles the app's SES client while in the block (a provider's answer: nothing of ours is
    replaced). moto answers every client at `before-send`; for this client, the throttle answers
    instead and hands moto what it lets through."""
    from moto.core.models import botocore_stubber

    from chalicelib.core.aws import client

    events = client("sesv2").meta.events
    throttle = SesThrottle(times, botocore_stubber)
    events.unregister("before-send", botocore_stubber)
    events.register("before-send", throttle.before_send)
    events.register("before-call.sesv2.SendEmail", throttle.before_call)
    try:
        yield throttle
    finally:
        events.unregister("before-call.sesv2.SendEmail", throttle.before_call)
        events.unregister("before-send", throttle.before_send)
        events.register("before-send", botocore_stubber)


def test_active_contract_is_planned_and_active(stack: StackHarness) -> None:
    record = active_contract(stack, sales_2030())
    assert record.status == "active"
    keys = pending_keys(record.contract_id)
    cid = record.contract_id
    assert f"{cid}:payment:pay-1:2030-01-15:due" in keys
    assert f"{cid}:expiry:2030-11-30:-90d" in keys
    assert f"{cid}:transition:expiring:2030-11-30" in keys
    assert f"{cid}:transition:expired:2030-11-30" in keys
    view = stack.get_contract(cid)
    assert view["milestones"]["totals"] == {
        "currency": "CNY", "planned": "128000.00", "paid": "0.00", "remaining": "128000.00",
        "payments_settled": 0, "payments_planned": 2, "deliveries_done": 0, "deliveries_planned": 1}
    assert view["term"] == {"start": "2030-01-02", "end": "2030-11-30", "renewals": 0, "auto_renew": False}
