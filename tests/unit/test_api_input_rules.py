"""What the server accepts is exactly what the OpenAPI document says (tests/integration/
test_api_schemathesis.py checks the same over HTTP): strict dates and numbers in the query string,
the patterns of the contract schema against the validators they describe, and Chalice's own errors
in the public error shape."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.core.errors import ApiError


def _schema(model: str, field: str) -> dict[str, Any]:
    from chalicelib.contracts.model import WebhookEnvelope

    return WebhookEnvelope.model_json_schema()["$defs"][model]["properties"][field]


# --- the query string ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["20271231", "2027-W52-5", "2027-12-31T00:00", " 2027-12-31"])
def test_expiring_before_is_a_plain_iso_date(value: str) -> None:
    from chalicelib.web.listing import parse_query

    with pytest.raises(ApiError) as err:
        parse_query({"expiring_before": value})
    assert err.value.status == 400 and err.value.details[0]["path"] == "expiring_before"
    assert parse_query({"expiring_before": "2027-12-31"}).expiring_before == date(2027, 12, 31)


def test_statuses_forgive_spaces_around_commas_only() -> None:
    from chalicelib.web.listing import parse_query

    assert parse_query({"status": " sent , active,,"}).statuses == ("sent", "active")
    for value in ("sent\tactive", "sent\n", "sent active", ",", ""):
        with pytest.raises(ApiError):
            parse_query({"status": value})


def test_the_first_and_last_days_there_are_make_a_range() -> None:
    from chalicelib.web.analytics import parse_range

    today = date(2026, 6, 1)
    assert parse_range({"from": "9999-12-31"}, today) == (date.max, date.max)
    assert parse_range({"to": "0001-01-01"}, today) == (date.min, date.min)


@pytest.mark.parametrize("signer", [" 1", "+1", "1_0", "\u0663", "0", "1234567890", "", None])
def test_signer_is_a_plain_position(signer: str | None) -> None:
    from chalicelib.web.signing import signing_link

    record: Any = SimpleNamespace(signers=[object()] * 12)
    with pytest.raises(ApiError) as err:
        signing_link(record, signer)
    assert err.value.status == 400


# --- bodies --------------------------------------------------------------------------------------


def test_a_reason_counts_what_was_sent() -> None:
    from chalicelib.web.contract_actions import MAX_REASON_CHARS, _reason

    assert _reason(b'{"reason": "  no  "}', required=True) == "no"
    assert _reason(b'{"reason": null}', required=False) is None
    padded = ("x" * MAX_REASON_CHARS + " ").encode()
    with pytest.raises(ApiError) as err:
        _reason(b'{"reason": "' + padded + b'"}', required=True)
    assert err.value.status == 422


def test_a_week_date_is_not_a_payment_date() -> None:
    from chalicelib.reminders.milestones import parse_execution

    with pytest.raises(ApiError) as err:
        parse_execution({"status": "paid", "paid_on": "2027-W05-1"})
    assert err.value.status == 422 and err.value.details[0]["path"] == "paid_on"


def test_a_cancellation_has_nothing_to_preview() -> None:
    from chalicelib.web.preview import preview

    with pytest.raises(ApiError) as err:
        preview("demo", b'{"event": "contract.cancelled", "contract": {"crm_record_id": "d-1"}}')
    assert err.value.status == 422 and err.value.details[0]["path"] == "event"


# --- the contract schema's patterns say what the validators accept --------------------------------

EMAIL_CHARS = st.sampled_from(list("ab.-@_ 1\"(王例子") + ["\u00e9"])


@given(st.text(EMAIL_CHARS, max_size=20) | st.emails())
def test_the_email_pattern_is_the_email_check(value: str) -> None:
    from chalicelib.contracts.model import _check_email

    try:
        _check_email(value)
        accepted = True
    except ValueError:
        accepted = False
    matches = re.fullmatch(_schema("Person", "email")["pattern"], value) is not None
    local, _, domain = value.partition("@")
    # The pattern leaves the length limits (local part 64, domain 253) to the server.
    assert accepted == (matches and len(local) <= 64 and len(domain) <= 253), value


@given(st.one_of(st.text(st.sampled_from(list("0123456789.-")), max_size=30), st.integers(-5, 10**17)))
def test_the_positive_amount_schema_is_the_amount_check(value: str | int) -> None:
    from chalicelib.contracts.model import _positive, _to_decimal

    try:
        _positive(_to_decimal(value))
        accepted = True
    except ValueError:
        accepted = False
    string, integer = _schema("Item", "quantity")["anyOf"]
    if isinstance(value, str):
        matches = re.fullmatch(string["pattern"], value) is not None
    else:
        matches = integer["minimum"] <= value <= integer["maximum"]
    assert accepted == matches, value
    if accepted and isinstance(value, str):
        assert Decimal(value) > 0


# --- Chalice's own errors --------------------------------------------------------------------------


def test_chalice_refusals_have_the_public_error_shape() -> None:
    from chalice.test import Client

    import app

    with Client(app.app) as client:
        wrong_type = client.http.post("/v1/contracts/preview", headers={"Content-Type": "text/csv"}, body=b"a,b")
        wrong_method = client.http.request("PATCH", "/health")
    assert wrong_type.status_code == 415 and wrong_type.headers["Content-Type"].startswith("application/json")
    assert wrong_type.json_body["error"]["code"] == "unsupported_media_type"
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "GET"
    assert wrong_method.json_body["error"]["code"] == "method_not_allowed"
