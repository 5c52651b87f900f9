"""Helpers shared by the test_crm_* modules (no tests here): posting a CRM's native request to the
app the way that CRM would, and checking that a refused request stored nothing."""

from __future__ import annotations

from typing import Any

from devstack.crm_samples import basic_auth_headers, salesforce_headers, token_headers
from tests.support.hubspot_signing import hubspot_v3_headers
from tests.support.stack import StackHarness, timeline_event_count


def post(stack: StackHarness, source_id: str, body: bytes, headers: dict[str, str], query: str = "") -> Any:
    return stack.client.http.post(f"/v1/webhooks/{source_id}{query}", headers=headers, body=body)


def post_hubspot(stack: StackHarness, body: bytes, *, secret: str | None = None,
                 timestamp_ms: int | None = None, url: str | None = None) -> Any:
    source = stack.sources["demo-hubspot"]
    # Signed the way HubSpot documents it (tests/support/hubspot_signing.py), not with our verifier.
    headers = hubspot_v3_headers(secret or source["secret"], url or source["webhook_url"], body,
                                 timestamp_ms=timestamp_ms)
    return post(stack, "demo-hubspot", body, headers)


def post_salesforce(stack: StackHarness, body: bytes, *, token: str | None = None) -> Any:
    token = stack.sources["demo-salesforce"]["token"] if token is None else token
    return post(stack, "demo-salesforce", body, salesforce_headers(), f"?token={token}")


def post_zoho(stack: StackHarness, body: bytes, *, token: str | None = None,
              content_type: str = "application/json") -> Any:
    return post(stack, "demo-zoho", body, token_headers(token or stack.sources["demo-zoho"]["token"], content_type))


def post_fxiaoke(stack: StackHarness, body: bytes, *, token: str | None = None) -> Any:
    return post(stack, "demo-fxiaoke", body, token_headers(token or stack.sources["demo-fxiaoke"]["token"]))


def post_pipedrive(stack: StackHarness, body: bytes, *, password: str | None = None) -> Any:
    source = stack.sources["demo-pipedrive"]
    return post(stack, "demo-pipedrive", body, basic_auth_headers(source["username"], password or source["password"]))


def stored_keys(prefixes: tuple[str, ...] = ("crm#", "delivery#", "rejected#")) -> list[str]:
    from chalicelib.store.models import KeyRecord

    return [k.key for k in KeyRecord.scan() if k.key.startswith(prefixes)]


def assert_stored_nothing(stack: StackHarness) -> None:
    from chalicelib.store.models import ContractRecord

    assert sum(1 for _ in ContractRecord.scan()) == 0
    assert timeline_event_count() == 0
    assert stored_keys() == []
    assert stack.drain_jobs() == 0


def stored_document(stack: StackHarness, contract_id: str) -> dict[str, Any]:
    from chalicelib.store.contracts import get_contract

    return get_contract(stack.tenant_id, contract_id).document


def contract_for_record(stack: StackHarness, crm_record_id: str) -> Any:
    from chalicelib.store.contracts import find_by_crm_record

    return find_by_crm_record(stack.tenant_id, crm_record_id)


def enrichment_requests(source_id: str) -> dict[str, Any]:
    """The recorded enrichment requests of a source: delivery id -> what was recorded."""
    from chalicelib.store.models import KeyRecord

    prefix = f"enrichment#{source_id}#"
    return {k.key[len(prefix):]: k.detail for k in KeyRecord.scan() if k.key.startswith(prefix)}


def queued_jobs(stack: StackHarness, job: str) -> list[dict[str, Any]]:
    """Takes every queued message of one job kind off the jobs queue (without running them)."""
    import json

    taken: list[dict[str, Any]] = []
    while True:
        try:
            message = stack.receive_job(job)
        except AssertionError:
            return taken
        taken.append(json.loads(message["Body"]))
        stack.ack_job(message)


def assert_enrichment_pending(stack: StackHarness, response: Any, source_id: str, record_id: str) -> dict[str, Any]:
    """202 enrichment_pending, recorded once with its job queued, and no contract (yet)."""
    assert response.status_code == 202, response.body
    body = response.json_body
    assert (body["status"], body["crm_record_id"]) == ("enrichment_pending", record_id)
    job = assert_enrichment_recorded(stack, source_id, record_id)
    assert job["delivery_key"] == body["delivery_id"]
    return job


def assert_enrichment_recorded(stack: StackHarness, source_id: str, record_id: str) -> dict[str, Any]:
    """One enrichment request recorded for the source, the same in its queued job; no contract."""
    from chalicelib.store.models import ContractRecord

    [(delivery_id, recorded)] = enrichment_requests(source_id).items()
    [job] = queued_jobs(stack, "enrich")
    assert job == {"job": "enrich", **recorded}
    assert (job["source_id"], job["record_id"], job["delivery_key"]) == (source_id, record_id, delivery_id)
    assert sum(1 for _ in ContractRecord.scan()) == 0
    return job
