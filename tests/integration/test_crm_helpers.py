"""Helpers shared by the test_crm_* modules (no tests here): posting a CRM's native request to the
app the way that CRM would, and checking that a refused request stored nothing."""

from __future__ import annotations

from typing import Any

from devstack.crm_samples import basic_auth_headers, hubspot_headers, salesforce_headers, token_headers
from tests.support.stack import StackHarness


def post(stack: StackHarness, source_id: str, body: bytes, headers: dict[str, str], query: str = "") -> Any:
    return stack.client.http.post(f"/v1/webhooks/{source_id}{query}", headers=headers, body=body)


def post_hubspot(stack: StackHarness, body: bytes, *, secret: str | None = None,
                 timestamp_ms: int | None = None, url: str | None = None) -> Any:
    source = stack.sources["demo-hubspot"]
    headers = hubspot_headers(secret or source["secret"], url or source["webhook_url"], body,
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
    from chalicelib.store.models import ContractRecord, EventRecord

    assert sum(1 for _ in ContractRecord.scan()) == 0
    assert sum(1 for _ in EventRecord.scan()) == 0
    assert stored_keys() == []
    assert stack.drain_jobs() == 0


def stored_document(stack: StackHarness, contract_id: str) -> dict[str, Any]:
    from chalicelib.store.contracts import get_contract

    return get_contract(stack.tenant_id, contract_id).document


def contract_for_record(stack: StackHarness, crm_record_id: str) -> Any:
    from chalicelib.store.contracts import find_by_crm_record

    return find_by_crm_record(stack.tenant_id, crm_record_id)
