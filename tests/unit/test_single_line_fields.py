"""Single-line fields (number, title, names, milestone names) refuse line breaks and control
characters at intake, with the field's path; identifiers that become parts of stored keys (the CRM
record id, milestone ids) keep to a documented character set without '#'. Before, a title with a
line break was accepted and then made every email about the contract raise."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.contracts import ContractInvalid, parse_webhook_body
from chalicelib.notify.mailer import Email, build_mime

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"


def sales() -> dict[str, Any]:
    return copy.deepcopy(json.loads((SAMPLES / "sales.json").read_text(encoding="utf-8")))


def problems_for(body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ContractInvalid) as info:
        parse_webhook_body(body)
    return {d["path"]: d["message"] for d in info.value.to_error_body()["error"]["details"]}


@pytest.mark.parametrize("path", [("title",), ("number",), ("parties", "counterparty", "name"),
                                  ("signers", 0, "name"), ("payment", "milestones", 0, "name")])
@pytest.mark.parametrize("bad", ["合同\nBcc: attacker@evil.example", "a\rb", "a\u2028b", "a\x00b", "tab\tinside"])
def test_a_line_break_in_a_single_line_field_is_refused_with_its_path(path: tuple[Any, ...], bad: str) -> None:
    body = sales()
    target = body["contract"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = bad
    dotted = "contract." + ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")
    found = problems_for(body)
    assert dotted in found, found
    assert "single line" in found[dotted]
    assert bad not in found[dotted]  # the message does not echo the value


@pytest.mark.parametrize("record_id", ["x#victim", "a b", "", "x" * 129, "订单1"])
def test_a_crm_record_id_outside_the_identifier_set_is_refused(record_id: str) -> None:
    body = sales()
    body["contract"]["crm_record_id"] = record_id
    assert "contract.crm_record_id" in problems_for(body)


@pytest.mark.parametrize("record_id", ["0061t00000AbCdEAAZ", "12345", "deal-2030", "hubspot:17/2", "a.b_c@d+e=f"])
def test_real_crm_record_ids_are_accepted(record_id: str) -> None:
    body = sales()
    body["contract"]["crm_record_id"] = record_id
    assert parse_webhook_body(body).contract.crm_record_id == record_id


def test_a_milestone_id_with_the_key_separator_is_refused() -> None:
    body = sales()
    body["contract"]["payment"]["milestones"][0]["id"] = "pay#1"
    assert "contract.payment.milestones[0].id" in problems_for(body)


def test_an_email_is_composed_whatever_text_reaches_its_subject() -> None:
    message = build_mime(Email(to=["owner@x.example"], subject="合同\r\nBcc: a@evil.example 到期", text="t"),
                         "signbridge@signbridge.example")
    assert message["Subject"] == "合同 Bcc: a@evil.example 到期"
    assert message["Bcc"] is None


def test_a_callback_url_with_credentials_is_not_echoed() -> None:
    body = sales()
    body["contract"]["callback_url"] = "http://admin:s3cr3t-pass@crm.example/hooks"
    found = problems_for(body)
    assert "contract.callback_url" in found
    assert "s3cr3t-pass" not in json.dumps(found)
