"""Helpers for the e-signature tests: contract bodies from the fixtures, sending one through the
real pipeline (webhook → send job → SDK → sandbox), and reading what DocuSign holds."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from tests.support.stack import StackHarness

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"


def webhook_body(name: str, *, crm_record_id: str, signers: list[dict[str, Any]] | None = None,
                 cc: list[dict[str, str]] | None = None, callback_url: str | None = None) -> dict[str, Any]:
    """A webhook body from tests/fixtures/contracts/<name>.json with its CRM id (and signers) replaced.
    The fixtures' callback URLs point at hosts that do not resolve: only a given one is kept."""
    body = copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))
    body["contract"]["crm_record_id"] = crm_record_id
    body["contract"].pop("callback_url", None)
    if callback_url is not None:
        body["contract"]["callback_url"] = callback_url
    if signers is not None:
        body["contract"]["signers"] = signers
    if cc is not None:
        body["contract"]["cc"] = cc
    return body


def signer(name: str, email: str, routing_order: int, delivery: str = "embedded",
           party: str = "counterparty") -> dict[str, Any]:
    return {"party": party, "name": name, "email": email, "routing_order": routing_order, "delivery": delivery}


def submit(stack: StackHarness, body: dict[str, Any]) -> str:
    response = stack.post_webhook(body)
    assert response.status_code == 202, response.body
    return str(response.json_body["contract_id"])


def send(stack: StackHarness, body: dict[str, Any]) -> dict[str, Any]:
    """Posts the contract and runs the jobs until it is sent; returns the contract."""
    contract_id = submit(stack, body)
    return stack.wait_status(contract_id, "sent")


def signing_link(stack: StackHarness, contract_id: str, position: int) -> dict[str, Any]:
    response = stack.client.http.get(f"/v1/contracts/{contract_id}/signing-link?signer={position}",
                                     headers=stack.auth())
    assert response.status_code == 200, response.body
    return response.json_body


def envelope_api() -> tuple[Any, str]:
    """An EnvelopesApi logged in to the sandbox the way the app is (its token, its account)."""
    from docusign_esign import ApiClient, EnvelopesApi

    from chalicelib.esign.auth import get_session

    session = get_session()
    client = ApiClient(host=session.rest_host)
    client.set_default_header("Authorization", f"Bearer {session.access_token}")
    return EnvelopesApi(client), session.account_id


def combined_pdf_via_sdk(envelope_id: str) -> bytes:
    """The combined PDF (documents + certificate of completion) fetched independently of the app's
    archive job, straight through the SDK."""
    api, account_id = envelope_api()
    data = api.get_document(account_id, "combined", envelope_id, certificate="true", _request_timeout=(3, 30))
    assert isinstance(data, bytes)
    return data
