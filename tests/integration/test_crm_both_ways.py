"""CRMs both ways (issue 13), for HubSpot, Pipedrive, Zoho, Salesforce and 纷享销客 on the in-process stack
with each CRM's API double (devstack/crm_apis) in this process:

- a webhook carrying only the record's id is answered 202 enrichment_pending; the `enrich` job reads
  the record through the CRM's API and creates the contract the record describes (the expected
  values are read from the double's own records, not from our output);
- once every signer signed, the double has received the write-back of the status and of the stable
  signed-document link, once per change (no state written twice);
- a CRM API that is down or rate-limited delays enrichment or write-back and loses nothing.

The doubles are checked against the vendors' descriptions in tests/crm_doubles; the webhook bodies
here are the id-only ones each CRM can send (HubSpot workflow "Send a webhook" with the deal id,
Pipedrive v2 with an option field as an option id, a Zoho workflow webhook `{"id": …}`, a Salesforce
outbound message selecting only Id, a 纷享销客 function posting only the object's id)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from devstack.crm_apis import SEED_IDS, serve_all
from devstack.crm_apis.seed import PIPEDRIVE_FIELDS
from devstack.crm_samples import connect_crm_apis, dumps, load, pipedrive_writeback_fields, raw
from tests.integration.test_crm_helpers import (
    post_fxiaoke,
    post_hubspot,
    post_pipedrive,
    post_salesforce,
    post_zoho,
)
from tests.support.stack import StackHarness, sign_as

HTTP = urllib3.PoolManager()
CRMS = ("hubspot", "pipedrive", "zoho", "salesforce", "fxiaoke")
PD_CODE = {f["field_name"]: f["field_code"] for f in PIPEDRIVE_FIELDS}


@pytest.fixture(scope="module")
def doubles() -> Iterator[dict[str, str]]:
    urls, stop = serve_all()
    yield urls
    stop()


@pytest.fixture
def crm_apis(stack: StackHarness, doubles: dict[str, str]) -> dict[str, str]:
    """Each double back to its seeded records; the demo sources pointed at them with their credential."""
    for url in doubles.values():
        control(url, "POST", "/_reset")
    from chalicelib.crm import api

    api.reset_caches()
    connect_crm_apis(doubles)
    return doubles


def control(url: str, method: str, path: str, body: Any = None) -> Any:
    response = HTTP.request(method, url + path, body=json.dumps(body) if body is not None else None,
                            headers={"Content-Type": "application/json"})
    assert response.status < 300, (method, path, response.status, response.data[:300])
    return json.loads(response.data) if response.data else None


def double_record(url: str, kind: str, record_id: str | int) -> dict[str, Any]:
    return dict(control(url, "GET", f"/_records?type={kind}")[str(record_id)])


# --- per CRM: the id-only webhook, what the record says, how a write-back looks -------------------------

def post_id_only(stack: StackHarness, crm: str) -> Any:
    if crm == "hubspot":  # a workflow's "Send a webhook" with only the deal's id
        return post_hubspot(stack, dumps({"hs_object_id": SEED_IDS["hubspot"]["deal"]}))
    if crm == "pipedrive":  # a v2 deal event whose Contract type arrives as an option id
        deal = load("pipedrive_deal.json")
        deal["data"]["id"] = SEED_IDS["pipedrive"]["deal"]
        deal["data"]["custom_fields"][PD_CODE["Contract type"]] = {"type": "enum", "id": 31}
        return post_pipedrive(stack, dumps(deal))
    if crm == "zoho":  # a workflow webhook whose body is {"id": "${Deals.Deal Id}"}
        return post_zoho(stack, dumps({"id": SEED_IDS["zoho"]["deal"], "event": "created"}))
    if crm == "fxiaoke":  # the APL function posting only the object and its id
        return post_fxiaoke(stack, dumps({"objectApiName": "SaleContractObj", "id": SEED_IDS["fxiaoke"]["contract"],
                                          "eventId": "fx-evt-both-ways-1"}))
    # An outbound message whose only selected field is Id (the sample, its sObject cut down).
    message = raw("salesforce_outbound.xml").decode()
    start, end = message.index("<sObject"), message.index("</sObject>")
    head = message[start:message.index(">", start) + 1]
    only_id = f"{head}<sf:Id>{SEED_IDS['salesforce']['contract']}</sf:Id>"
    return post_salesforce(stack, (message[:start] + only_id + message[end:]).encode())


def expected(url: str, crm: str) -> tuple[str, str, str]:
    """(crm_record_id, number, amount) as the double's record holds them."""
    ids = SEED_IDS[crm]
    if crm == "hubspot":
        props = double_record(url, "deals", ids["deal"])["properties"]
        return str(ids["deal"]), props["contract_number"], props["amount"]
    if crm == "pipedrive":
        deal = double_record(url, "deals", ids["deal"])
        return str(ids["deal"]), deal["custom_fields"][PD_CODE["Contract number"]], str(deal["value"])
    if crm == "zoho":
        deal = double_record(url, "Deals", ids["deal"])
        return str(ids["deal"]), deal["Contract_Number"], str(deal["Amount"])
    if crm == "fxiaoke":
        record = double_record(url, "SaleContractObj", ids["contract"])
        return str(ids["contract"]), record["name"], str(record["contract_amount"])
    contract = double_record(url, "Contract", ids["contract"])
    return str(ids["contract"]), contract.get("Contract_Number__c") or contract["ContractNumber"], \
        str(contract["Amount__c"])


def writes(url: str, crm: str) -> list[dict[str, Any]]:
    """Each write-back the double accepted, as {logical field: value}."""
    found = []
    for call in control(url, "GET", "/_requests"):
        body = call.get("body")
        if not isinstance(call.get("status"), int) or call["status"] >= 300:
            continue
        if crm == "hubspot" and call["method"] == "PATCH":
            props = body["properties"]
            found.append({"status": props.get("signbridge_status"),
                          "signed_document_url": props.get("signbridge_signed_document_url") or None})
        elif crm == "pipedrive" and call["method"] == "PATCH":
            fields = body.get("custom_fields") or {}
            codes = pipedrive_writeback_fields()
            status_options = {o["id"]: o["label"] for f in PIPEDRIVE_FIELDS if f["field_name"] == "Signature status"
                              for o in f["options"]}
            found.append({"status": status_options.get(fields.get(codes["status"]), fields.get(codes["status"])),
                          "signed_document_url": fields.get(codes["signed_document_url"]) or None})
        elif crm == "zoho" and call["method"] == "PUT":
            [item] = body["data"]
            found.append({"status": item.get("Signbridge_Status"),
                          "signed_document_url": item.get("Signbridge_Signed_Document_URL") or None})
        elif crm == "fxiaoke" and call["path"].endswith("/data/update"):
            data = body["data"]["object_data"]
            found.append({"status": data.get("field_signbridge_status__c"),
                          "signed_document_url": data.get("field_signbridge_signed_document_url__c") or None})
        elif crm == "salesforce" and call["method"] == "PATCH":
            found.append({"status": body.get("Signbridge_Status__c"),
                          "signed_document_url": body.get("Signbridge_Signed_Document_URL__c") or None})
    return found


def contract_of(stack: StackHarness, crm_record_id: str) -> Any:
    from chalicelib.store.contracts import find_by_crm_record

    return find_by_crm_record(stack.tenant_id, crm_record_id)


def drive_until(stack: StackHarness, done: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        stack.drain_jobs(max_rounds=200)
        stack.settle_connect(strict=False)
        time.sleep(0.1)


def sign_everything(stack: StackHarness, contract_id: str) -> dict[str, Any]:
    contract = stack.get_contract(contract_id)
    for position in range(1, len(contract["signers"]) + 1):
        drive_until(stack, lambda p=position: _turn_of(stack, contract_id, p))
        status, _ = sign_as(stack, contract_id, position)
        assert status in (200, 302, 303), status
    drive_until(stack, lambda: stack.get_contract(contract_id)["status"] == "active")
    return stack.get_contract(contract_id)


def _turn_of(stack: StackHarness, contract_id: str, position: int) -> bool:
    contract = stack.get_contract(contract_id)
    if not contract.get("envelope_id"):
        return False
    if contract["signers"][position - 1]["delivery"] == "embedded":
        return contract["status"] in ("sent", "delivered")
    envelope = stack.sandbox("GET", f"/sandbox/envelopes/{contract['envelope_id']}")
    recipient = next(r for r in envelope["recipients"] if str(r["recipientId"]) == str(position))
    return bool(recipient.get("signing_url"))


# --- must-show 1 ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("crm", CRMS)
def test_an_id_only_webhook_becomes_the_records_contract_and_signing_is_written_back(
        stack: StackHarness, crm_apis: dict[str, str], crm: str) -> None:
    url = crm_apis[crm]
    record_id, number, amount = expected(url, crm)

    response = post_id_only(stack, crm)
    assert response.status_code in (200, 202), response.body
    if crm != "salesforce":  # Salesforce gets its SOAP acknowledgement; the others say why it waits
        assert response.json_body["status"] == "enrichment_pending"
    assert contract_of(stack, record_id) is None  # nothing made before the CRM's API was read

    drive_until(stack, lambda: contract_of(stack, record_id) is not None)
    record = contract_of(stack, record_id)
    assert record.number == number
    assert float(record.document["amount"]) == float(amount)
    reads = [c for c in control(url, "GET", "/_requests") if c["method"] == "GET" or c["path"].endswith("/data/get")]
    assert reads, "the record was not read from the CRM's API"

    done = sign_everything(stack, record.contract_id)
    assert done["status"] == "active"
    written = writes(url, crm)
    assert written, f"no write-back reached {crm}"
    # Once per change: the contract's states, in order, none written twice in a row.
    bodies = [json.dumps(c["body"], sort_keys=True) for c in control(url, "GET", "/_requests")
              if (c["method"] in ("PATCH", "PUT") or c["path"].endswith("/data/update")) and (c["status"] or 500) < 300]
    assert len(set(bodies)) == len(bodies), "\n".join(bodies)
    statuses = [w["status"] for w in written]
    assert any(s in ("sent", "Sent") for s in statuses), statuses
    timeline = stack.timeline_types(record.contract_id)
    assert "crm_writeback_refused" not in timeline
    assert timeline.count("crm_written_back") == len(written)  # each write the CRM accepted, on the timeline
    last = written[-1]
    assert last["signed_document_url"], written
    assert all(w["signed_document_url"] is None for w in written[:-1])  # only once it exists
    # The stable link opens the archived PDF through a fresh short-lived URL.
    path = last["signed_document_url"].split("://", 1)[1].split("/", 1)[1]
    opened = stack.client.http.get("/" + path)
    assert opened.status_code == 302, opened.body
    assert done["documents"]["signed"]["sha256"]
    # A later job for the same state (a repeat of the last change) writes nothing.
    from chalicelib.core.aws import enqueue
    from chalicelib.notify.crm_writeback import JOB

    before = len(written)
    enqueue({"job": JOB, "tenant_id": stack.tenant_id, "contract_id": record.contract_id,
             "source_id": record.source_id, "attempt": 1})
    stack.drain_jobs()
    assert len(writes(url, crm)) == before


# --- must-show 3 ----------------------------------------------------------------------------------------

def test_a_crm_rate_limiting_the_read_delays_the_contract_and_loses_nothing(
        stack: StackHarness, crm_apis: dict[str, str]) -> None:
    """Pipedrive's 429 says when its 2-second window resets (`x-ratelimit-reset: 2`): the job comes
    back no sooner, on its next attempt, and the contract is made then."""
    url = crm_apis["pipedrive"]
    record_id, number, _ = expected(url, "pipedrive")
    control(url, "POST", "/_faults", {"mode": "rate_limited", "count": 1})
    assert post_id_only(stack, "pipedrive").status_code == 202
    started = time.monotonic()
    stack.drain_jobs()  # the read meets the 429: the job is queued again, for after the reset
    assert contract_of(stack, record_id) is None
    drive_until(stack, lambda: contract_of(stack, record_id) is not None)
    assert time.monotonic() - started >= 2.0  # not asked again before the window reset
    assert contract_of(stack, record_id).number == number
    attempts = [json.loads(b).get("attempt", 1) for b in stack.job_log if json.loads(b)["job"] == "enrich"]
    assert sorted(attempts) == [1, 2]  # it waited once and came back
    refused = [c for c in control(url, "GET", "/_requests") if c["status"] == 429]
    assert len(refused) == 1


def test_a_crm_down_during_write_back_delays_it_and_loses_nothing(
        stack: StackHarness, crm_apis: dict[str, str]) -> None:
    url = crm_apis["zoho"]
    record_id, _, _ = expected(url, "zoho")
    post_id_only(stack, "zoho")
    drive_until(stack, lambda: contract_of(stack, record_id) is not None)
    record = contract_of(stack, record_id)
    control(url, "POST", "/_faults", {"mode": "down", "count": 3, "method": "PUT"})
    done = sign_everything(stack, record.contract_id)
    drive_until(stack, lambda: bool(writes(url, "zoho")) and bool(writes(url, "zoho")[-1]["signed_document_url"]))
    assert done["status"] == "active"
    refused = [c for c in control(url, "GET", "/_requests") if c["method"] == "PUT" and c["status"] == 503]
    assert len(refused) == 3  # the three failures were real, and were retried
    from chalicelib.core.aws import client, queue_url
    from chalicelib.core.config import settings

    dlq = client("sqs").get_queue_attributes(QueueUrl=queue_url(settings().jobs_queue_name + "-dlq"),
                                             AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert dlq["ApproximateNumberOfMessages"] == "0"
