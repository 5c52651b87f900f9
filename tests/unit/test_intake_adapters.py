"""Each CRM adapter, pure (no AWS): it verifies the CRM's own scheme on the raw request, then turns
the CRM's native payload into canonical webhook bodies that validate — with the right fields."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.contracts import ContractInvalid, parse_webhook_body
from chalicelib.core.errors import ApiError, MalformedBody, Unauthorized
from chalicelib.intake.base import InboundEvent, InboundRequest, NeedsEnrichment
from chalicelib.intake.fxiaoke import FxiaokeAdapter
from chalicelib.intake.hubspot import HubSpotAdapter, expected_urls
from chalicelib.intake.pipedrive import PipedriveAdapter, read_custom_fields
from chalicelib.intake.salesforce import ACK, SalesforceAdapter, parse_outbound_message, same_org
from chalicelib.intake.service import adapter_for
from chalicelib.intake.signatures import hubspot_uri
from chalicelib.intake.zoho import ZohoAdapter
from chalicelib.store.registry import Source
from devstack.crm_samples import (
    OUR_PARTY_EN,
    OUR_PARTY_ZH,
    SALESFORCE_ORG_ID,
    basic_auth_headers,
    dumps,
    load,
    raw,
    salesforce_headers,
    token_headers,
)
from devstack.webhook import signed_headers
from tests.support.hubspot_signing import hubspot_v3_headers

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


def mapped(event: InboundEvent | NeedsEnrichment) -> InboundEvent:
    assert isinstance(event, InboundEvent), event
    return event


def pending(event: InboundEvent | NeedsEnrichment) -> NeedsEnrichment:
    assert isinstance(event, NeedsEnrichment), event
    return event


def contract_of(event: InboundEvent | NeedsEnrichment) -> dict[str, Any]:
    envelope = parse_webhook_body(mapped(event).body)
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
    req = request(body, hubspot_v3_headers(SECRET, HUBSPOT_URL, body), url="https://localhost/v1/webhooks/demo-hubspot")
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
    req = request(body, hubspot_v3_headers(SECRET, signed_url, body), url="https://localhost/x", query=query)
    assert hubspot_uri(expected_urls(hubspot_source(), req)[0]) == signed_url
    HubSpotAdapter().verify(hubspot_source(), req)
    unsigned_query = request(body, hubspot_v3_headers(SECRET, HUBSPOT_URL, body), query=query)
    with pytest.raises(Unauthorized):
        HubSpotAdapter().verify(hubspot_source(), unsigned_query)


def test_hubspot_without_public_url_uses_the_rebuilt_request_url() -> None:
    body = raw("hubspot_card.json")
    url = "https://hooks.yunti.example/v1/webhooks/demo-hubspot"
    HubSpotAdapter().verify(source("hubspot", (SECRET,)), request(body, hubspot_v3_headers(SECRET, url, body), url=url))


@pytest.mark.parametrize("case", ["forged", "stale", "other_url"])
def test_hubspot_forged_stale_or_replayed_signature_is_refused(case: str) -> None:
    body = raw("hubspot_card.json")
    if case == "forged":
        headers = hubspot_v3_headers("not-the-secret", HUBSPOT_URL, body)
    elif case == "stale":
        headers = hubspot_v3_headers(SECRET, HUBSPOT_URL, body, timestamp_ms=int(time.time() * 1000) - 301_000)
    else:
        headers = hubspot_v3_headers(SECRET, "https://attacker.example/v1/webhooks/demo-hubspot", body)
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
    # Webhooks v2 value shapes: https://pipedrive.readme.io/docs/guide-for-webhooks-v2 ("custom fields").
    deal = {"custom_fields": {"k1": {"type": "varchar", "value": "x"}, "k2": {"type": "enum", "id": 35},
                              "k3": "plain", "k4": None, "k6": {"type": "set", "values": [{"id": 13}, {"id": 14}]},
                              "k7": {"type": "daterange", "from": "2027-01-01", "until": "2027-12-31"},
                              "k8": {"type": "monetary", "value": 640, "currency": "USD"},
                              "k9": {"type": "people", "id": 17818}}}
    names = {"a": "k1", "b": "k2", "c": "k3", "d": "k4", "e": "k5", "f": "k6", "term": "k7", "g": "k8", "h": "k9"}
    labels = {"b": {"35": "Service"}, "k6": {"13": "zh-CN", "14": "en"}}
    fields = read_custom_fields(deal, names, labels)
    assert fields.values == {"a": "x", "b": "Service", "c": "plain", "d": None, "e": None, "f": ["zh-CN", "en"],
                             "term": "2027-01-01", "term_until": "2027-12-31", "g": 640, "h": None}
    # A person field needs the API whatever the labels say.
    assert fields.unresolved == {"h": {"field": "k9", "type": "people", "ids": [17818]}}
    without_labels = read_custom_fields(deal, names, {})
    assert without_labels.values["b"] is None and without_labels.values["f"] is None
    assert without_labels.unresolved["b"] == {"field": "k2", "type": "enum", "ids": [35]}
    assert without_labels.unresolved["f"] == {"field": "k6", "type": "set", "ids": [13, 14]}


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


# --- HubSpot: the signed URL without a pinned public_url ----------------------------------------------
# HubSpot signs the URI it called with %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B decoded
# (developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation);
# behind API Gateway (REST) only the decoded parameters, in the order received, are left.

CALLED = "https://hooks.yunti.example/v1/webhooks/demo-hubspot"


def gateway_request(body: bytes, headers: dict[str, str], items: tuple[tuple[str, str], ...],
                    raw_query: str | None = None) -> InboundRequest:
    """What app.py builds from API Gateway's event: decoded parameters in order, no raw query."""
    return InboundRequest(method="POST", url=CALLED + "?ignored=1", headers=headers, raw_body=body,
                          query=dict(items), query_items=items, raw_query=raw_query)


@pytest.mark.parametrize(("signed_query", "decoded"), [
    # hubspot.fetch's parameters with an email holding "+", percent-encoded as %2B (not in HubSpot's list).
    ("portalId=24446551&userId=83920154&userEmail=wang.min%2Bsales@yunti.example&appId=4417802",
     (("portalId", "24446551"), ("userId", "83920154"), ("userEmail", "wang.min+sales@yunti.example"),
      ("appId", "4417802"))),
    # Another order than alphabetical or hubspot.fetch's: the order received is the one signed.
    ("userEmail=li.qiang@xinhe.example&appId=4417802&portalId=24446551",
     (("userEmail", "li.qiang@xinhe.example"), ("appId", "4417802"), ("portalId", "24446551"))),
    # A space sent as %20 (encodeURIComponent) or as + (a form serializer), and HubSpot's decoded ",".
    ("note=a%20b,c", (("note", "a b,c"),)),
    ("note=a+b,c", (("note", "a b,c"),)),
    # A repeated parameter keeps its values' order.
    ("tag=x&tag=y&n=1", (("tag", "x"), ("tag", "y"), ("n", "1"))),
])
def test_hubspot_query_rebuilt_from_decoded_parameters_verifies(signed_query: str,
                                                                decoded: tuple[tuple[str, str], ...]) -> None:
    body = raw("hubspot_card.json")
    headers = hubspot_v3_headers(SECRET, f"{CALLED}?{signed_query}", body)
    HubSpotAdapter().verify(source("hubspot", (SECRET,)), gateway_request(body, headers, decoded))


def test_hubspot_raw_query_is_used_when_the_platform_passes_it() -> None:
    body = raw("hubspot_card.json")
    signed_query = "b=2&a=%7E1"  # as sent, "~" encoded: no re-encoding is needed to verify it
    headers = hubspot_v3_headers(SECRET, f"{CALLED}?{signed_query}", body)
    req = gateway_request(body, headers, (("b", "2"), ("a", "~1")), raw_query=signed_query)
    HubSpotAdapter().verify(source("hubspot", (SECRET,)), req)


@pytest.mark.parametrize("decoded", [
    (("userEmail", "wang.min+sales@yunti.example"), ("portalId", "24446551")),  # reordered
    (("portalId", "24446551"), ("userEmail", "wang.min+sales@yunti.example"), ("appId", "1")),  # added
    (("portalId", "24446551"), ("userEmail", "attacker@evil.example")),  # changed
])
def test_hubspot_query_changed_on_the_way_is_refused(decoded: tuple[tuple[str, str], ...]) -> None:
    body = raw("hubspot_card.json")
    headers = hubspot_v3_headers(SECRET, f"{CALLED}?portalId=24446551&userEmail=wang.min%2Bsales@yunti.example",
                                 body)
    with pytest.raises(Unauthorized):
        HubSpotAdapter().verify(source("hubspot", (SECRET,)), gateway_request(body, headers, decoded))


def test_hubspot_public_url_stays_an_override_with_the_received_query() -> None:
    body = raw("hubspot_card.json")
    pinned = "https://api.yunti.example/prod/v1/webhooks/demo-hubspot"
    headers = hubspot_v3_headers(SECRET, f"{pinned}?portalId=24446551&userEmail=a@b.example", body)
    req = gateway_request(body, headers, (("portalId", "24446551"), ("userEmail", "a@b.example")))
    HubSpotAdapter().verify(source("hubspot", (SECRET,), public_url=pinned), req)
    assert len(expected_urls(source("hubspot", (SECRET,), public_url=pinned), req)) <= 6  # bounded work


# --- HubSpot: workflow "Send a webhook" bodies --------------------------------------------------------
# knowledge.hubspot.com/workflows/how-do-i-use-webhooks-with-hubspot-workflows: "All properties" sends
# the record as the object API returns it (deals: the latest value of each property, legacy shape),
# a customised body the keys the author chose; HubSpot does not retry a 4xx.

def legacy_deal(properties: dict[str, str], deal_id: int = 9001) -> dict[str, Any]:
    return {"portalId": 62515, "dealId": deal_id, "isDeleted": False,
            "associations": {"associatedVids": [301], "associatedCompanyIds": [5001], "associatedDealIds": []},
            "properties": {name: {"value": value, "timestamp": 1754039722118, "source": "CRM_UI", "versions": []}
                           for name, value in properties.items()},
            "imports": [], "stateChanges": []}


@pytest.mark.parametrize("body", [
    {"hs_object_id": "9001"},  # a customised body with the Record ID property only
    {"objectId": 9001},
    legacy_deal({"hs_object_id": "9001"}),
])
def test_hubspot_workflow_with_only_the_deal_id_needs_enrichment(body: dict[str, Any]) -> None:
    [item] = HubSpotAdapter().parse(hubspot_source(), request(dumps(body), {}), None)
    need = pending(item)
    assert (need.crm, need.object_type, need.record_id, need.event) == ("hubspot", "deal", "9001", "contract.created")
    assert need.tenant_id == "demo" and need.source_id == "demo-hubspot"
    assert need.delivery_key.startswith("hubspot-workflow:sha256:")
    assert need.reason == "the webhook carries the record's id and nothing else the mapping reads"


def test_hubspot_workflow_all_properties_without_associations_needs_enrichment() -> None:
    # The legacy deal carries its properties but only the ids of its company and contacts, and no
    # line items: a contract cannot be made of it, and a 422 would be lost.
    body = legacy_deal({"hs_object_id": "9001", "dealname": "ACME renewal 2026", "amount": "12500.00",
                        "contract_number": "CTR-2026-0042", "contract_type": "sales"})
    need = pending(HubSpotAdapter().parse(hubspot_source(), request(dumps(body), {}), None)[0])
    assert need.record_id == "9001" and need.context == {"portalId": 62515}
    assert need.reason.startswith("the webhook lacks what the contract needs: ")
    assert "contract.parties.counterparty" in need.reason
    # The same body again is the same delivery (HubSpot's retry after a 5xx or 429).
    again = pending(HubSpotAdapter().parse(hubspot_source(), request(dumps(body), {}), None)[0])
    assert again.delivery_key == need.delivery_key


def test_hubspot_workflow_body_that_carries_the_contract_is_mapped() -> None:
    # A customised body whose keys are the deal's property names, with a source mapping that reads
    # the parties and the item from deal properties too: nothing to read from the API.
    body = {"hs_object_id": "9001", "action": "update", "dealname": "ACME renewal 2026", "amount": "12500.00",
            "deal_currency_code": "EUR", "contract_number": "CTR-2026-0042", "contract_type": "sales",
            "contract_language": "en", "contract_signing_date": "2026-12-01", "payment_method": "bank_transfer",
            "payment_terms": "30 days net", "delivery_date": "2027-01-15", "delivery_place": "ACME warehouse",
            "after_sales_terms": "12-month warranty", "company_name": "ACME Ltd",
            "company_address": "1 Main St, Springfield", "signer_name": "Jane Roe",
            "signer_email": "jane.roe@acme.example", "product": "Y3 smart lock", "quantity": "20", "price": "625.00"}
    mapping = {"fields": {
        "contract.parties.counterparty.name": "deal.properties.company_name",
        "contract.parties.counterparty.address": "deal.properties.company_address",
        "contract.parties.counterparty.contact.name": "deal.properties.signer_name",
        "contract.parties.counterparty.contact.email": "deal.properties.signer_email",
        "contract.signers": {"elements": [
            {"party": "'counterparty'", "name": "deal.properties.signer_name", "email": "deal.properties.signer_email",
             "routing_order": "`1`", "delivery": "'email'"},
            {"party": "'ours'", "name": "signbridge.our_signer.name", "email": "signbridge.our_signer.email",
             "routing_order": "`2`", "delivery": "'email'"}]},
        "contract.owner.name": "signbridge.our_signer.name", "contract.owner.email": "signbridge.our_signer.email",
        "contract.items": {"elements": [{"description": "deal.properties.product",
                                         "quantity": {"expr": "deal.properties.quantity", "as": "decimal"},
                                         "unit_price": {"expr": "deal.properties.price", "as": "decimal"}}]}}}
    src = FakeSource(source_id="demo-hubspot", tenant_id="demo", kind="hubspot", secret_id="x", mapping=mapping,
                     options={"our_party": OUR_PARTY_EN, "our_signer": {"name": "Min Wang",
                                                                        "email": "wang.min@yunti.example"}},
                     fixed_secrets=(SECRET,))
    [item] = HubSpotAdapter().parse(src, request(dumps(body), {}), None)
    assert parse_webhook_body(mapped(item).body).event == "contract.updated"
    contract = contract_of(item)
    assert (contract["crm_record_id"], contract["number"], contract["amount"], contract["currency"]) == (
        "9001", "CTR-2026-0042", "12500.00", "EUR")
    assert contract["items"] == [{"description": "Y3 smart lock", "quantity": "20", "unit_price": "625.00"}]


def test_hubspot_card_with_only_the_deal_id_needs_enrichment_and_a_cancel_does_not() -> None:
    card = {"requestId": "r-1", "action": "create", "portalId": 24446551, "deal": {"id": "18347261953"}}
    need = pending(HubSpotAdapter().parse(hubspot_source(), request(dumps(card), {}), None)[0])
    assert (need.record_id, need.delivery_key, need.context) == ("18347261953", "hubspot:r-1",
                                                                 {"portalId": 24446551})
    cancel = {**card, "action": "cancel"}
    event = mapped(HubSpotAdapter().parse(hubspot_source(), request(dumps(cancel), {}), None)[0])
    assert event.body == {"event": "contract.cancelled", "contract": {"crm_record_id": "18347261953"}}


@pytest.mark.parametrize("body", [{"dealname": "no id"}, {"properties": {"dealname": {"value": "x"}}},
                                  {"hs_object_id": True}, {"dealId": ""}])
def test_hubspot_workflow_body_without_a_deal_id_is_400_naming_where_it_is_looked_for(body: dict[str, Any]) -> None:
    with pytest.raises(MalformedBody, match="hs_object_id"):
        HubSpotAdapter().parse(hubspot_source(), request(dumps(body), {}), None)


# --- Pipedrive: option fields and webhooks v1 ---------------------------------------------------------

def pipedrive_deal_with_type(value: Any) -> dict[str, Any]:
    body = load("pipedrive_deal.json")
    body["data"]["custom_fields"]["ee0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e"] = value
    return body


def pipedrive_typed_source(**extra: Any) -> FakeSource:
    names = {**load("pipedrive_custom_fields.json"), "contract_type": "ee0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e"}
    return source("pipedrive", ("pw-1",), username="signbridge", contract_stage_id=5, our_party=OUR_PARTY_EN,
                  custom_fields=names, **extra)


def test_pipedrive_option_id_without_its_label_needs_enrichment() -> None:
    body = pipedrive_deal_with_type({"type": "enum", "id": 17})
    need = pending(PipedriveAdapter().parse(pipedrive_typed_source(), request(dumps(body), {}), None)[0])
    assert (need.crm, need.object_type, need.record_id, need.event) == ("pipedrive", "deal", "4821", "contract.updated")
    assert need.delivery_key == "pipedrive:b4a1c2e0-3f1d-4a8e-9c7b-5d2e1f0a9b36"
    assert need.context == {"host": "yunti.pipedrive.com", "company_id": "10482931", "unresolved_fields": {
        "contract_type": {"field": "ee0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e", "type": "enum", "ids": [17]}}}
    assert "contract_type" in need.reason and "option_labels" in need.reason


def test_pipedrive_option_labels_turn_option_ids_into_the_mappings_values() -> None:
    body = pipedrive_deal_with_type({"type": "enum", "id": 17})
    src = pipedrive_typed_source(option_labels={"contract_type": {"16": "Sales", "17": "Service"}})
    event = mapped(PipedriveAdapter().parse(src, request(dumps(body), {}), None)[0])
    assert event.body["contract"]["type"] == "service"


def test_pipedrive_option_field_outside_the_contract_stage_or_on_a_lost_deal_needs_nothing() -> None:
    body = pipedrive_deal_with_type({"type": "enum", "id": 17})
    body["data"]["stage_id"] = 2
    assert mapped(PipedriveAdapter().parse(pipedrive_typed_source(), request(dumps(body), {}), None)[0]).ignored
    body["data"]["status"] = "lost"
    event = mapped(PipedriveAdapter().parse(pipedrive_typed_source(), request(dumps(body), {}), None)[0])
    assert event.body["event"] == "contract.cancelled"


def test_pipedrive_deal_event_with_only_the_deal_id_needs_enrichment() -> None:
    body = {"meta": {"action": "change", "entity": "deal", "entity_id": "4821", "id": "e-1", "version": "2.0"},
            "data": {"id": 4821, "stage_id": 5}, "previous": {"stage_id": 4}}
    src = source("pipedrive", ("pw-1",), username="signbridge", contract_stage_id=5)
    need = pending(PipedriveAdapter().parse(src, request(dumps(body), {}), None)[0])
    assert need.record_id == "4821" and need.reason.startswith("the webhook carries the record's id")


@pytest.mark.parametrize("body", [
    # Pipedrive webhooks v1: https://pipedrive.readme.io/docs/guide-for-webhooks (v=1, current/previous)
    {"v": 1, "matches_filters": {"current": []}, "meta": {"v": 1, "action": "updated", "object": "deal", "id": 4821},
     "current": {"id": 4821, "title": "x"}, "previous": {"id": 4821}, "event": "updated.deal", "retry": 0},
    {"meta": {"version": "1.0", "action": "updated"}, "current": {"id": 1}},
])
def test_pipedrive_webhooks_v1_is_refused_with_how_to_create_a_v2_one(body: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as caught:
        PipedriveAdapter().parse(pipedrive_source(), request(dumps(body), {}), None)
    assert (caught.value.status, caught.value.code) == (400, "unsupported_webhook_version")
    assert "version 2.0" in caught.value.message and "Settings > Tools and apps > Webhooks" in caught.value.message


# --- Zoho, 纷享销客, Salesforce: the record's id only -------------------------------------------------
# Zoho record ids are 19-digit numbers sent as strings (Zoho CRM API v8, records); 纷享销客 ids are
# 24-hex `_id`s; an outbound message holds the fields the admin selected (Id always).

@pytest.mark.parametrize(("body", "content_type"), [
    (b'{"id": "5843104000000424001", "event": "created"}', "application/json"),
    (b"id=5843104000000424001&module=Deals", "application/x-www-form-urlencoded"),
])
def test_zoho_webhook_with_only_the_record_id_needs_enrichment(body: bytes, content_type: str) -> None:
    need = pending(ZohoAdapter().parse(zoho_source(), request(body, {"Content-Type": content_type}), None)[0])
    assert (need.crm, need.object_type, need.record_id, need.event) == ("zoho", "Deals", "5843104000000424001",
                                                                        "contract.created")
    assert need.delivery_key.startswith("zoho:sha256:")


def test_zoho_cancellation_with_only_the_id_is_a_cancellation() -> None:
    [event] = ZohoAdapter().parse(zoho_source(), request(b'{"id": "5843104000000424001", "event": "cancelled"}', {}),
                                  None)
    assert mapped(event).body == {"event": "contract.cancelled", "contract": {"crm_record_id": "5843104000000424001"}}


@pytest.mark.parametrize("body", [
    {"objectApiName": "SaleContractObj", "id": "66c5a0f1e4b0aa0001a1b2c3"},
    {"object": "SaleContractObj", "dataId": "66c5a0f1e4b0aa0001a1b2c3", "eventId": "fx-1"},
    {"objectApiName": "SaleContractObj", "data": {"_id": "66c5a0f1e4b0aa0001a1b2c3"}},
])
def test_fxiaoke_callback_with_only_the_object_id_needs_enrichment(body: dict[str, Any]) -> None:
    src = source("fxiaoke", (TOKEN,), auth="token", our_party=OUR_PARTY_ZH)
    need = pending(FxiaokeAdapter().parse(src, request(dumps(body), {}), None)[0])
    assert (need.crm, need.object_type, need.record_id) == ("fxiaoke", "SaleContractObj", "66c5a0f1e4b0aa0001a1b2c3")


def test_fxiaoke_id_only_callback_of_an_invalidated_record_cancels() -> None:
    src = source("fxiaoke", (TOKEN,), auth="token")
    body = {"object": "SaleContractObj", "id": "66c5a0f1e4b0aa0001a1b2c3", "status": "invalid"}
    event = mapped(FxiaokeAdapter().parse(src, request(dumps(body), {}), None)[0])
    assert event.body == {"event": "contract.cancelled", "contract": {"crm_record_id": "66c5a0f1e4b0aa0001a1b2c3"}}


ID_ONLY_MESSAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D5g000004XyZ1EAK</OrganizationId>
   <ActionId>04k5g000000TmPqAAK</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://yunti.my.salesforce.com/services/Soap/c/62.0/00D5g000004XyZ1</EnterpriseUrl>
   <PartnerUrl>https://yunti.my.salesforce.com/services/Soap/u/62.0/00D5g000004XyZ1</PartnerUrl>
   <Notification>
    <Id>04l5g00000Dj9aAAAR</Id>
    <sObject xsi:type="sf:Contract" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>8005g00000BcDeZAAV</sf:Id>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"""


def test_salesforce_notification_with_only_id_needs_enrichment() -> None:
    assert SALESFORCE_ORG_ID.startswith("00D5g000004XyZ1")
    need = pending(SalesforceAdapter().parse(salesforce_source(), request(ID_ONLY_MESSAGE, {}), None)[0])
    assert (need.crm, need.object_type, need.record_id, need.delivery_key) == (
        "salesforce", "Contract", "8005g00000BcDeZAAV", "salesforce:04l5g00000Dj9aAAAR")
    assert need.context == {"OrganizationId": "00D5g000004XyZ1EAK",
                            "EnterpriseUrl": "https://yunti.my.salesforce.com/services/Soap/c/62.0/00D5g000004XyZ1",
                            "PartnerUrl": "https://yunti.my.salesforce.com/services/Soap/u/62.0/00D5g000004XyZ1"}


@pytest.mark.parametrize("record_id", ["a b", "x" * 129, "9001#other"])
def test_an_id_that_is_not_a_record_id_is_not_sent_to_the_api_but_to_validation(record_id: str) -> None:
    [item] = HubSpotAdapter().parse(hubspot_source(), request(dumps({"hs_object_id": record_id}), {}), None)
    with pytest.raises(ContractInvalid) as caught:
        parse_webhook_body(mapped(item).body)
    assert "contract.crm_record_id" in [d["path"] for d in caught.value.to_error_body()["error"]["details"]]


def test_a_crm_language_field_can_ask_for_a_bilingual_contract() -> None:
    body = json.dumps(load("zoho_deal.json") | {"Language": "中英双语"}).encode()
    [event] = ZohoAdapter().parse(zoho_source(), request(body, {}), None)
    contract = contract_of(event)
    assert contract["locale"] == "zh-CN+en" and "prevailing_language" not in contract  # the Chinese text prevails
