"""The HubSpot double through HubSpot's official client (hubspot-api-client 12.0.0), checked against
devstack/crm_apis/vendor/hubspot/crm-shapes.schema.json (transcribed from that client's models;
vendor docs: https://developers.hubspot.com/docs/api/crm/deals)."""

from __future__ import annotations

import json
from typing import Any

import hubspot
import pytest
from hubspot.crm.deals import ApiException as DealsApiException
from hubspot.crm.deals import SimplePublicObjectInput
from hubspot.crm.line_items import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

from devstack.crm_apis import CREDENTIALS, SEED_IDS

from .conformance import hubspot_errors
from .helpers import Doubles, call

IDS = SEED_IDS["hubspot"]
TOKEN = CREDENTIALS["hubspot"]["access_token"]


def client(url: str, token: str = TOKEN) -> hubspot.Client:
    # `host` is a Configuration attribute of every generated API package; the client passes it through.
    return hubspot.Client.create(access_token=token, host=url)


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_read_the_deal_its_line_items_company_contacts_and_owner(doubles: Doubles) -> None:
    hs = client(doubles["hubspot"])
    deal = hs.crm.deals.basic_api.get_by_id(
        IDS["deal"], properties=["dealname", "amount", "deal_currency_code", "contract_number", "hubspot_owner_id"],
        associations=["line_items", "companies", "contacts"])
    assert deal.properties["dealname"] == "Smart lock rollout, Hangzhou Xinhe"
    assert deal.properties["amount"] == "128000.00"  # every property value is a string
    # v3 reads key line items as "line items"; a deal→company pair comes with both labels.
    assert [a.id for a in deal.associations["line items"].results] == IDS["line_items"]
    assert {a.type for a in deal.associations["companies"].results} == {"deal_to_company", "deal_to_company_unlabeled"}
    assert [a.id for a in deal.associations["contacts"].results] == IDS["contacts"]

    lines = hs.crm.line_items.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=i) for i in IDS["line_items"]],
        properties=["name", "quantity", "price", "amount", "hs_sku"], properties_with_history=[]))
    assert lines.status == "COMPLETE"
    assert sorted((li.properties["name"], li.properties["quantity"]) for li in lines.results) == [
        ("G1 smart gateway", "100"), ("Y3 smart lock", "150")]
    company = hs.crm.companies.basic_api.get_by_id(IDS["company"], properties=["name", "city", "country"])
    assert company.properties["name"] == "Hangzhou Xinhe Trading Co., Ltd."
    contact = hs.crm.contacts.basic_api.get_by_id(IDS["contacts"][0], properties=["email", "firstname"])
    assert contact.properties["email"] == "li.qiang@xinhe.example"
    owner = hs.crm.owners.owners_api.get_by_id(int(deal.properties["hubspot_owner_id"]))
    assert (owner.email, owner.first_name, owner.last_name) == ("wang.min@yunti.example", "Min", "Wang")


def test_write_back_is_stored_and_logged(doubles: Doubles) -> None:
    hs = client(doubles["hubspot"])
    updated = hs.crm.deals.basic_api.update(IDS["deal"], SimplePublicObjectInput(
        properties={"signature_status": "sent", "dealstage": "contractsent", "closedate": "1796083200000"}))
    assert updated.properties["signature_status"] == "sent"
    # A datetime written as epoch milliseconds reads back as ISO-8601.
    assert updated.properties["closedate"] == "2026-12-01T00:00:00Z"
    again = hs.crm.deals.basic_api.get_by_id(IDS["deal"], properties=["signature_status", "dealname"])
    assert again.properties["signature_status"] == "sent"
    assert again.updated_at > updated.created_at

    patch = [c for c in doubles.requests("hubspot") if c["method"] == "PATCH"]
    assert len(patch) == 1
    assert patch[0]["path"] == f"/crm/v3/objects/deals/{IDS['deal']}"
    assert patch[0]["body"] == {"properties": {"signature_status": "sent", "dealstage": "contractsent",
                                               "closedate": "1796083200000"}}
    assert patch[0]["status"] == 200


def test_invalid_writes_are_refused_as_hubspot_does(doubles: Doubles) -> None:
    hs = client(doubles["hubspot"])
    for properties, error in (({"dealstag": "x"}, "PROPERTY_DOESNT_EXIST"), ({"hs_object_id": "1"}, "READ_ONLY_VALUE")):
        with pytest.raises(DealsApiException) as caught:
            hs.crm.deals.basic_api.update(IDS["deal"], SimplePublicObjectInput(properties=properties))
        assert caught.value.status == 400
        assert error in caught.value.body
    with pytest.raises(DealsApiException) as missing:
        hs.crm.deals.basic_api.get_by_id("9999")
    assert missing.value.status == 404


# -- conformance: vendor/hubspot/crm-shapes.schema.json (x-derived-from names each model file) ---------


def test_answers_match_the_transcribed_schema(doubles: Doubles) -> None:
    # Source: devstack/crm_apis/vendor/hubspot/crm-shapes.schema.json (from hubspot-api-client 12.0.0's models);
    # vendor reference: https://developers.hubspot.com/docs/api/crm/deals and …/crm/owners.
    base = doubles["hubspot"]
    status, _, deal = call("GET", f"{base}/crm/v3/objects/deals/{IDS['deal']}?properties=dealname,amount"
                           "&associations=companies,line_items,contacts", headers=auth())
    assert status == 200
    assert hubspot_errors("SimplePublicObjectWithAssociations", deal) == []
    status, _, deal = call("GET", f"{base}/crm/v3/objects/0-3/{IDS['deal']}", headers=auth())  # objectTypeId form
    assert status == 200 and hubspot_errors("SimplePublicObjectWithAssociations", deal) == []
    assert hubspot_errors("SimplePublicObjectInput", {"properties": {"signature_status": "signed"}}) == []
    status, _, patched = call("PATCH", f"{base}/crm/v3/objects/deals/{IDS['deal']}",
                              {"properties": {"signature_status": "signed"}}, auth())
    assert status == 200 and hubspot_errors("SimplePublicObject", patched) == []
    status, _, batch = call("POST", f"{base}/crm/v3/objects/contacts/batch/read",
                            {"inputs": [{"id": i} for i in IDS["contacts"]], "properties": ["email"],
                             "propertiesWithHistory": []}, auth())
    assert status == 200 and hubspot_errors("BatchResponseSimplePublicObject", batch) == []
    status, _, owner = call("GET", f"{base}/crm/v3/owners/{IDS['owner']}", headers=auth())
    assert status == 200 and hubspot_errors("PublicOwner", owner) == []
    for url, expected in ((f"{base}/crm/v3/objects/deals/9999", 404),
                          (f"{base}/crm/v3/objects/companies/{IDS['company']}", 401)):
        status, _, error = call("GET", url, headers=auth() if expected == 404 else {"Authorization": "Bearer no"})
        # HubSpot's error bodies also carry "status": "error", which the client's Error model does not
        # list (HubSpot's error-handling guide: https://developers.hubspot.com/docs/api/error-handling).
        assert error.pop("status") == "error"
        assert status == expected and hubspot_errors("Error", error) == []


def test_the_checks_catch_an_invented_key(doubles: Doubles) -> None:
    _, _, deal = call("GET", f"{doubles['hubspot']}/crm/v3/objects/deals/{IDS['deal']}", headers=auth())
    assert hubspot_errors("SimplePublicObjectWithAssociations", {**deal, "dealStage": "x"}) != []
    assert hubspot_errors("SimplePublicObject", {**deal, "properties": {"amount": 12500}}) != []


# -- faults --------------------------------------------------------------------------------------------


def test_rate_limited_is_429_with_hubspots_body_and_headers(doubles: Doubles) -> None:
    doubles.fault("hubspot", mode="rate_limited", count=1, method="GET", path="/crm/v3/objects/deals")
    hs = client(doubles["hubspot"])
    with pytest.raises(DealsApiException) as caught:
        hs.crm.deals.basic_api.get_by_id(IDS["deal"])
    error = caught.value
    assert error.status == 429
    assert error.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert error.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert error.headers["X-HubSpot-RateLimit-Max"] == "190"
    body: dict[str, Any] = json.loads(error.body)
    # A 429 body has policyName and errorType, and no category (so it is no `Error`).
    assert (body["policyName"], body["errorType"], "category" in body) == ("TEN_SECONDLY_ROLLING", "RATE_LIMIT", False)
    # The count is spent: the next call goes through, and both are in the log.
    assert hs.crm.deals.basic_api.get_by_id(IDS["deal"]).id == IDS["deal"]
    assert [c["status"] for c in doubles.requests("hubspot")] == [429, 200]


def test_daily_and_secondly_limits(doubles: Doubles) -> None:
    base = doubles["hubspot"]
    doubles.fault("hubspot", mode="rate_limited", variant="daily")
    status, headers, body = call("GET", f"{base}/crm/v3/owners/{IDS['owner']}", headers=auth())
    assert (status, body["policyName"], headers["x-hubspot-ratelimit-daily-remaining"]) == (429, "DAILY", "0")
    doubles.fault("hubspot", mode="rate_limited", variant="secondly")
    status, headers, body = call("GET", f"{base}/crm/v3/owners/{IDS['owner']}", headers=auth())
    # The search limit's 429: its own message and no rate headers at all.
    assert (status, body["message"]) == (429, "You have reached your secondly limit.")
    assert not any(h.startswith("x-hubspot-ratelimit") for h in headers)


def test_down_and_expired_token(doubles: Doubles) -> None:
    doubles.fault("hubspot", mode="down", count=2)
    hs = client(doubles["hubspot"])
    for _ in range(2):
        with pytest.raises(DealsApiException) as caught:
            hs.crm.deals.basic_api.get_by_id(IDS["deal"])
        assert caught.value.status == 503
    doubles.fault("hubspot", mode="unauthorized")
    with pytest.raises(DealsApiException) as refused:
        hs.crm.deals.basic_api.get_by_id(IDS["deal"])
    assert refused.value.status == 401 and "INVALID_AUTHENTICATION" in refused.value.body
    with pytest.raises(DealsApiException) as wrong:
        client(doubles["hubspot"], token="pat-na1-wrong").crm.deals.basic_api.get_by_id(IDS["deal"])
    assert wrong.value.status == 401
