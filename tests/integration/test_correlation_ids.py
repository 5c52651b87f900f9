"""Every log line says what it belongs to: a request's lines carry Lambda's request id (and API
Gateway's when there is one), the route and what the route names; a job's carry its kind, the SQS
message and the contract, however deep in the job the line is written. The keys leave with the
request or job: the next one's lines never show them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.core.observability import current_log_keys
from tests.support.logs import captured_logs
from tests.support.stack import StackHarness, sign_as

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"
JOB_KEYS = ("job", "sqs_message_id", "contract_id", "tenant_id", "function_request_id")


def sales_body(crm_record_id: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((SAMPLES / "sales.json").read_text())
    body["contract"]["crm_record_id"] = crm_record_id
    return body


def test_a_line_deep_in_a_job_carries_the_job_and_its_contract(stack: StackHarness) -> None:
    accepted = stack.post_webhook(sales_body("deal-corr-1"))
    assert accepted.status_code == 202, accepted.body
    contract_id = accepted.json_body["contract_id"]
    job = stack.receive_job("send")

    with captured_logs() as logs:
        stack.run_job(job)
    # DocuSign's Connect may report the new envelope while the job still runs: its request's lines
    # (another thread) carry its own keys, never the job's.
    requests = [line for line in logs.all() if "route" in line]
    assert all(line["route"] == "docusign_connect" and "job" not in line for line in requests)
    job_lines = [line for line in logs.all() if "route" not in line]
    # Written by notify/callbacks (send job → lifecycle transition → the CRM callback), which names
    # neither the job nor the SQS message itself.
    queued = [line for line in job_lines if line["message"] == "callback queued"]
    assert queued, [line["message"] for line in logs.all()]
    assert {"envelope sent", "job done"} <= {line["message"] for line in job_lines}
    for line in job_lines:
        assert line["job"] == "send"
        assert line["contract_id"] == contract_id
        assert line["tenant_id"] == stack.tenant_id
        assert line["sqs_message_id"] == job["MessageId"]
        assert line["function_request_id"]
    assert current_log_keys() == {}  # nothing left on the logger once the job is done


def test_keys_do_not_leak_into_the_next_request(stack: StackHarness) -> None:
    accepted = stack.post_webhook(sales_body("deal-corr-2"))
    contract_id = accepted.json_body["contract_id"]
    with captured_logs() as logs:
        stack.run_job(stack.receive_job("send"))
        logs.clear()
        refused = stack.post_webhook(sales_body("deal-corr-3"), secret="whsec_" + "A" * 32)  # a bad signature
        assert refused.status_code == 401
        missing = stack.client.http.get("/v1/contracts/ctr_ffff", headers=stack.auth())
        assert missing.status_code == 404
    first, second = logs.named("request refused")
    # The webhook's line: its route, source and tenant, its own request id; nothing of the job.
    assert (first["route"], first["source_id"], first["tenant_id"]) == ("crm_webhook", stack.source_id,
                                                                       stack.tenant_id)
    assert (second["route"], second["contract_id"]) == ("get_contract", "ctr_ffff")
    for line in (first, second):
        assert "job" not in line and "sqs_message_id" not in line
        assert line.get("contract_id") != contract_id
    assert first["function_request_id"] != second["function_request_id"]
    assert "source_id" not in second and "crm" not in second  # the webhook's keys left with it
    assert current_log_keys() == {}


def test_a_connect_message_names_its_envelope_on_the_request_lines(stack: StackHarness) -> None:
    accepted = stack.post_webhook(sales_body("deal-corr-4"))
    contract_id = accepted.json_body["contract_id"]
    envelope_id = stack.wait_status(contract_id, "sent")["envelope_id"]
    with captured_logs() as logs:
        status, _ = sign_as(stack, contract_id, 1)  # the sandbox tells the app through Connect
        assert status in (200, 302)
        stack.settle_connect()
    lines = [line for line in logs.all() if line.get("route") == "docusign_connect"]
    assert lines, [line["message"] for line in logs.all()]
    for line in lines:
        assert (line["envelope_id"], line["contract_id"], line["tenant_id"]) == (envelope_id, contract_id,
                                                                                  stack.tenant_id)
        assert line["connect_event"] and line["function_request_id"]
