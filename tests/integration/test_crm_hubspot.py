"""HubSpot through the real app: the app card's request, signed with X-HubSpot-Signature-v3, becomes
the canonical contract; forged, stale or wrongly addressed requests are 401 and store nothing;
HubSpot's webhook events cancel the contract and void its envelope; a workflow's "Send a webhook"
is accepted, and what it lacks is read from HubSpot's API (202 enrichment_pending).

Requests are signed as HubSpot documents it (tests/support/hubspot_signing.py), never with the
verifier under test."""

from __future__ import annotations

import time
from typing import Any

import pytest

from devstack.crm_samples import OUR_PARTY_EN, dumps, load, raw
from tests.integration.test_crm_helpers import (
    assert_enrichment_pending,
    assert_stored_nothing,
    enrichment_requests,
    post,
    post_hubspot,
    queued_jobs,
    stored_document,
    stored_keys,
)
from tests.support.hubspot_signing import hubspot_v3_headers
from tests.support.stack import StackHarness


def test_app_card_request_creates_the_canonical_contract(stack: StackHarness) -> None:
    response = post_hubspot(stack, raw("hubspot_card.json"))
    assert response.status_code == 202, response.body
    contract_id = response.json_body["contract_id"]
    assert response.json_body["status"] == "received"

    contract = stack.get_contract(contract_id)
    assert (contract["crm_record_id"], contract["number"], contract["type"], contract["locale"]) == (
        "18347261953", "HT-2026-0211", "sales", "en")
    assert (contract["currency"], contract["amount"], contract["title"]) == (
        "CNY", "128000.00", "Smart lock rollout, Hangzhou Xinhe")
    assert (contract["effective_date"], contract["end_date"]) == ("2026-12-01", "2027-11-30")
    assert contract["source_id"] == "demo-hubspot"
    assert [(s["name"], s["email"], s["routing_order"]) for s in contract["signers"]] == [
        ("Qiang Li", "li.qiang@xinhe.example", 1), ("Min Wang", "wang.min@yunti.example", 2)]
    document = stored_document(stack, contract_id)
    assert [(i["description"], i["quantity"], i["unit_price"]) for i in document["items"]] == [
        ("Y3 smart lock", "150", "640.00"), ("G1 smart gateway", "100", "320.00")]
    assert document["parties"]["counterparty"]["name"] == "Hangzhou Xinhe Trading Co., Ltd."
    assert document["parties"]["ours"]["name"] == "Shanghai Yunti Technology Co., Ltd."
    assert document["delivery"]["place"].startswith("Warehouse 1")

    # The mapped contract goes all the way to DocuSign like a generic one.
    sent = stack.wait_status(contract_id, "sent")
    assert sent["envelope_id"] and len(stack.sandbox_envelopes(contract_id)) == 1


def test_a_replayed_request_is_a_repeat_not_a_second_contract(stack: StackHarness) -> None:
    body = raw("hubspot_card.json")
    first = post_hubspot(stack, body)
    second = post_hubspot(stack, body)  # hubspot.fetch's retry: same body, a new timestamp and signature
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json_body["contract_id"] == first.json_body["contract_id"]
    assert len([k for k in stored_keys() if k.startswith("crm#")]) == 1


@pytest.mark.parametrize("case", ["forged", "stale", "future", "signed_for_another_url", "unsigned", "tampered"])
def test_forged_stale_or_misaddressed_is_401_and_stores_nothing(stack: StackHarness, case: str) -> None:
    body = raw("hubspot_card.json")
    url = stack.sources["demo-hubspot"]["webhook_url"]
    secret = stack.sources["demo-hubspot"]["secret"]
    now_ms = int(time.time() * 1000)
    headers = hubspot_v3_headers(secret, url, body)
    if case == "forged":
        headers = hubspot_v3_headers("00000000-0000-0000-0000-000000000000", url, body)
    elif case == "stale":
        headers = hubspot_v3_headers(secret, url, body, timestamp_ms=now_ms - 5 * 60 * 1000 - 5000)
    elif case == "future":
        headers = hubspot_v3_headers(secret, url, body, timestamp_ms=now_ms + 10 * 60 * 1000)
    elif case == "signed_for_another_url":
        headers = hubspot_v3_headers(secret, url.replace("demo-hubspot", "demo-other"), body)
    elif case == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif case == "tampered":
        body = body.replace(b"128000.00", b"1.00")
    response = post(stack, "demo-hubspot", body, headers)
    assert response.status_code == 401, response.body
    assert response.json_body["error"]["code"] == "unauthorized"
    assert_stored_nothing(stack)


def test_the_url_behind_a_proxy_with_hubspot_fetch_query_parameters(stack: StackHarness) -> None:
    body = raw("hubspot_card.json")
    secret = stack.sources["demo-hubspot"]["secret"]
    query = "?portalId=24446551&userId=83920154&userEmail=wang.min%40yunti.example&appId=4417802"
    # HubSpot signs the URL it called, with %40 decoded; the app rebuilds it from Host and the proxy's
    # X-Forwarded-Proto.
    signed = ("https://hooks.yunti.example/v1/webhooks/demo-hubspot"
              "?portalId=24446551&userId=83920154&userEmail=wang.min@yunti.example&appId=4417802")
    headers = {**hubspot_v3_headers(secret, signed, body), "Host": "hooks.yunti.example", "X-Forwarded-Proto": "https"}
    response = post(stack, "demo-hubspot", body, headers, query)
    assert response.status_code == 202, response.body
    # The pinned public_url with the same query works too (API Gateway custom domains, stage paths).
    pinned = stack.sources["demo-hubspot"]["webhook_url"] + query.replace("%40", "@")
    again = post(stack, "demo-hubspot", body, hubspot_v3_headers(secret, pinned, body), query)
    assert again.status_code == 200 and again.json_body["contract_id"] == response.json_body["contract_id"]


def test_webhook_events_cancel_the_contract_and_void_its_envelope(stack: StackHarness) -> None:
    created = post_hubspot(stack, raw("hubspot_card.json"))
    contract_id = created.json_body["contract_id"]
    envelope_id = stack.wait_status(contract_id, "sent")["envelope_id"]

    # HubSpot batches events: the deal moved to "closedlost" (cancels) and its amount changed (ignored).
    events = raw("hubspot_events.json")
    response = post_hubspot(stack, events)
    assert response.status_code == 200, response.body
    results = response.json_body["results"]
    assert results[0] == {"contract_id": contract_id, "status": "voided"}
    assert results[1]["status"] == "ignored"
    stack.drain_jobs()
    assert stack.sandbox("GET", f"/sandbox/envelopes/{envelope_id}")["status"] == "voided"
    stack.settle_connect()
    contract = stack.wait_status(contract_id, "voided")
    assert contract["status_reason"] == "cancelled in the CRM"
    assert "cancelled" in stack.timeline_types(contract_id)
    stack.wait_until(lambda: "envelope_voided" in stack.timeline_types(contract_id), what="envelope voided")

    # HubSpot retries the same events (attemptNumber 1): a repeat, nothing voided twice.
    retry = [{**e, "attemptNumber": 1} for e in load("hubspot_events.json")]
    jobs_before = len(stack.job_log)
    again = post_hubspot(stack, dumps(retry))
    assert again.status_code == 200 and again.json_body["results"][0]["status"] == "voided"
    stack.drain_jobs()
    assert not [body for body in stack.job_log[jobs_before:] if '"job": "void"' in body]


def test_deletion_of_a_deal_without_a_contract_is_acknowledged_and_stores_nothing(stack: StackHarness) -> None:
    event = {**load("hubspot_events.json")[0], "subscriptionType": "deal.deletion", "objectId": 999}
    response = post_hubspot(stack, dumps([event]))
    assert response.status_code == 200, response.body
    assert response.json_body["status"] == "ignored"
    assert_stored_nothing(stack)


def test_a_deal_missing_contract_properties_is_422_naming_the_hubspot_property(stack: StackHarness) -> None:
    card = load("hubspot_card.json")
    del card["deal"]["properties"]["contract_number"]
    card["deal"]["properties"]["delivery_date"] = "next spring"
    card["lineItems"][1]["properties"]["price"] = "free"
    response = post_hubspot(stack, dumps(card))
    assert response.status_code == 422, response.body
    details = {d["path"]: d for d in response.json_body["error"]["details"]}
    assert details["contract.number"]["crm_field"] == "deal.properties.contract_number"
    assert details["contract.delivery.date"]["crm_field"] == "deal.properties.delivery_date"
    assert details["contract.items[1].unit_price"]["crm_field"] == "lineItems[1].properties.price"
    assert_stored_nothing(stack)


# --- the query string HubSpot signs, without a pinned public_url --------------------------------------


def unpinned_source(stack: StackHarness) -> tuple[str, str]:
    """A HubSpot source as `sources add` makes it without --option public_url: (id, client secret)."""
    from chalicelib.admin.sources import add_source

    secret = "5f0c2a61-7d1e-4f3b-9a8c-2e6d4b1f0a97"
    add_source("acme-hubspot", stack.tenant_id, "hubspot", secret=secret, options={"our_party": OUR_PARTY_EN},
               base_url=stack.api_url, replace_existing=True)
    return "acme-hubspot", secret


# hubspot.fetch appends portalId, userId, userEmail and appId; an email with "+" arrives as %2B, which
# HubSpot's v3 URI keeps encoded, while %40 is decoded (the table of "Validate the v3 request
# signature", developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation).
SENT_QUERY = "?portalId=24446551&userId=83920154&userEmail=wang.min%2Bsales%40yunti.example&appId=4417802"
SIGNED_QUERY = "?portalId=24446551&userId=83920154&userEmail=wang.min%2Bsales@yunti.example&appId=4417802"


def test_hubspot_fetch_query_verifies_without_public_url(stack: StackHarness) -> None:
    source_id, secret = unpinned_source(stack)
    body = raw("hubspot_card.json")
    called = f"https://hooks.yunti.example/v1/webhooks/{source_id}"
    proxy = {"Host": "hooks.yunti.example", "X-Forwarded-Proto": "https"}
    headers = {**hubspot_v3_headers(secret, called + SIGNED_QUERY, body), **proxy}
    response = post(stack, source_id, body, headers, SENT_QUERY)
    assert response.status_code == 202, response.body
    # The same parameters in another order than signed: the order received is part of the signature.
    reordered = "?userEmail=wang.min%2Bsales%40yunti.example&portalId=24446551&userId=83920154&appId=4417802"
    refused = post(stack, source_id, body, {**hubspot_v3_headers(secret, called + SIGNED_QUERY, body), **proxy},
                   reordered)
    assert refused.status_code == 401, refused.body


def test_a_different_email_in_the_query_is_401(stack: StackHarness) -> None:
    source_id, secret = unpinned_source(stack)
    body = raw("hubspot_card.json")
    called = f"https://hooks.yunti.example/v1/webhooks/{source_id}"
    headers = {**hubspot_v3_headers(secret, called + SIGNED_QUERY, body), "Host": "hooks.yunti.example"}
    response = post(stack, source_id, body, headers, SENT_QUERY.replace("%2Bsales", "%2Battacker"))
    assert response.status_code == 401, response.body
    assert_stored_nothing(stack)


# --- workflow "Send a webhook" ------------------------------------------------------------------------
# knowledge.hubspot.com/workflows/how-do-i-use-webhooks-with-hubspot-workflows: "All properties" sends the
# deal as the (legacy) object API returns it, a customised body the keys its author chose; a 4xx is
# not retried, so what the body lacks is read from HubSpot's API instead of refusing it.


def legacy_deal(properties: dict[str, str]) -> dict[str, Any]:
    return {"portalId": 62515, "dealId": 9001, "isDeleted": False,
            "associations": {"associatedVids": [301], "associatedCompanyIds": [5001], "associatedDealIds": [],
                             "associatedTicketIds": []},
            "properties": {name: {"value": value, "timestamp": 1754039722118, "source": "CRM_UI",
                                  "sourceId": "rep@example.com", "versions": []}
                           for name, value in properties.items()},
            "imports": [], "stateChanges": []}


def test_workflow_webhook_with_the_record_id_only_is_accepted_for_enrichment(stack: StackHarness) -> None:
    body = dumps({"hs_object_id": "9001"})
    response = post_hubspot(stack, body)
    job = assert_enrichment_pending(stack, response, "demo-hubspot", "9001")
    assert (job["crm"], job["object_type"], job["event"], job["tenant_id"]) == (
        "hubspot", "deal", "contract.created", stack.tenant_id)
    # HubSpot's retry (a 5xx or 429 on the way, same body, new signature): a repeat, nothing queued again.
    again = post_hubspot(stack, body)
    assert again.status_code == 200 and again.json_body == response.json_body
    assert queued_jobs(stack, "enrich") == [] and len(enrichment_requests("demo-hubspot")) == 1


def test_workflow_webhook_with_all_properties_but_no_associations_is_accepted_for_enrichment(
        stack: StackHarness) -> None:
    body = dumps(legacy_deal({"hs_object_id": "9001", "dealname": "ACME renewal 2026", "amount": "12500.00",
                              "dealstage": "contractsent", "contract_number": "CTR-2026-0042"}))
    job = assert_enrichment_pending(stack, post_hubspot(stack, body), "demo-hubspot", "9001")
    assert job["context"] == {"portalId": 62515}
    assert job["reason"].startswith("the webhook lacks what the contract needs")


def test_workflow_webhook_without_a_deal_id_is_400(stack: StackHarness) -> None:
    response = post_hubspot(stack, dumps({"dealname": "ACME renewal 2026"}))
    assert response.status_code == 400, response.body
    assert "hs_object_id" in response.json_body["error"]["message"]
    assert_stored_nothing(stack)
