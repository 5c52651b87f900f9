"""The execution log of a signed contract (POST /v1/contracts/{id}/execution): a service contract
signed through the sandbox gets entries of three kinds; the contract view lists them under
`execution`, the timeline has them, and the analytics summary counts them."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.test_listing import OTHER, create, other_tenant_contract
from tests.support.stack import StackHarness, sign_as


def post_entry(stack: StackHarness, contract_id: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {**(stack.auth() if headers is None else headers), "Content-Type": "application/json"}
    return stack.client.http.post(f"/v1/contracts/{contract_id}/execution", headers=sent, body=raw)


def signed_service_contract(stack: StackHarness, crm_record_id: str) -> str:
    contract_id = create(stack, "service", crm_record_id)
    stack.wait_status(contract_id, "sent")
    for position in (1, 2):  # both sign by email, in the same routing order
        status, _ = sign_as(stack, contract_id, position)
        assert status in (200, 302)
        stack.wait_until(lambda p=position: stack.get_contract(contract_id)["signers"][p - 1]["status"] == "signed",
                         what=f"signer {position} signed")
    stack.wait_status(contract_id, "active")
    return contract_id


def test_entries_of_a_signed_service_contract(stack: StackHarness) -> None:
    contract_id = create(stack, "service", "svc-before")
    refused = post_entry(stack, contract_id, {"kind": "delivery", "at": "2027-01-05T10:00:00+01:00",
                                              "by": "Anna Keller", "text": "too early"})
    assert refused.status_code == 409, refused.body
    assert refused.json_body["error"]["code"] == "not_signed"

    contract_id = signed_service_contract(stack, "svc-exec")
    entries = [
        {"kind": "service_record", "at": "2027-01-05T10:00:00+01:00", "by": "Anna Keller",
         "text": "Monthly patching window completed."},
        {"kind": "feedback", "at": "2027-01-06T09:30:00Z", "by": "Jonas Weber", "text": "Alert noise too high.",
         "entry_id": "fb-1"},
        {"kind": "acceptance", "at": "2027-01-31T16:00:00+01:00", "by": "Jonas Weber", "text": "January accepted.",
         "status": "accepted"},
    ]
    answers = [post_entry(stack, contract_id, e) for e in entries]
    assert [a.status_code for a in answers] == [201, 201, 201], [a.body for a in answers]
    first = answers[0].json_body
    assert first["kind"] == "service_record" and first["by"] == "Anna Keller"
    assert first["at"] == "2027-01-05T09:00:00+00:00"  # 10:00 at +01:00, kept in UTC
    assert first["entry_id"] and first["recorded_at"] and "status" not in first
    assert answers[1].json_body["status"] == "open"  # feedback is open unless said otherwise

    # The same entry_id again is the same entry, recorded once.
    again = post_entry(stack, contract_id, {**entries[1], "text": "something else"})
    assert again.status_code == 200 and again.json_body == answers[1].json_body

    view = stack.get_contract(contract_id)
    assert [(e["kind"], e["text"]) for e in view["execution"]] == [(e["kind"], e["text"]) for e in entries]
    kinds = [t["type"] for t in view["timeline"] if t["type"].startswith("execution_")]
    assert kinds == ["execution_service_record", "execution_feedback", "execution_acceptance"]

    summary = stack.client.http.get("/v1/analytics/summary", headers=stack.auth())
    assert summary.status_code == 200, summary.body
    assert summary.json_body["execution"] == {
        "by_kind": {"service_record": 1, "delivery": 0, "acceptance": 1, "communication": 0, "feedback": 1,
                    "settlement": 0},
        "open_feedback": 1,
    }
    # Closing the feedback: no contract has feedback open any more; a second close changes nothing.
    for text in ("Thresholds tuned.", "Confirmed again."):
        closed = post_entry(stack, contract_id, {"kind": "feedback", "at": "2027-01-08T09:00:00Z", "by": "Anna Keller",
                                                 "text": text, "status": "closed"})
        assert closed.status_code == 201, closed.body
    out = stack.client.http.get("/v1/analytics/summary", headers=stack.auth()).json_body["execution"]
    assert out["open_feedback"] == 0 and out["by_kind"]["feedback"] == 3


def test_bad_bodies_are_422_with_paths_and_other_tenants_are_404(stack: StackHarness) -> None:
    contract_id = signed_service_contract(stack, "svc-bad")
    cases: list[tuple[Any, set[str]]] = [
        ({"kind": "invoice", "at": "2027-01-05T10:00:00Z", "by": "a", "text": "b"}, {"kind"}),
        ({"kind": "delivery", "at": "2027-01-05", "by": "a", "text": "b"}, {"at"}),  # a date, not a date-time
        ({"kind": "delivery", "at": "2027-01-05T10:00:00", "by": "a", "text": "b"}, {"at"}),  # no offset
        ({"kind": "delivery", "at": "yesterday", "by": " ", "text": "x" * 4001}, {"at", "by", "text"}),
        ({"kind": "delivery", "at": "2027-01-05T10:00:00Z", "by": "a", "text": "b", "status": "open"}, {"status"}),
        ({"kind": "feedback", "at": "2027-01-05T10:00:00Z", "by": "a", "text": "b", "extra": 1}, {"extra"}),
        ([], {""}),
    ]
    for body, paths in cases:
        response = post_entry(stack, contract_id, body)
        assert response.status_code == 422, (body, response.body)
        assert {d["path"] for d in response.json_body["error"]["details"]} == paths, body
    assert stack.get_contract(contract_id)["execution"] == []

    foreign = other_tenant_contract("deal-foreign-exec")
    valid = {"kind": "delivery", "at": "2027-01-05T10:00:00Z", "by": "a", "text": "b"}
    assert post_entry(stack, foreign, valid).status_code == 404
    assert post_entry(stack, contract_id, valid, headers=OTHER).status_code == 404
    assert post_entry(stack, contract_id, valid, headers={}).status_code == 401
