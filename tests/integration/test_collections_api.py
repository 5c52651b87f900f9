"""`GET /v1/analytics/receivables` and `GET /v1/analytics/renewals`: the figures the API answers are
the ones computed here by hand from the contracts' inputs (planned amounts, payments recorded through
the API, due and end dates), for a fixed `as_of`; the CSV says the same as the JSON; contracts not in
force and another tenant's contracts are never counted.

as_of = Sat 2030-06-15. Contracts (the demo tenant: Asia/Shanghai, Monday to Friday):
- A, CNY, fixed term 2030-01-02 .. 2030-08-31 (ends in 77 days: window 90), 8 000.00:
  a1 1 000.00 due 06-15, 400.00 paid (due today: not due, 600.00, expected 2030-06)
  a2 2 000.00 due 06-01 (14 days late: 1_30)
  a3 3 000.00 due 04-20, 1 000.50 paid (56 days late: 31_60, 1 999.50)
  a4   500.00 due 03-10 (97 days late: over_90)
  a5   700.00 due 07-31 (not due, expected 2030-07)
  a6   800.00 due 08-15, paid in full (nothing open)
- B, EUR, auto-renewing term 2030-01-01 .. Sat 2030-08-31, 30 days' notice: cancel-by Thu 08-01
  (47 days: window 60), 37 000.00:
  h1 18 000.00 due 01-31, paid in full; h2 18 000.00 due 07-31, 5 000.00 paid (13 000.00 not due,
  expected 2030-07); b3 1 000.00 due 02-28 (107 days late: over_90)
- C, CNY, fixed term 2030-01-02 .. 2030-07-10 (25 days: window 30), 6 500.00:
  c1 5 000.00 due 05-01 (45 days late: 31_60); c2 1 500.00 due 07-05 (expected 2030-07)
- D, CNY, received only (never signed), ends 2030-07-01: not counted anywhere.
- E, the other tenant's, active, overdue milestones, ends 2030-07-01: not counted for this tenant.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.test_listing import OTHER, create
from tests.integration.test_reminders_support import active_contract, sales_2030, service_2030
from tests.support.stack import StackHarness

AS_OF = date(2030, 6, 15)


def get(stack: StackHarness, route: str, query: str = "", headers: dict[str, str] | None = None) -> Any:
    return stack.client.http.get(f"/v1/analytics/{route}{query}", headers=headers or stack.auth())


def pay(stack: StackHarness, contract_id: str, milestone_id: str, amount: str) -> None:
    answer = stack.client.http.post(f"/v1/contracts/{contract_id}/milestones/{milestone_id}",
                                    headers={**stack.auth(), "Content-Type": "application/json"},
                                    body=json.dumps({"status": "paid", "amount": amount}).encode())
    assert answer.status_code == 200, answer.body


def milestones(*rows: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"id": i, "name": i, "due_date": due, "amount": amount} for i, due, amount in rows]


A_MILESTONES = [("a1", "2030-06-15", "1000.00"), ("a2", "2030-06-01", "2000.00"), ("a3", "2030-04-20", "3000.00"),
                ("a4", "2030-03-10", "500.00"), ("a5", "2030-07-31", "700.00"), ("a6", "2030-08-15", "800.00")]
A_PAID = {"a1": "400.00", "a3": "1000.50", "a6": "800.00"}
B_MILESTONES = [("h1", "2030-01-31", "18000.00"), ("h2", "2030-07-31", "18000.00"), ("b3", "2030-02-28", "1000.00")]
B_PAID = {"h1": "18000.00", "h2": "5000.00"}
C_MILESTONES = [("c1", "2030-05-01", "5000.00"), ("c2", "2030-07-05", "1500.00")]


def contract_a() -> dict[str, Any]:
    body = sales_2030("deal-a")
    c = body["contract"]
    c.update(number="A-1", end_date="2030-08-31", amount="8000.00")
    c["items"] = [{**c["items"][0], "quantity": "1", "unit_price": "8000.00"}]
    c["payment"]["milestones"] = milestones(*A_MILESTONES)
    return body


def contract_b() -> dict[str, Any]:
    body = service_2030("svc-b")
    c = body["contract"]
    c.update(number="B-1", end_date="2030-08-31", amount="37000.00")
    c["payment"]["milestones"] = milestones(*B_MILESTONES)
    return body


def contract_c() -> dict[str, Any]:
    body = sales_2030("deal-c")
    c = body["contract"]
    c.update(number="C-1", end_date="2030-07-10", amount="6500.00")
    c["items"] = [{**c["items"][0], "quantity": "1", "unit_price": "6500.00"}]
    c["payment"]["milestones"] = milestones(*C_MILESTONES)
    c["delivery"].update(date="2030-06-20", milestones=[{"id": "dlv-1", "name": "交货", "due_date": "2030-06-20"}])
    return body


def other_tenant_active() -> str:
    """The other tenant's contract, in force, with overdue money and an end date in the window."""
    from chalicelib.contracts.lifecycle import Status
    from chalicelib.intake.events import signer_states
    from chalicelib.store import contracts as store
    from chalicelib.store.registry import put_api_key, put_tenant
    from tests.integration.test_reminders_support import canonical

    put_tenant("other", "Other Co.")
    put_api_key("other", "other-key")
    body = sales_2030("deal-e")
    body["contract"]["end_date"] = "2030-07-01"
    document = canonical(body)
    record = store.create_contract(tenant_id="other", source_id="other-src", delivery_id="d-" + secrets.token_hex(4),
                                   document=document, signers=signer_states(document), callback_url=None).contract
    for status in (Status.SENDING, Status.SENT, Status.COMPLETED, Status.ACTIVE):
        record = store.move_status(record, status, event_type=status.value)
    return record.contract_id


def expected_receivables() -> dict[str, Any]:
    """The figures, from the inputs above, by hand-written arithmetic."""
    def late(due: str) -> int:
        return (AS_OF - date.fromisoformat(due)).days

    def bucket(days: int) -> str:
        if days <= 0:
            return "not_due"
        return "1_30" if days <= 30 else "31_60" if days <= 60 else "61_90" if days <= 90 else "over_90"

    ageing: dict[str, dict[str, list[Any]]] = {}
    months: dict[str, dict[str, list[Any]]] = {}
    for currency, rows, paid in (("CNY", A_MILESTONES, A_PAID), ("EUR", B_MILESTONES, B_PAID),
                                 ("CNY", C_MILESTONES, {})):
        for mid, due, amount in rows:
            open_ = Decimal(amount) - Decimal(paid.get(mid, "0"))
            if open_ == 0:
                continue
            slots = ageing.setdefault(currency, {b: [0, Decimal(0)] for b in
                                                 ("not_due", "1_30", "31_60", "61_90", "over_90")})
            slots[bucket(late(due))][0] += 1
            slots[bucket(late(due))][1] += open_
            if late(due) <= 0:
                month = months.setdefault(currency, {}).setdefault(due[:7], [0, Decimal(0)])
                month[0] += 1
                month[1] += open_
    out = {c: {b: {"count": n, "amount": f"{a:.2f}"} for b, (n, a) in slots.items()} for c, slots in ageing.items()}
    for c, slots in ageing.items():
        out[c]["total"] = {"count": sum(n for n, _ in slots.values()),
                           "amount": f"{sum(a for _, a in slots.values()):.2f}"}
    return {"ageing": out,
            "expected_by_month": {c: {m: {"count": n, "amount": f"{a:.2f}"} for m, (n, a) in sorted(ms.items())}
                                  for c, ms in months.items()}}


def test_receivables_and_renewals_equal_the_figures_computed_by_hand(stack: StackHarness) -> None:
    a = active_contract(stack, contract_a()).contract_id
    b = active_contract(stack, contract_b()).contract_id
    c = active_contract(stack, contract_c()).contract_id
    for contract_id, paid in ((a, A_PAID), (b, B_PAID)):
        for milestone_id, amount in paid.items():
            pay(stack, contract_id, milestone_id, amount)
    create(stack, "sales", "deal-d", end_date="2030-07-01")  # not signed: never counted
    other = other_tenant_active()

    response = get(stack, "receivables", f"?as_of={AS_OF.isoformat()}")
    assert response.status_code == 200, response.body
    out = response.json_body
    want = expected_receivables()
    assert (out["as_of"], out["time_zone"], out["contracts"]) == ("2030-06-15", None, 3)
    assert out["ageing"] == want["ageing"]
    assert out["expected_by_month"] == want["expected_by_month"]
    # Spot checks of the hand computation itself.
    assert want["ageing"]["CNY"]["31_60"] == {"count": 2, "amount": "6999.50"}  # a3 1 999.50 + c1 5 000
    assert want["expected_by_month"]["CNY"]["2030-07"] == {"count": 2, "amount": "2200.00"}  # a5 + c2
    assert want["ageing"]["EUR"]["over_90"] == {"count": 1, "amount": "1000.00"}

    text = get(stack, "receivables", f"?as_of={AS_OF.isoformat()}&format=csv")
    assert text.status_code == 200 and text.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.body.decode())))
    assert list(rows[0]) == ["section", "currency", "key", "count", "amount"]
    from_csv: dict[str, Any] = {"ageing": {}, "expected_by_month": {}}
    for row in rows:
        section = "ageing" if row["section"] == "ageing" else "expected_by_month"
        from_csv[section].setdefault(row["currency"], {})[row["key"]] = {"count": int(row["count"]),
                                                                          "amount": row["amount"]}
    assert from_csv == {"ageing": out["ageing"], "expected_by_month": out["expected_by_month"]}

    # Renewals: C ends 07-10 (25 days), B's cancel-by is 08-01 (30 days before its end, a Thursday),
    # A ends 08-31 (77 days). D is not signed; the other tenant's contract is not ours.
    cancel_by_b = date(2030, 8, 31).toordinal() - 30
    assert date.fromordinal(cancel_by_b) == date(2030, 8, 1) and date(2030, 8, 1).weekday() == 3
    pipeline = [
        (c, "C-1", "end_date", "2030-07-10", (date(2030, 7, 10) - AS_OF).days, 30, "CNY", "6500.00"),
        (b, "B-1", "cancel_by", "2030-08-01", (date(2030, 8, 1) - AS_OF).days, 60, "EUR", "37000.00"),
        (a, "A-1", "end_date", "2030-08-31", (date(2030, 8, 31) - AS_OF).days, 90, "CNY", "8000.00"),
    ]
    assert [p[4] for p in pipeline] == [25, 47, 77]
    response = get(stack, "renewals", f"?as_of={AS_OF.isoformat()}")
    assert response.status_code == 200, response.body
    out = response.json_body
    assert [(r["contract_id"], r["number"], r["deadline_kind"], r["deadline"], r["days_left"], r["window"],
             r["value"]["currency"], r["value"]["amount"]) for r in out["contracts"]] == pipeline
    assert all(r["counterparty"] for r in out["contracts"])
    assert out["totals"] == {
        "30": {"CNY": {"count": 1, "amount": "6500.00"}},
        "60": {"CNY": {"count": 1, "amount": "6500.00"}, "EUR": {"count": 1, "amount": "37000.00"}},
        "90": {"CNY": {"count": 2, "amount": f"{Decimal('6500.00') + Decimal('8000.00'):.2f}"},
               "EUR": {"count": 1, "amount": "37000.00"}},
    }
    text = get(stack, "renewals", f"?as_of={AS_OF.isoformat()}&format=csv")
    assert text.status_code == 200 and text.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.body.decode())))
    assert [(r["contract_id"], r["number"], r["deadline_kind"], r["deadline"], int(r["days_left"]), int(r["window"]),
             r["currency"], r["amount"]) for r in rows] == pipeline
    assert [r["counterparty"] for r in rows] == [r["counterparty"] for r in out["contracts"]]

    # The other tenant sees only its own contract (overdue money in CNY, ending in 16 days).
    theirs = get(stack, "receivables", f"?as_of={AS_OF.isoformat()}", headers=OTHER).json_body
    assert theirs["contracts"] == 1 and set(theirs["ageing"]) == {"CNY"}
    assert theirs["ageing"]["CNY"]["total"] == {"count": 2, "amount": "128000.00"}
    renewing = get(stack, "renewals", f"?as_of={AS_OF.isoformat()}", headers=OTHER).json_body
    assert [r["contract_id"] for r in renewing["contracts"]] == [other]


def test_default_today_is_the_tenants_date(stack: StackHarness) -> None:
    out = get(stack, "receivables").json_body
    assert out["time_zone"] == "Asia/Shanghai" and out["contracts"] == 0 and out["ageing"] == {}
    empty = get(stack, "renewals", "?format=csv")
    assert empty.status_code == 200
    assert empty.body.decode().splitlines() == [
        "contract_id,number,counterparty,currency,amount,deadline_kind,deadline,days_left,window"]


@pytest.mark.parametrize("route", ["receivables", "renewals"])
@pytest.mark.parametrize("query, paths", [
    ("?as_of=2030-02-30", ["as_of"]),
    ("?as_of=soon", ["as_of"]),
    ("?format=xml", ["format"]),
    ("?as_of=2030-W05-1&format=pdf", ["as_of", "format"]),
    ("?status=active", ["status"]),
])
def test_bad_parameters_are_400(stack: StackHarness, route: str, query: str, paths: list[str]) -> None:
    response = get(stack, route, query)
    assert response.status_code == 400, response.body
    assert response.json_body["error"]["code"] == "bad_request"
    assert [d["path"] for d in response.json_body["error"]["details"]] == paths


@pytest.mark.parametrize("route", ["receivables", "renewals"])
def test_extreme_dates_answer(stack: StackHarness, route: str) -> None:
    active_contract(stack, contract_c())
    for as_of in ("0001-01-01", "9999-12-31"):
        assert get(stack, route, f"?as_of={as_of}").status_code == 200


@pytest.mark.parametrize("route", ["receivables", "renewals"])
def test_needs_an_api_key(stack: StackHarness, route: str) -> None:
    assert stack.client.http.get(f"/v1/analytics/{route}").status_code == 401


def test_money_keeps_the_currencys_minor_units() -> None:
    from chalicelib.web.collections import bucket, money

    assert (money(Decimal("5"), "JPY"), money(Decimal("5"), "KWD"), money(Decimal("5.5"), "CNY")) == \
        ("5", "5.000", "5.50")
    assert money(Decimal("0.125"), "EUR") == "0.125"  # never rounded
    assert [bucket(date(2030, 6, d), date(2030, 6, 15)) for d in (15, 16, 14)] == ["not_due", "not_due", "1_30"]
    assert bucket(date(2030, 3, 17), date(2030, 6, 15)) == "61_90"  # 90 days
    assert bucket(date(2030, 3, 16), date(2030, 6, 15)) == "over_90"  # 91 days
