"""Standard Webhooks verification on its own (spec: github.com/standard-webhooks/standard-webhooks,
spec/standard-webhooks.md), and Basic auth's strict Base64.

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256 under the base64 key
after `whsec_`, sent as `v1,{base64}` (space-separated when several); the timestamp is Unix seconds
and a receiver refuses one more than 5 minutes away, in the past or the future.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks.webhooks

from chalicelib.core.errors import Unauthorized
from chalicelib.intake.signatures import (
    hubspot_uri,
    hubspot_v3_signature,
    verify_basic_auth,
    verify_hubspot_v3,
    verify_standard_webhooks,
    verify_token,
)

# The published vector (standard-webhooks libraries/python/tests/test_webhooks.py, test_sign_function;
# the same one in the other official libraries): key, id, timestamp, payload and the expected signature.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = "whsec_" + base64.b64encode(b"signbridge-test-key-0123").decode()
BODY = b'{"event": "contract.created"}'


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The spec's construction, written apart from the library the code uses."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(timestamp: int | None = None, *, body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": "msg_1", "webhook-timestamp": str(ts), "webhook-signature": sign(secret, "msg_1", ts, body)}


def refusal(secrets: list[str], given: dict[str, str], body: bytes = BODY) -> str:
    with pytest.raises(Unauthorized) as info:
        verify_standard_webhooks(secrets, given, body)
    assert info.value.status == 401
    return info.value.message


@pytest.fixture
def at_the_vectors_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's clock at the vector's timestamp (the vector is from 2021: a real clock calls it stale)."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN206 - datetime's own signature
            return datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=tz or UTC)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", Frozen)


def test_our_construction_reproduces_the_published_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE


def test_the_published_vector_verifies(at_the_vectors_time: None) -> None:
    given = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIMESTAMP), "webhook-signature": VECTOR_SIGNATURE}
    assert verify_standard_webhooks([VECTOR_SECRET], given, VECTOR_BODY) == VECTOR_ID
    # Header names are case-insensitive (HTTP), and any of several signatures may match.
    shouted = {k.upper(): v for k, v in given.items()}
    shouted["WEBHOOK-SIGNATURE"] = "v1,AAAA " + VECTOR_SIGNATURE
    assert verify_standard_webhooks([VECTOR_SECRET], shouted, VECTOR_BODY) == VECTOR_ID


def test_the_published_vector_one_byte_off_is_refused(at_the_vectors_time: None) -> None:
    given = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TIMESTAMP),
             "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="}
    assert refusal([VECTOR_SECRET], given, VECTOR_BODY) == "signature does not match the body"


def test_any_active_secret_verifies_and_returns_the_delivery_id() -> None:
    other = "whsec_" + base64.b64encode(b"x" * 24).decode()
    assert verify_standard_webhooks([other, SECRET], headers(), BODY) == "msg_1"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_header_is_required(missing: str) -> None:
    given = headers()
    del given[missing]
    assert refusal([SECRET], given) == (
        "missing signature: webhook-id, webhook-timestamp and webhook-signature are required")


@pytest.mark.parametrize("blank", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_an_empty_header_is_missing(blank: str) -> None:
    given = {**headers(), blank: ""}
    assert refusal([SECRET], given).startswith("missing signature:")


STALE = "stale signature: webhook-timestamp is outside the 300 s window"


@pytest.mark.parametrize("offset", [-301, -3600, 301, 3600])
def test_a_timestamp_more_than_five_minutes_away_is_stale(offset: int) -> None:
    # The future counts too: a timestamp from tomorrow would make a captured request replayable later.
    assert refusal([SECRET], headers(int(time.time()) + offset)) == STALE


@pytest.mark.parametrize("offset", [-290, 290])
def test_a_timestamp_inside_the_window_passes(offset: int) -> None:
    assert verify_standard_webhooks([SECRET], headers(int(time.time()) + offset), BODY) == "msg_1"


@pytest.mark.parametrize("timestamp", ["soon", "1e99999", "nan"])
def test_a_malformed_timestamp_is_named(timestamp: str) -> None:
    given = {**headers(), "webhook-timestamp": timestamp}
    assert refusal([SECRET], given) == "malformed webhook-timestamp header"


def test_a_wrong_signature_is_named() -> None:
    given = headers(body=b'{"event": "something else"}')
    assert refusal([SECRET], given) == "signature does not match the body"


def test_a_signature_list_without_versions_is_malformed() -> None:
    given = {**headers(), "webhook-signature": "no-comma-here"}
    assert refusal([SECRET], given) == "malformed webhook-signature header"


def test_a_body_that_is_not_utf8_does_not_match() -> None:
    body = b"\xff\xfe"
    assert refusal([SECRET], headers(body=body), body) == "signature does not match the body"


def test_no_secret_configured() -> None:
    assert refusal([], headers()) == "no secret is configured for this source"


def test_the_last_secrets_reason_is_given() -> None:
    other = "whsec_" + base64.b64encode(b"y" * 24).decode()
    assert refusal([other, other], headers(int(time.time()) - 3600)) == STALE


# --- Basic auth: RFC 7617's credentials are strict Base64 (RFC 4648), nothing else ---------------


def basic(credentials: bytes) -> str:
    return "Basic " + base64.b64encode(credentials).decode()


@pytest.mark.parametrize("authorization", [
    basic(b"signbridge:pw"), "basic " + basic(b"signbridge:pw")[6:], "BASIC  " + basic(b"signbridge:pw")[6:] + " ",
])
def test_basic_auth_scheme_is_case_insensitive_and_trimmed(authorization: str) -> None:
    verify_basic_auth("signbridge", ["pw"], authorization)


@pytest.mark.parametrize("token", [
    "c2lnbmJyaWRnZTpwdw",  # padding dropped
    "c2lnbmJyaWRnZTpwdw==!",  # a character outside the alphabet
    "c2lnbm JyaWRnZTpwdw==",  # a space inside
    "c2lnbmJyaWRnZTpwdw=-",  # URL-safe alphabet
])
def test_basic_auth_refuses_anything_but_strict_base64(token: str) -> None:
    with pytest.raises(Unauthorized) as info:
        verify_basic_auth("signbridge", ["pw"], "Basic " + token)
    assert info.value.message == "malformed Authorization header"


def test_basic_auth_credentials_that_are_not_utf8_are_malformed() -> None:
    with pytest.raises(Unauthorized) as info:
        verify_basic_auth("signbridge", ["pw"], basic(b"signbridge:\xff"))
    assert info.value.message == "malformed Authorization header"


def test_basic_auth_password_may_hold_colons_and_user_must_match_exactly() -> None:
    verify_basic_auth("signbridge", ["p:w:d"], basic(b"signbridge:p:w:d"))
    for credentials in (b"Signbridge:pw", b"signbridge :pw", b":pw", b"signbridge:"):
        with pytest.raises(Unauthorized) as info:
            verify_basic_auth("signbridge", ["pw"], basic(credentials))
        assert info.value.message == "user name or password does not match"


def test_basic_auth_without_configured_credentials() -> None:
    for username, secrets in (("", ["pw"]), ("signbridge", [])):
        with pytest.raises(Unauthorized) as info:
            verify_basic_auth(username, secrets, basic(b"signbridge:pw"))
        assert info.value.message == "no credentials are configured for this source"


def test_a_body_that_is_not_json_verifies_as_signed() -> None:
    # The signature covers bytes; parsing is the adapter's business, after verification.
    body = b"form=not-json&x=1"
    assert verify_standard_webhooks([SECRET], headers(body=body), body) == "msg_1"


# --- every other scheme's refusals name their reason exactly ------------------------------------

HUBSPOT_SECRET = "hubspot-client-secret"
URI = "https://api.example.com/v1/webhooks/hs"
NOW_MS = 1_800_000_000_000


def hubspot_headers(timestamp: str, body: bytes = BODY) -> dict[str, str]:
    return {"X-HubSpot-Signature-v3": hubspot_v3_signature(HUBSPOT_SECRET, "POST", URI, body, timestamp),
            "X-HubSpot-Request-Timestamp": timestamp}


def hubspot_refusal(given: dict[str, str], secrets: list[str] | None = None) -> str:
    with pytest.raises(Unauthorized) as info:
        verify_hubspot_v3([HUBSPOT_SECRET] if secrets is None else secrets, given, "POST", [URI], BODY, now_ms=NOW_MS)
    return info.value.message


def test_hubspot_refusals() -> None:
    assert hubspot_refusal({}) == (
        "missing signature: X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required")
    assert hubspot_refusal(hubspot_headers("12x")) == "malformed X-HubSpot-Request-Timestamp header"
    assert hubspot_refusal(hubspot_headers(str(NOW_MS - 300_001))) == (
        "stale signature: X-HubSpot-Request-Timestamp is outside the 5 minute window")
    assert hubspot_refusal(hubspot_headers(str(NOW_MS)), secrets=[]) == "no secret is configured for this source"
    assert hubspot_refusal(hubspot_headers(str(NOW_MS), body=b"{}")) == (
        "signature does not match the request (method, URL, body and timestamp)")


def test_hubspot_timestamps_have_at_most_16_digits() -> None:
    # 16 digits is a number (stale, here); 17 is not a millisecond timestamp at all.
    assert hubspot_refusal(hubspot_headers("1" * 16)).startswith("stale signature")
    assert hubspot_refusal(hubspot_headers("1" * 17)) == "malformed X-HubSpot-Request-Timestamp header"


def test_hubspot_uri_decodes_lower_case_escapes_too() -> None:
    assert hubspot_uri("https://x.example/a%3ab%2fc%3Fd") == "https://x.example/a:b/c?d"


def test_token_refusals() -> None:
    for secrets, candidates, message in (
        (["s"], [None, ""], "missing token: send it as the X-Token header"),
        ([], ["s"], "no secret is configured for this source"),
        (["s"], ["t"], "the token does not match"),
    ):
        with pytest.raises(Unauthorized) as info:
            verify_token(secrets, candidates, "the X-Token header")
        assert info.value.message == message


def test_basic_auth_refusal_messages() -> None:
    for authorization, message in (
        (None, "missing credentials: send HTTP basic auth (Authorization: Basic ...)"),
        ("Basic !!", "malformed Authorization header"),
    ):
        with pytest.raises(Unauthorized) as info:
            verify_basic_auth("signbridge", ["pw"], authorization)
        assert info.value.message == message


def test_basic_auth_credentials_without_a_colon_are_malformed() -> None:
    with pytest.raises(Unauthorized) as info:
        verify_basic_auth("signbridge", ["pw"], basic(b"signbridge-pw"))
    assert info.value.message == "malformed Authorization header"
