"""Pipedrive through the real app: a webhooks v2 deal change with basic auth, for a deal entering
the contract stage, becomes the contract; other changes are acknowledged and ignored; meta.id
dedupes retries; a lost deal cancels; an option field sent as an option id is read from the API
unless the source knows its labels; a webhooks v1 body is refused with how to make a v2 one."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from devstack.crm_samples import basic_auth_headers, dumps, load, raw
from tests.integration.test_crm_helpers import (
    assert_enrichment_pending,
    assert_stored_nothing,
    post,
    post_pipedrive,
    stored_document,
)
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


# --- option fields (webhooks v2 send {"type": "enum", "id": 17}: https://pipedrive.readme.io/docs/guide-for-webhooks-v2)

TYPE_FIELD = "ee0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e"


def with_options(**options: Any) -> None:
    """The demo source with its contract type mapped to an option field (and the given options)."""
    from chalicelib.store import registry

    source = registry.get_source("demo-pipedrive")
    assert source is not None
    custom_fields = {**source.options["custom_fields"], "contract_type": TYPE_FIELD}
    registry.put_source(dataclasses.replace(source, options={**source.options, "custom_fields": custom_fields,
                                                             **options}))
    registry.clear_cache()


def deal_of_type(option_id: int) -> bytes:
    deal = load("pipedrive_deal.json")
    deal["data"]["custom_fields"][TYPE_FIELD] = {"type": "enum", "id": option_id}
    return dumps(deal)


def test_an_option_id_without_its_label_is_accepted_for_enrichment(stack: StackHarness) -> None:
    with_options()
    response = post_pipedrive(stack, deal_of_type(17))
    job = assert_enrichment_pending(stack, response, "demo-pipedrive", "4821")
    assert job["context"]["unresolved_fields"] == {"contract_type": {"field": TYPE_FIELD, "type": "enum", "ids": [17]}}
    assert job["context"]["host"] == "yunti.pipedrive.com" and job["event"] == "contract.updated"


def test_option_labels_of_the_source_resolve_the_option_id(stack: StackHarness) -> None:
    with_options(option_labels={"contract_type": {"16": "Sales", "17": "Service"}})
    response = post_pipedrive(stack, deal_of_type(16))
    assert response.status_code == 202, response.body
    assert stack.get_contract(response.json_body["contract_id"])["type"] == "sales"


def test_a_webhooks_v1_body_is_400_saying_how_to_create_a_v2_webhook(stack: StackHarness) -> None:
    # The v1 shape (https://pipedrive.readme.io/docs/guide-for-webhooks): v, meta.v 1, current, previous.
    deal = load("pipedrive_deal.json")
    v1 = {"v": 1, "matches_filters": {"current": []}, "meta": {"v": 1, "action": "updated", "object": "deal",
                                                                "id": 4821, "company_id": 10482931},
          "current": {"id": 4821, "title": deal["data"]["title"], "stage_id": 5}, "previous": {"stage_id": 4},
          "event": "updated.deal", "retry": 0}
    response = post_pipedrive(stack, dumps(v1))
    assert response.status_code == 400, response.body
    error = response.json_body["error"]
    assert error["code"] == "unsupported_webhook_version"
    assert "version 2.0" in error["message"] and "Settings > Tools and apps > Webhooks" in error["message"]
    assert_stored_nothing(stack)


def test_a_delivery_id_too_long_for_a_key_is_400_not_a_500(stack: StackHarness) -> None:
    deal = load("pipedrive_deal.json")
    deal["meta"]["id"] = "x" * 3000
    response = post_pipedrive(stack, dumps(deal))
    assert response.status_code == 400, response.body
    assert "delivery id" in response.json_body["error"]["message"]
    assert_stored_nothing(stack)
