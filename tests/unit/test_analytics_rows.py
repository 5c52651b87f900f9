"""What one contract contributes to its tenant's analytics: the counter deltas of each kind of write
(chalicelib/store/analytics_rows.py), and the projection rows of a contract in force
(chalicelib/reminders/projection.py). Expected values
are worked out by hand from the contract below."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from chalicelib.contracts.stored import StoredContract
from chalicelib.reminders.projection import projection_rows
from chalicelib.reminders.settings import TenantSettings
from chalicelib.store.analytics_rows import Row, contribution, counter_delta, hours_member, hours_of

CREATED = datetime(2030, 1, 5, 3, 0, tzinfo=UTC)
DOCUMENT = {
    "currency": "EUR", "amount": "37000.00", "auto_renew": True, "renewal_notice_days": 30,
    "effective_date": "2030-01-01", "end_date": "2030-08-31",
    "parties": {"counterparty": {"name": "Acme GmbH"}},
    "payment": {"milestones": [
        {"id": "h1", "name": "first half", "due_date": "2030-01-31", "amount": "18000.00"},
        {"id": "h2", "name": "second half", "due_date": "2030-07-31", "amount": "18000.00"},
        {"id": "b3", "name": "extra", "due_date": "2030-02-28", "amount": "1000.00"},
    ]},
}


def contract(status: str = "received", **changes: object) -> StoredContract:
    base = StoredContract(tenant_id="t1", contract_id="ctr_b", source_id="src", crm_record_id="svc-b",
                          contract_type="service", number="B-1", locale="en", status=status, created_at=CREATED,
                          updated_at=CREATED, document=dict(DOCUMENT))
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_created_contract_counts_its_status_type_and_value() -> None:
    assert counter_delta(None, contract()) == {"s_received": 1, "t_service": 1, "v_EUR": Decimal("37000.00")}


def test_a_move_counts_out_of_the_old_status_into_the_new() -> None:
    assert counter_delta(contract("sending"), contract("sent")) == {"s_sending": -1, "s_sent": 1}


def test_signing_adds_the_signed_value_and_the_in_force_gauge() -> None:
    assert counter_delta(contract("delivered"), contract("completed")) == {
        "s_delivered": -1, "s_completed": 1, "sv_EUR": Decimal("37000.00"), "inforce": 1}


def test_leaving_force_keeps_the_signed_value() -> None:
    # expired is still signed (the money was agreed), but no longer in force.
    assert counter_delta(contract("active"), contract("expired")) == {"s_active": -1, "s_expired": 1, "inforce": -1}
    assert counter_delta(contract("active"), contract("renewed")) == {"s_active": -1, "s_renewed": 1}


def test_a_replaced_document_moves_type_and_currency() -> None:
    before = contract()
    after = replace(before, contract_type="sales", document={**DOCUMENT, "currency": "CNY", "amount": "5.5"})
    assert counter_delta(before, after) == {"t_service": -1, "t_sales": 1, "v_EUR": Decimal("-37000.00"),
                                            "v_CNY": Decimal("5.5")}


def test_a_write_that_changes_nothing_counted_adds_nothing() -> None:
    assert counter_delta(contract("active"), contract("active", milestones={"h1": {"paid_amount": "1"}})) == {}


def test_no_currency_or_amount_counts_no_value() -> None:
    bare = contract(document={"payment": {}})
    assert contribution(bare) == {"s_received": 1, "t_service": 1}


def test_hours_members_are_exact_seconds() -> None:
    members = {hours_member("ctr_a", 5400), hours_member("ctr_b", 36)}
    assert sorted(hours_of(members)) == [0.01, 1.5]


def test_rows_of_a_contract_in_force() -> None:
    # h1 paid in full: no row; h2 5 000 paid: 13 000.00 open; b3 1 000.00 open. Auto-renewing, 30 days'
    # notice, end Sat 2030-08-31: cancel-by 2030-08-01, a Thursday (a business day in Shanghai).
    active = contract("active", milestones={
        "h1": {"status": "paid", "paid_amount": "18000.00"},
        "h2": {"status": "partially_paid", "paid_amount": "5000.00"}})
    common = {"contract_id": "ctr_b", "currency": "EUR", "created": "2030-01-05", "status": "active",
              "zone": "Asia/Shanghai"}
    assert projection_rows(active, TenantSettings()) == {
        Row("recv#t1", "2030-07-31#ctr_b#h2", tuple(sorted({**common, "remaining": "13000.00"}.items()))),
        Row("recv#t1", "2030-02-28#ctr_b#b3", tuple(sorted({**common, "remaining": "1000.00"}.items()))),
        Row("renew#t1", "2030-08-01#ctr_b", tuple(sorted({
            "contract_id": "ctr_b", "number": "B-1", "counterparty": "Acme GmbH", "currency": "EUR",
            "amount": "37000.00", "kind": "cancel_by", "status": "active"}.items()))),
    }


def test_a_renewed_term_moves_the_deadline_and_a_fixed_term_ends_on_its_end_date() -> None:
    renewed = contract("renewed", term={"start": "2030-09-01", "end": "2031-08-31", "renewals": 1})
    deadline = [r for r in projection_rows(renewed, TenantSettings()) if r.pk == "renew#t1"]
    # 2031-08-31 - 30 days = Fri 2031-08-01, a business day.
    assert [(r.sk, r.get("kind")) for r in deadline] == [("2031-08-01#ctr_b", "cancel_by")]
    fixed = contract("active", document={**DOCUMENT, "auto_renew": False})
    assert [(r.sk, r.get("kind")) for r in projection_rows(fixed, TenantSettings()) if r.pk == "renew#t1"] == [
        ("2030-08-31#ctr_b", "end_date")]


def test_no_rows_unless_in_force() -> None:
    for status in ("received", "sent", "expired", "terminated", "voided"):
        assert projection_rows(contract(status), TenantSettings()) == frozenset()
    assert len(projection_rows(contract("completed"), TenantSettings())) == 4  # 3 milestones open + deadline
