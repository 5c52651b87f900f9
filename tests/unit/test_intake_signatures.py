"""The CRM authentication schemes, pure: HubSpot v3, shared tokens, basic auth, and the secret
expiry that makes a rotation's overlap window work."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.errors import Unauthorized
from chalicelib.intake.signatures import (
    hubspot_uri,
    hubspot_v3_signature,
    matches_any,
    verify_basic_auth,
    verify_hubspot_v3,
    verify_token,
)
from chalicelib.store.registry import active_secrets

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URL = "https://hooks.yunti.example/v1/webhooks/demo-hubspot?portalId=24446551&userEmail=wang.min@yunti.example"
BODY = b'{"deal":{"id":"18347261953"}}'
NOW_MS = 1_795_659_307_531


def headers(signature: str, timestamp: int = NOW_MS) -> dict[str, str]:
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": str(timestamp)}


def test_hubspot_v3_is_hmac_sha256_over_method_uri_body_timestamp() -> None:
    expected = base64.b64encode(hmac.new(SECRET.encode(), b"POST" + URL.encode() + BODY + str(NOW_MS).encode(),
                                         hashlib.sha256).digest()).decode()
    assert hubspot_v3_signature(SECRET, "POST", URL, BODY, str(NOW_MS)) == expected


def test_hubspot_v3_good_signature_passes() -> None:
    signature = hubspot_v3_signature(SECRET, "POST", URL, BODY, str(NOW_MS))
    verify_hubspot_v3([SECRET], headers(signature), "POST", [URL], BODY, now_ms=NOW_MS + 1000)


def test_hubspot_v3_accepts_any_active_secret_and_any_candidate_url() -> None:
    public = "https://api.yunti.example/prod/v1/webhooks/demo-hubspot"
    signature = hubspot_v3_signature(SECRET, "POST", public, BODY, str(NOW_MS))
    verify_hubspot_v3(["old-secret", SECRET], headers(signature), "POST", ["https://internal/x", public], BODY,
                      now_ms=NOW_MS)


@pytest.mark.parametrize("tamper", ["secret", "body", "url", "method", "timestamp_header"])
def test_hubspot_v3_forged_is_refused(tamper: str) -> None:
    secret, body, url, method, ts = SECRET, BODY, URL, "POST", NOW_MS
    signature = hubspot_v3_signature(secret, method, url, body, str(ts))
    if tamper == "secret":
        signature = hubspot_v3_signature("another-secret", method, url, body, str(ts))
    elif tamper == "body":
        body = body.replace(b"1834", b"9999")
    elif tamper == "url":
        url = url.replace("demo-hubspot", "demo-other")
    elif tamper == "method":
        method = "PUT"
    elif tamper == "timestamp_header":
        ts = NOW_MS - 1
    with pytest.raises(Unauthorized, match="does not match"):
        verify_hubspot_v3([SECRET], headers(signature, ts), method, [url], body, now_ms=NOW_MS)


@pytest.mark.parametrize("offset_ms", [-(5 * 60 * 1000 + 1), 5 * 60 * 1000 + 1, -3_600_000])
def test_hubspot_v3_outside_five_minutes_is_stale(offset_ms: int) -> None:
    ts = NOW_MS + offset_ms
    signature = hubspot_v3_signature(SECRET, "POST", URL, BODY, str(ts))
    with pytest.raises(Unauthorized, match="stale"):
        verify_hubspot_v3([SECRET], headers(signature, ts), "POST", [URL], BODY, now_ms=NOW_MS)


def test_hubspot_v3_exactly_five_minutes_old_still_passes() -> None:
    ts = NOW_MS - 5 * 60 * 1000
    signature = hubspot_v3_signature(SECRET, "POST", URL, BODY, str(ts))
    verify_hubspot_v3([SECRET], headers(signature, ts), "POST", [URL], BODY, now_ms=NOW_MS)


@pytest.mark.parametrize("given", [{}, {"X-HubSpot-Signature-v3": "x"}, {"X-HubSpot-Request-Timestamp": "1"}])
def test_hubspot_v3_missing_headers(given: dict[str, str]) -> None:
    with pytest.raises(Unauthorized, match="missing signature"):
        verify_hubspot_v3([SECRET], given, "POST", [URL], BODY, now_ms=NOW_MS)


def test_hubspot_v3_non_numeric_timestamp() -> None:
    with pytest.raises(Unauthorized, match="malformed"):
        verify_hubspot_v3([SECRET], headers("sig", 0) | {"X-HubSpot-Request-Timestamp": "soon"}, "POST", [URL], BODY)


def test_hubspot_v3_with_no_secret_configured_refuses() -> None:
    signature = hubspot_v3_signature(SECRET, "POST", URL, BODY, str(NOW_MS))
    with pytest.raises(Unauthorized, match="no secret"):
        verify_hubspot_v3([], headers(signature), "POST", [URL], BODY, now_ms=NOW_MS)


def test_hubspot_uri_decodes_the_characters_hubspot_decodes() -> None:
    assert hubspot_uri("https://h/x?e=a%40b.com&t=a%3Ab%2Cc%28d%29") == "https://h/x?e=a@b.com&t=a:b,c(d)"
    # Everything else stays encoded (a space is not in HubSpot's list).
    assert hubspot_uri("https://h/x?q=a%20b") == "https://h/x?q=a%20b"
    # HubSpot signs the decoded form: a request to the encoded URL verifies against it.
    signature = hubspot_v3_signature(SECRET, "POST", "https://h/x?e=a@b.com", BODY, str(NOW_MS))
    verify_hubspot_v3([SECRET], headers(signature), "POST", ["https://h/x?e=a%40b.com"], BODY, now_ms=NOW_MS)


def test_token_matches_any_active_secret_in_constant_time() -> None:
    assert matches_any("tok-new", ["tok-old", "tok-new"])
    assert not matches_any("tok", ["tok-old", "tok-new"])
    assert not matches_any("", ["tok"])
    assert not matches_any(None, ["tok"])
    verify_token(["t1"], [None, "t1"], "a header")
    with pytest.raises(Unauthorized, match="missing token"):
        verify_token(["t1"], [None, ""], "a header")
    with pytest.raises(Unauthorized, match="does not match"):
        verify_token(["t1"], ["t2"], "a header")
    with pytest.raises(Unauthorized, match="no secret"):
        verify_token([], ["t1"], "a header")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_auth() -> None:
    verify_basic_auth("signbridge", ["pw-old", "pw"], basic("signbridge", "pw"))
    for authorization, message in (
        (None, "missing credentials"),
        ("Bearer x", "missing credentials"),
        ("Basic ***", "malformed"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), "malformed"),
        (basic("someone", "pw"), "does not match"),
        (basic("signbridge", "wrong"), "does not match"),
    ):
        with pytest.raises(Unauthorized, match=message):
            verify_basic_auth("signbridge", ["pw"], authorization)
    with pytest.raises(Unauthorized, match="no credentials"):
        verify_basic_auth(None, ["pw"], basic("signbridge", "pw"))


def test_expired_secrets_are_ignored() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    value = {"secrets": [
        {"value": "expired", "expires_at": (now - timedelta(seconds=1)).isoformat()},
        {"value": "in-overlap", "expires_at": (now + timedelta(hours=23)).isoformat()},
        {"value": "newest", "expires_at": None},
        "legacy-plain-string",
        {"value": "unreadable-expiry", "expires_at": "tomorrow-ish"},
        {"value": "naive-expiry", "expires_at": "2099-01-01T00:00:00"},
        {"expires_at": None},
    ]}
    assert active_secrets(value, now) == ["in-overlap", "newest", "legacy-plain-string"]
    assert active_secrets(value, now + timedelta(days=1)) == ["newest", "legacy-plain-string"]
    assert active_secrets({}, now) == []
