"""Zoho CRM through the real app: a workflow webhook on Deals (JSON or form parameters) with the
source's token becomes a service contract; a missing or wrong token is 401 and stores nothing; a
resend is a repeat; a bad field is 422 naming the Zoho field."""

from __future__ import annotations

import pytest

from devstack.crm_samples import dumps, load, raw
from tests.integration.test_crm_helpers import (
    assert_enrichment_pending,
    assert_stored_nothing,
    post,
    post_zoho,
    stored_document,
    stored_keys,
)
from tests.support.stack import StackHarness

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("fmt", ["json", "form"])
def test_workflow_webhook_creates_the_service_contract(stack: StackHarness, fmt: str) -> None:
    body = raw("zoho_deal.json") if fmt == "json" else raw("zoho_deal.form").strip()
    response = post_zoho(stack, body, content_type="application/json" if fmt == "json" else FORM)
    assert response.status_code == 202, response.body
    contract = stack.get_contract(response.json_body["contract_id"])
    assert (contract["crm_record_id"], contract["number"], contract["type"], contract["locale"]) == (
        "5725767000002894011", "FW-2026-0042", "service", "zh-CN")
    assert (contract["amount"], contract["currency"], contract["effective_date"], contract["end_date"]) == (
        "96000.00", "CNY", "2027-01-01", "2027-12-31")
    assert [(s["name"], s["email"]) for s in contract["signers"]] == [
        ("陈静", "chen.jing@hengtai.example"), ("王敏", "wang.min@yunti.example")]
    document = stored_document(stack, contract["contract_id"])
    assert document["service"]["description"].startswith("厂区 1,200 套智能门锁")
    assert document["auto_renew"] is True and document["renewal_notice_days"] == 60
    assert document["parties"]["counterparty"]["address"] == "江苏省苏州市苏州工业园区星湖街 328 号"


def test_a_resent_webhook_is_a_repeat(stack: StackHarness) -> None:
    first = post_zoho(stack, raw("zoho_deal.json"))
    second = post_zoho(stack, raw("zoho_deal.json"))
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json_body["contract_id"] == second.json_body["contract_id"]
    assert len([k for k in stored_keys() if k.startswith("delivery#")]) == 1


@pytest.mark.parametrize("case", ["wrong_token", "no_token", "token_of_another_source"])
def test_bad_token_is_401_and_stores_nothing(stack: StackHarness, case: str) -> None:
    headers = {"Content-Type": "application/json"}
    if case == "wrong_token":
        headers["X-Signbridge-Token"] = "zoho-guess"
    elif case == "token_of_another_source":
        headers["X-Signbridge-Token"] = stack.sources["demo-fxiaoke"]["token"]
    response = post(stack, "demo-zoho", raw("zoho_deal.json"), headers)
    assert response.status_code == 401, response.body
    assert_stored_nothing(stack)


def test_token_in_the_url_to_notify(stack: StackHarness) -> None:
    token = stack.sources["demo-zoho"]["token"]
    response = post(stack, "demo-zoho", raw("zoho_deal.json"), {"Content-Type": "application/json"},
                    f"?token={token}")
    assert response.status_code == 202, response.body


def test_missing_clauses_are_422_naming_the_zoho_fields(stack: StackHarness) -> None:
    deal = load("zoho_deal.json")
    del deal["Service_Standard"]
    deal["Service_End"] = "2026-12-31"  # before the start
    deal["Contact_Email"] = "chen.jing at hengtai"
    response = post_zoho(stack, dumps(deal))
    assert response.status_code == 422, response.body
    details = {d["path"]: d for d in response.json_body["error"]["details"]}
    assert details["contract.service.standard"]["crm_field"] == "Service_Standard"
    assert details["contract.parties.counterparty.contact.email"]["crm_field"] == "Contact_Email"
    assert details["contract.signers[0].email"]["crm_field"] == "Contact_Email"
    assert any(d.get("crm_field") == "Service_End || End_Date" for d in details.values())
    assert_stored_nothing(stack)


def test_a_webhook_with_only_the_deal_id_is_accepted_for_enrichment(stack: StackHarness) -> None:
    # A webhook whose body is only `{"id": "${Deals.Deal Id}"}`: Zoho ids are 19-digit strings.
    response = post_zoho(stack, dumps({"id": "5725767000002894011", "event": "updated"}))
    job = assert_enrichment_pending(stack, response, "demo-zoho", "5725767000002894011")
    assert (job["crm"], job["object_type"], job["event"]) == ("zoho", "Deals", "contract.updated")
