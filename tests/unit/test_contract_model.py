"""The canonical contract: the shared examples parse, round-trip losslessly, and the helpers the
rest of the app relies on behave as documented."""

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.contracts import (
    Contract,
    ContractInvalid,
    ContractRef,
    parse_contract,
    parse_webhook_body,
)

# The project's own copy of CONTRACT.md's examples (devstack/samples): the tests read nothing outside the repo.
EXAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"
TYPES = ["sales", "service", "partner", "supplier"]


def example(name: str) -> dict:
    path = EXAMPLES / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", TYPES)
def test_example_parses(name):
    body = example(name)
    envelope = parse_webhook_body(body)
    contract = envelope.full_contract
    assert isinstance(contract, Contract)
    assert contract.type == name
    assert envelope.event == "contract.created"
    assert not envelope.is_cancellation
    assert envelope.crm_record_id == body["contract"]["crm_record_id"]


@pytest.mark.parametrize("name", TYPES)
def test_example_round_trips_losslessly(name):
    body = example(name)
    envelope = parse_webhook_body(copy.deepcopy(body))
    canonical = envelope.full_contract.to_canonical_dict()
    # Through real JSON text, as it will be stored.
    assert json.loads(json.dumps(canonical, ensure_ascii=False)) == body["contract"]
    assert envelope.to_canonical_dict() == body
    assert parse_contract(canonical) == envelope.full_contract
    assert Contract.from_canonical_dict(canonical) == envelope.full_contract


def test_sales_example_values_are_exact_types():
    contract = parse_webhook_body(example("sales")).full_contract
    assert contract.amount == Decimal("128000.00")
    assert str(contract.amount) == "128000.00"
    assert contract.items[0].quantity == Decimal("200")
    assert contract.items[0].unit_price == Decimal("640.00")
    assert contract.signing_date == dt.date(2026, 12, 1)
    assert contract.delivery is not None and contract.delivery.date == dt.date(2027, 1, 15)
    assert [m.id for m in contract.payment_milestones] == ["pay-1", "pay-2"]
    assert [m.id for m in contract.delivery_milestones] == ["dlv-1"]
    assert contract.payment_milestones[1].amount == Decimal("89600.00")
    assert contract.cc[0].email == "legal@yunti.example"


def test_partner_example_has_no_amount_and_keeps_shares():
    contract = parse_webhook_body(example("partner")).full_contract
    assert contract.amount is None
    assert contract.profit_sharing is not None
    assert [(s.party, s.percent) for s in contract.profit_sharing.shares] == [
        ("ours", Decimal("88")),
        ("counterparty", Decimal("12")),
    ]
    assert contract.payment_milestones == []
    assert contract.items == []


def test_signers_in_order_sorts_by_routing_order_and_keeps_positions():
    body = example("sales")
    body["contract"]["signers"] = [
        {"party": "ours", "name": "C", "email": "c@x.example", "routing_order": 2, "delivery": "email"},
        {"party": "counterparty", "name": "A", "email": "a@x.example", "routing_order": 1, "delivery": "email"},
        {"party": "ours", "name": "D", "email": "d@x.example", "routing_order": 2, "delivery": "embedded"},
        {"party": "counterparty", "name": "B", "email": "b@x.example", "routing_order": 1, "delivery": "email"},
    ]
    ordered = parse_webhook_body(body).full_contract.signers_in_order
    assert [(s.position, s.name, s.routing_order) for s in ordered] == [
        (2, "A", 1),
        (4, "B", 1),
        (1, "C", 2),
        (3, "D", 2),
    ]
    assert ordered[3].delivery == "embedded"
    assert ordered[0].party == "counterparty"
    assert ordered[0].email == "a@x.example"


def test_signers_in_order_of_parallel_example():
    # service.json: both sign in parallel (routing_order 1 twice); list order breaks the tie.
    ordered = parse_webhook_body(example("service")).full_contract.signers_in_order
    assert [(s.position, s.name) for s in ordered] == [(1, "Jonas Weber"), (2, "Anna Keller")]


def test_effective_time_zone():
    body = example("service")
    contract = parse_webhook_body(body).full_contract
    assert contract.effective_time_zone("Asia/Tokyo") == "Europe/Berlin"
    del body["contract"]["time_zone"]
    contract = parse_webhook_body(body).full_contract
    assert contract.time_zone is None
    assert contract.effective_time_zone("Asia/Tokyo") == "Asia/Tokyo"
    assert contract.effective_time_zone() == "Asia/Shanghai"
    assert "time_zone" not in contract.to_canonical_dict()  # a default is not written back


def test_unknown_fields_are_kept_and_not_validated():
    body = example("sales")
    c = body["contract"]
    c["crm_stage"] = {"id": 7, "weights": [0.5, 0.25]}  # floats are fine outside our fields
    c["parties"]["ours"]["tax_id"] = "91310000MA1FL0000X"
    c["items"][0]["discount"] = 0.1
    c["payment"]["milestones"][0]["invoice_no"] = None
    body["source_meta"] = {"portal": 1}
    envelope = parse_webhook_body(copy.deepcopy(body))
    contract = envelope.full_contract
    assert contract.model_extra == {"crm_stage": {"id": 7, "weights": [0.5, 0.25]}}
    assert contract.parties.ours.model_extra == {"tax_id": "91310000MA1FL0000X"}
    assert envelope.to_canonical_dict() == body


def test_json_integer_amounts_are_exact_and_accepted():
    body = example("sales")
    c = body["contract"]
    c["amount"] = 128000
    c["items"][0]["quantity"] = 200
    contract = parse_webhook_body(body).full_contract
    assert contract.amount == Decimal(128000)
    assert contract.to_canonical_dict()["amount"] == "128000"
    assert contract.to_canonical_dict()["items"][0]["quantity"] == "200"


def test_null_lists_are_empty_lists():
    body = example("sales")
    body["contract"]["cc"] = None
    body["contract"]["payment"]["milestones"] = None
    contract = parse_webhook_body(body).full_contract
    assert contract.cc == []
    assert contract.payment_milestones == []


def test_cancellation_needs_only_the_record_id():
    envelope = parse_webhook_body(
        {"event": "contract.cancelled", "event_id": "evt-1", "contract": {"crm_record_id": "deal-1", "why": "lost"}}
    )
    assert envelope.is_cancellation
    assert isinstance(envelope.contract, ContractRef)
    assert envelope.crm_record_id == "deal-1"
    assert envelope.event_id == "evt-1"
    assert envelope.to_canonical_dict() == {
        "event": "contract.cancelled",
        "event_id": "evt-1",
        "contract": {"crm_record_id": "deal-1", "why": "lost"},
    }
    with pytest.raises(ValueError, match="no full contract"):
        _ = envelope.full_contract


def test_a_full_contract_in_a_cancellation_is_still_only_a_reference():
    body = example("sales")
    body["event"] = "contract.cancelled"
    del body["contract"]["after_sales"]  # would be an error for a created contract
    envelope = parse_webhook_body(body)
    assert isinstance(envelope.contract, ContractRef)
    assert envelope.to_canonical_dict() == body


def test_updated_event_needs_a_full_contract():
    body = {"event": "contract.updated", "contract": {"crm_record_id": "deal-1"}}
    with pytest.raises(ContractInvalid) as info:
        parse_webhook_body(body)
    assert len(info.value.details) > 5


def test_models_are_frozen():
    contract = parse_webhook_body(example("sales")).full_contract
    with pytest.raises(ValueError):
        contract.title = "other"  # type: ignore[misc]


# --- property: any decimal amount string survives parse and canonical dump unchanged ----------

_amount_strings = st.from_regex(r"(0\.0[1-9]|0\.[1-9][0-9]?|[1-9][0-9]{0,15}(\.[0-9]{1,2})?)", fullmatch=True)
_price_strings = st.from_regex(r"(0\.[0-9]{0,9}[1-9]|[1-9][0-9]{0,15}(\.[0-9]{1,10})?)", fullmatch=True)


@settings(max_examples=150, deadline=None)
@given(amount=_amount_strings, price=_price_strings)
def test_any_decimal_amount_string_round_trips_exactly(amount, price):
    body = example("sales")
    c = body["contract"]
    c["amount"] = amount
    c["payment"]["milestones"] = [{"id": "all", "name": "all", "due_date": "2027-01-01", "amount": amount}]
    c["items"][0]["unit_price"] = price
    contract = parse_webhook_body(body).full_contract
    dumped = contract.to_canonical_dict()
    assert dumped["amount"] == amount
    assert dumped["payment"]["milestones"][0]["amount"] == amount
    assert dumped["items"][0]["unit_price"] == price
    assert contract.amount == Decimal(amount)
    assert parse_contract(dumped) == contract
