"""`GET /v1/contracts`: tenant-scoped, filtered, paginated with a cursor nobody can forge."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import StackHarness

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"
OTHER = {"Authorization": "Bearer other-key"}


def body(sample: str, crm_record_id: str, end_date: str | None = None) -> dict[str, Any]:
    data = json.loads((SAMPLES / f"{sample}.json").read_text())
    data["contract"]["crm_record_id"] = crm_record_id
    data["contract"]["number"] = f"N-{crm_record_id}"
    if end_date:
        data["contract"]["end_date"] = end_date
    return data


def create(stack: StackHarness, sample: str, crm_record_id: str, end_date: str | None = None) -> str:
    response = stack.post_webhook(body(sample, crm_record_id, end_date))
    assert response.status_code == 202, response.body
    return response.json_body["contract_id"]


def other_tenant_contract(crm_record_id: str = "deal-1") -> str:
    """Another tenant, its key and one contract (written through the store: it has no source here)."""
    from chalicelib.intake.events import signer_states
    from chalicelib.store import contracts as store
    from chalicelib.store.registry import put_api_key, put_tenant

    put_tenant("other", "Other Co.")
    put_api_key("other", "other-key")
    document = body("sales", crm_record_id)["contract"]
    return store.create_contract(tenant_id="other", source_id="other-src", delivery_id=f"d-{crm_record_id}",
                                 document=document, signers=signer_states(document),
                                 callback_url=None).contract.contract_id


def listing(stack: StackHarness, query: str = "", headers: dict[str, str] | None = None) -> Any:
    return stack.client.http.get(f"/v1/contracts{query}", headers=headers or stack.auth())


def walk(stack: StackHarness, query: str, headers: dict[str, str] | None = None) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        sep = "&" if "?" in query else "?"
        response = listing(stack, query + (f"{sep}cursor={cursor}" if cursor else ""), headers)
        assert response.status_code == 200, response.body
        pages.append([c["contract_id"] for c in response.json_body["contracts"]])
        cursor = response.json_body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50


def test_pages_walk_every_contract_once_and_only_the_tenants(stack: StackHarness) -> None:
    mine = {create(stack, "sales", f"deal-{i}") for i in range(7)}
    foreign = other_tenant_contract("deal-0")  # the same CRM record id, another tenant
    pages = walk(stack, "?limit=2")
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    seen = [cid for page in pages for cid in page]
    assert len(seen) == len(set(seen)) and set(seen) == mine and foreign not in seen
    # An exact multiple of the limit: the last full page says there is nothing more.
    assert [len(p) for p in walk(stack, "?limit=7")] == [7]
    # The default limit takes them all in one page.
    assert [len(p) for p in walk(stack, "")] == [7]
    # The other tenant sees its own contract only.
    assert walk(stack, "", OTHER) == [[foreign]]


def test_summary_shape(stack: StackHarness) -> None:
    cid = create(stack, "sales", "deal-shape")
    response = listing(stack)
    assert response.status_code == 200
    (summary,) = response.json_body["contracts"]
    assert response.json_body["next_cursor"] is None
    assert summary["contract_id"] == cid and summary["status"] == "received" and summary["type"] == "sales"
    assert summary["number"] == "N-deal-shape" and summary["crm_record_id"] == "deal-shape"
    assert summary["amount"] == "128000.00" and summary["currency"] == "CNY"
    assert summary["end_date"] == "2027-11-30" and summary["title"] == "智能门锁销售合同"
    assert [s["status"] for s in summary["signers"]] == ["created", "created"]
    assert summary["updated_at"] and summary["created_at"]
    assert "timeline" not in summary and "document" not in summary


def test_filters(stack: StackHarness) -> None:
    early = create(stack, "sales", "deal-a", end_date="2027-06-30")
    late = create(stack, "sales", "deal-b", end_date="2027-11-30")
    service = create(stack, "service", "svc-1")  # ends 2027-12-31
    stack.drain_jobs()
    stack.wait_status(early, "sent")
    stack.wait_status(service, "sent")
    fresh = create(stack, "sales", "deal-c", end_date="2027-07-31")  # not sent yet: received

    def ids(query: str) -> set[str]:
        return {cid for page in walk(stack, query) for cid in page}

    assert ids("?status=received") == {fresh}
    assert ids("?status=sent") == {early, late, service}
    assert ids("?status=sent,received&limit=1") == {early, late, service, fresh}
    assert ids("?type=service") == {service}
    assert ids("?type=sales&status=sent") == {early, late}
    assert ids("?type=partner") == set()
    assert ids("?expiring_before=2027-08-01") == {early, fresh}
    assert ids("?expiring_before=2027-11-30") == {early, fresh}  # strictly before
    assert ids("?expiring_before=2028-01-01&type=sales&limit=1") == {early, late, fresh}
    assert ids("?crm_record_id=deal-b") == {late}
    assert ids("?crm_record_id=deal-b&status=received") == set()
    assert ids("?crm_record_id=nope") == set()
    other_tenant_contract("svc-9")
    assert ids("?crm_record_id=svc-9") == set()  # another tenant's CRM record


@pytest.mark.parametrize("query, path", [
    ("?status=bogus", "status"),
    ("?status=", "status"),
    ("?type=lease", "type"),
    ("?expiring_before=next-week", "expiring_before"),
    ("?limit=0", "limit"),
    ("?limit=201", "limit"),
    ("?limit=ten", "limit"),
    ("?colour=red", "colour"),
])
def test_bad_filters_are_400_in_the_error_shape(stack: StackHarness, query: str, path: str) -> None:
    response = listing(stack, query)
    assert response.status_code == 400, response.body
    error = response.json_body["error"]
    assert error["code"] == "bad_request" and error["message"]
    assert [d["path"] for d in error["details"]] == [path]


def test_a_tampered_or_foreign_cursor_is_400(stack: StackHarness) -> None:
    for i in range(3):
        create(stack, "sales", f"deal-{i}")
    other_tenant_contract()
    cursor = listing(stack, "?limit=1").json_body["next_cursor"]
    assert cursor
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    data["k"]["contract_id"]["S"] = "ctr_" + "0" * 20  # point elsewhere, keep the old signature
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    data["k"]["tenant_id"]["S"] = "other"
    cross = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    for bad, headers in [(forged, None), (cross, None), ("not*base64", None), ("e30", None), (cursor[:-2], None),
                         (cursor, OTHER)]:
        response = listing(stack, f"?limit=1&cursor={bad}", headers)
        assert response.status_code == 400, (bad, response.body)
        assert response.json_body["error"]["code"] == "invalid_cursor"
    assert listing(stack, f"?limit=1&cursor={cursor}").status_code == 200


def test_needs_an_api_key(stack: StackHarness) -> None:
    assert stack.client.http.get("/v1/contracts").status_code == 401
    response = stack.client.http.get("/v1/contracts", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and response.json_body["error"]["code"] == "unauthorized"


def test_the_list_route_does_not_shadow_a_contract(stack: StackHarness) -> None:
    cid = create(stack, "sales", "deal-x")
    assert stack.get_contract(cid)["contract_id"] == cid
