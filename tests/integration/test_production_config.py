"""A deployed stage missing a required setting fails closed at run time: GET /health answers 503
naming what is missing (never the values), every other route answers 503 `not_configured` before its
view runs, jobs wait in the queue untouched and scheduled runs do nothing, so DocuSign never gets a
loopback Connect URL nor a signer a localhost link. Here the local stack's own settings play the
misconfigured stage: inside Lambda (AWS_LAMBDA_FUNCTION_NAME set) they are all placeholders."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.config import reset_settings
from tests.support.logs import captured_logs
from tests.support.stack import StackHarness

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"
PLACEHOLDERS = ["DOCUSIGN_OAUTH_BASE", "SIGNBRIDGE_ALLOW_PRIVATE_CALLBACKS", "SIGNBRIDGE_ARCHIVE_BUCKET",
                "SIGNBRIDGE_MAIL_FROM", "SIGNBRIDGE_PUBLIC_BASE_URL", "SIGNBRIDGE_SES_CONFIGURATION_SET"]


@pytest.fixture
def in_lambda(stack: StackHarness, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackHarness]:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "signbridge-local-api_handler")
    reset_settings()
    yield stack
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    reset_settings()


def metric_names(out: str) -> list[str]:
    return [m["Name"] for line in out.splitlines() if line.startswith('{"_aws"')
            for m in json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]]


def sales_body(crm_record_id: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((SAMPLES / "sales.json").read_text())
    body["contract"]["crm_record_id"] = crm_record_id
    return body


def test_health_names_what_is_missing_and_never_the_values(in_lambda: StackHarness) -> None:
    response = in_lambda.client.http.get("/health")
    assert response.status_code == 503
    error = response.json_body["error"]
    assert error["code"] == "not_configured"
    assert [d["path"] for d in error["details"]] == PLACEHOLDERS
    assert {d["message"] for d in error["details"]} <= {
        "missing", "not an https URL", "a placeholder (loopback, private or example host)",
        "a placeholder (example domain)", "not an https URL (the local sandbox's?)",
        "must not be set in a deployed stage"}
    body = response.body.decode()
    for name in ("SIGNBRIDGE_PUBLIC_BASE_URL", "SIGNBRIDGE_MAIL_FROM", "DOCUSIGN_OAUTH_BASE"):
        assert os.environ[name] not in body  # names, never values
    assert "127.0.0.1" not in body


def test_every_route_refuses_before_its_view_runs(in_lambda: StackHarness, capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.store import contracts as store

    capsys.readouterr()
    with captured_logs() as logs:
        webhook = in_lambda.post_webhook(sales_body("deal-prod-1"))
        connect = in_lambda.client.http.post("/v1/esign/docusign/connect", body=b"{}",
                                             headers={"Content-Type": "application/json"})
        listing = in_lambda.client.http.get("/v1/contracts", headers=in_lambda.auth())
        link = in_lambda.client.http.get("/v1/contracts/ctr_00/signing-link?signer=1", headers=in_lambda.auth())
    for response in (webhook, connect, listing, link):
        assert response.status_code == 503, response.body
        assert response.json_body["error"]["code"] == "not_configured"
        assert response.headers["Retry-After"] == "300"  # CRMs and DocuSign deliver again later
    assert store.find_by_crm_record(in_lambda.tenant_id, "deal-prod-1") is None  # nothing was taken in
    refusals = logs.named("request refused: required settings missing")
    assert [r["route"] for r in refusals] == ["crm_webhook", "docusign_connect", "list_contracts", "signing_link"]
    assert all(r["level"] == "ERROR" and r["missing"] == PLACEHOLDERS for r in refusals)
    names = metric_names(capsys.readouterr().out)
    assert names.count("RequestsRefusedNotConfigured") == 4
    assert "ApiInternalErrors" not in names  # deliberate, not a bug: the API alarm stays quiet


def test_a_job_waits_in_the_queue_untouched(stack: StackHarness, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.core.aws import client, queue_url
    from chalicelib.core.config import settings

    accepted = stack.post_webhook(sales_body("deal-prod-2"))  # taken in before the settings went wrong
    assert accepted.status_code == 202, accepted.body
    contract_id = accepted.json_body["contract_id"]
    job = stack.receive_job("send")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "signbridge-local-process_job")
    reset_settings()
    try:
        capsys.readouterr()
        stack.run_job(job)
        url = queue_url(settings().jobs_queue_name)
        attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        hourly = stack.fire_schedule("hourly_reminders", "2030-01-08T01:00:00Z")
    finally:
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
        reset_settings()
    assert stack.get_contract(contract_id)["status"] == "received"  # nothing sent to DocuSign
    assert stack.sandbox_envelopes(contract_id) == []
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"  # the same job, back in 15 minutes
    assert hourly == {"refused": "not_configured", "missing": PLACEHOLDERS}
    names = metric_names(capsys.readouterr().out)
    assert names.count("JobsRefusedNotConfigured") == 2


def test_a_fully_configured_deployment_is_healthy(in_lambda: StackHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"SIGNBRIDGE_PUBLIC_BASE_URL": "https://contracts.acme-signing.cn",
                        "SIGNBRIDGE_MAIL_FROM": "contracts@acme-signing.cn",
                        "DOCUSIGN_OAUTH_BASE": "https://account-d.docusign.com",
                        "SIGNBRIDGE_SES_CONFIGURATION_SET": "signbridge-dev",
                        "SIGNBRIDGE_ARCHIVE_BUCKET": "signbridge-local-archive"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SIGNBRIDGE_ALLOW_PRIVATE_CALLBACKS")
    reset_settings()
    response = in_lambda.client.http.get("/health")
    assert response.status_code == 200 and response.json_body == {"status": "ok"}


def test_a_real_internal_error_is_counted_apart(stack: StackHarness, capsys: pytest.CaptureFixture[str]) -> None:
    # DynamoDB answering something no retry fixes (the table is gone): a 500 and ApiInternalErrors,
    # the one API metric an alarm should watch (deliberate 503s are counted under other names).
    from chalicelib.store.models import ContractRecord

    ContractRecord.delete_table()
    capsys.readouterr()
    with captured_logs() as logs:
        response = stack.client.http.get("/v1/contracts/ctr_00", headers=stack.auth())
    assert response.status_code == 500, response.body
    assert response.json_body["error"]["code"] == "internal_error"
    line = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith('{"_aws"')
            and "ApiInternalErrors" in x][0]
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]  # one alarm for every route
    assert line["route"] == "get_contract"
    error = logs.named("unhandled error in get_contract")[0]  # with the request's keys
    assert (error["level"], error["route"], error["contract_id"], error["tenant_id"]) == (
        "ERROR", "get_contract", "ctr_00", stack.tenant_id)
    assert error["function_request_id"]
