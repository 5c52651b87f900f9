"""Empty lists where CONTRACT.md allows them: a contract with no payment milestones has nothing to
add up, and only goods contracts (sales, supplier) need items."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.contracts import parse_webhook_body

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"


def example(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("contract_type", ["sales", "service", "partner", "supplier"])
@pytest.mark.parametrize("empty", [[], None])
def test_no_payment_milestones_is_valid(contract_type: str, empty: list | None) -> None:
    body = example(contract_type)
    body["contract"].setdefault("payment", {"method": "invoice"})["milestones"] = empty
    contract = parse_webhook_body(body).contract
    assert contract.payment_milestones == []


@pytest.mark.parametrize("contract_type", ["service", "partner"])
@pytest.mark.parametrize("empty", [[], None])
def test_items_may_be_empty_where_no_goods_are_sold(contract_type: str, empty: list | None) -> None:
    body = example(contract_type)
    body["contract"]["items"] = empty
    assert parse_webhook_body(body).contract.items == []


@pytest.mark.parametrize("contract_type", ["service", "partner"])
def test_items_and_milestones_both_empty_is_valid(contract_type: str) -> None:
    body = example(contract_type)
    body["contract"]["items"] = []
    body["contract"].setdefault("payment", {"method": "invoice"})["milestones"] = []
    parse_webhook_body(body)
