"""Validation: every problem reported at once, at CONTRACT.md's paths, in plain English.

The required-clause lists below are copied by hand from CONTRACT.md's table, not imported from
the code, so a clause dropped from the code makes these tests fail.
"""

import json
import re
from pathlib import Path

import pytest

from chalicelib.contracts import ContractInvalid, ErrorDetail, parse_contract, parse_webhook_body

# The project's own copy of CONTRACT.md's examples (devstack/samples): the tests read nothing outside the repo.
EXAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"


def example(name: str) -> dict:
    path = EXAMPLES / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


_JARGON = re.compile(r"pydantic|errors\.pydantic\.dev|Input should|Field required|type=|Value error|\[type", re.I)


def problems(body: object) -> dict[str, str]:
    """path -> message of every problem; fails if the body is valid or a message has jargon."""
    with pytest.raises(ContractInvalid) as info:
        parse_webhook_body(body)
    details = info.value.details
    for d in details:
        assert not _JARGON.search(d.message), d
        assert d.message.strip(), d
    paths = [d.path for d in details]
    assert len(paths) == len(set(paths)), f"a path reported twice: {paths}"
    return {d.path: d.message for d in details}


def _split(path: str) -> list[str | int]:
    return [int(i) if i else name for name, i in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)]


def without(body: dict, path: str) -> dict:
    """The body with the field at `path` (relative to the contract) removed."""
    *parents, leaf = _split(path)
    node = body["contract"]
    for key in parents:
        node = node[key]
    del node[leaf]
    return body


def with_value(body: dict, path: str, value: object) -> dict:
    *parents, leaf = _split(path)
    node = body["contract"]
    for key in parents:
        node = node[key]
    node[leaf] = value
    return body


# --- required clauses by type (CONTRACT.md) ---------------------------------------------------

REQUIRED_BY_TYPE = {
    "sales": [
        "items", "amount", "payment.method", "delivery.date", "delivery.place", "after_sales",
    ],
    "service": [
        "service.description", "service.standard", "effective_date", "end_date", "amount",
        "payment.method", "quality_guarantee", "responsibilities.ours", "responsibilities.counterparty",
    ],
    "partner": [
        "cooperation.scope", "cooperation.method", "profit_sharing.description", "effective_date",
        "end_date", "responsibilities.ours", "responsibilities.counterparty", "breach",
    ],
    "supplier": [
        "items", "items[0].specification", "amount", "payment.method", "delivery.date",
        "delivery.place", "quality_guarantee", "responsibilities.ours", "responsibilities.counterparty",
    ],
}

_TYPE_CASES = [(t, p) for t, paths in REQUIRED_BY_TYPE.items() for p in paths]


@pytest.mark.parametrize(("contract_type", "path"), _TYPE_CASES)
def test_omitting_a_required_clause_names_exactly_that_path(contract_type, path):
    found = problems(without(example(contract_type), path))
    assert found == {f"contract.{path}": f"required for a {contract_type} contract"}


@pytest.mark.parametrize(("contract_type", "path"), _TYPE_CASES)
def test_a_null_required_clause_is_missing(contract_type, path):
    found = problems(with_value(example(contract_type), path, None))
    assert found == {f"contract.{path}": f"required for a {contract_type} contract"}


# Text clauses only: a blank date or amount is a format error instead (tested below).
_TEXT_CASES = [
    (t, p) for t, p in _TYPE_CASES if p not in ("items", "amount", "effective_date", "end_date", "delivery.date")
]


@pytest.mark.parametrize(("contract_type", "path"), _TEXT_CASES)
@pytest.mark.parametrize("blank", ["", "  \n"])
def test_a_blank_required_clause_is_missing(contract_type, path, blank):
    found = problems(with_value(example(contract_type), path, blank))
    assert found == {f"contract.{path}": f"required for a {contract_type} contract"}


@pytest.mark.parametrize(
    ("contract_type", "section", "clauses"),
    [
        ("sales", "delivery", ["delivery.date", "delivery.place"]),
        ("sales", "payment", ["payment.method"]),
        ("service", "service", ["service.description", "service.standard"]),
        ("service", "responsibilities", ["responsibilities.ours", "responsibilities.counterparty"]),
        ("partner", "cooperation", ["cooperation.scope", "cooperation.method"]),
        ("partner", "profit_sharing", ["profit_sharing.description"]),
        ("supplier", "delivery", ["delivery.date", "delivery.place"]),
    ],
)
def test_omitting_a_whole_section_names_each_clause_in_it(contract_type, section, clauses):
    found = problems(without(example(contract_type), section))
    assert found == {f"contract.{c}": f"required for a {contract_type} contract" for c in clauses}


@pytest.mark.parametrize("contract_type", ["sales", "supplier"])
def test_an_empty_item_list_is_refused_where_items_are_required(contract_type):
    found = problems(with_value(example(contract_type), "items", []))
    assert found == {"contract.items": f"at least one item is required for a {contract_type} contract"}


def test_supplier_items_each_need_a_specification():
    body = example("supplier")
    second = dict(body["contract"]["items"][0], quantity="1", unit_price="450000.00")
    del second["specification"]
    body["contract"]["items"][0]["quantity"] = "0.5"  # just an exact decimal; still > 0
    body["contract"]["items"].append(second)
    assert problems(body) == {"contract.items[1].specification": "required for a supplier contract"}


def test_specification_is_optional_for_sales_items():
    body = without(example("sales"), "items[0].specification")
    parse_webhook_body(body)


@pytest.mark.parametrize("path", ["effective_date", "end_date"])
def test_the_period_is_optional_for_sales(path):
    parse_webhook_body(without(example("sales"), path))


def test_amount_is_optional_for_partner():
    parse_webhook_body(example("partner"))  # partner.json has no amount


def test_payment_and_delivery_need_their_fields_whenever_given():
    body = example("partner")
    body["contract"]["payment"] = {"terms": "quarterly"}
    body["contract"]["delivery"] = {"terms": "n/a"}
    assert problems(body) == {
        "contract.payment.method": "required",
        "contract.delivery.date": "required",
        "contract.delivery.place": "required",
    }


# --- common required fields -------------------------------------------------------------------

COMMON_REQUIRED = [
    "crm_record_id", "number", "type", "title", "locale", "currency", "signing_date",
    "parties", "parties.ours", "parties.counterparty",
    "parties.ours.name", "parties.ours.address", "parties.ours.contact",
    "parties.ours.contact.name", "parties.ours.contact.email",
    "parties.counterparty.name", "parties.counterparty.address",
    "parties.counterparty.contact.name", "parties.counterparty.contact.email",
    "signers", "signers[0].party", "signers[0].name", "signers[0].email", "signers[0].routing_order",
    "signers[1].delivery",
    "cc[0].name", "cc[0].email",
    "owner", "owner.name", "owner.email",
    "items[0].description", "items[0].quantity", "items[0].unit_price",
    "payment.milestones[1].id", "payment.milestones[1].name", "payment.milestones[1].due_date",
    "payment.milestones[1].amount",
    "delivery.milestones[0].id", "delivery.milestones[0].name", "delivery.milestones[0].due_date",
]


@pytest.mark.parametrize("path", COMMON_REQUIRED)
def test_omitting_a_common_field_names_exactly_that_path(path):
    assert problems(without(example("sales"), path)) == {f"contract.{path}": "required"}


@pytest.mark.parametrize("path", ["time_zone", "auto_renew", "renewal_notice_days", "cc", "callback_url",
                                  "payment.terms", "payment.milestones", "delivery.terms",
                                  "delivery.milestones", "items[0].unit", "items[0].specification",
                                  "parties.ours.contact.phone"])
def test_optional_fields_may_be_omitted(path):
    parse_webhook_body(without(example("sales"), path))


# --- several problems at once -----------------------------------------------------------------


def test_several_problems_are_all_listed():
    body = example("sales")
    c = body["contract"]
    del c["delivery"]["place"]
    c["payment"]["milestones"][1]["due_date"] = "2027-02-30"
    c["signers"][0]["email"] = "li.qiang(at)xinhe.example"
    c["currency"] = "rmb"
    del c["after_sales"]
    c["end_date"] = "2026-11-01"
    body["event_id"] = 42
    found = problems(body)
    assert set(found) == {
        "event_id",
        "contract.delivery.place",
        "contract.payment.milestones[1].due_date",
        "contract.signers[0].email",
        "contract.currency",
        "contract.after_sales",
        "contract.end_date",
    }
    assert found["contract.delivery.place"] == "required for a sales contract"
    assert found["contract.payment.milestones[1].due_date"] == "not a date: '2027-02-30'"


def test_an_unreadable_event_checks_only_the_record_id():
    # Without a valid event we cannot know which rules apply (a cancel needs only the record id),
    # so the contract is held to the cancel's rule rather than burying the event's typo.
    body = example("sales")
    body["event"] = "created"
    del body["contract"]["after_sales"]
    assert list(problems(body)) == ["event"]


def test_problems_come_in_a_stable_order():
    body = example("sales")
    c = body["contract"]
    for i in range(12):
        c["payment"]["milestones"].append({"id": f"m{i}", "name": "x", "due_date": "bad", "amount": "1"})
    del c["after_sales"]
    body["event_id"] = ["x"]
    paths = [d.path for d in _details(body)]
    # Envelope first, then the contract's paths alphabetically with list positions numerically.
    assert paths == [
        "event_id",
        "contract.after_sales",
        "contract.payment.milestones",  # the sum no longer matches
        *[f"contract.payment.milestones[{i}].due_date" for i in range(2, 14)],
    ]


def _details(body: dict) -> list[ErrorDetail]:
    with pytest.raises(ContractInvalid) as info:
        parse_webhook_body(body)
    return info.value.details


# --- money ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["amount", "payment.milestones[0].amount", "items[0].quantity", "items[0].unit_price"],
)
def test_float_amounts_are_refused_with_a_clear_message(path):
    found = problems(with_value(example("sales"), path, 38400.0))
    assert list(found) == [f"contract.{path}"]
    assert found[f"contract.{path}"] == (
        'must be a decimal string such as "128000.00", not the JSON number 38400.0: '
        "numbers with a fraction are not exact"
    )


def test_float_amount_from_real_json_text_is_refused():
    text = json.dumps(example("sales")).replace('"amount": "128000.00"', '"amount": 128000.00')
    found = problems(json.loads(text))
    assert "not the JSON number 128000.0" in found["contract.amount"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "must be greater than 0, not 0"),
        ("0.00", "must be greater than 0, not 0.00"),
        ("-5", "must be greater than 0, not -5"),
        ("1e5", "not a decimal number: '1e5'"),
        ("128,000.00", "not a decimal number: '128,000.00'"),
        ("", "required for a sales contract"),  # blank is missing, not malformed
        ("x", "not a decimal number: 'x'"),
        (True, "must be a decimal string such as \"128000.00\", not true"),
        ({"v": 1}, "must be a decimal string such as \"128000.00\", not an object"),
        ("12345678901234567", "too large: at most 16 digits before the decimal point"),
    ],
)
def test_bad_amounts(value, message):
    body = without(example("sales"), "payment.milestones")
    assert problems(with_value(body, "amount", value)) == {"contract.amount": message}


@pytest.mark.parametrize("path", ["items[0].quantity", "items[0].unit_price"])
@pytest.mark.parametrize("value", ["0", "-1"])
def test_quantity_and_unit_price_must_be_positive(path, value):
    assert problems(with_value(example("sales"), path, value)) == {
        f"contract.{path}": f"must be greater than 0, not {value}"
    }


def test_unit_prices_may_be_finer_than_the_currency():
    parse_webhook_body(with_value(example("sales"), "items[0].unit_price", "0.0035"))


@pytest.mark.parametrize(
    ("currency", "amount", "ok"),
    [("CNY", "1.005", False), ("CNY", "1.50", True), ("CNY", "1.500", True), ("JPY", "100.5", False),
     ("JPY", "100.00", True), ("KWD", "1.005", True)],
)
def test_amounts_are_not_finer_than_the_currency(currency, amount, ok):
    body = without(example("sales"), "payment.milestones")
    with_value(body, "currency", currency)
    with_value(body, "amount", amount)
    if ok:
        parse_webhook_body(body)
    else:
        assert list(problems(body)) == ["contract.amount"]


def test_milestone_amounts_must_add_up_to_the_amount():
    body = with_value(example("sales"), "payment.milestones[1].amount", "89000.00")
    assert problems(body) == {
        "contract.payment.milestones": "the milestone amounts add up to 127400.00, not the contract amount 128000.00"
    }


def test_milestone_sum_compares_values_not_strings():
    body = with_value(example("sales"), "amount", "128000")
    parse_webhook_body(body)


def test_milestone_sum_is_skipped_when_an_amount_is_unreadable():
    body = with_value(example("sales"), "payment.milestones[1].amount", "lots")
    assert problems(body) == {"contract.payment.milestones[1].amount": "not a decimal number: 'lots'"}


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2027-02-30", "not a date: '2027-02-30'"),
        ("2026-13-01", "not a date: '2026-13-01'"),
        ("2027/01/15", "not a date: '2027/01/15' (expected YYYY-MM-DD)"),
        ("2027-1-5", "not a date: '2027-1-5' (expected YYYY-MM-DD)"),
        ("2027-01-15T00:00:00", "not a date: '2027-01-15T00:00:00' (expected YYYY-MM-DD)"),
        (20270115, "must be a date string YYYY-MM-DD, not the number 20270115"),
    ],
)
@pytest.mark.parametrize("path", ["signing_date", "delivery.date", "payment.milestones[0].due_date"])
def test_bad_dates(path, value, message):
    assert problems(with_value(example("sales"), path, value)) == {f"contract.{path}": message}


@pytest.mark.parametrize(
    ("path", "message"),
    [("signing_date", "not a date: '' (expected YYYY-MM-DD)"), ("delivery.date", "required for a sales contract")],
)
def test_blank_dates(path, message):
    assert problems(with_value(example("sales"), path, "")) == {f"contract.{path}": message}


@pytest.mark.parametrize("end", ["2027-01-01", "2026-12-31"])
def test_end_date_must_be_after_effective_date(end):
    body = with_value(example("service"), "end_date", end)
    assert problems(body) == {"contract.end_date": "must be after effective_date (2027-01-01)"}


def test_period_rule_skipped_when_a_date_is_bad():
    body = with_value(example("service"), "effective_date", "2027-02-30")
    assert list(problems(body)) == ["contract.effective_date"]


# --- parties, signers, emails -----------------------------------------------------------------

BAD_EMAILS = ["x@", "@yunti.example", "a b@yunti.example", "a@b", "a@@b.example", "a..b@yunti.example",
              ".a@yunti.example", "a@-yunti.example", "a@yunti..example", "a@yunti.example.", "a",
              "a@yunti.e", "王敏 <wang.min@yunti.example>"]
GOOD_EMAILS = ["wang.min@yunti.example", "a+tag@x.co.uk", "o'neil@x.example", "王敏@例子.中国",
               "x_y-z@sub.domain-1.example"]


@pytest.mark.parametrize("email", BAD_EMAILS)
@pytest.mark.parametrize("path", ["signers[1].email", "owner.email", "cc[0].email", "parties.ours.contact.email"])
def test_bad_emails_are_refused(path, email):
    assert problems(with_value(example("sales"), path, email)) == {
        f"contract.{path}": f"not a valid email address: {email!r}"
    }


@pytest.mark.parametrize("email", GOOD_EMAILS)
def test_good_emails_are_accepted(email):
    parse_webhook_body(with_value(example("sales"), "signers[1].email", email))


def _signers(*orders: int) -> list[dict]:
    return [
        {"party": "ours", "name": f"S{i}", "email": f"s{i}@x.example", "routing_order": o, "delivery": "email"}
        for i, o in enumerate(orders)
    ]


@pytest.mark.parametrize("orders", [(1,), (1, 1), (1, 2), (2, 1), (1, 2, 2, 3), (3, 1, 2, 1)])
def test_routing_orders_without_gaps_are_accepted(orders):
    parse_webhook_body(with_value(example("sales"), "signers", _signers(*orders)))


@pytest.mark.parametrize(
    ("orders", "path", "message"),
    [
        ((1, 3), "signers[1].routing_order", "routing_order 3 leaves a gap: no signer has routing_order 2"),
        ((2, 2), "signers[0].routing_order", "routing_order 2 leaves a gap: no signer has routing_order 1"),
        ((1, 4, 2, 4), "signers[1].routing_order", "routing_order 4 leaves a gap: no signer has routing_order 3"),
    ],
)
def test_routing_order_gaps_are_refused(orders, path, message):
    found = problems(with_value(example("sales"), "signers", _signers(*orders)))
    assert list(found) == [f"contract.{path}"]
    assert found[f"contract.{path}"].startswith(message)


@pytest.mark.parametrize(
    ("value", "message"),
    [(0, "must be 1 or more, not 0"), ("1", "must be a whole number, not the string '1'"),
     (1.0, "must be a whole number, not the number 1.0"), (True, "must be a whole number, not true")],
)
def test_bad_routing_order(value, message):
    assert problems(with_value(example("sales"), "signers[0].routing_order", value)) == {
        "contract.signers[0].routing_order": message
    }


def test_at_least_one_signer():
    assert problems(with_value(example("sales"), "signers", [])) == {
        "contract.signers": "at least one signer is required"
    }


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("signers[0].party", "them", "must be one of 'ours' or 'counterparty', not the string 'them'"),
        ("signers[0].delivery", "sms", "must be one of 'email' or 'embedded', not the string 'sms'"),
        ("locale", "zh", "must be one of 'zh-CN', 'en' or 'zh-CN+en', not the string 'zh'"),
        ("locale", "en+zh-CN", "must be one of 'zh-CN', 'en' or 'zh-CN+en', not the string 'en+zh-CN'"),
        ("locale", "zh-CN+fr", "must be one of 'zh-CN', 'en' or 'zh-CN+en', not the string 'zh-CN+fr'"),
        ("prevailing_language", "zh-CN+en", "must be one of 'zh-CN' or 'en', not the string 'zh-CN+en'"),
        ("prevailing_language", "fr", "must be one of 'zh-CN' or 'en', not the string 'fr'"),
        ("type", "lease", "must be one of 'sales', 'service', 'partner' or 'supplier', not the string 'lease'"),
        ("title", "   ", "must not be empty"),
        ("title", 7, "must be a string, not the number 7"),
        ("title", None, "required"),
        ("parties", [], "must be an object, not a list"),
        ("signers", {}, "must be a list, not an object"),
        ("auto_renew", "true", "must be true or false, not the string 'true'"),
        ("renewal_notice_days", -1, "must be 0 or more, not -1"),
        ("currency", "yuan", "must be an ISO 4217 currency code such as CNY, not 'yuan'"),
        ("time_zone", "Asia/Beijing", "not an IANA time zone: 'Asia/Beijing' (e.g. 'Asia/Shanghai')"),
        ("time_zone", "asia/shanghai", "not an IANA time zone: 'asia/shanghai' (e.g. 'Asia/Shanghai')"),
        ("time_zone", "../../etc/passwd", "not an IANA time zone: '../../etc/passwd' (e.g. 'Asia/Shanghai')"),
        ("time_zone", "localtime", "not an IANA time zone: 'localtime'"),
        # A URL is never echoed: it may carry credentials (the review's finding 8).
        ("callback_url", "http://crm.example/hooks", "must be an https URL (https://host/path)"),
        ("callback_url", "https://", "must be an https URL (https://host/path)"),
        ("callback_url", "crm.example/hooks", "must be an https URL (https://host/path)"),
        ("callback_url", "https://crm.example:99999/x", "not a valid URL"),
    ],
)
def test_field_errors(path, value, message):
    assert problems(with_value(example("sales"), path, value)) == {f"contract.{path}": message}


def test_an_unknown_type_skips_type_clauses():
    body = with_value(example("sales"), "type", "lease")
    del body["contract"]["after_sales"]  # irrelevant once the type is unknown
    assert list(problems(body)) == ["contract.type"]


@pytest.mark.parametrize("value", [0, 365])
def test_renewal_notice_days_zero_or_more(value):
    parse_webhook_body(with_value(example("sales"), "renewal_notice_days", value))


@pytest.mark.parametrize("tz", ["UTC", "America/Argentina/Buenos_Aires", "Etc/GMT-8"])
def test_valid_time_zones(tz):
    parse_webhook_body(with_value(example("sales"), "time_zone", tz))


def test_profit_share_percent_range():
    body = with_value(example("partner"), "profit_sharing.shares[0].percent", "101")
    assert problems(body) == {
        "contract.profit_sharing.shares[0].percent": "must be a percentage from 0 to 100, not 101"
    }


# --- milestone ids ----------------------------------------------------------------------------


def test_milestone_ids_unique_within_payment():
    body = with_value(example("sales"), "payment.milestones[1].id", "pay-1")
    assert problems(body) == {
        "contract.payment.milestones[1].id": "duplicate milestone id 'pay-1': also used at "
        "contract.payment.milestones[0].id"
    }


def test_milestone_ids_unique_across_payment_and_delivery():
    body = with_value(example("supplier"), "delivery.milestones[1].id", "pay-2")
    assert problems(body) == {
        "contract.delivery.milestones[1].id": "duplicate milestone id 'pay-2': also used at "
        "contract.payment.milestones[1].id"
    }


# --- envelope ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([], {"body": "must be a JSON object, not a list"}),
        ("x", {"body": "must be a JSON object, not the string 'x'"}),
        ({}, {"event": "required", "contract": "required"}),
        (
            {"event": "contract.created", "contract": "deal-1"},
            {"contract": "must be an object, not the string 'deal-1'"},
        ),
        ({"event": "contract.cancelled", "contract": {}}, {"contract.crm_record_id": "required"}),
        (
            {"event": "contract.canceled", "event_id": 7, "contract": {"crm_record_id": "d"}},
            {
                "event": "must be one of 'contract.created', 'contract.updated' or 'contract.cancelled', "
                "not the string 'contract.canceled'",
                "event_id": "must be a string, not the number 7",
            },
        ),
    ],
)
def test_envelope_errors(body, expected):
    assert problems(body) == expected


def test_parse_contract_applies_every_rule():
    contract = example("sales")["contract"]
    del contract["after_sales"]
    with pytest.raises(ContractInvalid) as info:
        parse_contract(contract)
    assert [d.path for d in info.value.details] == ["contract.after_sales"]
    with pytest.raises(ContractInvalid):
        parse_contract(["not", "a", "contract"])


# --- the error body ---------------------------------------------------------------------------


def test_error_body_shape():
    exc = ContractInvalid([
        ErrorDetail("contract.delivery.place", "required for a sales contract"),
        ErrorDetail("contract.payment.milestones[1].due_date", "not a date: '2027-02-30'", crm_field="properties.x"),
    ])
    assert exc.to_error_body() == {
        "error": {
            "code": "validation_error",
            "message": "2 problems in the contract",
            "details": [
                {"path": "contract.delivery.place", "message": "required for a sales contract"},
                {
                    "path": "contract.payment.milestones[1].due_date",
                    "message": "not a date: '2027-02-30'",
                    "crm_field": "properties.x",
                },
            ],
        }
    }
    json.dumps(exc.to_error_body())


def test_error_body_singular():
    body = ContractInvalid([ErrorDetail("event", "required")]).to_error_body()
    assert body["error"]["message"] == "1 problem in the contract"


def test_contract_invalid_is_a_value_error_with_a_readable_str():
    exc = ContractInvalid([ErrorDetail("event", "required")])
    assert isinstance(exc, ValueError)
    assert str(exc) == "1 problem in the contract: event: required"
