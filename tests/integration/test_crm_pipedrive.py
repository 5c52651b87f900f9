"""Pipedrive through the real app: a webhooks v2 deal change with basic auth, for a deal entering
the contract stage, becomes the contract; other changes are acknowledged and ignored; meta.id
dedupes retries; a lost deal cancels."""

from __future__ import annotations

import pytest

from devstack.crm_samples import basic_auth_headers, dumps, load, raw
from tests.integration.test_crm_helpers import assert_stored_nothing, post, post_pipedrive, stored_document
from tests.support.stack import StackHarness


def test_deal_entering_the_contract_stage_creates_the_contract(stack: StackHarness) -> None:
    response = post_pipedrive(stack, raw("pipedrive_deal.json"))
    assert response.status_code == 202, response.body
    contract = stack.get_contract(response.json_body["contract_id"])
    assert (contract["crm_record_id"], contract["number"], contract["locale"], contract["currency"]) == (
        "4821", "SO-2026-1187", "en", "USD")
    assert (contract["amount"], contract["title"]) == ("51200", "Smart locks for Acme Facilities, Berlin office")
    assert [(s["name"], s["email"]) for s in contract["signers"]] == [
        ("Jonas Weber", "jonas.weber@acme-facilities.example"), ("Min Wang", "wang.min@yunti.example")]
    document = stored_document(stack, contract["contract_id"])
    assert document["items"][0] == {"description": "Y3 smart lock", "quantity": "80", "unit_price": "640",
                                     "specification": "Fingerprint + PIN, 304 stainless steel"}
    assert document["delivery"]["date"] == "2027-01-20"
    # Pipedrive retries the same event (same meta.id): a repeat.
    again = post_pipedrive(stack, raw("pipedrive_deal.json"))
    assert again.status_code == 200 and again.json_body["contract_id"] == contract["contract_id"]


@pytest.mark.parametrize("credentials", [("signbridge", "wrong"), ("admin", None), None])
def test_wrong_basic_auth_is_401_and_stores_nothing(stack: StackHarness, credentials: tuple | None) -> None:
    source = stack.sources["demo-pipedrive"]
    if credentials is None:
        headers = {"Content-Type": "application/json"}
    else:
        headers = basic_auth_headers(credentials[0], credentials[1] or source["password"])
    response = post(stack, "demo-pipedrive", raw("pipedrive_deal.json"), headers)
    assert response.status_code == 401, response.body
    assert_stored_nothing(stack)


def test_changes_outside_the_contract_stage_are_ignored(stack: StackHarness) -> None:
    deal = load("pipedrive_deal.json")
    deal["data"]["stage_id"] = 2
    response = post_pipedrive(stack, dumps(deal))
    assert response.status_code == 200, response.body
    assert response.json_body["status"] == "ignored"
    assert_stored_nothing(stack)


def test_lost_deal_cancels_the_contract(stack: StackHarness) -> None:
    created = post_pipedrive(stack, raw("pipedrive_deal.json"))
    lost = load("pipedrive_deal.json")
    lost["data"]["status"] = "lost"
    lost["meta"]["id"] = "0d6c0b5e-8f0e-4c55-9b8c-0d1f2e3a4b5c"
    response = post_pipedrive(stack, dumps(lost))
    assert response.status_code == 202, response.body
    assert response.json_body == {"contract_id": created.json_body["contract_id"], "status": "voided"}
    assert stack.drain_jobs() >= 1  # the send job finds the contract voided and sends nothing
    assert stack.sandbox_envelopes(created.json_body["contract_id"]) == []
