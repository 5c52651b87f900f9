"""The CRM authentication schemes, pure: HubSpot v3, shared tokens, basic auth, and the secret
expiry that makes a rotation's overlap window work.

HubSpot signatures are never made with the code under test: they come from HubSpot's published
test vectors (tests/fixtures/crm_vendor/hubspot/signature-test-vectors.json, from HubSpot's
request-validation pages and the Apache-2.0 hubspot-api-python tests, LICENSE alongside) or from
tests/support/hubspot_signing.py, written from HubSpot's documentation."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.errors import Unauthorized
from chalicelib.intake.signatures import (
    hubspot_uri,
    matches_any,
    verify_basic_auth,
    verify_hubspot_v3,
    verify_token,
)
from chalicelib.store.registry import active_secrets
from tests.support.hubspot_signing import documented_v3

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URL = "https://hooks.yunti.example/v1/webhooks/demo-hubspot?portalId=24446551&userEmail=wang.min@yunti.example"
BODY = b'{"deal":{"id":"18347261953"}}'
NOW_MS = 1_795_659_307_531
VECTORS = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "crm_vendor" / "hubspot"
                      / "signature-test-vectors.json").read_text())


def headers(signature: str, timestamp: int = NOW_MS) -> dict[str, str]:
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": str(timestamp)}


def vector(version: str, group: str = "hubspot-published") -> dict[str, Any]:
    return next(v for v in VECTORS[group] if v["version"] == version)


def test_hubspots_published_v3_vector_verifies() -> None:
    # hubspot-api-python 12.0.0 tests/spec/utils/test_signature.py (the vector's timestamp is from
    # 2023: the 5-minute window is checked against a "now" just after it).
    v = vector("v3")
    verify_hubspot_v3([v["client_secret"]], headers(v["expected"], int(v["timestamp"])), v["method"], [v["uri"]],
                      v["body"].encode(), now_ms=int(v["timestamp"]) + 1000)


@pytest.mark.parametrize("tamper", ["body", "uri", "method", "timestamp", "secret"])
def test_hubspots_published_v3_vector_tampered_is_refused(tamper: str) -> None:
    v = vector("v3")
    secret, method, uri, body, ts = v["client_secret"], v["method"], v["uri"], v["body"].encode(), int(v["timestamp"])
    if tamper == "body":
        body = body.replace(b"example_value", b"example_valuf")
    elif tamper == "uri":
        uri += "?portalId=1"
    elif tamper == "method":
        method = "PUT"
    elif tamper == "timestamp":
        ts += 1
    else:
        secret = secret.replace("y", "z", 1)
    with pytest.raises(Unauthorized, match="does not match"):
        verify_hubspot_v3([secret], headers(v["expected"], ts), method, [uri], body, now_ms=ts)


def test_the_vectors_query_string_verifies_as_signed() -> None:
    # The folder's own v3 vector (computed apart from this code) has a query string.
    v = vector("v3", "authored")
    verify_hubspot_v3([v["client_secret"]], headers(v["expected"], int(v["timestamp"])), v["method"], [v["uri"]],
                      v["body"].encode(), now_ms=int(v["timestamp"]))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_only_the_older_signatures_are_not_enough(version: str) -> None:
    # v1 (secret + body) and v2 (secret + method + URI + body) carry no timestamp: a request signed
    # with them alone, however correctly (HubSpot's own examples), is refused.
    v = vector(version)
    older = {"X-HubSpot-Signature": v["expected"], "X-HubSpot-Signature-Version": version}
    with pytest.raises(Unauthorized, match="missing signature"):
        verify_hubspot_v3([v["client_secret"]], older, v.get("method", "POST"),
                          [v.get("uri", "https://www.example.com/webhook_uri")], v["body"].encode(), now_ms=NOW_MS)


def test_hubspot_v3_accepts_any_active_secret_and_any_candidate_url() -> None:
    public = "https://api.yunti.example/prod/v1/webhooks/demo-hubspot"
    signature = documented_v3(SECRET, "POST", public, BODY, str(NOW_MS))
    verify_hubspot_v3(["old-secret", SECRET], headers(signature), "POST", ["https://internal/x", public], BODY,
                      now_ms=NOW_MS)


def test_a_signature_whose_plus_became_a_space_on_the_way_still_verifies() -> None:
    v = vector("v3")
    assert "+" in v["expected"]
    damaged = v["expected"].replace("+", " ")
    verify_hubspot_v3([v["client_secret"]], headers(damaged, int(v["timestamp"])), v["method"], [v["uri"]],
                      v["body"].encode(), now_ms=int(v["timestamp"]))


@pytest.mark.parametrize("tamper", ["secret", "body", "url", "method", "timestamp_header"])
def test_hubspot_v3_forged_is_refused(tamper: str) -> None:
    secret, body, url, method, ts = SECRET, BODY, URL, "POST", NOW_MS
    signature = documented_v3(secret, method, url, body, str(ts))
    if tamper == "secret":
        signature = documented_v3("another-secret", method, url, body, str(ts))
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
    signature = documented_v3(SECRET, "POST", URL, BODY, str(ts))
    with pytest.raises(Unauthorized, match="stale"):
        verify_hubspot_v3([SECRET], headers(signature, ts), "POST", [URL], BODY, now_ms=NOW_MS)


def test_hubspot_v3_exactly_five_minutes_old_still_passes() -> None:
    ts = NOW_MS - 5 * 60 * 1000
    signature = documented_v3(SECRET, "POST", URL, BODY, str(ts))
    verify_hubspot_v3([SECRET], headers(signature, ts), "POST", [URL], BODY, now_ms=NOW_MS)


@pytest.mark.parametrize("given", [{}, {"X-HubSpot-Signature-v3": "x"}, {"X-HubSpot-Request-Timestamp": "1"}])
def test_hubspot_v3_missing_headers(given: dict[str, str]) -> None:
    with pytest.raises(Unauthorized, match="missing signature"):
        verify_hubspot_v3([SECRET], given, "POST", [URL], BODY, now_ms=NOW_MS)


def test_hubspot_v3_non_numeric_timestamp() -> None:
    with pytest.raises(Unauthorized, match="malformed"):
        verify_hubspot_v3([SECRET], headers("sig", 0) | {"X-HubSpot-Request-Timestamp": "soon"}, "POST", [URL], BODY)


def test_hubspot_v3_with_no_secret_configured_refuses() -> None:
    signature = documented_v3(SECRET, "POST", URL, BODY, str(NOW_MS))
    with pytest.raises(Unauthorized, match="no secret"):
        verify_hubspot_v3([], headers(signature), "POST", [URL], BODY, now_ms=NOW_MS)


def test_hubspot_uri_decodes_the_characters_hubspot_decodes() -> None:
    # The table of "Validate the v3 request signature" (URL in tests/support/hubspot_signing.py).
    documented = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(",
                  "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}
    for encoded, plain in documented.items():
        assert hubspot_uri(f"https://h/x?v=a{encoded}b") == f"https://h/x?v=a{plain}b"
    # Everything else stays encoded: a space, a plus, an ampersand or an equals sign in a value.
    assert hubspot_uri("https://h/x?q=a%20b%2Bc%26d%3De") == "https://h/x?q=a%20b%2Bc%26d%3De"
    # HubSpot signs the decoded form: a request to the encoded URL verifies against it.
    signature = documented_v3(SECRET, "POST", "https://h/x?e=a@b.com", BODY, str(NOW_MS))
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
