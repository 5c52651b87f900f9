"""The mapping engine: JMESPath from a CRM record to the canonical body, conversions, lists, the
per-source overrides, and the CRM field named for each canonical path."""

from __future__ import annotations

import json

import pytest

from chalicelib.contracts import ContractInvalid, parse_webhook_body
from chalicelib.intake.mapping import (
    MAPPINGS_DIR,
    FieldMapping,
    ListRule,
    MappingError,
    crm_field_for,
    default_mapping,
    mapping_for,
    search,
)


def mapping(fields: dict, **top: object) -> FieldMapping:
    return FieldMapping.from_json({"fields": fields, **top})


def test_every_default_mapping_loads_and_names_only_canonical_paths() -> None:
    kinds = sorted(p.stem for p in MAPPINGS_DIR.glob("*.json"))
    assert kinds == ["fxiaoke", "hubspot", "pipedrive", "salesforce", "zoho"]
    for kind in kinds:
        loaded = default_mapping(kind)
        assert "contract.crm_record_id" in loaded.fields
        assert all(path.startswith("contract.") for path in loaded.fields)


def test_plain_expressions_nested_paths_and_missing_values() -> None:
    result = mapping({
        "contract.title": "deal.name",
        "contract.parties.counterparty.name": "company.name",
        "contract.parties.counterparty.contact.email": "contact.email",
        "contract.after_sales": "deal.missing",
        "contract.breach": "deal.blank",
    }).apply({"deal": {"name": "T", "blank": "  "}, "company": {"name": "C"}, "contact": {"email": "a@b.example"}})
    assert result.body == {"event": "contract.created", "contract": {
        "title": "T", "parties": {"counterparty": {"name": "C", "contact": {"email": "a@b.example"}}}}}
    # Missing and blank values are left out, so validation says "required" and names the CRM field.
    assert result.field_sources["contract.after_sales"] == "deal.missing"
    assert result.field_sources["contract.breach"] == "deal.blank"


@pytest.mark.parametrize(("conversion", "raw", "expected"), [
    ("decimal", 128000, "128000"),
    ("decimal", 640.5, "640.5"),
    ("decimal", "128,000.00", "128000.00"),
    ("decimal", "abc", "abc"),  # passed on for validation to report
    ("int", "30", 30),
    ("int", 30.0, 30),
    ("int", "30.5", "30.5"),
    ("bool", "true", True),
    ("bool", "否", False),
    ("bool", "maybe", "maybe"),
    ("string", 5821, "5821"),
    ("string", True, "true"),
    ("date", "2026-12-01", "2026-12-01"),
    ("date", "2026-12-01T00:00:00Z", "2026-12-01"),
    ("date", "2026-11-30T16:00:00Z", "2026-11-30"),  # UTC mapping zone
    ("date", 1796054400000, "2026-11-30"),  # midnight in Shanghai is still the 30th in UTC
    ("date", "1796054400000", "2026-11-30"),
    ("date", "2026-02-30", "2026-02-30"),  # not a date: kept for validation to report
])
def test_conversions(conversion: str, raw: object, expected: object) -> None:
    result = mapping({"contract.x": {"expr": "v", "as": conversion}}).apply({"v": raw})
    assert result.body["contract"]["x"] == expected


def test_dates_from_timestamps_use_the_mapping_time_zone_and_a_format() -> None:
    shanghai = mapping({"contract.d": {"expr": "v", "as": "date"}}, date_time_zone="Asia/Shanghai")
    assert shanghai.apply({"v": 1796054400000}).body["contract"]["d"] == "2026-12-01"
    assert shanghai.apply({"v": "2026-11-30T16:00:00Z"}).body["contract"]["d"] == "2026-12-01"
    formatted = mapping({"contract.d": {"expr": "v", "as": "date", "format": "%d/%m/%Y"}})
    assert formatted.apply({"v": "01/12/2026"}).body["contract"]["d"] == "2026-12-01"


def test_value_tables_translate_crm_options() -> None:
    rule = {"contract.type": {"expr": "t", "values": {"销售合同": "sales", "1": "sales"}}}
    assert mapping(rule).apply({"t": "销售合同"}).body["contract"]["type"] == "sales"
    assert mapping(rule).apply({"t": 1}).body["contract"]["type"] == "sales"
    assert mapping(rule).apply({"t": "Other"}).body["contract"]["type"] == "Other"


def test_each_projects_a_crm_list_and_names_element_fields() -> None:
    result = mapping({"contract.items": {"each": "lines", "fields": {
        "description": "name", "quantity": {"expr": "qty", "as": "decimal"}, "unit_price": "price"}}}).apply(
        {"lines": [{"name": "A", "qty": 2, "price": "1.50"}, {"name": "B", "qty": 1}]})
    assert result.body["contract"]["items"] == [{"description": "A", "quantity": "2", "unit_price": "1.50"},
                                                {"description": "B", "quantity": "1"}]
    assert result.field_sources["contract.items"] == "lines"
    assert result.field_sources["contract.items[1].unit_price"] == "lines[1].price"


def test_fixed_elements_leave_out_an_empty_element_and_reindex() -> None:
    rule = {"contract.signers": {"elements": [
        {"name": "a.name", "email": "a.email", "routing_order": "`1`"},
        {"name": "b.name", "email": "b.email"},
    ]}}
    result = mapping(rule).apply({"b": {"name": "B", "email": "b@x.example"}})
    # The first element has only its literal: it is kept (the CRM left the signer's name empty).
    assert result.body["contract"]["signers"][0] == {"routing_order": 1}
    empty = mapping({"contract.signers": {"elements": [{"name": "a.name"}, {"name": "b.name"}]}}).apply(
        {"b": {"name": "B"}})
    assert empty.body["contract"]["signers"] == [{"name": "B"}]
    assert empty.field_sources["contract.signers[0].name"] == "b.name"
    none = mapping({"contract.signers": {"elements": [{"name": "a.name"}]}}).apply({})
    assert "signers" not in none.body["contract"]
    assert none.field_sources["contract.signers"] == "a.name"


def test_event_expression_value_table_and_default() -> None:
    rule = {"event": {"expr": "meta.action", "values": {"delete": "contract.cancelled"},
                      "default": "contract.updated"}, "fields": {"contract.crm_record_id": "id", "contract.title": "t"}}
    cancel = FieldMapping.from_json(rule).apply({"meta": {"action": "delete"}, "id": "7", "t": "x"})
    # A cancellation carries only the record id.
    assert cancel.body == {"event": "contract.cancelled", "contract": {"crm_record_id": "7"}}
    assert FieldMapping.from_json(rule).apply({"id": "7"}).body["event"] == "contract.updated"
    unknown = FieldMapping.from_json(rule).apply({"meta": {"action": "merge"}, "id": "7"})
    assert unknown.body["event"] == "merge" and unknown.field_sources["event"] == "meta.action"


def test_when_false_means_ignored() -> None:
    rule = mapping({"contract.title": "t"}, when="stage == `5`")
    assert rule.apply({"stage": 4, "t": "x"}).ignored
    assert rule.apply({"stage": 5, "t": "x"}).ignored is None


def test_custom_functions() -> None:
    assert search("full_name(a, b)", {"a": "Qiang", "b": "Li"}) == "Qiang Li"
    assert search("full_name(a, b)", {"a": "强", "b": "李"}) == "李强"
    assert search("full_name(a, b)", {"a": "Qiang"}) == "Qiang"
    assert search("join_nonempty(', ', [a, b, c])", {"a": "x", "b": "", "c": "z"}) == "x, z"
    assert search("postal_address(s, c, st, z, co)", {"s": "1 Main St", "c": "Berlin", "z": "10117",
                                                       "co": "Germany"}) == "1 Main St, 10117 Berlin, Germany"
    assert search("postal_address(s, c, st, z, co)", {"s": "文三路 200 号", "c": "杭州市", "st": "浙江省",
                                                       "z": "310012", "co": "中国"}) == "浙江省杭州市文三路 200 号"
    # A type error in the CRM's data is a missing value, not a crash.
    assert search("join(', ', a)", {"a": [1, 2]}) is None


def test_source_override_replaces_adds_and_removes_fields() -> None:
    base = default_mapping("zoho")
    merged = base.merged({"fields": {"contract.number": "Deal_Number", "contract.breach": None,
                                     "contract.cc": {"elements": [{"name": "'Legal'", "email": "Legal_Email"}]}},
                          "when": "Stage == 'Contract'"})
    assert merged.fields["contract.number"].expr == "Deal_Number"
    assert "contract.breach" not in merged.fields
    assert "contract.cc" in merged.fields and merged.when == "Stage == 'Contract'"
    assert merged.event == base.event and merged.date_time_zone == base.date_time_zone
    assert base.fields["contract.number"].expr == "Contract_Number"  # the default is untouched
    assert mapping_for("zoho", None) is default_mapping("zoho")


@pytest.mark.parametrize(("bad", "message"), [
    ({"fields": {"contract.title": "deal.[name"}}, "not a JMESPath"),
    ({"fields": {"title": "x"}}, "start with 'contract.'"),
    ({"fields": {"contract.x": {"expr": "a", "as": "money"}}}, "'as' must be"),
    ({"fields": {"contract.items": {"each": "a"}}}, "'each' needs"),
    ({"fields": {"contract.items": {"elements": "a"}}}, "'elements' must"),
    ({"fields": {}, "event": {"default": "contract.deleted"}}, "event.default"),
    ({"fields": {}, "date_time_zone": "Mars/Base"}, "IANA"),
    ({"fields": {}, "when": "(("}, "not a JMESPath"),
    ({"fields": {}, "when": 5}, "when"),
    ({"fields": {}, "event": {"expr": "a", "values": {"x": "deleted"}}}, "event.values"),
    ({"fields": {}, "date_time_zone": 8}, "IANA"),
])
def test_bad_mappings_are_refused(bad: dict, message: str) -> None:
    with pytest.raises(MappingError, match=message):
        FieldMapping.from_json(bad)
    with pytest.raises(MappingError):
        default_mapping("zoho").merged(bad)


def test_crm_field_for_a_path_or_its_children() -> None:
    sources = {"contract.number": "Contract_Number", "contract.parties.counterparty.name": "Account_Name",
               "contract.parties.counterparty.contact.email": "Contact_Email", "contract.items[0].unit_price": "p"}
    assert crm_field_for("contract.number", sources) == "Contract_Number"
    assert crm_field_for("contract.parties.counterparty", sources) == "Account_Name, Contact_Email"
    assert crm_field_for("contract.items", sources) == "p"
    assert crm_field_for("contract.title", sources) is None


def test_validation_errors_can_name_the_crm_field() -> None:
    record = json.loads((MAPPINGS_DIR.parents[2] / "devstack" / "crm_samples" / "zoho_deal.json").read_text())
    del record["Contract_Number"]
    record["Amount"] = "九万六千"
    mapped = default_mapping("zoho").apply({**record, "signbridge": {}})
    with pytest.raises(ContractInvalid) as caught:
        parse_webhook_body(mapped.body)
    named = {d.path: crm_field_for(d.path, mapped.field_sources) for d in caught.value.details}
    assert named["contract.number"] == "Contract_Number"
    assert named["contract.amount"] == "Amount"
    # our_party is a source option here: the error names where it would have come from.
    assert named["contract.parties.ours"].startswith("signbridge.our_party.name")


@pytest.mark.parametrize("kind", ["fxiaoke", "hubspot", "pipedrive", "salesforce", "zoho"])
@pytest.mark.parametrize(("crm_value", "locale"), [
    ("zh-CN+en", "zh-CN+en"), ("bilingual", "zh-CN+en"), ("Bilingual", "zh-CN+en"), ("中英双语", "zh-CN+en"),
    ("中英文", "zh-CN+en"), ("Chinese and English", "zh-CN+en"), ("中文", "zh-CN"), ("English", "en"),
])
def test_each_default_mapping_turns_a_crm_language_into_a_contract_locale(kind: str, crm_value: str,
                                                                          locale: str) -> None:
    rule = default_mapping(kind).fields["contract.locale"]
    assert not isinstance(rule, ListRule)
    only_locale = FieldMapping({"contract.locale": rule})
    # The CRM's language field (the expression's first alternative), and the source's default.
    crm_path = rule.expr.split("||")[0].strip().split(".")
    record: dict = {}
    node = record
    for part in crm_path[:-1]:
        node = node.setdefault(part, {})
    node[crm_path[-1]] = crm_value
    assert only_locale.apply(record).body["contract"]["locale"] == locale
    assert only_locale.apply({"signbridge": {"locale": crm_value}}).body["contract"]["locale"] == locale
