"""Input an attacker controls, before or after authentication, never reaches a 500: each case here
raised inside the standard library before (an adversarial review's findings) and is now a clear
401 or 400."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from chalicelib.core.constant_time import matches_any
from chalicelib.core.errors import MalformedBody, Unauthorized
from chalicelib.core.jsonbody import MAX_DEPTH, parse_json
from chalicelib.esign.connect import parse_message, verify_hmac
from chalicelib.intake.signatures import verify_basic_auth, verify_hubspot_v3


@pytest.mark.parametrize("signature", ["é" * 44, "签名", "\udcff", "abc\u0000"])
def test_a_non_ascii_connect_signature_is_a_401(signature: str) -> None:
    with pytest.raises(Unauthorized):
        verify_hmac(["key"], {"X-DocuSign-Signature-1": signature}, b"{}")


def test_a_good_connect_signature_still_verifies() -> None:
    body = b'{"event": "envelope-sent"}'
    good = base64.b64encode(hmac.new(b"key", body, hashlib.sha256).digest()).decode()
    verify_hmac(["other", "key"], {"X-DocuSign-Signature-2": good}, body)


@pytest.mark.parametrize("timestamp", ["²", "١٢٣", "12³", "1" * 40, "-1", " 1"])
def test_a_hubspot_timestamp_that_is_not_ascii_digits_is_a_401(timestamp: str) -> None:
    headers = {"X-HubSpot-Signature-v3": "x", "X-HubSpot-Request-Timestamp": timestamp}
    with pytest.raises(Unauthorized, match="malformed X-HubSpot-Request-Timestamp"):
        verify_hubspot_v3(["secret"], headers, "POST", ["https://x.example/v1/webhooks/s"], b"{}")


@pytest.mark.parametrize("candidate", ["tök", "令牌", "\udcff"])
def test_a_non_ascii_token_does_not_match(candidate: str) -> None:
    assert matches_any(candidate, ["token"]) is False


def test_a_pipedrive_user_name_stored_as_a_number_still_compares() -> None:
    credentials = base64.b64encode(b"12345:pw").decode()
    verify_basic_auth(12345, ["pw"], f"Basic {credentials}")  # type: ignore[arg-type]
    with pytest.raises(Unauthorized):
        verify_basic_auth(12345, ["other"], f"Basic {credentials}")  # type: ignore[arg-type]


@pytest.mark.parametrize("retry_count", ["x", "²", None, [], {}, True, "-3", "9" * 30])
def test_a_malformed_connect_retry_count_is_read_as_zero(retry_count: object) -> None:
    body = json.dumps({"event": "envelope-sent", "retryCount": retry_count,
                       "data": {"envelopeId": "e-1", "envelopeSummary": {}}}).encode()
    assert parse_message(body).retry_count == 0


def test_retry_count_as_docusign_sends_it() -> None:
    body = json.dumps({"event": "envelope-sent", "retryCount": "2", "data": {"envelopeId": "e-1"}}).encode()
    assert parse_message(body).retry_count == 2


@pytest.mark.parametrize("body", [b"[" * 3000 + b"]" * 3000, b'{"a":' * 2000 + b"1" + b"}" * 2000])
def test_deeply_nested_json_is_a_400(body: bytes) -> None:
    with pytest.raises(MalformedBody, match=f"deeper than {MAX_DEPTH}"):
        parse_json(body)


def test_nesting_inside_strings_does_not_count() -> None:
    assert parse_json(json.dumps({"text": "[" * 500}).encode()) == {"text": "[" * 500}


@pytest.mark.parametrize("body", [b'{"amount": ' + b"9" * 5000 + b"}", b'{"amount": 1.' + b"5" * 5000 + b"}"])
def test_an_enormous_number_is_a_400(body: bytes) -> None:
    with pytest.raises(MalformedBody, match="number"):
        parse_json(body)


@pytest.mark.parametrize("body", [b"NaN", b'{"a": Infinity}', b"\xff\xfe", b'{"a": 1'])
def test_what_is_not_json_is_a_400(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        parse_json(body)


# Ids from the URL are anything a caller sends, and DynamoDB refuses a key over its limits (partition
# 2,048 bytes, sort 1,024) on a read as on a write: found by tests/reliability/test_fuzz_routes.py as
# a 500 on every /v1/contracts/{contract_id} route and, unauthenticated, on /v1/webhooks/{source_id}.


@pytest.mark.parametrize("contract_id", ["x" * 1025, "é" * 513, "ctr_" + "f" * 2000, ""])
def test_a_contract_id_no_key_can_hold_is_no_contract(contract_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.store import contracts
    from chalicelib.store.models import ContractRecord

    def read(*args: object, **kwargs: object) -> None:
        raise AssertionError("DynamoDB would refuse this read with a ValidationException")

    monkeypatch.setattr(ContractRecord, "get", read)
    assert contracts.find_contract("demo", contract_id) is None


def test_a_contract_id_at_the_key_limit_is_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from pynamodb.exceptions import DoesNotExist

    from chalicelib.store import contracts
    from chalicelib.store.models import ContractRecord

    read: list[str] = []

    def get(tenant_id: str, contract_id: str, **kwargs: object) -> None:
        read.append(contract_id)
        raise DoesNotExist()

    monkeypatch.setattr(ContractRecord, "get", get)
    assert contracts.find_contract("demo", "x" * 1024) is None
    assert read == ["x" * 1024]


@pytest.mark.parametrize("source_id", ["a" * 3000, "source#x", "../demo-generic", "Demo-Generic", "x", "\x00", ""])
def test_a_source_id_no_source_can_have_is_not_looked_up(source_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.store import registry

    def read(key: str) -> None:
        raise AssertionError(f"looked up {key[:40]!r}")

    monkeypatch.setattr(registry, "_get", read)
    registry.clear_cache()
    assert registry.get_source(source_id) is None
    assert registry._cache == {}  # nothing a caller invents stays in memory


def test_the_registry_cache_stays_bounded_under_made_up_ids() -> None:
    """A caller cycling through valid-looking unknown source ids: each miss is cached a minute, but
    the cache never holds more than its bound."""
    from chalicelib.store import registry

    registry.clear_cache()
    try:
        for n in range(registry._CACHE_MAX_ENTRIES * 3):
            registry._cached(f"source#made-up-{n}", lambda: None)
        assert len(registry._cache) == registry._CACHE_MAX_ENTRIES
        assert f"source#made-up-{registry._CACHE_MAX_ENTRIES * 3 - 1}" in registry._cache
    finally:
        registry.clear_cache()


def test_an_error_quotes_a_long_id_cut_short() -> None:
    from chalicelib.core.errors import quoted

    assert quoted("ctr_1") == "'ctr_1'"
    long = quoted("x" * 5000)
    assert len(long) == 64 and long.startswith("'xxx") and long.endswith("…")
