"""Execution tracking through POST /v1/contracts/{id}/milestones/{milestone_id}: a payment in full
stops the milestone's reminders, a partial one keeps its overdue ladder with the amount still open
in the email, a delivery stops the delivery reminders, and GET shows paid versus planned.

Calendar (Asia/Shanghai, 09:00 = 01:00 UTC), from test_reminders_support.sales_2030:
- pay-1 38,400.00 due Tue 01-15: -7 Tue 01-08, due 01-15, +1 Wed 01-16, +7 Tue 01-22, +14 Tue 01-29,
  +30 Thu 02-14.
- dlv-1 due Wed 02-20: -3 Sun 02-17 -> Mon 02-18, +1 Thu 02-21, +7 Wed 02-27.
- pay-2 89,600.00 due Fri 03-15: -7 Fri 03-08, due 03-15, +1 Sat 03-16 -> Mon 03-18, +7 Fri 03-22,
  +14 Fri 03-29, +30 Sun 04-14 -> Mon 04-15.
"""

from __future__ import annotations

import json
from typing import Any

from tests.integration.test_reminders_support import (
    OWNER,
    active_contract,
    emails_since,
    fire,
    pending_keys,
    sales_2030,
    stored,
)
from tests.support.stack import StackHarness, sign_as

PAY_1_TIMES = ["2030-01-15T01:00", "2030-01-16T01:00", "2030-01-22T01:00", "2030-01-29T01:00", "2030-02-14T01:00"]


def post(stack: StackHarness, contract_id: str, milestone_id: str, body: Any,
         headers: dict[str, str] | None = None) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return stack.client.http.post(f"/v1/contracts/{contract_id}/milestones/{milestone_id}",
                                  headers={"Content-Type": "application/json", **stack.auth(), **(headers or {})},
                                  body=raw)


def signed_contract(stack: StackHarness, body: dict[str, Any]) -> str:
    """The real way in: webhook, envelope at the sandbox, both signers sign, archive, active."""
    response = stack.post_webhook(body)
    assert response.status_code == 202, response.body
    contract_id = response.json_body["contract_id"]
    stack.wait_status(contract_id, "sent")
    sign_as(stack, contract_id, 1)
    stack.wait_until(lambda: stack.get_contract(contract_id)["signers"][0]["status"] == "signed", what="signer 1")
    sign_as(stack, contract_id, 2)
    stack.wait_status(contract_id, "active")
    return contract_id


def test_paying_a_milestone_in_full_stops_its_reminders(stack: StackHarness) -> None:
    contract_id = signed_contract(stack, sales_2030())
    assert fire(stack, "2030-01-08T01:00")["sent"] == 1  # the "7 days before" notice
    answer = post(stack, contract_id, "pay-1", {"status": "paid", "amount": "38400.00", "paid_on": "2030-01-10"})
    assert answer.status_code == 200, answer.body
    milestone = answer.json_body["milestone"]
    assert (milestone["status"], milestone["paid_amount"], milestone["remaining"]) == ("paid", "38400.00", "0.00")
    assert answer.json_body["reminders"]["cancelled"] == 5  # due, +1, +7, +14, +30

    items = {k.split(":", 1)[1]: v.state for k, v in stored(contract_id).items() if ":pay-1:" in k}
    assert items["payment:pay-1:2030-01-15:before:-7d"] == "sent"  # never touched
    assert {s for k, s in items.items() if "before" not in k} == {"cancelled"}
    before = len(stack.sent_emails())
    for at in PAY_1_TIMES:
        assert fire(stack, at)["sent"] == 0, at
    assert emails_since(stack, before) == []
    # The other milestones carry on: the delivery notice on Mon 02-18.
    assert fire(stack, "2030-02-18T01:00")["sent"] == 1
    assert emails_since(stack, before)[0].subject == "交付提醒：HT-2030-0001 整批交货 将于 2030年2月20日 到期"

    view = stack.get_contract(contract_id)
    pay_1 = view["milestones"]["payment"][0]
    assert pay_1["payments"][0]["amount"] == "38400.00" and pay_1["payments"][0]["paid_on"] == "2030-01-10"
    assert view["milestones"]["totals"]["paid"] == "38400.00"
    assert view["milestones"]["totals"]["remaining"] == "89600.00"
    event = next(e for e in view["timeline"] if e["type"] == "milestone_paid")
    assert event["detail"]["milestone_id"] == "pay-1" and event["detail"]["remaining"] == "0.00"


def test_a_partial_payment_keeps_the_overdue_ladder_with_what_is_still_open(stack: StackHarness) -> None:
    record = active_contract(stack, sales_2030())
    cid = record.contract_id
    keys_before = pending_keys(cid)
    answer = post(stack, cid, "pay-2", {"status": "paid", "amount": "40000.00", "paid_on": "2030-03-10"})
    assert answer.status_code == 200, answer.body
    milestone = answer.json_body["milestone"]
    assert (milestone["status"], milestone["paid_amount"], milestone["remaining"]) == (
        "partially_paid", "40000.00", "49600.00")
    assert answer.json_body["reminders"]["cancelled"] == 0
    assert pending_keys(cid) == keys_before  # the ladder stays
    overdue = stored(cid)[f"{cid}:payment:pay-2:2030-03-15:overdue:+1d"]
    assert overdue.detail["amount_remaining"] == "49600.00" and overdue.detail["amount_due"] == "89600.00"

    fire(stack, "2030-03-15T02:00")  # Fri 10:00: what came due earlier (pay-1, delivery, pay-2's due date)
    before = len(stack.sent_emails())
    assert fire(stack, "2030-03-18T01:00")["sent"] == 1  # +1: Mon 03-18, three days after Fri 03-15
    [email] = emails_since(stack, before)
    assert email.to == [OWNER]
    assert email.subject == "付款逾期：HT-2030-0001 尾款 已逾期 3 天（尚欠 人民币 49,600.00 元）"
    assert "目前已收 人民币 40,000.00 元，尚欠 人民币 49,600.00 元" in email.text
    assert "尚欠金额：人民币 49,600.00 元（大写：肆万玖仟陆佰元整）" in email.text
    assert "应付金额：人民币 89,600.00 元（大写：捌万玖仟陆佰元整）" in email.text
    assert email.html and "49,600.00" in email.html and "肆万玖仟陆佰元整" in email.html
    [(name, ics)] = email.attachments
    ics = ics.encode() if isinstance(ics, str) else ics  # a text/* part comes back decoded
    assert name == "HT-2030-0001-payment-2030-03-15.ics"
    assert b"DTSTART;VALUE=DATE:20300315\r\n" in ics
    assert f"UID:{cid}:payment:pay-2:2030-03-15:overdue:+1d@signbridge".encode() in ics.replace(b"\r\n ", b"")

    # The rest arrives: the ladder stops.
    answer = post(stack, cid, "pay-2", {"status": "paid", "amount": "49600.00", "paid_on": "2030-03-20"})
    assert answer.json_body["milestone"]["status"] == "paid"
    assert fire(stack, "2030-03-22T01:00")["sent"] == 0
    view = stack.get_contract(cid)
    pay_2 = view["milestones"]["payment"][1]
    assert [p["amount"] for p in pay_2["payments"]] == ["40000.00", "49600.00"]
    assert view["milestones"]["totals"]["paid"] == "89600.00"
    types = [e["type"] for e in view["timeline"]]
    assert types.count("milestone_partially_paid") == 1 and types.count("milestone_paid") == 1


def test_a_delivery_done_stops_the_delivery_reminders(stack: StackHarness) -> None:
    record = active_contract(stack, sales_2030())
    cid = record.contract_id
    answer = post(stack, cid, "dlv-1", {"status": "delivered", "delivered_on": "2030-02-15"})
    assert answer.status_code == 200, answer.body
    assert answer.json_body["milestone"] == {"id": "dlv-1", "name": "整批交货", "due_date": "2030-02-20",
                                             "status": "delivered", "delivered_on": "2030-02-15", "overdue": False}
    assert not [k for k in pending_keys(cid) if ":delivery:" in k]
    for at in ("2030-02-18T01:00", "2030-02-21T01:00", "2030-02-27T01:00"):
        fire(stack, at)
    subjects = [e.subject for e in stack.sent_emails()]
    assert subjects and not [s for s in subjects if "交付" in s], subjects  # pay-1's went out, no delivery one
    # The same delivery again is not a second event; another date is a conflict.
    again = post(stack, cid, "dlv-1", {"status": "delivered", "delivered_on": "2030-02-15"})
    assert again.status_code == 200 and again.json_body["duplicate"] is True
    other = post(stack, cid, "dlv-1", {"status": "delivered", "delivered_on": "2030-02-16"})
    assert other.status_code == 409
    types = [e["type"] for e in stack.get_contract(cid)["timeline"]]
    assert types.count("milestone_delivered") == 1


def test_a_payment_repeated_with_its_reference_is_recorded_once(stack: StackHarness) -> None:
    cid = active_contract(stack, sales_2030()).contract_id
    body = {"status": "paid", "amount": "10000.00", "paid_on": "2030-01-12", "reference": "bank-tx-881"}
    assert post(stack, cid, "pay-1", body).status_code == 200
    again = post(stack, cid, "pay-1", body)
    assert again.status_code == 200 and again.json_body["duplicate"] is True
    assert again.json_body["milestone"]["paid_amount"] == "10000.00"


# 422: the body is invalid on its own; 409: valid, but it does not fit this milestone (its kind, what
# is still open, the contract's currency).
BAD_REQUESTS: list[tuple[str, Any, int, str | None]] = [
    ("nope", {"status": "paid", "amount": "1.00"}, 404, None),
    ("dlv-1", {"status": "paid", "amount": "1.00"}, 409, "status"),
    ("pay-1", {"status": "delivered", "delivered_on": "2030-01-15"}, 409, "status"),
    ("pay-1", {"status": "paid", "amount": "38400.01"}, 409, "amount"),
    ("pay-1", {"status": "paid", "amount": "0"}, 422, "amount"),
    ("pay-1", {"status": "paid", "amount": "1.001"}, 409, "amount"),
    ("pay-1", {"status": "paid", "amount": 100.5}, 422, "amount"),
    ("pay-1", {"status": "paid", "amount": "100.00", "paid_on": "2030-02-30"}, 422, "paid_on"),
    ("pay-1", {"status": "paid", "amount": "100.00", "paid_on": "yesterday"}, 422, "paid_on"),
    ("pay-1", {"status": "paid", "amount": "100.00", "paid_on": "2030-W03-1"}, 422, "paid_on"),
    ("pay-1", {"status": "paid", "reference": " "}, 422, "reference"),
    ("dlv-1", {"status": "delivered", "delivered_on": "15/02/2030"}, 422, "delivered_on"),
    ("pay-1", {"status": "refunded"}, 422, "status"),
    ("pay-1", b'{"status": "paid",', 400, None),
    ("pay-1", [1, 2], 400, None),
]


def test_bad_requests_get_a_clear_4xx_and_change_nothing(stack: StackHarness) -> None:
    cid = active_contract(stack, sales_2030()).contract_id
    keys = pending_keys(cid)
    for milestone_id, body, status, path in BAD_REQUESTS:
        answer = post(stack, cid, milestone_id, body)
        assert answer.status_code == status, (milestone_id, body, answer.body)
        error = answer.json_body["error"]
        assert error["message"]
        if path:
            assert path in [d["path"] for d in error["details"]], (body, error)
    view = stack.get_contract(cid)
    assert view["milestones"]["totals"]["paid"] == "0.00"
    assert not [e for e in view["timeline"] if e["type"].startswith("milestone_")]
    assert pending_keys(cid) == keys


def test_paying_more_than_what_is_open_after_a_partial_payment_is_409(stack: StackHarness) -> None:
    cid = active_contract(stack, sales_2030()).contract_id
    assert post(stack, cid, "pay-1", {"status": "paid", "amount": "38000.00"}).status_code == 200
    too_much = post(stack, cid, "pay-1", {"status": "paid", "amount": "400.01"})
    assert too_much.status_code == 409 and too_much.json_body["error"]["code"] == "conflict"
    assert "at most 400.00 is open" in too_much.json_body["error"]["details"][0]["message"]
    rest = post(stack, cid, "pay-1", {"status": "paid"})  # no amount: whatever is still open
    assert rest.json_body["milestone"]["status"] == "paid"
    assert post(stack, cid, "pay-1", {"status": "paid", "amount": "1.00"}).status_code == 409


def test_a_contract_not_in_force_is_409_and_other_tenants_see_404(stack: StackHarness) -> None:
    from chalicelib.store.registry import put_api_key, put_tenant

    response = stack.post_webhook(sales_2030("deal-unsigned"))  # received, not signed
    cid = response.json_body["contract_id"]
    answer = post(stack, cid, "pay-1", {"status": "paid", "amount": "100.00"})
    assert answer.status_code == 409 and answer.json_body["error"]["code"] == "conflict"
    put_tenant("other", "Other Co.")
    put_api_key("other", "other-key")
    foreign = post(stack, cid, "pay-1", {"status": "paid"}, headers={"Authorization": "Bearer other-key"})
    assert foreign.status_code == 404
    nokey = stack.client.http.post(f"/v1/contracts/{cid}/milestones/pay-1", headers={"Content-Type":
                                   "application/json"}, body=b'{"status": "paid"}')
    assert nokey.status_code == 401
