"""Each CRM adapter, pure (no AWS): it verifies the CRM's own scheme on the raw request, then turns
the CRM's native payload into canonical webhook bodies that validate — with the right fields."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.contracts import parse_webhook_body
from chalicelib.core.errors import ApiError, MalformedBody, Unauthorized
from chalicelib.intake.base import InboundEvent, InboundRequest
from chalicelib.intake.fxiaoke import FxiaokeAdapter
from chalicelib.intake.hubspot import HubSpotAdapter, expected_urls
from chalicelib.intake.pipedrive import PipedriveAdapter, named_custom_fields
from chalicelib.intake.salesforce import ACK, SalesforceAdapter, parse_outbound_message, same_org
from chalicelib.intake.service import adapter_for
from chalicelib.intake.zoho import ZohoAdapter
from chalicelib.store.registry import Source
from devstack.crm_samples import (
    OUR_PARTY_EN,
    OUR_PARTY_ZH,
    SALESFORCE_ORG_ID,
    basic_auth_headers,
    dumps,
    hubspot_headers,
    load,
    raw,
    salesforce_headers,
    token_headers,
)
from devstack.webhook import signed_headers

SECRET = "8f14e45f-ceea-467f-a0e6-2b9c0c6e9b11"
TOKEN = "zoho-token-Kx8d2"
WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef01234567").decode()


@dataclass(frozen=True)
class FakeSource(Source):
    """A source whose secrets are given rather than read from Secrets Manager."""

    fixed_secrets: tuple[str, ...] = ()

    def secrets(self) -> list[str]:
        return list(self.fixed_secrets)


def source(kind: str, secrets: tuple[str, ...], **options: Any) -> FakeSource:
    return FakeSource(source_id=f"demo-{kind}", tenant_id="demo", kind=kind, secret_id="unused", options=options,
                      fixed_secrets=secrets)


def request(body: bytes, headers: dict[str, str], url: str = "https://api.example/v1/webhooks/x",
            query: dict[str, str] | None = None) -> InboundRequest:
    return InboundRequest(method="POST", url=url, headers=headers, raw_body=body, query=query or {})


def contract_of(event: InboundEvent) -> dict[str, Any]:
    envelope = parse_webhook_body(event.body)
    return envelope.contract.to_canonical_dict()


def test_every_kind_has_an_adapter() -> None:
    for kind in ("generic", "hubspot", "salesforce", "zoho", "fxiaoke", "pipedrive"):
        assert adapter_for(kind).kind == kind


# --- HubSpot ----------------------------------------------------------------------------------------

HUBSPOT_URL = "https://api.yunti.example/v1/webhooks/demo-hubspot"


def hubspot_source() -> FakeSource:
    return source("hubspot", ("old-secret", SECRET), public_url=HUBSPOT_URL, our_party=OUR_PARTY_EN)


def test_hubspot_card_verifies_and_maps_deal_line_items_company_contact_owner() -> None:
    body = raw("hubspot_card.json")
    req = request(body, hubspot_headers(SECRET, HUBSPOT_URL, body), url="https://localhost/v1/webhooks/demo-hubspot")
    adapter, src = HubSpotAdapter(), hubspot_source()
    assert adapter.verify(src, req) is None
    [event] = adapter.parse(src, req, None)
    assert event.delivery_id == "hubspot:0b8f6f0e-4f3a-4d7e-9a51-2f7c8f2b9c11"
    contract = contract_of(event)
    assert contract["crm_record_id"] == "18347261953" and contract["number"] == "HT-2026-0211"
    assert (contract["type"], contract["locale"], contract["currency"], contract["amount"]) == (
        "sales", "en", "CNY", "128000.00")
    assert contract["signing_date"] == "2026-12-01"
    assert [(i["description"], i["quantity"], i["unit_price"]) for i in contract["items"]] == [
        ("Y3 smart lock", "150", "640.00"), ("G1 smart gateway", "100", "320.00")]
    assert contract["parties"]["counterparty"]["name"] == "Hangzhou Xinhe Trading Co., Ltd."
    assert contract["parties"]["ours"]["name"] == OUR_PARTY_EN["name"]
    assert [(s["party"], s["name"], s["email"], s["routing_order"]) for s in contract["signers"]] == [
        ("counterparty", "Qiang Li", "li.qiang@xinhe.example", 1), ("ours", "Min Wang", "wang.min@yunti.example", 2)]
    assert contract["owner"] == {"name": "Min Wang", "email": "wang.min@yunti.example"}


def test_hubspot_query_string_is_part_of_the_signed_url() -> None:
    body = raw("hubspot_card.json")
    query = {"portalId": "24446551", "userEmail": "wang.min@yunti.example", "appId": "4417802"}
    signed_url = HUBSPOT_URL + "?" + "portalId=24446551&userEmail=wang.min@yunti.example&appId=4417802"
    req = request(body, hubspot_headers(SECRET, signed_url, body), url="https://localhost/x", query=query)
    assert expected_urls(hubspot_source(), req)[0] == signed_url
    HubSpotAdapter().verify(hubspot_source(), req)
    unsigned_query = request(body, hubspot_headers(SECRET, HUBSPOT_URL, body), query=query)
    with pytest.raises(Unauthorized):
        HubSpotAdapter().verify(hubspot_source(), unsigned_query)


def test_hubspot_without_public_url_uses_the_rebuilt_request_url() -> None:
    body = raw("hubspot_card.json")
    url = "https://hooks.yunti.example/v1/webhooks/demo-hubspot"
    HubSpotAdapter().verify(source("hubspot", (SECRET,)), request(body, hubspot_headers(SECRET, url, body), url=url))


@pytest.mark.parametrize("case", ["forged", "stale", "other_url"])
def test_hubspot_forged_stale_or_replayed_signature_is_refused(case: str) -> None:
    body = raw("hubspot_card.json")
    if case == "forged":
        headers = hubspot_headers("not-the-secret", HUBSPOT_URL, body)
    elif case == "stale":
        headers = hubspot_headers(SECRET, HUBSPOT_URL, body, timestamp_ms=int(time.time() * 1000) - 301_000)
    else:
        headers = hubspot_headers(SECRET, "https://attacker.example/v1/webhooks/demo-hubspot", body)
    with pytest.raises(Unauthorized):
        HubSpotAdapter().verify(hubspot_source(), request(body, headers))


def test_hubspot_webhook_events_cancel_on_deletion_or_a_cancelling_stage() -> None:
    events = load("hubspot_events.json")
    events.append({**events[0], "eventId": 1, "subscriptionType": "deal.deletion", "propertyName": None})
    events.append({**events[0], "eventId": 2, "subscriptionType": "contact.deletion"})
    events.append({**events[0], "eventId": 3, "propertyValue": "appointmentscheduled"})
    body = dumps(events)
    parsed = HubSpotAdapter().parse(hubspot_source(), request(body, {}), None)
    assert [e.ignored is None for e in parsed] == [True, False, True, False, False]
    assert parsed[0].body == {"event": "contract.cancelled", "contract": {"crm_record_id": "18347261953"}}
    # Retries carry another attemptNumber but dedupe to the same delivery id.
    retry = dumps([{**events[0], "attemptNumber": 3}])
    [again] = HubSpotAdapter().parse(hubspot_source(), request(retry, {}), None)
    assert again.delivery_id == parsed[0].delivery_id


@pytest.mark.parametrize("body", [b"[]", b'[{"objectId": 1}]', b'"deal"', b'{"no": "deal"}', b"{", b"\xff"])
def test_hubspot_malformed_bodies(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        HubSpotAdapter().parse(hubspot_source(), request(body, {}), None)


# --- Salesforce -------------------------------------------------------------------------------------


def salesforce_source() -> FakeSource:
    return source("salesforce", (TOKEN,), organization_id=SALESFORCE_ORG_ID, our_party=OUR_PARTY_ZH)


def test_salesforce_message_with_three_notifications_gives_three_contracts() -> None:
    req = request(raw("salesforce_outbound.xml"), salesforce_headers(), query={"token": TOKEN})
    adapter = SalesforceAdapter()
    adapter.verify(salesforce_source(), req)
    events = adapter.parse(salesforce_source(), req, None)
    assert [e.delivery_id for e in events] == [
        "salesforce:04l5g00000Dj3xUAAR", "salesforce:04l5g00000Dj3xVAAR", "salesforce:04l5g00000Dj3xWAAR"]
    contracts = [contract_of(e) for e in events]
    assert [c["number"] for c in contracts] == ["HT-2026-0301", "HT-2026-0302", "HT-2026-0303"]
    first = contracts[0]
    assert first["crm_record_id"] == "8005g00000BcDeFAAV" and first["locale"] == "zh-CN"
    assert first["amount"] == "128000.0" and first["renewal_notice_days"] == 30
    assert first["parties"]["counterparty"]["address"] == "浙江省杭州市西湖区文三路 200 号"
    assert first["items"] == [{"description": "Y3 智能门锁", "quantity": "200.0", "unit_price": "640.0",
                               "unit": "套", "specification": "指纹+密码, 304 不锈钢"}]
    ack = adapter.acknowledge([])
    assert ack is not None and ack.body == ACK and ack.content_type.startswith("text/xml")
    assert "<Ack>true</Ack>" in ACK


def test_salesforce_token_and_organization_are_both_checked() -> None:
    body = raw("salesforce_outbound.xml")
    for query in ({}, {"token": "guess"}):
        with pytest.raises(Unauthorized):
            SalesforceAdapter().verify(salesforce_source(), request(body, salesforce_headers(), query=query))
    other_org = source("salesforce", (TOKEN,), organization_id="00D000000000001AAA")
    with pytest.raises(Unauthorized, match="organization"):
        SalesforceAdapter().parse(other_org, request(body, salesforce_headers()), None)
    with pytest.raises(Unauthorized, match="organization_id"):
        SalesforceAdapter().parse(source("salesforce", (TOKEN,)), request(body, salesforce_headers()), None)


def test_salesforce_org_ids_compare_on_fifteen_characters() -> None:
    assert same_org("00D5g000004XyZ1", "00D5g000004XyZ1EAK")
    assert not same_org("00D5g000004XyZ2", "00D5g000004XyZ1EAK")
    assert not same_org("00D5g000004xyz1", "00D5g000004XyZ1EAK")  # ids are case-sensitive
    assert not same_org("", "00D5g000004XyZ1EAK")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&lol9;</soapenv:Body>
</soapenv:Envelope>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>&xxe;</OrganizationId></notifications>
</soapenv:Body></soapenv:Envelope>"""

DTD_ONLY = b"""<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd"><x/>"""


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE, DTD_ONLY], ids=["billion_laughs", "xxe", "external_dtd"])
def test_salesforce_refuses_dtds_and_entities_before_expanding_them(payload: bytes) -> None:
    started = time.monotonic()
    with pytest.raises(MalformedBody, match="DTD"):
        parse_outbound_message(payload)
    assert time.monotonic() - started < 1.0  # a billion expansions would not finish, let alone this fast


@pytest.mark.parametrize(("payload", "message"), [
    (b"<not-xml", "malformed XML"),
    (b"<a/>", "not a Salesforce outbound message"),
    (raw("salesforce_outbound.xml").replace(b"Notification>", b"Ignored>"), "no Notification"),
])
def test_salesforce_malformed_messages(payload: bytes, message: str) -> None:
    with pytest.raises(MalformedBody, match=message):
        parse_outbound_message(payload)


def test_salesforce_more_than_a_hundred_notifications_is_refused() -> None:
    xml = raw("salesforce_outbound.xml").decode()
    start, end = xml.index("<Notification>"), xml.index("</Notification>") + len("</Notification>")
    many = xml[:start] + xml[start:end] * 101 + xml[end:]
    with pytest.raises(MalformedBody, match="at most 100"):
        parse_outbound_message(many.encode())


# --- Zoho -------------------------------------------------------------------------------------------


def zoho_source() -> FakeSource:
    return source("zoho", ("previous-token", TOKEN), our_party=OUR_PARTY_ZH)


@pytest.mark.parametrize("fmt", ["json", "form"])
def test_zoho_json_or_form_maps_a_service_contract(fmt: str) -> None:
    if fmt == "json":
        body, content_type = raw("zoho_deal.json"), "application/json"
    else:
        body, content_type = raw("zoho_deal.form").strip(), "application/x-www-form-urlencoded"
    req = request(body, token_headers(TOKEN, content_type))
    ZohoAdapter().verify(zoho_source(), req)
    [event] = ZohoAdapter().parse(zoho_source(), req, None)
    assert event.delivery_id.startswith("zoho:sha256:")
    contract = contract_of(event)
    assert (contract["type"], contract["number"], contract["amount"]) == ("service", "FW-2026-0042", "96000.00")
    assert (contract["effective_date"], contract["end_date"]) == ("2027-01-01", "2027-12-31")
    assert contract["auto_renew"] is True and contract["renewal_notice_days"] == 60
    assert contract["service"]["standard"].startswith("故障响应")
    # Same body again: the same synthesized key, so a resend is a repeat.
    [again] = ZohoAdapter().parse(zoho_source(), req, None)
    assert again.delivery_id == event.delivery_id


def test_zoho_key_changes_with_the_modification_time() -> None:
    changed = load("zoho_deal.json") | {"Modified_Time": "2026-11-26T11:00:00+08:00"}
    first = ZohoAdapter().parse(zoho_source(), request(raw("zoho_deal.json"), {}), None)[0]
    second = ZohoAdapter().parse(zoho_source(), request(dumps(changed), {}), None)[0]
    assert first.delivery_id != second.delivery_id


@pytest.mark.parametrize("where", ["header", "bearer", "query"])
def test_zoho_token_in_a_header_bearer_or_the_url(where: str) -> None:
    headers = {"Content-Type": "application/json"}
    query = {}
    if where == "header":
        headers["X-Signbridge-Token"] = TOKEN
    elif where == "bearer":
        headers["Authorization"] = f"Bearer {TOKEN}"
    else:
        query["token"] = TOKEN
    ZohoAdapter().verify(zoho_source(), request(raw("zoho_deal.json"), headers, query=query))


@pytest.mark.parametrize("headers", [{}, {"X-Signbridge-Token": "nope"}, {"Authorization": "Bearer nope"}])
def test_zoho_missing_or_wrong_token(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthorized):
        ZohoAdapter().verify(zoho_source(), request(raw("zoho_deal.json"), headers))


def test_zoho_malformed_form() -> None:
    with pytest.raises(MalformedBody):
        ZohoAdapter().parse(zoho_source(), request(b"no-equals-sign", {
            "Content-Type": "application/x-www-form-urlencoded"}), None)


# --- Fxiaoke ----------------------------------------------------------------------------------------


def test_fxiaoke_token_maps_the_contract_and_its_product_lines() -> None:
    src = source("fxiaoke", (TOKEN,), auth="token", our_party=OUR_PARTY_ZH)
    req = request(raw("fxiaoke_contract.json"), token_headers(TOKEN))
    assert FxiaokeAdapter().verify(src, req) is None
    [event] = FxiaokeAdapter().parse(src, req, None)
    assert event.delivery_id == "fxiaoke:fx-evt-20261126-000183"
    contract = contract_of(event)
    # Epoch milliseconds at midnight in Shanghai are that day's date.
    assert (contract["signing_date"], contract["end_date"], contract["delivery"]["date"]) == (
        "2026-12-01", "2027-11-30", "2027-01-15")
    assert [(i["description"], i["quantity"], i["unit_price"]) for i in contract["items"]] == [
        ("Y3 智能门锁", "100", "640.00"), ("G1 智能网关", "80", "280.00")]
    assert contract["parties"]["counterparty"]["name"] == "南京同创贸易有限公司"


def test_fxiaoke_invalidated_record_is_a_cancellation() -> None:
    body = load("fxiaoke_contract.json")
    body["data"]["life_status"] = "invalid"
    src = source("fxiaoke", (TOKEN,), auth="token")
    [event] = FxiaokeAdapter().parse(src, request(dumps(body), {}), None)
    assert event.body == {"event": "contract.cancelled", "contract": {"crm_record_id": "6745a1f2e4b0c91d2a3f8e71"}}


def test_fxiaoke_standard_webhooks_mode() -> None:
    src = source("fxiaoke", (WHSEC,), auth="standard-webhooks")
    body = raw("fxiaoke_contract.json")
    delivery_id = FxiaokeAdapter().verify(src, request(body, signed_headers(WHSEC, body, "msg_fx_1")))
    assert delivery_id == "msg_fx_1"
    assert FxiaokeAdapter().parse(src, request(body, {}), delivery_id)[0].delivery_id == "fxiaoke:msg_fx_1"
    stale = signed_headers(WHSEC, body, "msg_fx_2", int(time.time()) - 301)
    with pytest.raises(Unauthorized, match="stale"):
        FxiaokeAdapter().verify(src, request(body, stale))
    # A token is not accepted by a source that requires signatures (the request cannot pick its scheme).
    with pytest.raises(Unauthorized):
        FxiaokeAdapter().verify(src, request(body, token_headers(WHSEC)))


def test_fxiaoke_misconfigured_auth_option() -> None:
    with pytest.raises(ApiError) as caught:
        FxiaokeAdapter().verify(source("fxiaoke", (TOKEN,), auth="md5"), request(b"{}", token_headers(TOKEN)))
    assert caught.value.status == 422 and caught.value.code == "source_misconfigured"


def test_fxiaoke_without_event_id_synthesizes_one() -> None:
    body = load("fxiaoke_contract.json")
    del body["eventId"]
    src = source("fxiaoke", (TOKEN,), auth="token")
    [event] = FxiaokeAdapter().parse(src, request(dumps(body), {}), None)
    assert event.delivery_id.startswith("fxiaoke:sha256:")


# --- Pipedrive --------------------------------------------------------------------------------------


def pipedrive_source(**extra: Any) -> FakeSource:
    return source("pipedrive", ("pw-1",), username="signbridge", contract_stage_id=5, our_party=OUR_PARTY_EN,
                  custom_fields=load("pipedrive_custom_fields.json"), **extra)


def test_pipedrive_basic_auth_and_a_deal_entering_the_contract_stage() -> None:
    req = request(raw("pipedrive_deal.json"), basic_auth_headers("signbridge", "pw-1"))
    PipedriveAdapter().verify(pipedrive_source(), req)
    [event] = PipedriveAdapter().parse(pipedrive_source(), req, None)
    assert event.delivery_id == "pipedrive:b4a1c2e0-3f1d-4a8e-9c7b-5d2e1f0a9b36"
    envelope = parse_webhook_body(event.body)
    assert envelope.event == "contract.updated"  # meta.action "change": intake creates it if new
    contract = envelope.contract.to_canonical_dict()
    assert (contract["crm_record_id"], contract["number"], contract["currency"], contract["amount"]) == (
        "4821", "SO-2026-1187", "USD", "51200")
    assert contract["items"] == [{"description": "Y3 smart lock", "quantity": "80", "unit_price": "640",
                                  "specification": "Fingerprint + PIN, 304 stainless steel"}]


def test_pipedrive_other_stages_are_ignored_and_delete_or_lost_cancels() -> None:
    body = load("pipedrive_deal.json")
    body["data"]["stage_id"] = 3
    [event] = PipedriveAdapter().parse(pipedrive_source(), request(dumps(body), {}), None)
    assert event.ignored
    lost = load("pipedrive_deal.json")
    lost["data"]["status"] = "lost"
    [event] = PipedriveAdapter().parse(pipedrive_source(), request(dumps(lost), {}), None)
    assert event.body["event"] == "contract.cancelled"
    deleted = load("pipedrive_deal.json")
    deleted["meta"]["action"] = "delete"
    deleted["previous"], deleted["data"] = deleted["data"], None
    [event] = PipedriveAdapter().parse(pipedrive_source(), request(dumps(deleted), {}), None)
    assert event.body == {"event": "contract.cancelled", "contract": {"crm_record_id": "4821"}}


def test_pipedrive_custom_fields_by_name() -> None:
    deal = {"custom_fields": {"k1": {"type": "varchar", "value": "x"}, "k2": {"type": "enum", "id": 35},
                              "k3": "plain", "k4": None}}
    assert named_custom_fields(deal, {"a": "k1", "b": "k2", "c": "k3", "d": "k4", "e": "k5"}) == {
        "a": "x", "b": 35, "c": "plain", "d": None, "e": None}


@pytest.mark.parametrize("headers", [{}, basic_auth_headers("signbridge", "wrong"),
                                     basic_auth_headers("admin", "pw-1")])
def test_pipedrive_wrong_credentials(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthorized):
        PipedriveAdapter().verify(pipedrive_source(), request(raw("pipedrive_deal.json"), headers))


def test_pipedrive_needs_meta() -> None:
    with pytest.raises(MalformedBody, match="meta"):
        PipedriveAdapter().parse(pipedrive_source(), request(b'{"data": {}}', {}), None)


def test_pipedrive_without_meta_id_synthesizes_from_correlation() -> None:
    body = load("pipedrive_deal.json")
    del body["meta"]["id"]
    [event] = PipedriveAdapter().parse(pipedrive_source(), request(dumps(body), {}), None)
    assert event.delivery_id.startswith("pipedrive:sha256:")


def test_source_mapping_override_changes_one_field() -> None:
    src = FakeSource(source_id="z", tenant_id="demo", kind="zoho", secret_id="x", options={"our_party": OUR_PARTY_ZH},
                     mapping={"fields": {"contract.number": "Deal_Number"}}, fixed_secrets=(TOKEN,))
    body = load("zoho_deal.json") | {"Deal_Number": "OVR-1"}
    [event] = ZohoAdapter().parse(src, request(dumps(body), {}), None)
    assert contract_of(event)["number"] == "OVR-1"
    broken = FakeSource(source_id="z", tenant_id="demo", kind="zoho", secret_id="x",
                        mapping={"fields": {"contract.number": "(("}}, fixed_secrets=(TOKEN,))
    with pytest.raises(ApiError) as caught:
        ZohoAdapter().parse(broken, request(dumps(body), {}), None)
    assert caught.value.code == "source_misconfigured"
