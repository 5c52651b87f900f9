"""The tenant settings schema (chalicelib/reminders/settings_schema.py): the committed JSON Schema is
the generated one, the documented examples pass both the schema and the readers of each section, the
model covers every setting the domain reads, and the two agree on what they refuse."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chalicelib.contracts.approval import approval_reasons, approvers
from chalicelib.esign.signing_settings import SigningSettings
from chalicelib.reminders.settings import SettingsError, TenantSettings
from chalicelib.reminders.settings_schema import (
    TenantSettingsDocument,
    problems,
    schema_text,
    settings_json_schema,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
# Rules a JSON Schema cannot say (a real zone or date, one value against another): the CLI checks them
# with the domain's parser, and the docs list them in words.
BEYOND_THE_SCHEMA = {"time_zone", "business_hours.end", "holidays[0]", "make_up_workdays", "calendar.country"}


def documented_examples() -> list[dict[str, Any]]:
    text = (DOCS / "tenant-settings.md").read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def leaf_paths(schema: dict[str, Any], defs: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for name, node in schema.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        ref = node.get("$ref") or next((n["$ref"] for n in node.get("anyOf", []) if "$ref" in n), None)
        paths += leaf_paths(defs[ref.rsplit("/", 1)[-1]], defs, path) if ref else [path]
    return paths


def test_the_committed_schema_is_the_generated_one() -> None:
    committed = (DOCS / "tenant-settings.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "python -m chalicelib.admin tenants schema > docs/tenant-settings.schema.json"


def test_every_setting_is_documented() -> None:
    schema = settings_json_schema()
    text = (DOCS / "tenant-settings.md").read_text(encoding="utf-8")
    missing = [p for p in leaf_paths(schema, schema["$defs"]) if f"| `{p}` |" not in text]
    assert not missing, missing


def test_the_model_covers_every_setting_the_reminders_read() -> None:
    # A new TenantSettings field must be added to the model (and the docs), or `tenants set` refuses it.
    assert set(TenantSettings.__dataclass_fields__) <= set(TenantSettingsDocument.model_fields)
    assert set(SigningSettings.__dataclass_fields__) == set(settings_json_schema()["$defs"]["Signing"]["properties"])


def test_the_documented_examples_are_valid_everywhere() -> None:
    examples = documented_examples()
    assert len(examples) == 2  # China and the US
    schema = settings_json_schema()
    for example in examples:
        assert problems(example) == []
        jsonschema.validate(example, schema)  # the published schema accepts it as it is
        settings = TenantSettings.from_dict(example)
        assert settings.time_zone == example["time_zone"]
        signing = SigningSettings.from_dict(example["signing"])
        assert signing.expire_after_days == example["signing"]["expire_after_days"]
        assert approvers(example["approval"]) == example["approval"]["approvers"]
    china, us = examples
    assert settings_of(china).calendar is not None and settings_of(china).calendar.country == "CN"
    # The approval rules mean what the docs say: 128,000 CNY needs approval, 90,000 does not.
    assert approval_reasons({"currency": "CNY", "amount": "128000.00", "type": "sales"}, china["approval"])
    assert not approval_reasons({"currency": "CNY", "amount": "90000.00", "type": "sales"}, china["approval"])
    assert approval_reasons({"currency": "CNY", "type": "partner"}, china["approval"])
    assert not approval_reasons({"currency": "CNY", "amount": "30000.00", "type": "sales"}, us["approval"])


def settings_of(document: dict[str, Any]) -> TenantSettings:
    return TenantSettings.from_dict(document)


@pytest.mark.parametrize(("document", "path"), [
    ({"time_zone": "Nowhere/City"}, "time_zone"),
    ({"business_hours": {"start": "18:00", "end": "09:00"}}, "business_hours.end"),
    ({"business_days": ["mon", "someday"]}, "business_days[1]"),
    ({"business_days": [0]}, "business_days[0]"),
    ({"holidays": ["2027-13-01"]}, "holidays[0]"),
    ({"holidays": ["2027-10-01"], "make_up_workdays": ["2027-10-01"]}, "make_up_workdays"),
    ({"expiry_ladder_days": [30, -1]}, "expiry_ladder_days[1]"),
    ({"expiry_ladder_days": [3661]}, "expiry_ladder_days[0]"),
    ({"payment": {"before_due_days": [0]}}, "payment.before_due_days[0]"),
    ({"payment": {"on_due": "yes"}}, "payment.on_due"),
    ({"payment": {"manager_email": "not-an-address"}}, "payment.manager_email"),
    ({"reminder_cc": "a@b.example"}, "reminder_cc"),
    ({"renewal_send_buffer_days": True}, "renewal_send_buffer_days"),
    ({"calendar": {"country": "XX"}}, "calendar.country"),
])
def test_the_model_and_the_domain_refuse_the_same_reminder_settings(document: dict[str, Any], path: str) -> None:
    found = problems(document)
    assert [p for p, _ in found] == [path], found
    with pytest.raises(SettingsError) as refused:
        TenantSettings.from_dict(document)
    assert path in [p for p, _ in refused.value.problems]
    if path not in BEYOND_THE_SCHEMA:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(document, settings_json_schema())


@pytest.mark.parametrize(("document", "path"), [
    ({"approval": {"always": True}}, "approval.approvers"),
    ({"approval": {"approvers": ["a@b.example"], "amount_over": {"CNY": 100000}}}, "approval.amount_over.CNY"),
    ({"approval": {"approvers": ["a@b.example"], "types": ["lease"]}}, "approval.types[0]"),
    ({"approval": {"approvers": ["a@b.example"], "sla_hours": 0}}, "approval.sla_hours"),
    ({"signing": {"expire_after_days": 10, "expire_warn_days": 10}}, "signing.expire_warn_days"),
    ({"signing": {"reminder_delay_days": 1000}}, "signing.reminder_delay_days"),
    ({"docusign": {"secret_id": "x", "private_key": "..."}}, "docusign.private_key"),
    ({"reminders": {}}, "reminders"),
])
def test_other_sections_are_refused_with_their_path(document: dict[str, Any], path: str) -> None:
    assert [p for p, _ in problems(document)] == [path]
