"""Connect: JSON SIM messages, HMAC signatures, retries, event filters and Connect faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import docusign_esign as ds

from .helpers import CONNECT_KEYS, SandboxHandle, definition, embedded_signer, wait_for


def signature(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def send(sandbox: SandboxHandle, listener, **kwargs) -> str:
    signers = kwargs.pop("signers", None) or [embedded_signer(1)]
    envelope = definition(signers, listener_url=listener.url, **kwargs)
    return sandbox.api().create_envelope(sandbox.account_id, envelope_definition=envelope).envelope_id


def test_failed_deliveries_are_retried_with_valid_hmac(sandbox: SandboxHandle, listener) -> None:
    listener.fail_first = 2
    envelope_id = send(sandbox, listener, events=["envelope-sent"])
    received = listener.wait(3)
    sandbox.connect_idle()
    assert len(listener.received) == 3
    bodies = [r.json() for r in received]
    assert [b["retryCount"] for b in bodies] == [0, 1, 2]
    assert len({b["generatedDateTime"] for b in bodies}) == 1  # the same event, re-sent
    for r in received:
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["X-Authorization-Digest"] == "HMACSHA256"
        assert r.headers["X-DocuSign-AccountId"] == sandbox.account_id
        for n, key in enumerate(CONNECT_KEYS, start=1):
            assert hmac.compare_digest(r.headers[f"X-DocuSign-Signature-{n}"], signature(key, r.body))
        assert f"X-DocuSign-Signature-{len(CONNECT_KEYS) + 1}" not in r.headers
    outcomes = [e["outcome"] for e in sandbox.connect_log(envelope_id=envelope_id)]
    assert outcomes == ["failed", "failed", "delivered"]


def test_message_shape_follows_the_lifecycle(sandbox: SandboxHandle, listener) -> None:
    signer = embedded_signer(1)
    envelope_id = send(sandbox, listener, signers=[signer])
    sandbox.sign(envelope_id, signer)
    messages = [r.json() for r in listener.wait(6)]
    sandbox.connect_idle()
    assert [m["event"] for m in messages] == [
        "envelope-sent",
        "recipient-sent",
        "recipient-delivered",
        "envelope-delivered",
        "recipient-completed",
        "envelope-completed",
    ]
    stamps = [m["generatedDateTime"] for m in messages]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)  # strictly increasing
    for m in messages:
        assert list(m)[:7] == [
            "event",
            "uri",
            "retryCount",
            "configurationId",
            "apiVersion",
            "generatedDateTime",
            "data",
        ]
        assert m["uri"] == f"/restapi/v2.1/accounts/{sandbox.account_id}/envelopes/{envelope_id}"
        assert isinstance(m["configurationId"], int) and m["apiVersion"] == "v2.1"
        assert m["generatedDateTime"].endswith("Z") and len(m["generatedDateTime"]) == 24
        assert m["data"]["accountId"] == sandbox.account_id and m["data"]["envelopeId"] == envelope_id
        assert ("recipientId" in m["data"]) == m["event"].startswith("recipient-")
    last = messages[-1]["data"]["envelopeSummary"]
    assert last["status"] == "completed" and last["completedDateTime"]
    assert last["customFields"]["textCustomFields"][0]["value"] == "C-42"
    (summary_signer,) = last["recipients"]["signers"]
    assert summary_signer["status"] == "completed" and summary_signer["signedDateTime"]
    assert summary_signer["clientUserId"] == signer.client_user_id
    assert summary_signer["routingOrder"] == "1" and summary_signer["recipientId"] == "1"


def test_only_listed_events_and_included_data_are_sent(sandbox: SandboxHandle, listener) -> None:
    signer = embedded_signer(1)
    envelope_id = send(
        sandbox, listener, signers=[signer], events=["envelope-declined", "recipient-declined"], include_data=[]
    )
    sandbox.sign(envelope_id, signer, action="decline", reason="不同意")
    messages = [r.json() for r in listener.wait(2)]
    sandbox.connect_idle()
    assert [m["event"] for m in messages] == ["recipient-declined", "envelope-declined"]
    summary = messages[1]["data"]["envelopeSummary"]
    assert summary["status"] == "declined"
    assert "customFields" not in summary and "recipients" not in summary  # includeData was empty


def test_void_event_carries_the_reason(sandbox: SandboxHandle, listener) -> None:
    envelope_id = send(sandbox, listener, events=["envelope-voided"])
    sandbox.api().update(
        sandbox.account_id, envelope_id, envelope=ds.Envelope(status="voided", voided_reason="合同作废")
    )
    (received,) = listener.wait(1)
    summary = received.json()["data"]["envelopeSummary"]
    assert (summary["status"], summary["voidedReason"]) == ("voided", "合同作废")


def test_no_retry_without_require_acknowledgment(sandbox: SandboxHandle, listener) -> None:
    listener.fail_first = 5
    envelope_id = send(sandbox, listener, events=["envelope-sent"], require_ack="false")
    listener.wait(1)
    sandbox.connect_idle()
    assert len(listener.received) == 1
    assert [e["outcome"] for e in sandbox.connect_log(envelope_id=envelope_id)] == ["failed"]


def test_drop_fault_loses_the_next_message(sandbox: SandboxHandle, listener) -> None:
    sandbox.control("POST", "/sandbox/faults", {"connect_drop": 1})
    first = send(sandbox, listener, events=["envelope-sent"])
    second = send(sandbox, listener, events=["envelope-sent"])
    listener.wait(1)
    sandbox.connect_idle()
    assert [m["data"]["envelopeId"] for m in listener.messages()] == [second]
    assert sandbox.connect_log(envelope_id=first)[0]["outcome"] == "dropped"


def test_duplicate_fault_delivers_twice(sandbox: SandboxHandle, listener) -> None:
    sandbox.control("POST", "/sandbox/faults", {"connect_duplicate": 1})
    send(sandbox, listener, events=["envelope-sent"])
    first, second = listener.wait(2)
    sandbox.connect_idle()
    assert len(listener.received) == 2 and first.body == second.body


def test_reorder_fault_swaps_two_messages(sandbox: SandboxHandle, listener) -> None:
    signer = embedded_signer(1)
    envelope_id = send(sandbox, listener, signers=[signer], events=["recipient-completed", "envelope-completed"])
    sandbox.control("POST", "/sandbox/faults", {"connect_reorder": 1})
    sandbox.sign(envelope_id, signer)
    messages = [r.json() for r in listener.wait(2)]
    assert [m["event"] for m in messages] == ["envelope-completed", "recipient-completed"]
    assert messages[1]["generatedDateTime"] < messages[0]["generatedDateTime"]  # a listener can tell


def test_held_message_is_released_when_nothing_follows(sandbox: SandboxHandle, listener) -> None:
    sandbox.control("POST", "/sandbox/faults", {"connect_reorder": 1})
    send(sandbox, listener, events=["envelope-sent"])
    listener.wait(1, timeout=3)  # hold time is 1 s in the test config


def test_connect_log_is_inspectable(sandbox: SandboxHandle, listener) -> None:
    envelope_id = send(sandbox, listener, events=["envelope-sent"])
    entry = wait_for(lambda: sandbox.connect_log(envelope_id=envelope_id, outcome="delivered"))[0]
    assert entry["event"] == "envelope-sent" and entry["http_status"] == 200 and entry["url"] == listener.url
    body = json.loads(listener.received[0].body)
    assert entry["generated"] == body["generatedDateTime"]
