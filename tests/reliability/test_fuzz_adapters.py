"""Fuzzing every CRM adapter through the app: each CRM's own sample request (devstack/crm_samples),
mutated by hypothesis (values replaced by hostile ones at random paths, keys dropped, structure
changed, raw bytes) and then authenticated the way that CRM does, so the fuzz reaches past the
signature check into parsing, mapping and validation. Whatever the body, the answer is a 2xx or a
4xx in the public error shape: never a 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.crm_samples import load, raw
from tests.integration.test_crm_helpers import post_fxiaoke, post_hubspot, post_pipedrive, post_salesforce, post_zoho
from tests.support.fixtures import volume
from tests.support.stack import StackHarness

pytestmark = pytest.mark.reliability

EXAMPLES_PER_ADAPTER = volume(120)
FUZZ = settings(max_examples=EXAMPLES_PER_ADAPTER, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\n", "a\r\nBcc: x@y.example", "²", "١٢٣", "NaN", "-1", "1e400", "0x10",
                     "9" * 5000, "𝕏" * 300, "<script>", "{{ 7*7 }}", "../../etc/passwd", "\x00", "null"]),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30, max_value=10**40),
                    st.floats(allow_nan=False, allow_infinity=False), HOSTILE_TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                              st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                           max_leaves=12)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any, drop: bool) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if drop and not rest:
            copy.pop(head, None)
        else:
            copy[head] = _replace(value[head], rest, new, drop)
        return copy
    copy_list = list(value)
    copy_list[head] = _replace(value[head], rest, new, drop)
    return copy_list


@st.composite
def mutated_json(draw: Any, sample: Any) -> bytes:
    """The sample with 1–4 mutations, or now and then bytes that are not JSON at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(st.binary(max_size=200), st.just(b"[" * 3000), st.just(b'{"a":' * 2000)))
    value = sample
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(value)
        path = draw(st.sampled_from(paths))
        value = _replace(value, path, draw(JSON_VALUES), drop=draw(st.booleans()) and bool(path))
    return json.dumps(value, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def mutated_xml(draw: Any) -> bytes:
    text = raw("salesforce_outbound.xml").decode()
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return draw(st.binary(max_size=300))
    if choice == 1:  # an entity bomb or an external entity: refused unparsed
        return b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>'
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 80)))
    return (text[:start] + draw(HOSTILE_TEXT) + text[end:]).encode()


def _check(response: Any, kind: str, body: bytes) -> None:
    assert response.status_code < 500, (kind, response.status_code, response.body[:300], body[:300])
    if response.status_code >= 400 and kind != "salesforce":
        error = json.loads(response.body)["error"]
        assert error["code"] and error["message"], error


def _fuzz(kind: str, bodies: Any, post: Any, posted: dict[str, int]) -> None:
    """Posts what `bodies` generates to the CRM kind's source, authenticated as that CRM does."""

    @FUZZ
    @given(body=bodies)
    def run(body: bytes) -> None:
        posted[kind] = posted.get(kind, 0) + 1
        _check(post(body), kind, body)

    run()


def test_fuzz_every_adapter(stack: StackHarness, reliability_row: Any) -> None:
    posted: dict[str, int] = {}
    for kind, bodies, post in (
        ("hubspot", mutated_json(load("hubspot_card.json")), lambda b: post_hubspot(stack, b)),
        ("zoho", mutated_json(load("zoho_deal.json")), lambda b: post_zoho(stack, b)),
        ("fxiaoke", mutated_json(load("fxiaoke_contract.json")), lambda b: post_fxiaoke(stack, b)),
        ("pipedrive", mutated_json(load("pipedrive_deal.json")), lambda b: post_pipedrive(stack, b)),
        ("salesforce", mutated_xml(), lambda b: post_salesforce(stack, b)),
    ):
        _fuzz(kind, bodies, post, posted)
    reliability_row("CRM adapters fuzzed (hypothesis: mutated native samples, signed)",
                    f"{sum(posted.values())} requests ({', '.join(f'{k} {v}' for k, v in posted.items())})",
                    lost=0, duplicate_envelopes=0, section="fuzz")


def _standard_webhooks(secret: str, body: bytes) -> dict[str, str]:
    """Standard Webhooks over raw bytes (spec: base64 HMAC-SHA256 of `id.timestamp.body` with the
    base64-decoded `whsec_` key), so bodies that are not UTF-8 are signed too."""
    import base64
    import hashlib
    import hmac
    import time
    import uuid

    msg_id, timestamp = f"msg_{uuid.uuid4().hex}", str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {"Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": timestamp,
            "webhook-signature": "v1," + base64.b64encode(digest).decode()}


def test_fuzz_generic_source(stack: StackHarness, reliability_row: Any) -> None:
    """The generic source (Standard Webhooks): the canonical contract, mutated."""
    from devstack.webhook import sample

    posted: dict[str, int] = {}
    _fuzz("generic", mutated_json(sample("sales")), lambda b: stack.client.http.post(
        f"/v1/webhooks/{stack.source_id}", headers=_standard_webhooks(stack.secret, b), body=b), posted)
    reliability_row("generic source fuzzed (hypothesis: mutated canonical contract, signed)",
                    f"{posted['generic']} requests", lost=0, duplicate_envelopes=0, section="fuzz")
