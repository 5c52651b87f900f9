"""Payloads the CRM vendors documented, fed through the adapters (and, where it matters, the app).
Expected values come from the vendor files in tests/fixtures/crm_vendor/ (sources and licences in
its README.md), never from what our code produced.

- HubSpot: the request-signature vectors HubSpot published (docs pages v1/v2, the Apache-2.0
  hubspot-api-python tests) and the documented webhook event of the v1 page.
- Salesforce: an Outbound Messaging message from aspnet/WebHooks (Apache-2.0).
- Pipedrive: the examples of Pipedrive's own API v2 OpenAPI document (deal, dealFields), in the
  webhooks v2 envelope and custom-field shapes of https://pipedrive.readme.io/docs/guide-for-webhooks-v2.
- Zoho CRM and 纷享销客 publish no webhook payload (see the README): their id-only tests use the
  documented id formats (tests/integration/test_crm_zoho.py, test_crm_fxiaoke.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.errors import Unauthorized
from chalicelib.intake.base import InboundEvent, InboundRequest, NeedsEnrichment
from chalicelib.intake.hubspot import HubSpotAdapter, expected_urls
from chalicelib.intake.pipedrive import PipedriveAdapter
from chalicelib.intake.salesforce import parse_outbound_message
from chalicelib.intake.signatures import verify_hubspot_v3
from chalicelib.store.registry import Source
from devstack.crm_samples import salesforce_headers
from tests.integration.test_crm_helpers import enrichment_requests, post, queued_jobs
from tests.support.hubspot_signing import hubspot_v3_headers
from tests.support.stack import StackHarness

VENDOR = Path(__file__).resolve().parents[1] / "fixtures" / "crm_vendor"
HUBSPOT_VECTORS = json.loads((VENDOR / "hubspot" / "signature-test-vectors.json").read_text())
SALESFORCE_MESSAGE = (VENDOR / "salesforce" / "outbound-notifications-3-leads.xml").read_bytes()
PIPEDRIVE = json.loads((VENDOR / "pipedrive" / "openapi-v2-examples.json").read_text())


@dataclass(frozen=True)
class FixedSecrets(Source):
    """A source whose secrets are given rather than read from Secrets Manager."""

    fixed_secrets: tuple[str, ...] = ()

    def secrets(self) -> list[str]:
        return list(self.fixed_secrets)


def given_secrets(kind: str, secrets: tuple[str, ...], **options: Any) -> FixedSecrets:
    return FixedSecrets(source_id=f"vendor-{kind}", tenant_id="demo", kind=kind, secret_id="unused", options=options,
                        fixed_secrets=secrets)


def hubspot_vector(version: str, group: str = "hubspot-published") -> dict[str, Any]:
    return next(v for v in HUBSPOT_VECTORS[group] if v["version"] == version)


def inbound(url: str, headers: dict[str, str], body: bytes,
            items: tuple[tuple[str, str], ...] = ()) -> InboundRequest:
    return InboundRequest(method="POST", url=url, headers=headers, raw_body=body, query=dict(items),
                          query_items=items)


# --- HubSpot ------------------------------------------------------------------------------------------


def test_hubspot_published_v3_vector_verifies_through_the_adapters_url() -> None:
    v = hubspot_vector("v3")
    headers = {"X-HubSpot-Signature-v3": v["expected"], "X-HubSpot-Request-Timestamp": v["timestamp"]}
    request = inbound(v["uri"], headers, v["body"].encode())
    urls = expected_urls(given_secrets("hubspot", (v["client_secret"],)), request)
    verify_hubspot_v3([v["client_secret"]], headers, v["method"], urls, request.raw_body,
                      now_ms=int(v["timestamp"]) + 1)
    with pytest.raises(Unauthorized):
        tampered = v["body"].replace("example_value", "other_value").encode()
        verify_hubspot_v3([v["client_secret"]], headers, v["method"], urls, tampered, now_ms=int(v["timestamp"]))


def test_hubspot_vector_with_a_query_string_verifies_from_decoded_parameters() -> None:
    # API Gateway (REST) gives the decoded parameters only; the vector signs "?source=workflow".
    v = hubspot_vector("v3", "authored")
    base, _, query = v["uri"].partition("?")
    headers = {"X-HubSpot-Signature-v3": v["expected"], "X-HubSpot-Request-Timestamp": v["timestamp"]}
    request = inbound(base, headers, v["body"].encode(), tuple(tuple(p.split("=")) for p in query.split("&")))
    urls = expected_urls(given_secrets("hubspot", (v["client_secret"],)), request)
    verify_hubspot_v3([v["client_secret"]], headers, v["method"], urls, request.raw_body,
                      now_ms=int(v["timestamp"]))


def test_hubspot_documented_webhook_event_goes_through_the_app(stack: StackHarness) -> None:
    # The body of HubSpot's v1 example (a contact.creation event), signed v3 as HubSpot documents it
    # and carrying the published v1 header too: verified on v3, then acknowledged as not about a deal.
    v1 = hubspot_vector("v1")
    body = v1["body"].encode()
    source = stack.sources["demo-hubspot"]
    headers = {**hubspot_v3_headers(source["secret"], source["webhook_url"], body),
               "X-HubSpot-Signature": v1["expected"], "X-HubSpot-Signature-Version": "v1"}
    response = post(stack, "demo-hubspot", body, headers)
    assert response.status_code == 200, response.body
    assert response.json_body == {"status": "ignored", "reason": "contact.creation is not about a deal"}
    # The v1 signature alone (no timestamp, no URL) is not enough.
    older = {"Content-Type": "application/json", "X-HubSpot-Signature": v1["expected"],
             "X-HubSpot-Signature-Version": "v1"}
    assert post(stack, "demo-hubspot", body, older).status_code == 401


def test_hubspot_documented_event_without_the_right_secret_is_refused() -> None:
    v1 = hubspot_vector("v1")
    body = v1["body"].encode()
    url = "https://hooks.yunti.example/v1/webhooks/demo-hubspot"
    headers = hubspot_v3_headers(v1["client_secret"], url, body, timestamp_ms=int(time.time() * 1000))
    with pytest.raises(Unauthorized):
        HubSpotAdapter().verify(given_secrets("hubspot", ("another-secret",)), inbound(url, headers, body))


# --- Salesforce ---------------------------------------------------------------------------------------


def test_salesforce_message_parses_as_published() -> None:
    message = parse_outbound_message(SALESFORCE_MESSAGE)
    assert (message["OrganizationId"], message["ActionId"]) == ("0123456789ABCDENNN", "05h370200108OsUAAU")
    assert [(n["Id"], n["sObject"]["type"], n["sObject"]["Id"], n["sObject"]["LastName"])
            for n in message["Notification"]] == [
        ("04l37000000L0E5AAK", "Lead1", "0123456789ABCDEEAE", "Nielsen"),
        ("14l37000123L0E5AAK", "Lead2", "1123456789ABCDEEAE", "Nielsen"),
        ("24l37123450L0E5AAK", "Lead3", "2123456789ABCDEEAE", "Nielsen")]


def test_salesforce_message_through_the_app_is_acknowledged(stack: StackHarness) -> None:
    # Its Leads hold none of the fields the Contract mapping reads: each notification is recorded for
    # enrichment (nothing refused), and Salesforce gets its acknowledgement.
    from chalicelib.admin.sources import add_source

    info = add_source("vendor-salesforce", stack.tenant_id, "salesforce",
                      options={"organization_id": "0123456789ABCDENNN"}, base_url=stack.api_url)
    response = post(stack, "vendor-salesforce", SALESFORCE_MESSAGE, salesforce_headers(), f"?token={info.secret}")
    assert response.status_code == 200, response.body
    assert b"<Ack>true</Ack>" in response.body
    recorded = enrichment_requests("vendor-salesforce")
    assert sorted(recorded) == ["salesforce:04l37000000L0E5AAK", "salesforce:14l37000123L0E5AAK",
                                "salesforce:24l37123450L0E5AAK"]
    assert sorted((r["object_type"], r["record_id"]) for r in recorded.values()) == [
        ("Lead1", "0123456789ABCDEEAE"), ("Lead2", "1123456789ABCDEEAE"), ("Lead3", "2123456789ABCDEEAE")]
    # The session id the message carries is never passed on to the job.
    assert all("SessionId" not in r["context"] for r in recorded.values())
    assert all(r["context"]["OrganizationId"] == "0123456789ABCDENNN" for r in recorded.values())
    assert len(queued_jobs(stack, "enrich")) == 3


# --- Pipedrive ----------------------------------------------------------------------------------------

OPTION_FIELD = PIPEDRIVE["get_deal_fields_example"]["data"][2]  # "Priority", an enum with options 1-3


def pipedrive_webhook(custom_value: Any) -> bytes:
    """Pipedrive's documented deal, as a webhooks v2 delivery would carry it: `data` holds the deal's
    core fields, custom fields as {"type", ...}, and `meta` the documented keys."""
    deal = dict(PIPEDRIVE["get_deal_example"]["data"])
    deal["custom_fields"] = {OPTION_FIELD["field_code"]: custom_value}
    meta = {"action": "change", "entity": "deal", "entity_id": str(deal["id"]), "id": "evt-vendor-1",
            "version": "2.0", "host": "company.pipedrive.com", "company_id": "1", "change_source": "app",
            "attempt": 1, "timestamp": "2021-01-01T00:00:00.000Z"}
    return json.dumps({"meta": meta, "data": deal, "previous": {"stage_id": 2}}).encode()


def pipedrive_source(**options: Any) -> FixedSecrets:
    return given_secrets("pipedrive", ("pw",), username="signbridge", contract_stage_id=1,
                        custom_fields={"contract_type": OPTION_FIELD["field_code"]}, **options)


def test_pipedrive_documented_deal_with_an_option_id_needs_its_label() -> None:
    assert (OPTION_FIELD["field_type"], OPTION_FIELD["is_custom_field"]) == ("enum", True)
    [item] = PipedriveAdapter().parse(pipedrive_source(), inbound("https://x", {}, pipedrive_webhook(
        {"type": "enum", "id": 2})), None)
    assert isinstance(item, NeedsEnrichment)
    assert (item.record_id, item.object_type, item.delivery_key) == ("1", "deal", "pipedrive:evt-vendor-1")
    assert item.context["unresolved_fields"] == {
        "contract_type": {"field": OPTION_FIELD["field_code"], "type": "enum", "ids": [2]}}


@pytest.mark.parametrize(("value", "expected"), [
    ({"type": "enum", "id": 2}, "Medium"),
    ({"type": "set", "values": [{"id": 1}, {"id": 3}]}, ["Low", "High"]),
])
def test_pipedrive_documented_deal_maps_with_the_documented_option_labels(value: Any, expected: Any) -> None:
    # The labels a source would copy from GET /api/v2/dealFields (Pipedrive's own example).
    labels = {"contract_type": {str(o["id"]): o["label"] for o in OPTION_FIELD["options"]}}
    src = pipedrive_source(option_labels=labels)
    [item] = PipedriveAdapter().parse(src, inbound("https://x", {}, pipedrive_webhook(value)), None)
    assert isinstance(item, InboundEvent)
    contract = item.body["contract"]
    assert contract["type"] == expected  # a label the mapping's value table does not know: validation names it
    # The deal's own fields, as Pipedrive's example has them.
    assert (contract["crm_record_id"], contract["title"], contract["amount"], contract["currency"]) == (
        "1", "Deal Title", "200", "USD")
    assert contract["signing_date"] == "2021-01-01"  # expected_close_date
