"""Per-account rate limits: the hourly budget, the burst window and the headers on every REST reply.

DocuSign (developers.docusign.com/platform/resource-limits, summarised in the project's DocuSign
reference, §4 "Account limits" and §5.8 "Rate limits"): an account has an hourly API budget
(3,000 calls/hour by default) and a burst limit (500 per 30 s in production, 200 per 30 s in the
developer environment). Every REST response carries X-RateLimit-Limit, X-RateLimit-Remaining,
X-RateLimit-Reset (epoch seconds of the reset) and X-BurstLimit-Limit, X-BurstLimit-Remaining.
Over the limit DocuSign answers **400**, not 429, with {"errorCode": "HOURLY_APIINVOCATION_LIMIT_EXCEEDED",
"message": "The maximum number of hourly API invocations has been exceeded"}. The reference names no
account-level burst code (only the per-envelope Burst_APIInvocation_Envelope_Limit_Exceeded); the
sandbox answers BURST_APIINVOCATION_LIMIT_EXCEEDED, the hourly code's pattern (see README).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import docusign_esign as ds
import pytest

from devstack.sandbox.limits import BURST_CODE, BURST_MESSAGE, HOURLY_CODE, HOURLY_MESSAGE

from .helpers import SandboxHandle, api_error, definition, embedded_signer, http

FIVE_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-BurstLimit-Limit",
    "X-BurstLimit-Remaining",
)
FROM = "2020-01-01"


def epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def clock_at(sandbox: SandboxHandle, iso: str) -> None:
    # A fixed sandbox time a few seconds into an hour: the hour cannot roll over mid-test.
    sandbox.control("POST", "/sandbox/clock", {"now": iso})


def listing(sandbox: SandboxHandle) -> Any:
    """One REST call through the SDK; its reply headers."""
    _, status, headers = sandbox.api().list_status_changes_with_http_info(sandbox.account_id, from_date=FROM)
    assert status == 200
    return headers


def create(sandbox: SandboxHandle) -> ds.EnvelopeSummary:
    return sandbox.api().create_envelope(sandbox.account_id, envelope_definition=definition([embedded_signer(1)]))


def envelope_count(sandbox: SandboxHandle) -> int:
    return len(sandbox.control("GET", "/sandbox/envelopes")["envelopes"])


def test_every_rest_reply_has_the_five_headers_and_remaining_goes_down(sandbox: SandboxHandle) -> None:
    """Every REST response carries the five X-RateLimit-*/X-BurstLimit-* headers (DocuSign resource
    limits); errors count and carry them too. OAuth and the sandbox's own routes are not REST calls."""
    clock_at(sandbox, "2031-05-06T10:00:05Z")
    sandbox.control("POST", "/sandbox/limits", {"hourly": 50, "burst": 20})
    replies = [listing(sandbox) for _ in range(2)]
    with pytest.raises(ds.ApiException) as caught:  # an error reply: counted, headers and all
        sandbox.api().get_envelope(sandbox.account_id, "00000000-0000-0000-0000-000000000000")
    assert caught.value.status in (400, 404)
    replies.append(caught.value.headers)
    # Neither OAuth nor /sandbox/* is counted, nor carries the headers.
    userinfo = http("GET", sandbox.base + "/oauth/userinfo", headers={"Authorization": "Bearer " + sandbox.token()})
    assert userinfo.status == 200 and "X-RateLimit-Remaining" not in userinfo.headers
    assert "X-RateLimit-Remaining" not in http("GET", sandbox.base + "/sandbox/config").headers
    replies.append(listing(sandbox))

    for headers in replies:
        assert all(name in headers for name in FIVE_HEADERS), dict(headers)
        assert headers["X-RateLimit-Limit"] == "50" and headers["X-BurstLimit-Limit"] == "20"
        assert int(headers["X-RateLimit-Reset"]) == epoch("2031-05-06T11:00:00Z")  # the top of the next hour
    assert [int(h["X-RateLimit-Remaining"]) for h in replies] == [49, 48, 47, 46]
    assert [int(h["X-BurstLimit-Remaining"]) for h in replies] == [19, 18, 17, 16]


def test_a_call_refused_before_the_account_is_not_counted_but_has_the_headers(sandbox: SandboxHandle) -> None:
    clock_at(sandbox, "2031-05-06T10:00:05Z")
    sandbox.control("POST", "/sandbox/limits", {"hourly": 10})
    assert listing(sandbox)["X-RateLimit-Remaining"] == "9"
    url = f"{sandbox.base}/restapi/v2.1/accounts/{sandbox.account_id}/envelopes?from_date={FROM}"
    refused = http("GET", url, headers={"Authorization": "Bearer not-a-token"})
    assert refused.status == 401
    assert all(name in refused.headers for name in FIVE_HEADERS)
    assert refused.headers["X-RateLimit-Remaining"] == "9"
    assert listing(sandbox)["X-RateLimit-Remaining"] == "8"


def test_hourly_limit_reached_answers_400_with_docusign_error_and_the_call_does_nothing(
    sandbox: SandboxHandle,
) -> None:
    """Over the hourly budget DocuSign answers 400 (not 429) HOURLY_APIINVOCATION_LIMIT_EXCEEDED,
    with the rate headers (Remaining 0, Reset = epoch seconds of the reset)."""
    clock_at(sandbox, "2031-05-06T10:00:05Z")
    sandbox.control("POST", "/sandbox/limits", {"hourly": 3})
    create(sandbox)
    create(sandbox)
    assert listing(sandbox)["X-RateLimit-Remaining"] == "0"

    with pytest.raises(ds.ApiException) as caught:
        create(sandbox)
    assert caught.value.status == 400
    assert api_error(caught.value) == {"errorCode": HOURLY_CODE, "message": HOURLY_MESSAGE}
    headers = caught.value.headers
    assert headers["X-RateLimit-Limit"] == "3" and headers["X-RateLimit-Remaining"] == "0"
    assert int(headers["X-RateLimit-Reset"]) == epoch("2031-05-06T11:00:00Z")
    assert "X-BurstLimit-Remaining" in headers and headers["X-DocuSign-TraceToken"]
    assert envelope_count(sandbox) == 2  # the refused create made nothing

    clock_at(sandbox, "2031-05-06T10:59:59Z")  # still the same hour
    with pytest.raises(ds.ApiException) as again:
        sandbox.api().list_status_changes(sandbox.account_id, from_date=FROM)
    assert api_error(again.value)["errorCode"] == HOURLY_CODE


def test_the_next_clock_hour_resets_the_hourly_budget(sandbox: SandboxHandle) -> None:
    """The budget is hourly: moving the sandbox clock to the next hour (instead of waiting) makes
    calls work again, Remaining back at the limit minus this call, Reset an hour later."""
    clock_at(sandbox, "2031-05-06T10:00:05Z")
    sandbox.control("POST", "/sandbox/limits", {"hourly": 2})
    listing(sandbox)
    listing(sandbox)
    with pytest.raises(ds.ApiException):
        create(sandbox)

    clock_at(sandbox, "2031-05-06T11:00:00Z")
    summary, status, headers = sandbox.api().create_envelope_with_http_info(
        sandbox.account_id, envelope_definition=definition([embedded_signer(1)])
    )
    assert status == 201 and summary.status == "sent"
    assert headers["X-RateLimit-Remaining"] == "1"
    assert int(headers["X-RateLimit-Reset"]) == epoch("2031-05-06T12:00:00Z")
    assert envelope_count(sandbox) == 1


def test_burst_limit_refuses_within_the_window_and_frees_up_after_it(sandbox: SandboxHandle) -> None:
    """The burst limit (200 per 30 s developer, 500 per 30 s production) is a short window on top of
    the hourly budget; over it the call is refused with 400 and the burst headers at 0."""
    clock_at(sandbox, "2031-05-06T10:00:05Z")
    sandbox.control("POST", "/sandbox/limits", {"burst": 2, "burst_window_seconds": 30})
    first, second = listing(sandbox), listing(sandbox)
    assert (first["X-BurstLimit-Remaining"], second["X-BurstLimit-Remaining"]) == ("1", "0")

    with pytest.raises(ds.ApiException) as caught:
        create(sandbox)
    assert caught.value.status == 400
    assert api_error(caught.value) == {"errorCode": BURST_CODE, "message": BURST_MESSAGE}
    headers = caught.value.headers
    assert headers["X-BurstLimit-Limit"] == "2" and headers["X-BurstLimit-Remaining"] == "0"
    # The hourly budget is not enforced here but still counts; the refused call is not counted.
    assert headers["X-RateLimit-Limit"] == "3000" and headers["X-RateLimit-Remaining"] == "2998"
    assert envelope_count(sandbox) == 0

    sandbox.control("POST", "/sandbox/clock", {"advance_seconds": 31})  # past the window
    assert create(sandbox).status == "sent"
    assert listing(sandbox)["X-BurstLimit-Remaining"] == "0"


def test_limits_can_be_read_lifted_and_are_reset_with_the_sandbox(sandbox: SandboxHandle) -> None:
    clock_at(sandbox, "2031-05-06T10:00:05Z")
    default = sandbox.control("GET", "/sandbox/limits")
    assert (default["hourly"], default["burst"], default["burst_window_seconds"]) == (None, None, 30.0)
    assert (default["shown_hourly"], default["shown_burst"]) == (3000, 500)

    state = sandbox.control("POST", "/sandbox/limits", {"hourly": 1})
    assert (state["hourly"], state["burst"]) == (1, None)
    listing(sandbox)
    counted = sandbox.control("GET", "/sandbox/limits")["accounts"][sandbox.account_id]
    assert counted["hour_count"] == 1 and counted["headers"]["X-RateLimit-Remaining"] == "0"
    with pytest.raises(ds.ApiException):
        listing(sandbox)

    # An absent key keeps its limit, null lifts it.
    assert sandbox.control("POST", "/sandbox/limits", {"burst": 5})["hourly"] == 1
    assert sandbox.control("POST", "/sandbox/limits", {"hourly": None})["hourly"] is None
    sandbox.control("POST", "/sandbox/limits", {"hourly": 1})
    listing(sandbox)
    assert sandbox.control("DELETE", "/sandbox/limits")["hourly"] is None
    listing(sandbox)
    sandbox.control("POST", "/sandbox/limits", {"hourly": 1})
    sandbox.control("POST", "/sandbox/reset")
    assert sandbox.control("GET", "/sandbox/limits")["hourly"] is None

    for bad in ({"hourly": -1}, {"burst": "5"}, {"burst_window_seconds": 0}, {"per_day": 5}):
        assert http("POST", sandbox.base + "/sandbox/limits", json_body=bad).status == 400


def test_limits_from_the_config(make_sandbox: Any) -> None:
    """The config (or `--hourly-limit`/`--burst-limit`) enforces limits from the start."""
    sandbox = make_sandbox(enforced_hourly_limit=1, enforced_burst_limit=50, burst_window_seconds=10)
    headers = listing(sandbox)
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("1", "0")
    assert (headers["X-BurstLimit-Limit"], headers["X-BurstLimit-Remaining"]) == ("50", "49")
    with pytest.raises(ds.ApiException) as caught:
        listing(sandbox)
    assert caught.value.status == 400 and api_error(caught.value)["errorCode"] == HOURLY_CODE


@pytest.mark.parametrize(
    ("limits", "code", "message"),
    [({"hourly": 0}, HOURLY_CODE, HOURLY_MESSAGE), ({"burst": 0}, BURST_CODE, BURST_MESSAGE)],
    ids=["hourly", "burst"],
)
def test_the_app_sdk_path_reads_the_refusal(
    sandbox: SandboxHandle, limits: dict[str, int], code: str, message: str
) -> None:
    """Through the app's own client (chalicelib.esign.envelopes, read-only): the 400 reaches it as
    an ApiException with status 400, a body whose errorCode the app reads and classifies as a rate
    limit (not a data error), and the rate headers and trace token on the exception."""
    from chalicelib.esign import envelopes
    from chalicelib.esign.auth import DocuSignSession

    sandbox.control("POST", "/sandbox/limits", limits)
    expires_at = time.time() + 3600
    session = DocuSignSession(sandbox.token(), expires_at, account_id=sandbox.account_id, base_uri=sandbox.base)
    api = envelopes._api(session)
    with pytest.raises(ds.ApiException) as caught:
        api.list_status_changes(session.account_id, from_date=FROM, _request_timeout=envelopes.request_timeout())
    err = caught.value
    assert err.status == 400
    assert envelopes._error_code(err) == (code, message)
    assert code.upper() in envelopes.RATE_LIMIT_CODES
    assert envelopes._trace_token(err)
    assert all(name in err.headers for name in FIVE_HEADERS)
