"""A milestone due in working days, through a webhook: the tenant's working calendar (its settings'
`calendar`) decides, over the contract locale's default (issue 15).

The contract is signed Mon 2026-09-28 and pays 10 working days later. Under the PRC calendar (the
State Council's 2026 arrangement: 国庆节 Thu 1 – Wed 7 Oct off, Sat 10 Oct a make-up workday) that is
Fri 2026-10-16: 29, 30 Sep, 8, 9, 10 Oct, 12–16 Oct. A tenant holiday added on Thu 15 Oct pushes it to
Mon 2026-10-19 (Sat 17 and Sun 18 are no workdays)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.stack import StackHarness

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"


def body(crm_record_id: str) -> dict[str, Any]:
    data = json.loads((SAMPLES / "sales.json").read_text())
    contract = data["contract"]
    contract["crm_record_id"] = crm_record_id
    contract["signing_date"] = contract["effective_date"] = "2026-09-28"
    first = contract["payment"]["milestones"][0]
    del first["due_date"]
    first["due"] = {"after": "signing_date", "working_days": 10}
    return data


def set_calendar(stack: StackHarness, calendar: dict[str, Any]) -> None:
    from chalicelib.store import registry

    tenant = registry.get_tenant(stack.tenant_id)
    registry.put_tenant(stack.tenant_id, tenant.name, {**tenant.settings, "calendar": calendar})
    registry.clear_cache()


def due_of(stack: StackHarness, crm_record_id: str) -> str:
    response = stack.post_webhook(body(crm_record_id))
    assert response.status_code == 202, response.body
    from chalicelib.store import contracts as store

    record = store.get_contract(stack.tenant_id, response.json_body["contract_id"])
    return str(record.document["payment"]["milestones"][0]["due_date"])


def test_the_tenant_calendar_and_its_additions_decide_the_due_date(stack: StackHarness) -> None:
    set_calendar(stack, {"country": "CN"})
    assert due_of(stack, "wd-1") == "2026-10-16"
    set_calendar(stack, {"country": "CN", "extra_holidays": ["2026-10-15"]})
    assert due_of(stack, "wd-2") == "2026-10-19"
