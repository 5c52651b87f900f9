"""A Connect body signed with our key is still checked, not trusted, for its shape: odd JSON types
where DocuSign sends text are treated as absent, never a crash (a 500 would make DocuSign retry a
message we can never apply). Found by the route fuzz (tests/reliability/test_fuzz_routes.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.core.errors import MalformedBody
from chalicelib.esign.connect import parse_message


def _body(summary: Any, **data: Any) -> bytes:
    return json.dumps({"event": "envelope-sent", "generatedDateTime": "2026-11-30T10:00:00.000Z",
                       "data": {"envelopeId": "env-1", "envelopeSummary": summary, **data}}).encode()


@pytest.mark.parametrize("fields", [
    [{"name": {"a": 1}, "value": "x"}],
    [{"name": "contractId", "value": ["ctr"]}],
    [{"name": ["tenantId"], "value": {"t": 1}}],
    ["not an object", 7, None],
    {"not": "a list"},
])
def test_odd_custom_fields_are_left_out(fields: Any) -> None:
    message = parse_message(_body({"status": "sent", "customFields": {"textCustomFields": fields}}))
    assert message.contract_id is None and message.tenant_id is None and message.envelope_id == "env-1"


def test_odd_summary_and_recipient_values_are_text_or_nothing() -> None:
    message = parse_message(_body({"status": {"x": 1}, "voidedReason": [1], "recipients": {"signers": [
        {"recipientId": 1, "status": {"s": 1}, "signedDateTime": ["2026"], "declinedReason": "no"}, "junk"]}}))
    assert message.envelope_status is None and message.voided_reason is None
    assert message.recipients == ({"recipientId": "1", "status": None, "signedDateTime": None,
                                   "declinedReason": "no"},)
    for summary in ([], "text", 5, None):
        assert parse_message(_body(summary)).envelope_id == "env-1"


def test_an_envelope_id_or_event_that_is_not_text_is_malformed() -> None:
    with pytest.raises(MalformedBody):
        parse_message(_body({}, envelopeId={"id": 1}))
