"""`GET /v1/analytics/summary`: one tenant's contracts, through the real pieces (webhook, DocuSign
sandbox, Connect, archive, reminders, a payment recorded through the API)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration.test_listing import OTHER, create, other_tenant_contract
from tests.support.stack import StackHarness, sign_as


def summary(stack: StackHarness, query: str = "", headers: dict[str, str] | None = None) -> Any:
    return stack.client.http.get(f"/v1/analytics/summary{query}", headers=headers or stack.auth())


def test_summary_of_the_tenants_contracts(stack: StackHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    signed = create(stack, "sales", "deal-signed")
    service = create(stack, "service", "svc-1")
    stack.wait_status(signed, "sent")
    stack.wait_status(service, "sent")
    other_tenant_contract("deal-foreign")
    for position in (1, 2):
        status, _ = sign_as(stack, signed, position)
        assert status in (200, 302)
        stack.wait_until(lambda p=position: stack.get_contract(signed)["signers"][p - 1]["status"] == "signed",
                         what=f"signer {position} signed")
    stack.wait_status(signed, "active")
    paid = stack.client.http.post(f"/v1/contracts/{signed}/milestones/pay-1", headers={
        **stack.auth(), "Content-Type": "application/json"}, body=b'{"status": "paid", "amount": "38400.00"}')
    assert paid.status_code == 200, paid.body
    sent = stack.fire_schedule("hourly_reminders", "2027-01-14T02:00:00Z")["sent"]
    assert sent >= 1  # the delivery milestone (2027-01-15) at least
    timeline = stack.timeline(signed)
    assert sent == sum(1 for e in timeline if e["type"] == "reminder_sent")
    create(stack, "sales", "deal-new")  # stays received: no job runs after this

    # Today (the default range) includes the three contracts created just now.
    response = summary(stack)
    assert response.status_code == 200, response.body
    out = response.json_body
    assert out["contracts"] == 3
    assert out["by_status"] == {"active": 1, "received": 1, "sent": 1}
    assert out["by_type"] == {"sales": 2, "service": 1}
    assert out["value_by_currency"] == {"CNY": "256000.00", "EUR": "36000.00"}
    assert out["signed_value_by_currency"] == {"CNY": "128000.00"}
    hours = out["time_to_sign_hours"]
    assert hours["count"] == 1 and hours["median"] == hours["p90"] and 0 <= hours["median"] < 1
    assert out["reminders_sent"] == sent
    assert out["overdue_payments"] == {"count": 0, "by_currency": {}}  # nothing is due yet, today

    # On 2027-03-01 the second payment (89 600, due 2027-02-14) is overdue; the first was paid.
    from chalicelib.store import contracts as store

    created = datetime.fromisoformat(stack.get_contract(signed)["created_at"]).date().isoformat()
    monkeypatch.setattr(store, "now_utc", lambda: datetime(2027, 3, 1, 4, 0, tzinfo=UTC))
    later = summary(stack, f"?from={created}&to={created}").json_body
    assert later["from"] == later["to"] == created and later["contracts"] == 3
    assert later["overdue_payments"] == {"count": 1, "by_currency": {"CNY": {"count": 1, "open_amount": "89600.00"}}}
    # The default window (the 90 days before 2027-03-01) no longer holds them.
    assert summary(stack).json_body["contracts"] == 0


def test_other_tenants_and_ranges(stack: StackHarness) -> None:
    create(stack, "sales", "deal-1")
    other_tenant_contract("deal-1")
    other_tenant_contract("deal-2")
    mine = summary(stack).json_body
    theirs = summary(stack, headers=OTHER).json_body
    assert mine["contracts"] == 1 and theirs["contracts"] == 2
    assert theirs["value_by_currency"] == {"CNY": "256000.00"}
    assert summary(stack, "?from=2020-01-01&to=2020-12-31").json_body["contracts"] == 0


@pytest.mark.parametrize("query, path", [
    ("?from=2027-02-30", "from"),
    ("?to=soon", "to"),
    ("?from=2027-03-01&to=2027-02-01", "from"),
    ("?status=active", "status"),
])
def test_bad_ranges_are_400(stack: StackHarness, query: str, path: str) -> None:
    response = summary(stack, query)
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["code"] == "bad_request"
    assert [d["path"] for d in response.json_body["error"]["details"]] == [path]


def test_needs_an_api_key(stack: StackHarness) -> None:
    assert stack.client.http.get("/v1/analytics/summary").status_code == 401
