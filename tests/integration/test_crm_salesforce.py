"""Salesforce Outbound Messaging through the real app: a message with three Contract notifications
makes three contracts and is acknowledged in SOAP; the token and the organization id guard it; XML
bombs and external entities are refused before anything is expanded or fetched."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from devstack.crm_samples import SALESFORCE_ORG_ID, raw
from tests.integration.test_crm_helpers import (
    assert_enrichment_recorded,
    assert_stored_nothing,
    contract_for_record,
    post_salesforce,
    stored_document,
    stored_keys,
)
from tests.support.stack import StackHarness

RECORDS = ("8005g00000BcDeFAAV", "8005g00000BcDeGAAV", "8005g00000BcDeHAAV")
ACK = b"<notificationsResponse xmlns=\"http://soap.sforce.com/2005/09/outbound\"><Ack>true</Ack></notificationsResponse>"


def assert_acknowledged(response: object) -> None:
    assert response.status_code == 200, response.body  # type: ignore[attr-defined]
    assert response.headers["Content-Type"].startswith("text/xml")  # type: ignore[attr-defined]
    assert ACK in response.body  # type: ignore[attr-defined]


def test_three_notifications_make_three_contracts_and_a_soap_ack(stack: StackHarness) -> None:
    response = post_salesforce(stack, raw("salesforce_outbound.xml"))
    assert_acknowledged(response)
    records = [contract_for_record(stack, r) for r in RECORDS]
    assert all(records)
    contracts = [stack.get_contract(r.contract_id) for r in records]
    assert [c["number"] for c in contracts] == ["HT-2026-0301", "HT-2026-0302", "HT-2026-0303"]
    assert [c["amount"] for c in contracts] == ["128000.0", "45000.0", "76800.0"]
    assert {(c["type"], c["locale"], c["currency"], c["status"]) for c in contracts} == {
        ("sales", "zh-CN", "CNY", "received")}
    assert [c["signers"][0]["email"] for c in contracts] == [
        "li.qiang@xinhe.example", "zhou.ting@anju.example", "sun.hao@ruifeng.example"]
    document = stored_document(stack, records[1].contract_id)
    assert document["parties"]["counterparty"] == {
        "name": "宁波海曙安居物业有限公司", "address": "浙江省宁波市海曙区中山西路 18 号",
        "contact": {"name": "周婷", "email": "zhou.ting@anju.example", "phone": "+86 574 5555 0606"}}
    assert document["items"] == [{"description": "M2 门禁一体机", "quantity": "30.0", "unit_price": "1500.0",
                                  "unit": "台", "specification": "人脸识别, IP65"}]
    assert sorted(k for k in stored_keys() if k.startswith("delivery#")) == [
        "delivery#demo-salesforce#salesforce:04l5g00000Dj3xUAAR",
        "delivery#demo-salesforce#salesforce:04l5g00000Dj3xVAAR",
        "delivery#demo-salesforce#salesforce:04l5g00000Dj3xWAAR"]

    # Salesforce resends the message (it missed our ack): acknowledged again, nothing new.
    assert_acknowledged(post_salesforce(stack, raw("salesforce_outbound.xml")))
    from chalicelib.store.models import ContractRecord

    assert sum(1 for _ in ContractRecord.scan()) == 3
    for record in records:
        stack.wait_status(record.contract_id, "sent")
    assert len(stack.sandbox_envelopes()) == 3  # one envelope per contract, none for the repeat


def test_one_invalid_notification_is_recorded_and_the_others_acknowledged(stack: StackHarness) -> None:
    from chalicelib.store.contracts import find_rejected_intake

    xml = raw("salesforce_outbound.xml").replace(
        b"<sf:Customer_Signer_Email__c>zhou.ting@anju.example</sf:Customer_Signer_Email__c>",
        b"<sf:Customer_Signer_Email__c>zhou.ting(at)anju</sf:Customer_Signer_Email__c>")
    response = post_salesforce(stack, xml)
    assert_acknowledged(response)
    assert contract_for_record(stack, RECORDS[0]) and contract_for_record(stack, RECORDS[2])
    assert contract_for_record(stack, RECORDS[1]) is None
    rejected = find_rejected_intake("demo-salesforce", "salesforce:04l5g00000Dj3xVAAR")
    assert rejected is not None and rejected.detail["status"] == 422
    assert rejected.detail["crm_record_id"] == RECORDS[1]
    details = {d["path"]: d.get("crm_field") for d in rejected.detail["error"]["details"]}
    assert details["contract.signers[0].email"] == "sObject.Customer_Signer_Email__c"
    assert details["contract.parties.counterparty.contact.email"] == "sObject.Customer_Signer_Email__c"


@pytest.mark.parametrize("case", ["wrong_token", "no_token", "other_org"])
def test_wrong_token_or_organization_is_401_and_stores_nothing(stack: StackHarness, case: str) -> None:
    body = raw("salesforce_outbound.xml")
    if case == "wrong_token":
        response = post_salesforce(stack, body, token="guessed")
    elif case == "no_token":
        response = post_salesforce(stack, body, token="")
    else:
        response = post_salesforce(stack, body.replace(SALESFORCE_ORG_ID.encode(), b"00D7F000001AbCdEAA"))
    assert response.status_code == 401, response.body
    assert response.json_body["error"]["code"] == "unauthorized"
    assert_stored_nothing(stack)


@pytest.fixture
def dtd_server() -> Iterator[tuple[str, list[str]]]:
    """A web server an external entity would be fetched from: it records every hit."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            payload = b'<!ENTITY secret "exfiltrated">'
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    return (
        '<?xml version="1.0"?><!DOCTYPE lolz [' + "".join(entities) + "]>"
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        "<OrganizationId>&lol9;</OrganizationId></notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def test_billion_laughs_is_refused_without_expansion(stack: StackHarness) -> None:
    started = time.monotonic()
    response = post_salesforce(stack, billion_laughs())
    elapsed = time.monotonic() - started
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["code"] == "malformed_body"
    assert "DTD" in response.json_body["error"]["message"]
    assert elapsed < 5  # 10^9 "lol"s (3 GB) were never built
    assert_stored_nothing(stack)


@pytest.mark.parametrize("kind", ["external_entity", "parameter_entity", "external_dtd"])
def test_external_entities_are_refused_and_never_fetched(stack: StackHarness, dtd_server: tuple[str, list[str]],
                                                         kind: str) -> None:
    url, hits = dtd_server
    doctype = {
        "external_entity": f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "{url}/entity">]>',
        "parameter_entity": f'<!DOCTYPE x [<!ENTITY % remote SYSTEM "{url}/param.dtd"> %remote;]>',
        "external_dtd": f'<!DOCTYPE soapenv:Envelope SYSTEM "{url}/evil.dtd">',
    }[kind]
    body = raw("salesforce_outbound.xml").replace(b'<?xml version="1.0" encoding="UTF-8"?>',
                                                   b'<?xml version="1.0" encoding="UTF-8"?>' + doctype.encode())
    if kind == "external_entity":
        body = body.replace(SALESFORCE_ORG_ID.encode(), b"&xxe;")
    response = post_salesforce(stack, body)
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["code"] == "malformed_body"
    assert hits == []
    assert_stored_nothing(stack)


def test_malformed_xml_is_400_and_not_salesforce_xml_too(stack: StackHarness) -> None:
    for body in (b"<soapenv:Envelope", b"<a><b/></a>", raw("salesforce_outbound.xml")[:-40]):
        response = post_salesforce(stack, body)
        assert response.status_code == 400, response.body
        assert response.json_body["error"]["code"] == "malformed_body"
    assert_stored_nothing(stack)


def test_json_is_415_for_a_salesforce_source(stack: StackHarness) -> None:
    token = stack.sources["demo-salesforce"]["token"]
    response = stack.client.http.post(f"/v1/webhooks/demo-salesforce?token={token}",
                                      headers={"Content-Type": "application/json"}, body=b"{}")
    assert response.status_code == 415


def test_a_message_above_256_kib_is_accepted(stack: StackHarness) -> None:
    # A full message (100 notifications of a few dozen fields, or long text areas) is ~300 KB of SOAP:
    # Salesforce sources get a 1 MiB limit, the JSON sources keep 256 KiB.
    long_text = "项目说明。" * 20_000  # 100,000 characters, 300 KB in UTF-8, in a field the mapping ignores
    body = raw("salesforce_outbound.xml").replace(
        b'<sf:Description xsi:nil="true"/>', f"<sf:Description>{long_text}</sf:Description>".encode(), 1)
    assert len(body) > 256 * 1024
    assert_acknowledged(post_salesforce(stack, body))
    assert all(contract_for_record(stack, r) for r in RECORDS)
    too_big = body.replace(b"</sf:Description>", long_text.encode() * 3 + b"</sf:Description>", 1)
    assert post_salesforce(stack, too_big).status_code == 413


def test_a_notification_with_only_id_is_acknowledged_for_enrichment(stack: StackHarness) -> None:
    # An outbound message whose only selected field is Id: the Contract is read through the REST API.
    message = raw("salesforce_outbound.xml").decode()
    start, end = message.index("<Notification>"), message.rindex("</Notification>") + len("</Notification>")
    notification = ("<Notification><Id>04l5g00000Dj9aAAAR</Id>"
                    '<sObject xsi:type="sf:Contract" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
                    "<sf:Id>8005g00000BcDeZAAV</sf:Id></sObject></Notification>")
    response = post_salesforce(stack, (message[:start] + notification + message[end:]).encode())
    assert_acknowledged(response)
    # The JSON answer of each notification is behind the SOAP ack: what was recorded tells.
    job = assert_enrichment_recorded(stack, "demo-salesforce", "8005g00000BcDeZAAV")
    assert (job["object_type"], job["record_id"], job["delivery_key"]) == (
        "Contract", "8005g00000BcDeZAAV", "salesforce:04l5g00000Dj9aAAAR")
