"""Validation's messages, word for word where a CRM user reads them: the relative due date rule
(`"due": {"after": ..., "working_days" | "days": N}`, N from 1 to 3650), a body that is not an object,
and the exception's own text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.contracts import ContractInvalid, ErrorDetail, parse_contract, parse_webhook_body

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"
MILESTONE = "contract.payment.milestones[0]"


def sales_with_due(due: object, **changes: Any) -> dict[str, Any]:
    body = json.loads((SAMPLES / "sales.json").read_text(encoding="utf-8"))
    milestone = body["contract"]["payment"]["milestones"][0]
    milestone.pop("due_date", None)
    milestone["due"] = due
    body["contract"].update(changes)
    return body


def problems(body: object) -> dict[str, str]:
    with pytest.raises(ContractInvalid) as info:
        parse_webhook_body(body)
    return {d.path: d.message for d in info.value.details}


ANCHORS = "must be one of signing_date, effective_date, delivery.date"


@pytest.mark.parametrize(("due", "path", "message"), [
    ("10 working days", f"{MILESTONE}.due",
     'must be an object like {"after": "signing_date", "working_days": 10}, not the string \'10 working days\''),
    ({"working_days": 10}, f"{MILESTONE}.due.after", f"{ANCHORS} (required)"),
    ({"after": "tomorrow", "days": 3}, f"{MILESTONE}.due.after", f"{ANCHORS} (not the string 'tomorrow')"),
    ({"after": "signing_date"}, f"{MILESTONE}.due", "give exactly one of working_days or days (neither given)"),
    ({"after": "signing_date", "days": 1, "working_days": 1}, f"{MILESTONE}.due",
     "give exactly one of working_days or days (both given)"),
    ({"after": "signing_date", "days": 0}, f"{MILESTONE}.due.days",
     "must be a whole number from 1 to 3650, not the number 0"),
    ({"after": "signing_date", "working_days": 3651}, f"{MILESTONE}.due.working_days",
     "must be a whole number from 1 to 3650, not the number 3651"),
    ({"after": "signing_date", "days": True}, f"{MILESTONE}.due.days",
     "must be a whole number from 1 to 3650, not true"),
])
def test_a_wrong_due_rule_is_named(due: object, path: str, message: str) -> None:
    found = problems(sales_with_due(due))
    assert found[path] == message


@pytest.mark.parametrize("days", [1, 3650])
def test_due_days_at_the_bounds_are_accepted(days: int) -> None:
    contract = parse_webhook_body(sales_with_due({"after": "signing_date", "days": days})).contract
    assert contract.payment_milestones[0].due_date is not None


def test_a_due_rule_counting_from_a_delivery_that_is_not_an_object() -> None:
    found = problems(sales_with_due({"after": "delivery.date", "days": 5}, delivery="next week"))
    assert found[f"{MILESTONE}.due.after"] == "the contract has no delivery.date to count from"


@pytest.mark.parametrize(("data", "shown"), [([], "a list"), ("{}", "the string '{}'"), (None, "null")])
def test_a_contract_that_is_not_an_object(data: object, shown: str) -> None:
    with pytest.raises(ContractInvalid) as info:
        parse_contract(data)
    assert info.value.details == [ErrorDetail("contract", f"must be an object, not {shown}")]


def test_the_exception_text_lists_every_problem() -> None:
    err = ContractInvalid([ErrorDetail("contract.a", "x"), ErrorDetail("contract.b", "y")])
    assert str(err) == "2 problems in the contract: contract.a: x; contract.b: y"
    assert str(ContractInvalid([ErrorDetail("contract", "z")])) == "1 problem in the contract: contract: z"


def sales(**changes: Any) -> dict[str, Any]:
    body = json.loads((SAMPLES / "sales.json").read_text(encoding="utf-8"))
    body["contract"].update(changes)
    return body


def test_a_refused_due_rule_is_not_also_a_missing_due_date() -> None:
    found = problems(sales_with_due({"after": "signing_date", "days": 0}))
    assert f"{MILESTONE}.due_date" not in found and f"{MILESTONE}.due.days" in found


def test_due_and_due_date_together_is_one_problem() -> None:
    body = sales_with_due({"after": "signing_date", "days": 10})
    body["contract"]["payment"]["milestones"][0]["due_date"] = "2027-01-01"
    assert problems(body) == {f"{MILESTONE}.due": "give either due_date or due, not both"}


def test_every_milestones_due_rule_is_read() -> None:
    # The first milestone has a plain due_date, the second a rule: the rule is still resolved.
    body = sales()
    body["contract"]["payment"]["milestones"][1].pop("due_date")
    body["contract"]["payment"]["milestones"][1]["due"] = {"after": "signing_date", "days": 30}
    milestones = parse_webhook_body(body).contract.payment_milestones
    assert [m.due_date is not None for m in milestones] == [True, True]
    # Both wrong: both named.
    for m in body["contract"]["payment"]["milestones"]:
        m.pop("due_date", None)
        m["due"] = {"after": "never", "days": 1}
    found = problems(body)
    assert {"contract.payment.milestones[0].due.after", "contract.payment.milestones[1].due.after"} <= found.keys()


@pytest.mark.parametrize(("currency", "amount", "message"), [
    ("JPY", "1000.5", "JPY amounts have no decimal places, not 1000.5"),
    ("CNY", "1000.005", "CNY amounts have at most 2 decimal places, not 1000.005"),
    ("KWD", "1000.0005", "KWD amounts have at most 3 decimal places, not 1000.0005"),
])
def test_amounts_finer_than_the_currency_are_refused_in_milestones_too(currency: str, amount: str,
                                                                         message: str) -> None:
    body = sales(currency=currency, amount=amount)
    body["contract"]["payment"]["milestones"] = [
        {"id": "all", "name": "All", "due_date": "2027-01-15", "amount": amount}]
    found = problems(body)
    assert found["contract.amount"] == message
    assert found["contract.payment.milestones[0].amount"] == message


def test_both_notice_periods_is_refused() -> None:
    found = problems(sales(auto_renew=True, renewal_notice_days=30, renewal_notice_working_days=20))
    assert found["contract.renewal_notice_working_days"] == (
        "give the renewal notice period once: renewal_notice_days (calendar days) or "
        "renewal_notice_working_days (working days), not both")


def test_a_routing_order_gap_says_how_orders_run() -> None:
    body = sales()
    body["contract"]["signers"][1]["routing_order"] = 3
    (message,) = problems(body).values()
    assert message.endswith("(orders run 1, 2, 3... without gaps; equal orders sign in parallel)")


@pytest.mark.parametrize("where", ["signers", "milestones"])
def test_a_list_member_that_is_not_an_object_is_a_problem_not_a_crash(where: str) -> None:
    body = sales()
    if where == "signers":
        body["contract"]["signers"].append("someone")
    else:
        body["contract"]["payment"]["milestones"].append("the rest")
    assert problems(body)


def test_envelope_and_contract_problems_are_reported_together_envelope_first() -> None:
    found = problems({"event": "contract.signed", "contract": []})
    assert list(found) == ["event", "contract"]


def partner_with_deliveries(*milestones: dict[str, Any]) -> dict[str, Any]:
    # A partner contract has no payment section: only delivery milestones.
    body = json.loads((SAMPLES / "partner.json").read_text(encoding="utf-8"))
    assert "payment" not in body["contract"]
    body["contract"]["delivery"] = {"date": "2027-05-01", "place": "Shanghai", "milestones": list(milestones)}
    return body


def test_delivery_milestones_are_checked_without_a_payment_section() -> None:
    found = problems(partner_with_deliveries(
        {"id": "d1", "name": "One", "due_date": "2027-03-01"},
        {"id": "", "name": "Blank id", "due_date": "2027-03-02"},
        {"id": "d1", "name": "Two", "due_date": "2027-04-01"},
    ))
    assert found["contract.delivery.milestones[2].id"] == (
        "duplicate milestone id 'd1': also used at contract.delivery.milestones[0].id")


def test_delivery_due_rules_are_resolved_without_a_payment_section() -> None:
    body = partner_with_deliveries({"id": "d1", "name": "One", "due": {"after": "effective_date", "days": 10}})
    (milestone,) = parse_webhook_body(body).contract.delivery_milestones
    assert milestone.due_date is not None
