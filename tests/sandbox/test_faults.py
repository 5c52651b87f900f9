"""Fault injection on the REST API, plus the headers every reply carries."""

from __future__ import annotations

import time

import docusign_esign as ds
import pytest
import urllib3

from .helpers import SandboxHandle, api_error, definition, embedded_signer, http, wait_for


def create(sandbox: SandboxHandle) -> ds.EnvelopeSummary:
    return sandbox.api().create_envelope(sandbox.account_id, envelope_definition=definition([embedded_signer(1)]))


def test_5xx_fault_hits_only_the_filtered_call(sandbox: SandboxHandle) -> None:
    sandbox.control("POST", "/sandbox/faults", {"rest_5xx": 1, "only_path": "/envelopes", "only_method": "POST"})
    api = sandbox.api()
    api.list_status_changes(sandbox.account_id, from_date="2020-01-01")  # a GET: untouched
    with pytest.raises(ds.ApiException) as caught:
        create(sandbox)
    assert caught.value.status == 500
    assert api_error(caught.value)["errorCode"] == "INTERNAL_SERVER_ERROR"
    assert sandbox.control("GET", "/sandbox/envelopes")["envelopes"] == []
    assert create(sandbox).status == "sent"  # the count is used up


def test_hourly_rate_limit_fault(sandbox: SandboxHandle) -> None:
    sandbox.control("POST", "/sandbox/faults", {"rate_limit_hourly": 2})
    api = sandbox.api()
    for _ in range(2):
        with pytest.raises(ds.ApiException) as caught:
            api.list_status_changes(sandbox.account_id, from_date="2020-01-01")
        assert caught.value.status == 400
        assert api_error(caught.value) == {
            "errorCode": "HOURLY_APIINVOCATION_LIMIT_EXCEEDED",
            "message": "The maximum number of hourly API invocations has been exceeded.",
        }
        headers = caught.value.headers
        assert headers["X-RateLimit-Limit"] == "3000" and headers["X-RateLimit-Remaining"] == "0"
        assert int(headers["X-RateLimit-Reset"]) > time.time()
    api.list_status_changes(sandbox.account_id, from_date="2020-01-01")


def test_burst_rate_limit_fault(sandbox: SandboxHandle) -> None:
    envelope_id = create(sandbox).envelope_id
    sandbox.control("POST", "/sandbox/faults", {"rate_limit_burst": 1, "only_path": envelope_id})
    with pytest.raises(ds.ApiException) as caught:
        sandbox.api().get_envelope(sandbox.account_id, envelope_id)
    assert caught.value.status == 400
    assert api_error(caught.value)["errorCode"] == "Burst_APIInvocation_Envelope_Limit_Exceeded"
    assert caught.value.headers["X-BurstLimit-Remaining"] == "0"


def test_slow_fault_makes_a_client_timeout_fire(sandbox: SandboxHandle) -> None:
    sandbox.control("POST", "/sandbox/faults", {"slow_ms": 600, "slow_count": 2, "only_method": "POST"})
    envelope = definition([embedded_signer(1)])
    # SDK trap: a float _request_timeout is silently ignored (only int or a (connect, read) tuple count).
    assert (
        sandbox.api().create_envelope(sandbox.account_id, envelope_definition=envelope, _request_timeout=0.2).status
        == "sent"
    )
    with pytest.raises(urllib3.exceptions.HTTPError):  # ReadTimeoutError; POST is not retried by urllib3
        sandbox.api().create_envelope(sandbox.account_id, envelope_definition=envelope, _request_timeout=(0.2, 0.2))
    assert sandbox.control("GET", "/sandbox/faults")["rest"] == []  # both slow events consumed
    assert create(sandbox).status == "sent"
    # The timed-out create still lands once its delay is over: wait for it, so it cannot count
    # against (or add an envelope to) the next test.
    wait_for(lambda: len(sandbox.control("GET", "/sandbox/envelopes")["envelopes"]) == 3, what="the late create")


def test_faults_can_be_listed_and_cleared(sandbox: SandboxHandle) -> None:
    armed = sandbox.control("POST", "/sandbox/faults", {"rest_5xx": 3, "connect_drop": 2})
    assert armed["rest"][0]["kind"] == "rest_5xx" and armed["connect"]["connect_drop"] == 2
    cleared = sandbox.control("DELETE", "/sandbox/faults")
    assert cleared["rest"] == [] and cleared["connect"]["connect_drop"] == 0
    bad = http("POST", sandbox.base + "/sandbox/faults", json_body={"rest_500": 1})
    assert bad.status == 400


def test_every_reply_has_a_trace_token_and_rest_replies_have_rate_headers(sandbox: SandboxHandle) -> None:
    _, status, headers = sandbox.api().list_status_changes_with_http_info(sandbox.account_id, from_date="2020-01-01")
    assert status == 200
    assert int(headers["X-RateLimit-Remaining"]) < int(headers["X-RateLimit-Limit"])
    assert headers["X-DocuSign-TraceToken"]
    for path in ("/oauth/userinfo", "/sandbox/inbox", "/signing/nope", "/health"):
        assert http("GET", sandbox.base + path).headers["X-DocuSign-TraceToken"]


def test_reset_forgets_envelopes(sandbox: SandboxHandle) -> None:
    create(sandbox)
    sandbox.control("POST", "/sandbox/reset")
    assert sandbox.control("GET", "/sandbox/envelopes")["envelopes"] == []
    # The token survives a reset, so a running app keeps working.
    assert sandbox.api().list_status_changes(sandbox.account_id, from_date="2020-01-01").result_set_size == "0"
