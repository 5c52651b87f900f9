"""Secrets fail closed: an empty or malformed secret is refused when stored and ignored when read
(with an ERROR log and a metric), so nobody can sign with an empty key. Before, an empty string in a
source's secret list was active: a HubSpot request signed with an empty key was accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from chalicelib.admin.sources import AdminError, add_source, rotate_secret
from chalicelib.core.secrets import secret_problem, usable_secrets
from devstack.crm_samples import hubspot_headers, raw
from tests.support.stack import StackHarness


def _store_secret_list(secret_id: str, values: list[Any]) -> None:
    from chalicelib.core.aws import client, reset_clients

    client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString=json.dumps({"secrets": values}))
    reset_clients()  # the 60 s secret cache


@pytest.mark.parametrize("value", ["", " ", "short", "x" * 15, f" {'x' * 20}", 12345678901234567890, None])
def test_what_cannot_be_a_secret(value: object) -> None:
    assert secret_problem(value) is not None
    assert usable_secrets([value], "test") == []


def test_a_secret_of_sixteen_characters_or_more_is_usable() -> None:
    assert usable_secrets(["x" * 16, "", "a-real-client-secret"], "test") == ["x" * 16, "a-real-client-secret"]


def test_a_hubspot_source_with_an_empty_stored_secret_refuses_an_empty_key(stack: StackHarness) -> None:
    from chalicelib.store.registry import get_source

    source = stack.sources["demo-hubspot"]
    secret_id = get_source("demo-hubspot").secret_id
    _store_secret_list(secret_id, [{"value": "", "expires_at": None}, "", source["secret"]])
    body = raw("hubspot_card.json")
    forged = stack.client.http.post("/v1/webhooks/demo-hubspot", body=body,
                                    headers=hubspot_headers("", source["webhook_url"], body))
    assert forged.status_code == 401, forged.body
    genuine = stack.client.http.post("/v1/webhooks/demo-hubspot", body=body,
                                     headers=hubspot_headers(source["secret"], source["webhook_url"], body))
    assert genuine.status_code in (200, 202), genuine.body


def test_connect_keys_with_an_empty_key_refuse_an_empty_key_signature(stack: StackHarness) -> None:
    from chalicelib.core.aws import client, reset_clients
    from chalicelib.core.config import settings

    client("secretsmanager").put_secret_value(SecretId=settings().docusign_connect_keys_secret,
                                              SecretString=json.dumps({"keys": [""]}))
    reset_clients()
    body = json.dumps({"event": "envelope-sent", "data": {"envelopeId": "e-1"}}).encode()
    signature = base64.b64encode(hmac.new(b"", body, hashlib.sha256).digest()).decode()
    answer = stack.client.http.post("/v1/esign/docusign/connect", body=body, headers={
        "Content-Type": "application/json", "X-DocuSign-Signature-1": signature})
    assert answer.status_code == 401, answer.body


@pytest.mark.parametrize("secret", ["", "   ", "too-short"])
def test_the_admin_refuses_to_store_a_weak_secret(stack: StackHarness, secret: str) -> None:
    with pytest.raises(AdminError, match="--secret refused"):
        add_source("weak-source", stack.tenant_id, "zoho", secret=secret)
    with pytest.raises(AdminError, match="--secret refused"):
        rotate_secret("demo-zoho", secret=secret)


def test_a_refused_event_is_logged_without_the_values_sent(stack: StackHarness,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """A Salesforce message is acknowledged whole; a notification refused in it is logged by its
    paths and code, not by what it carried (a callback URL may hold credentials)."""
    import logging

    from chalicelib.core.errors import ValidationFailed
    from chalicelib.intake.base import InboundEvent
    from chalicelib.intake.service import record_rejection
    from chalicelib.store.registry import get_source

    err = ValidationFailed("1 problem in the contract", [
        {"path": "contract.callback_url", "message": "must be an https URL (https://host/path)"}])
    event = InboundEvent(delivery_id="d-1", body={"contract": {"crm_record_id": "r-1",
                                                               "callback_url": "http://u:s3cr3t@x.example"}})
    with caplog.at_level(logging.ERROR):
        record_rejection(get_source("demo-salesforce"), event, err)
    logged = " ".join(str(r.__dict__) for r in caplog.records)
    assert "CRM event rejected" in logged and "contract.callback_url" in logged
    assert "s3cr3t" not in logged


def test_a_refused_request_is_logged_by_code_and_path_not_by_value(stack: StackHarness,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Security review finding 8: validation messages quote what was sent back to the sender (their
    own data), but the log line of a refused request names only the code and the paths."""
    import logging

    with caplog.at_level(logging.INFO):
        missing = stack.client.http.get("/v1/contracts/ctr_zzsecretzz", headers=stack.auth())
        bad = stack.client.http.get("/v1/analytics/summary?from=2027-02-30", headers=stack.auth())
    assert missing.status_code == 404 and "ctr_zzsecretzz" in missing.json_body["error"]["message"]
    assert bad.status_code == 400
    lines = [r for r in caplog.records if r.getMessage() == "request refused"]
    assert len(lines) == 2, [r.getMessage() for r in caplog.records]
    logged = " ".join(str(r.__dict__) for r in lines)
    assert "not_found" in logged and "'from'" in logged and "bad_request" in logged
    assert "zzsecretzz" not in logged and "2027-02-30" not in logged
