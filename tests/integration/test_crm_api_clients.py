"""The CRM API clients (chalicelib/crm: enrichment and write-back) against the API doubles of the
five CRMs (devstack/crm_apis, in this process) with Secrets Manager from moto.

Per CRM: the seeded record read through the API and mapped by the source's own adapter and default
mapping gives the canonical contract the seeded record describes (expected values are read from the
double's seed, not from our output); a write-back lands on the record (the double's /_requests and
its records); each failure is CrmUnavailable (retry, with the vendor's wait when it gives one) or
CrmRefused (auth, not_found, or our data)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import urllib3
from moto import mock_aws

from chalicelib.contracts import parse_webhook_body
from chalicelib.core.aws import put_secret_json, reset_clients
from chalicelib.crm import api
from chalicelib.crm.api import CrmRefused, CrmUnavailable, WriteBack
from chalicelib.crm.base import DEFAULT_WRITEBACK_FIELDS
from chalicelib.intake.base import InboundEvent
from chalicelib.intake.crm import CrmRecord, MappedAdapter
from chalicelib.intake.fxiaoke import FxiaokeAdapter
from chalicelib.intake.hubspot import HubSpotAdapter
from chalicelib.intake.pipedrive import PipedriveAdapter
from chalicelib.intake.salesforce import SalesforceAdapter
from chalicelib.intake.zoho import ZohoAdapter
from chalicelib.store.registry import Source
from devstack.crm_apis import CREDENTIALS, SEED_IDS, seed, serve_all
from devstack.crm_samples import OUR_PARTY_EN, OUR_PARTY_ZH, load

HTTP = urllib3.PoolManager()
ADAPTERS: dict[str, MappedAdapter] = {"hubspot": HubSpotAdapter(), "pipedrive": PipedriveAdapter(),
                                      "zoho": ZohoAdapter(), "salesforce": SalesforceAdapter(),
                                      "fxiaoke": FxiaokeAdapter()}
UPDATE = WriteBack(contract_id="c_01JDQ6ZK3M9V8T2R5X7Y4W1N0P", number="HT-2026-0211", status="completed",
                   status_label="Signed", envelope_id="7d1c2e40-5a8b-4c3d-9e6f-1a2b3c4d5e6f",
                   envelope_url="https://app.docusign.com/documents/details/7d1c2e40-5a8b-4c3d-9e6f-1a2b3c4d5e6f",
                   signed_document_url="https://api.yunti.example/v1/contracts/c_01JDQ6ZK3M9V8T2R5X7Y4W1N0P/document",
                   signed_at="2026-12-03", paid_amount="38400.00", overdue=False)
SHANGHAI = ZoneInfo("Asia/Shanghai")


# --- the doubles and AWS -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def doubles() -> Iterator[dict[str, str]]:
    urls, stop = serve_all()
    yield urls
    stop()


@pytest.fixture
def urls(doubles: dict[str, str]) -> Iterator[dict[str, str]]:
    """Each double back to its seeded records, no faults, no calls logged; a fresh moto; no cached
    token, session or deal fields."""
    for url in doubles.values():
        assert control(url, "POST", "/_reset")[0] == 204
    with mock_aws():
        reset_clients()
        api.reset_caches()
        yield doubles
    reset_clients()
    api.reset_caches()


def control(url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    response = HTTP.request(method, url + path, body=json.dumps(body) if body is not None else None,
                            headers={"Content-Type": "application/json"})
    return response.status, (json.loads(response.data) if response.data else None)


def calls(url: str) -> list[dict[str, Any]]:
    return control(url, "GET", "/_requests")[1]


def fault(url: str, mode: str, **spec: Any) -> None:
    assert control(url, "POST", "/_faults", {"mode": mode, **spec})[0] == 201


def stored(url: str, kind: str, record_id: str) -> dict[str, Any]:
    return control(url, "GET", f"/_records?type={kind}")[1][record_id]


def put_record(url: str, kind: str, record_id: str, record: dict[str, Any]) -> None:
    assert control(url, "POST", "/_records", {"type": kind, "id": record_id, "record": record})[0] == 201


def source(kind: str, api_credential: dict[str, str] | None, **options: Any) -> Source:
    secret_id = f"signbridge/local/sources/test-{kind}"
    value: dict[str, Any] = {"secrets": [{"value": "whsec_" + "x" * 32, "expires_at": None}]}
    if api_credential is not None:
        value["api"] = api_credential
    put_secret_json(secret_id, value)
    return Source(source_id=f"test-{kind}", tenant_id="demo", kind=kind, secret_id=secret_id, options=options)


def mapped(src: Source, body: dict[str, Any], object_type: str) -> dict[str, Any]:
    """The body through the source's own adapter and mapping (as the enrich job applies it), checked
    as a complete canonical contract."""
    adapter = ADAPTERS[src.kind]
    event = adapter.map_record(adapter.mapping(src), src, CrmRecord("test:1", body, object_type))
    assert isinstance(event, InboundEvent), getattr(event, "reason", event)
    assert event.ignored is None
    parse_webhook_body(event.body)  # raises ContractInvalid, naming every problem
    contract: dict[str, Any] = event.body["contract"]
    return contract


def items(contract: dict[str, Any]) -> list[tuple[str, Decimal, Decimal]]:
    return [(i["description"], Decimal(i["quantity"]), Decimal(i["unit_price"])) for i in contract["items"]]


def epoch_ms_day(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, SHANGHAI).date().isoformat()


def refused(fn: Any, *args: Any) -> CrmRefused:
    with pytest.raises(CrmRefused) as info:
        fn(*args)
    return info.value


def unavailable(fn: Any, *args: Any) -> CrmUnavailable:
    with pytest.raises(CrmUnavailable) as info:
        fn(*args)
    return info.value


# --- HubSpot -------------------------------------------------------------------------------------------

HS = SEED_IDS["hubspot"]


def hubspot(urls: dict[str, str], **options: Any) -> Source:
    return source("hubspot", {"access_token": CREDENTIALS["hubspot"]["access_token"]}, api_base=urls["hubspot"],
                  our_party=OUR_PARTY_EN, **options)


def test_hubspot_deal_read_maps_to_the_seeded_contract(urls: dict[str, str]) -> None:
    src = hubspot(urls)
    body = api.read_record(src, "deal", HS["deal"], {"portalId": 24446551})
    contract = mapped(src, body, "deal")

    records = seed.hubspot()
    deal = records["deals"][HS["deal"]]["properties"]
    company = records["companies"][HS["company"]]["properties"]
    signer = records["contacts"][HS["contacts"][0]]["properties"]
    owner = records["owners"][HS["owner"]]
    assert contract["crm_record_id"] == HS["deal"]
    assert contract["number"] == deal["contract_number"]
    assert (Decimal(contract["amount"]), contract["currency"]) == (Decimal(deal["amount"]), deal["deal_currency_code"])
    assert contract["signing_date"] == deal["contract_signing_date"]
    assert contract["parties"]["counterparty"]["name"] == company["name"]
    assert contract["parties"]["counterparty"]["contact"]["email"] == signer["email"]
    assert contract["owner"]["email"] == owner["email"]
    lines = [records["line_items"][i]["properties"] for i in HS["line_items"]]
    assert items(contract) == [(li["name"], Decimal(li["quantity"]), Decimal(li["price"])) for li in lines]
    # The deal, a batch of line items, the company, a batch of contacts, the owner: reads only.
    assert [(c["method"], c["path"].rsplit("/", 2)[-2:][0]) for c in calls(urls["hubspot"])] == [
        ("GET", "deals"), ("POST", "batch"), ("POST", "batch"), ("POST", "batch"), ("GET", "owners")]


def test_hubspot_write_back_sets_the_deal_properties(urls: dict[str, str]) -> None:
    url = urls["hubspot"]
    # The admin created the write-back properties (docs/crm-setup.md): the portal knows them.
    deal = stored(url, "deals", HS["deal"])
    deal["properties"].update({name: "" for name in DEFAULT_WRITEBACK_FIELDS["hubspot"].values()})
    put_record(url, "deals", HS["deal"], deal)
    src = hubspot(urls)

    api.write_back(src, HS["deal"], UPDATE)
    api.write_back(src, HS["deal"], UPDATE)  # a repeat writes the same absolute values

    expected = {"signbridge_status": "completed", "signbridge_status_label": "Signed",
                "signbridge_envelope_url": UPDATE.envelope_url, "signbridge_signed_document_url":
                UPDATE.signed_document_url, "signbridge_signed_at": "2026-12-03", "signbridge_paid_amount": "38400.00",
                "signbridge_overdue": "false", "signbridge_contract_id": UPDATE.contract_id}
    patches = [c for c in calls(url) if c["method"] == "PATCH"]
    assert [(c["path"], c["body"], c["status"]) for c in patches] == [
        (f"/crm/v3/objects/deals/{HS['deal']}", {"properties": expected}, 200)] * 2
    after = stored(url, "deals", HS["deal"])["properties"]
    assert {k: after[k] for k in expected} == expected
    assert after["dealname"] == deal["properties"]["dealname"]  # nothing else touched

    # A source's writeback_fields: another property for the status, a field left out with null.
    src = hubspot(urls, writeback_fields={**{k: None for k in DEFAULT_WRITEBACK_FIELDS["hubspot"]},
                                          "status": "signature_status"})
    api.write_back(src, HS["deal"], WriteBack(**{**UPDATE.__dict__, "status": "voided", "signed_at": None}))
    assert calls(url)[-1]["body"] == {"properties": {"signature_status": "voided"}}


def test_hubspot_failures(urls: dict[str, str]) -> None:
    url, src = urls["hubspot"], hubspot(urls)
    read = (api.read_record, src, "deal", HS["deal"], {})

    fault(url, "down")
    assert unavailable(*read).status == 503
    fault(url, "rate_limited", variant="ten_secondly")
    limited = unavailable(*read)
    # HubSpot sends no Retry-After: its ten-second window is the wait.
    assert (limited.code, limited.retry_after_seconds) == ("TEN_SECONDLY_ROLLING", 10.0)
    fault(url, "rate_limited", variant="daily")
    assert unavailable(*read).retry_after_seconds is None  # resets at midnight in the portal's zone: unknown
    fault(url, "disconnect")
    assert unavailable(*read).code == "unreachable"
    fault(url, "unauthorized")
    assert refused(*read).auth
    gone = refused(api.read_record, src, "deal", "99999999999", {})
    assert gone.not_found and not gone.auth
    # The properties were never created in this portal: our data is refused, not the credential.
    wrong = refused(api.write_back, src, HS["deal"], UPDATE)
    assert (wrong.code, wrong.status, wrong.auth, wrong.not_found) == ("VALIDATION_ERROR", 400, False, False)
    bad_token = source("hubspot", {"access_token": "pat-na1-00000000-0000-0000-0000-000000000000"}, api_base=url)
    assert refused(api.read_record, bad_token, "deal", HS["deal"], {}).auth


# --- Pipedrive -----------------------------------------------------------------------------------------

PD = SEED_IDS["pipedrive"]
PD_FIELDS = {f["field_name"]: f for f in seed.PIPEDRIVE_FIELDS}


def pipedrive(urls: dict[str, str], **options: Any) -> Source:
    names = {**load("pipedrive_custom_fields.json"), "contract_type": PD_FIELDS["Contract type"]["field_code"],
             "delivery_regions": PD_FIELDS["Delivery regions"]["field_code"]}
    return source("pipedrive", {"api_token": CREDENTIALS["pipedrive"]["api_token"]}, api_base=urls["pipedrive"],
                  our_party=OUR_PARTY_EN, contract_stage_id=5, custom_fields=names, **options)


def test_pipedrive_deal_read_resolves_options_through_cached_deal_fields(urls: dict[str, str]) -> None:
    src = pipedrive(urls)
    body = api.read_record(src, "deal", str(PD["deal"]), {"host": "yunti.pipedrive.com"})
    again = api.read_record(src, "deal", str(PD["deal"]), {})
    assert again == body
    contract = mapped(src, body, "deal")

    deal = seed.pipedrive()["deals"][str(PD["deal"])]
    custom = deal["custom_fields"]

    def label(field: str, option_id: int) -> str:
        return next(o["label"] for o in PD_FIELDS[field]["options"] if o["id"] == option_id)

    code = {name: f["field_code"] for name, f in PD_FIELDS.items()}
    # Option ids become their labels (single and multiple options), through GET /api/v2/dealFields.
    assert body["custom"]["contract_type"] == label("Contract type", custom[code["Contract type"]])
    regions = custom[code["Delivery regions"]]
    assert body["custom"]["delivery_regions"] == [label("Delivery regions", i) for i in regions]
    assert contract["type"] == body["custom"]["contract_type"].lower()
    assert contract["crm_record_id"] == str(PD["deal"])
    assert contract["number"] == custom[code["Contract number"]]
    assert (Decimal(contract["amount"]), contract["currency"]) == (Decimal(deal["value"]), deal["currency"])
    assert contract["parties"]["counterparty"]["name"] == custom[code["Counterparty name"]]
    assert contract["parties"]["counterparty"]["address"] == custom[code["Counterparty address"]]["value"]
    assert contract["signers"][0]["email"] == custom[code["Signer email"]]
    assert items(contract) == [(custom[code["Product name"]], Decimal(custom[code["Quantity"]]),
                                Decimal(custom[code["Unit price"]]["value"]))]
    # Two reads, one dealFields call: the fields are cached per source.
    paths = [c["path"] for c in calls(urls["pipedrive"])]
    assert paths.count("/api/v2/dealFields") == 1
    assert paths.count(f"/api/v2/deals/{PD['deal']}") == 2


def test_pipedrive_write_back_writes_only_the_configured_custom_fields(urls: dict[str, str]) -> None:
    url = urls["pipedrive"]
    status_field, envelope_field = PD_FIELDS["Signature status"], PD_FIELDS["Envelope id"]

    # No writeback_fields: Pipedrive's keys are the account's own, so nothing is guessed or written.
    api.write_back(pipedrive(urls), str(PD["deal"]), UPDATE)
    assert calls(url) == []

    src = pipedrive(urls, writeback_fields={"status": status_field["field_code"],
                                            "envelope_id": envelope_field["field_code"]})
    sent = WriteBack(**{**UPDATE.__dict__, "status": "sent", "status_label": "Sent for signature"})
    api.write_back(src, str(PD["deal"]), sent)
    api.write_back(src, str(PD["deal"]), UPDATE)

    def option(label: str) -> int:
        return next(o["id"] for o in status_field["options"] if o["label"] == label)

    patches = [c for c in calls(url) if c["method"] == "PATCH"]
    # An option field takes the option whose label is the status ("sent") or its label ("Signed").
    assert [c["body"] for c in patches] == [
        {"custom_fields": {status_field["field_code"]: option("Sent"),
                           envelope_field["field_code"]: UPDATE.envelope_id}},
        {"custom_fields": {status_field["field_code"]: option("Signed"),
                           envelope_field["field_code"]: UPDATE.envelope_id}}]
    assert all(c["status"] == 200 for c in patches)
    after = stored(url, "deals", str(PD["deal"]))["custom_fields"]
    assert (after[status_field["field_code"]], after[envelope_field["field_code"]]) == (
        option("Signed"), UPDATE.envelope_id)


def test_pipedrive_failures(urls: dict[str, str]) -> None:
    url, src = urls["pipedrive"], pipedrive(urls)
    read = (api.read_record, src, "deal", str(PD["deal"]), {})

    fault(url, "rate_limited", variant="burst")
    burst = unavailable(*read)
    assert (burst.status, burst.retry_after_seconds) == (429, 2.0)  # x-ratelimit-reset: the 2 s window
    fault(url, "rate_limited", variant="daily")
    daily = unavailable(*read)
    assert (daily.code, daily.retry_after_seconds) == ("daily_limit", None)
    fault(url, "down")
    assert unavailable(*read).status == 503
    fault(url, "unauthorized")
    assert refused(*read).auth
    assert refused(api.read_record, src, "deal", "999999", {}).not_found
    assert refused(api.read_record, src, "deal", "../users/1", {}).not_found  # never a path of our making


# --- Zoho CRM ------------------------------------------------------------------------------------------

ZO = SEED_IDS["zoho"]


def zoho_credential(urls: dict[str, str], **override: str) -> dict[str, str]:
    creds = CREDENTIALS["zoho"]
    return {"client_id": creds["client_id"], "client_secret": creds["client_secret"],
            "refresh_token": creds["refresh_token"], "accounts_url": urls["zoho"], **override}


def zoho(urls: dict[str, str], **override: str) -> Source:
    return source("zoho", zoho_credential(urls, **override), api_base=urls["zoho"], our_party=OUR_PARTY_ZH)


def token_calls(url: str, path: str) -> int:
    return sum(1 for c in calls(url) if c["path"] == path)


def test_zoho_deal_read_maps_to_the_seeded_contract(urls: dict[str, str]) -> None:
    src = zoho(urls)
    body = api.read_record(src, "Deals", ZO["deal"], {})
    contract = mapped(src, body, "Deals")

    records = seed.zoho()
    deal, account = records["Deals"][ZO["deal"]], records["Accounts"][ZO["account"]]
    contact = records["Contacts"][ZO["contact"]]
    assert contract["crm_record_id"] == ZO["deal"]
    assert contract["number"] == deal["Contract_Number"]
    assert contract["type"] == "service"  # 服务合同
    assert (Decimal(contract["amount"]), contract["currency"]) == (Decimal(str(deal["Amount"])), deal["Currency"])
    assert (contract["signing_date"], contract["effective_date"], contract["end_date"]) == (
        deal["Signing_Date"], deal["Service_Start"], deal["Service_End"])
    assert contract["auto_renew"] is deal["Auto_Renew"]
    counterparty = contract["parties"]["counterparty"]
    assert counterparty["name"] == account["Account_Name"]
    assert account["Billing_City"] in counterparty["address"] and account["Billing_Street"] in counterparty["address"]
    assert (counterparty["contact"]["name"], counterparty["contact"]["email"]) == (contact["Full_Name"],
                                                                                   contact["Email"])
    assert contract["owner"]["email"] == deal["Owner"]["email"]

    api.read_record(src, "Deals", ZO["deal"], {})
    assert token_calls(urls["zoho"], "/oauth/v2/token") == 1  # the access token is kept for its hour


def test_zoho_write_back_puts_the_fields_without_firing_workflows(urls: dict[str, str]) -> None:
    url, src = urls["zoho"], zoho(urls)
    api.write_back(src, ZO["deal"], UPDATE)
    put = [c for c in calls(url) if c["method"] == "PUT"]
    expected = {"Signbridge_Status": "completed", "Signbridge_Status_Label": "Signed",
                "Signbridge_Envelope_URL": UPDATE.envelope_url, "Signbridge_Signed_Document_URL":
                UPDATE.signed_document_url, "Signbridge_Signed_At": "2026-12-03", "Signbridge_Paid_Amount": 38400.0,
                "Signbridge_Overdue": False, "Signbridge_Contract_Id": UPDATE.contract_id}
    assert [(c["path"], c["body"], c["status"]) for c in put] == [
        (f"/crm/v8/Deals/{ZO['deal']}", {"data": [expected], "trigger": []}, 200)]
    after = stored(url, "Deals", ZO["deal"])
    assert {k: after[k] for k in expected} == expected
    assert put[0]["headers"]["authorization"].startswith("Zoho-oauthtoken ")


def test_zoho_failures_and_the_one_refresh(urls: dict[str, str]) -> None:
    url, src = urls["zoho"], zoho(urls)
    read = (api.read_record, src, "Deals", ZO["deal"], {})
    api.read_record(*read[1:])  # a token in the cache

    # The cached token refused once: one refresh, one retry, and the read succeeds.
    fault(url, "unauthorized", path="/crm/")
    assert api.read_record(*read[1:])["id"] == ZO["deal"]
    assert token_calls(url, "/oauth/v2/token") == 2
    # Refused again after the refresh: the credential is the operator's to fix.
    fault(url, "unauthorized", path="/crm/", count=2)
    assert refused(*read).auth
    assert token_calls(url, "/oauth/v2/token") == 3

    fault(url, "rate_limited", path="/crm/")
    assert unavailable(*read).status == 429
    fault(url, "down", path="/crm/")
    assert unavailable(*read).status == 503
    missing = refused(api.read_record, src, "Deals", "5725767000009999999", {})
    assert missing.not_found and missing.status == 204

    api.reset_caches()
    bad = refused(api.read_record, zoho(urls, refresh_token="1000.0000.0000"), "Deals", ZO["deal"], {})
    assert (bad.auth, bad.code) == (True, "invalid_code")  # HTTP 200 {"error": "invalid_code"}


def test_zoho_refresh_limits(urls: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.crm import zoho as zoho_client

    url, src = urls["zoho"], zoho(urls)
    read = (api.read_record, src, "Deals", ZO["deal"], {})
    fault(url, "unauthorized", path="/crm/", count=100)
    for _ in range(5):  # every token refused: each read refreshes once, then gives up
        assert refused(*read).auth
    # This container has spent its 5 refreshes in 10 minutes: it waits instead of tripping Zoho's 10.
    waiting = unavailable(*read)
    assert waiting.code == "refresh_budget" and 0 < (waiting.retry_after_seconds or 0) <= 600
    assert token_calls(url, "/oauth/v2/token") == 5

    # Zoho's own limit (another container spent it): "Access Denied" is a wait, not a bad credential.
    api.reset_caches()
    monkeypatch.setattr(zoho_client, "REFRESH_BUDGET", 100)
    for _ in range(5):  # 5 more refreshes: Zoho's 10 in 10 minutes are spent
        refused(*read)
    denied = unavailable(*read)
    assert (denied.code, denied.retry_after_seconds) == ("refresh_limited", 600.0)


# --- Salesforce ----------------------------------------------------------------------------------------

SF = SEED_IDS["salesforce"]


def salesforce(urls: dict[str, str], credential: dict[str, str] | None = None) -> Source:
    creds = CREDENTIALS["salesforce"]
    credential = credential or {k: creds[k] for k in ("client_id", "client_secret", "refresh_token")}
    return source("salesforce", credential, instance_url=urls["salesforce"], organization_id="00D5g000004XyZ1EAK",
                  our_party=OUR_PARTY_ZH)


def test_salesforce_contract_read_maps_to_the_seeded_contract(urls: dict[str, str]) -> None:
    src = salesforce(urls)
    body = api.read_record(src, "Contract", SF["contract"], {"OrganizationId": "00D5g000004XyZ1EAK"})
    contract = mapped(src, body, "Contract")

    records = seed.salesforce()
    row, account = records["Contract"][SF["contract"]], records["Account"][SF["account"]]
    signer, owner = records["Contact"][SF["contact"]], records["User"][SF["owner"]]
    line = records["OpportunityLineItem"][SF["opportunity_line_items"][0]]
    product = records["Product2"][line["Product2Id"]]
    assert contract["crm_record_id"] == SF["contract"]
    assert contract["number"] == row["Contract_Number__c"]
    assert Decimal(contract["amount"]) == Decimal(str(row["Amount__c"]))
    assert (contract["effective_date"], contract["end_date"]) == (row["StartDate"], row["EndDate"])
    # Formula fields the org lacks come from the related records.
    assert contract["parties"]["counterparty"]["name"] == account["Name"]
    assert contract["parties"]["counterparty"]["contact"]["email"] == signer["Email"]
    assert contract["owner"]["email"] == owner["Email"]
    assert items(contract) == [(product["Name"], Decimal(str(line["Quantity"])), Decimal(str(line["UnitPrice"])))]
    assert contract["items"][0]["unit"] == product["QuantityUnitOfMeasure"]


def test_salesforce_write_back_patches_the_contract(urls: dict[str, str]) -> None:
    url, src = urls["salesforce"], salesforce(urls)
    fields = DEFAULT_WRITEBACK_FIELDS["salesforce"]

    # The fields do not exist yet: Salesforce refuses the whole update, naming the field.
    missing = refused(api.write_back, src, SF["contract"], UPDATE)
    assert (missing.code, missing.status, missing.auth, missing.not_found) == ("INVALID_FIELD", 400, False, False)

    contract = stored(url, "Contract", SF["contract"])
    put_record(url, "Contract", SF["contract"], {**contract, **{name: None for name in fields.values()}})
    api.write_back(src, SF["contract"], UPDATE)

    expected = {"Signbridge_Status__c": "completed", "Signbridge_Status_Label__c": "Signed",
                "Signbridge_Envelope_URL__c": UPDATE.envelope_url,
                "Signbridge_Signed_Document_URL__c": UPDATE.signed_document_url,
                "Signbridge_Signed_At__c": "2026-12-03", "Signbridge_Paid_Amount__c": 38400.0,
                "Signbridge_Overdue__c": False, "Signbridge_Contract_Id__c": UPDATE.contract_id}
    patch = [c for c in calls(url) if c["method"] == "PATCH"][-1]
    assert (patch["path"], patch["body"], patch["status"]) == (
        f"/services/data/v62.0/sobjects/Contract/{SF['contract']}", expected, 204)
    after = stored(url, "Contract", SF["contract"])
    assert {k: after[k] for k in expected} == expected


def test_salesforce_failures_and_the_session_refresh(urls: dict[str, str]) -> None:
    url, src = urls["salesforce"], salesforce(urls)
    read = (api.read_record, src, "Contract", SF["contract"], {})
    api.read_record(*read[1:])

    fault(url, "unauthorized", path="/services/data/")
    assert api.read_record(*read[1:])["sObject"]["Id"] == SF["contract"]
    assert token_calls(url, "/services/oauth2/token") == 2  # INVALID_SESSION_ID: one new session, one retry
    fault(url, "unauthorized", path="/services/data/", count=2)
    assert refused(*read).auth

    fault(url, "rate_limited")
    limited = unavailable(*read)
    assert (limited.code, limited.status) == ("REQUEST_LIMIT_EXCEEDED", 403)  # Salesforce's limit is a 403
    fault(url, "down")
    assert unavailable(*read).status == 503
    fault(url, "disconnect")
    assert unavailable(*read).code == "unreachable"
    assert refused(api.read_record, src, "Contract", "8005g00000ZzZzZAAV", {}).not_found

    # A bare session id cannot be renewed: refused at once.
    bare = salesforce(urls, {"session_id": CREDENTIALS["salesforce"]["access_token"]})
    assert api.read_record(bare, "Contract", SF["contract"], {})["sObject"]["Id"] == SF["contract"]
    fault(url, "unauthorized", path="/services/data/")
    assert refused(api.read_record, bare, "Contract", SF["contract"], {}).auth
    wrong = salesforce(urls, {**{k: CREDENTIALS["salesforce"][k] for k in ("client_id", "client_secret")},
                              "refresh_token": "5Aep861wrong"})
    assert refused(api.read_record, wrong, "Contract", SF["contract"], {}).auth


# --- 纷享销客 Fxiaoke ----------------------------------------------------------------------------------

FX = SEED_IDS["fxiaoke"]


def fxiaoke(urls: dict[str, str], **override: str) -> Source:
    creds = CREDENTIALS["fxiaoke"]
    credential = {k: creds[k] for k in ("app_id", "app_secret", "permanent_code", "open_user_id")} | override
    return source("fxiaoke", credential, api_base=urls["fxiaoke"], our_party=OUR_PARTY_ZH)


def test_fxiaoke_contract_read_maps_to_the_seeded_contract(urls: dict[str, str]) -> None:
    src = fxiaoke(urls)
    body = api.read_record(src, "SaleContractObj", FX["contract"], {})
    contract = mapped(src, body, "SaleContractObj")

    records = seed.fxiaoke()
    data = records["SaleContractObj"][FX["contract"]]
    lines = [records["SaleContractLineObj"][i] for i in FX["contract_lines"]]
    assert contract["crm_record_id"] == FX["contract"]
    assert contract["number"] == data["name"]
    assert (Decimal(contract["amount"]), contract["currency"]) == (Decimal(data["contract_amount"]),
                                                                   data["mc_currency"])
    assert contract["signing_date"] == epoch_ms_day(data["sign_date"])
    assert contract["parties"]["counterparty"]["name"] == data["account_id__r"]
    assert contract["parties"]["counterparty"]["contact"]["email"] == data["contact_email__c"]
    assert items(contract) == [(li["product_id__r"], Decimal(li["quantity"]), Decimal(li["sales_price"]))
                               for li in lines]


def test_fxiaoke_write_back_updates_without_triggering_workflows(urls: dict[str, str]) -> None:
    url, src = urls["fxiaoke"], fxiaoke(urls)
    api.write_back(src, FX["contract"], UPDATE)
    update = [c for c in calls(url) if c["path"] == "/cgi/crm/v2/data/update"]
    assert len(update) == 1
    body = update[0]["body"]
    assert (body["triggerWorkFlow"], body["triggerApprovalFlow"]) == (False, False)
    signed_day = int(datetime(2026, 12, 3, tzinfo=SHANGHAI).timestamp() * 1000)
    expected = {"field_signbridge_status__c": "completed", "field_signbridge_status_label__c": "Signed",
                "field_signbridge_envelope_url__c": UPDATE.envelope_url,
                "field_signbridge_signed_document_url__c": UPDATE.signed_document_url,
                "field_signbridge_signed_at__c": signed_day, "field_signbridge_paid_amount__c": "38400.00",
                "field_signbridge_overdue__c": False, "field_signbridge_contract_id__c": UPDATE.contract_id}
    assert body["data"]["object_data"] == {"dataObjectApiName": "SaleContractObj", "_id": FX["contract"], **expected}
    after = stored(url, "SaleContractObj", FX["contract"])
    assert {k: after[k] for k in expected} == expected


def test_fxiaoke_failures_and_the_one_new_token(urls: dict[str, str]) -> None:
    url, src = urls["fxiaoke"], fxiaoke(urls)
    read = (api.read_record, src, "SaleContractObj", FX["contract"], {})
    api.read_record(*read[1:])

    fault(url, "unauthorized", path="/cgi/crm/")  # errorCode 20016: a new token, one retry
    assert api.read_record(*read[1:])["data"]["_id"] == FX["contract"]
    assert token_calls(url, "/cgi/corpAccessToken/get/V2") == 2
    fault(url, "unauthorized", path="/cgi/crm/", count=2)
    assert refused(*read).auth

    fault(url, "down")
    assert unavailable(*read).status == 503
    # Fxiaoke's errors carry no usable code: "no such record" is a query on _id that finds none.
    gone = refused(api.read_record, src, "SaleContractObj", "6745a1f2e4b0c91d2a3f0000", {})
    assert gone.not_found and not gone.auth
    assert refused(api.write_back, src, "6745a1f2e4b0c91d2a3f0000", UPDATE).not_found

    api.reset_caches()
    assert refused(api.read_record, fxiaoke(urls, app_secret="0" * 32), "SaleContractObj", FX["contract"], {}).auth


# --- which sources can ---------------------------------------------------------------------------------


def test_api_configured_needs_a_complete_credential(urls: dict[str, str]) -> None:
    assert api.api_configured(hubspot(urls))
    assert not api.api_configured(source("hubspot", None))
    assert not api.api_configured(source("zoho", {"client_id": "1000.X", "refresh_token": "1000.y"}))  # no secret
    assert api.api_configured(source("salesforce", {"session_id": "00D!x"}))
    assert not api.api_configured(Source("nosecret", "demo", "zoho", None))
    assert not api.api_configured(source("generic", {"access_token": "x"}))
    missing = refused(api.read_record, source("pipedrive", None), "deal", "4821", {})
    assert (missing.auth, missing.code) == (True, "no_credentials")


def test_admin_set_api_stores_the_credential_beside_the_webhook_secrets(
        urls: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.admin.__main__ import main
    from chalicelib.admin.sources import add_source, get_source_fresh, rotate_secret
    from chalicelib.core.aws import get_secret_json
    from chalicelib.store.models import create_tables
    from chalicelib.store.registry import put_tenant

    create_tables()
    put_tenant("demo", "Demo")  # `sources add` refuses a tenant that does not exist
    info = add_source("acme-zoho", "demo", "zoho", options={"our_party": OUR_PARTY_ZH})
    credential = zoho_credential(urls)
    capsys.readouterr()
    code = main(["sources", "set-api", "--id", "acme-zoho", "--json", json.dumps(credential),
                 "--option", f"api_base={urls['zoho']}", "--option", 'writeback_fields={"paid_amount": null}'])
    out = capsys.readouterr().out
    assert code == 0, out
    assert credential["client_secret"] not in out  # names the keys stored, never the values
    assert json.loads(out)["api_credential"] == sorted(credential)

    src = get_source_fresh("acme-zoho")
    assert src is not None and src.options["api_base"] == urls["zoho"]
    assert get_secret_json(info.source.secret_id) == {"secrets": [{"value": info.secret, "expires_at": None}],
                                                      "api": credential}
    assert api.api_configured(src)
    assert api.read_record(src, "Deals", ZO["deal"], {})["id"] == ZO["deal"]
    rotate_secret("acme-zoho")
    assert get_secret_json(info.source.secret_id)["api"] == credential  # a rotation keeps the credential

    for argv, message in ((["--json", '{"client_id": "x"}'], "needs"),
                          (["--option", 'writeback_fields={"stage": "Stage"}'], "unknown stage"),
                          ([], "nothing to set")):
        capsys.readouterr()
        assert main(["sources", "set-api", "--id", "acme-zoho", *argv]) == 2
        assert message in capsys.readouterr().out

