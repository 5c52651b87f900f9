"""Every DocuSign SDK call the app makes goes to the sandbox through the official docusign-esign SDK,
and every reply deserializes through the SDK's own models: each raw JSON reply is checked field by
field against the model's attribute_map (a field the SDK does not know would be silently dropped),
scalars are strings as DocuSign sends them, and the model's attributes carry the values."""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib.esign import auth, envelopes
from chalicelib.esign.accounts import service_account
from tests.support.esign import envelope_api, send, signer, signing_link, webhook_body
from tests.support.stack import StackHarness, form_post

ENVELOPES_PY = Path(__file__).resolve().parents[2] / "chalicelib" / "esign" / "envelopes.py"
# What this module exercises, by SDK method (EnvelopesApi) and the model its reply becomes.
COVERED = {
    "create_envelope": "EnvelopeSummary",
    "list_status_changes": "EnvelopesInformation",
    "create_recipient_view": "ViewUrl",
    "get_document": "file",
    "update": "EnvelopeUpdateSummary",
}
TIMEOUT = (3, 30)
# Fields the sandbox sends that the SDK's model lacks (reported to the sandbox's owner; harmless: the
# SDK drops them). Anything else unknown fails the test.
SANDBOX_EXTRAS = {("CarbonCopy", "creationReason")}


def assert_fits_model(model: str, data: Any, path: str = "$") -> None:
    """Every key of a raw reply is a field of the SDK model, recursively; scalars are strings."""
    from docusign_esign import models

    cls = getattr(models, model)
    by_json = {json_key: attr for attr, json_key in cls.attribute_map.items()}
    assert isinstance(data, dict), f"{path}: expected a {model} object, got {data!r}"
    for key, value in data.items():
        if (model, key) in SANDBOX_EXTRAS:
            continue
        assert key in by_json, f"{path}.{key} is not a field of the SDK's {model} (it would be dropped)"
        _fits_type(cls.swagger_types[by_json[key]], value, f"{path}.{key}")


def _fits_type(swagger_type: str, value: Any, path: str) -> None:
    if value is None:
        return
    if swagger_type.startswith("list["):
        assert isinstance(value, list), f"{path}: expected a list, got {value!r}"
        for i, item in enumerate(value):
            _fits_type(swagger_type[5:-1], item, f"{path}[{i}]")
    elif swagger_type == "str":
        assert isinstance(value, str), f"{path}: DocuSign sends every scalar as a string, got {value!r}"
    elif swagger_type in ("int", "float", "bool", "object", "date", "datetime") or swagger_type.startswith("dict("):
        return
    else:
        assert_fits_model(swagger_type, value, path)


def raw_call(api: Any, method: str, model: str, *args: Any, **kwargs: Any) -> tuple[Any, dict[str, Any], Any]:
    """Calls `<method>_with_http_info` without preloading, so the same reply gives both the raw JSON
    and the SDK's own deserialization of it."""
    response, status, headers = getattr(api, f"{method}_with_http_info")(
        *args, _preload_content=False, _request_timeout=TIMEOUT, **kwargs)
    assert 200 <= status < 300, (method, status)
    raw = json.loads(response.data)
    assert_fits_model(model, raw)
    deserialized = api.api_client.deserialize(response, model)
    assert type(deserialized).__name__ == model
    return deserialized, raw, headers


def sdk_calls_in_app() -> set[str]:
    tree = ast.parse(ENVELOPES_PY.read_text())
    return {node.func.attr for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "api"}


def test_the_app_calls_no_sdk_method_this_module_does_not_cover() -> None:
    assert sdk_calls_in_app() == set(COVERED)


@pytest.fixture
def sent(stack: StackHarness) -> dict[str, Any]:
    """A contract sent through the app (create_envelope + list_status_changes by the send job)."""
    body = webhook_body("sales.en", crm_record_id="sdk-coverage", signers=[
        signer("Rachel Tan", "rachel.tan@harbourline.example", 1),
        signer("Min Wang", "wang.min@yunti.example", 2, party="ours"),
    ], cc=[{"name": "Legal", "email": "legal@yunti.example"}])
    return send(stack, body)


def test_create_envelope(stack: StackHarness, sent: dict[str, Any]) -> None:
    from docusign_esign import EnvelopeSummary

    from chalicelib.jobs.send import _envelope_request
    from chalicelib.rendering.render import render_contract
    from chalicelib.store import contracts as store

    # The app's own call (the send job's) worked: DocuSign holds the envelope with our id.
    assert [e["envelopeId"] for e in stack.sandbox_envelopes(sent["contract_id"])] == [sent["envelope_id"]]
    # The same definition the job builds, through the SDK, raw reply checked against the model.
    record = store.get_contract(stack.tenant_id, sent["contract_id"])
    request = _envelope_request(record, record.document, render_contract(record.document).html)
    api, account_id = envelope_api()
    summary, raw, headers = raw_call(api, "create_envelope", "EnvelopeSummary", account_id,
                                     envelope_definition=envelopes.envelope_definition(request))
    assert isinstance(summary, EnvelopeSummary)
    assert summary.envelope_id == raw["envelopeId"] and summary.status == "sent"
    assert summary.uri == f"/envelopes/{summary.envelope_id}" and summary.status_date_time
    assert headers.get("X-DocuSign-TraceToken")
    # And through the app's wrapper, which returns our own small value.
    ref = envelopes.create_envelope(request)
    assert ref.status == "sent" and len(ref.envelope_id) == 36


def test_list_status_changes(stack: StackHarness, sent: dict[str, Any]) -> None:
    from docusign_esign import EnvelopesInformation

    contract_id, envelope_id = sent["contract_id"], sent["envelope_id"]
    api, account_id = envelope_api()
    info, raw, _ = raw_call(api, "list_status_changes", "EnvelopesInformation", account_id,
                            from_date="2020-01-01T00:00:00Z", custom_field=f"contractId={contract_id}",
                            include="custom_fields,recipients")
    assert isinstance(info, EnvelopesInformation)
    assert info.result_set_size == "1" and info.total_set_size == "1"
    [env] = info.envelopes
    assert env.envelope_id == envelope_id and env.status == "sent"
    fields = {f.name: f.value for f in env.custom_fields.text_custom_fields}
    assert fields == {"contractId": contract_id, "tenantId": stack.tenant_id}
    assert [(s.recipient_id, s.routing_order, s.status) for s in env.recipients.signers] == [
        ("1", "1", "sent"), ("2", "2", "created")]
    assert [c.email for c in env.recipients.carbon_copies] == ["legal@yunti.example"]
    assert raw["envelopes"][0]["customFields"]["textCustomFields"][0]["show"] == "false"

    # The app's two uses: the look-up before create, and reconciliation's paged listing.
    from datetime import UTC, datetime, timedelta

    since = datetime.now(UTC) - timedelta(hours=1)
    assert [r.envelope_id for r in envelopes.find_envelopes(stack.tenant_id, contract_id, since)] == [envelope_id]
    [change] = [c for c in envelopes.list_changes(since) if c.envelope_id == envelope_id]
    assert (change.contract_id, change.tenant_id, change.status) == (contract_id, stack.tenant_id, "sent")
    assert [r["status"] for r in change.recipients] == ["sent", "created"]
    # Nothing matches: DocuSign leaves `envelopes` out altogether, and both cope.
    empty, raw_empty, _ = raw_call(api, "list_status_changes", "EnvelopesInformation", account_id,
                                   from_date="2020-01-01T00:00:00Z", custom_field="contractId=nope")
    assert "envelopes" not in raw_empty and empty.envelopes is None and empty.result_set_size == "0"
    assert envelopes.find_envelope(stack.tenant_id, "nope", since) is None


def test_create_recipient_view(stack: StackHarness, sent: dict[str, Any]) -> None:
    from docusign_esign import RecipientViewRequest, ViewUrl

    from chalicelib.esign.envelopes import signer_specs
    from chalicelib.store import contracts as store

    record = store.get_contract(stack.tenant_id, sent["contract_id"])
    spec = signer_specs(record.contract_id, record.signers)[0]
    api, account_id = envelope_api()
    view, raw, _ = raw_call(api, "create_recipient_view", "ViewUrl", account_id, sent["envelope_id"],
                            recipient_view_request=RecipientViewRequest(
                                authentication_method="none", client_user_id=spec.client_user_id,
                                recipient_id="1", return_url="http://127.0.0.1/back", user_name=spec.name,
                                email=spec.email))
    assert isinstance(view, ViewUrl) and view.url == raw["url"] and "/signing/" in view.url
    # The app's call (what /sign/{token} does) gives a fresh single-use URL each time.
    url = envelopes.recipient_view(stack.tenant_id, sent["envelope_id"], spec, "http://127.0.0.1/back")
    assert url != view.url and "/signing/" in url
    # Not the signer's turn: DocuSign's error, classified as "not yet" by the link page.
    second = signer_specs(record.contract_id, record.signers)[1]
    with pytest.raises(envelopes.EnvelopeRejected) as refused:
        envelopes.recipient_view(stack.tenant_id, sent["envelope_id"], second, "http://127.0.0.1/back")
    assert refused.value.code == "RECIPIENT_NOT_IN_SEQUENCE" and refused.value.trace_token


def test_get_document(stack: StackHarness, sent: dict[str, Any]) -> None:
    contract_id = sent["contract_id"]
    for position in (1, 2):
        link = signing_link(stack, contract_id, position)
        view = stack.client.http.get(link["url"].split(stack.api_url, 1)[1]).headers["Location"]
        assert form_post(view, {"action": "sign"})[0] == 302
        stack.wait_until(lambda p=position: stack.get_contract(contract_id)["signers"][p - 1]["status"] == "signed",
                         what=f"signer {position} signed")
    done = stack.wait_status(contract_id, "active")

    api, account_id = envelope_api()
    data = api.get_document(account_id, "combined", sent["envelope_id"], certificate="true",
                            _request_timeout=TIMEOUT)
    assert isinstance(data, bytes) and data.startswith(b"%PDF-")
    without_certificate = api.get_document(account_id, "combined", sent["envelope_id"], certificate="false",
                                           _request_timeout=TIMEOUT)
    assert without_certificate.startswith(b"%PDF-") and len(without_certificate) < len(data)
    # The app's call is the archive job's: byte for byte what it stored.
    assert envelopes.combined_pdf(stack.tenant_id, sent["envelope_id"]) == data
    assert done["documents"]["signed"]["sha256"] == hashlib.sha256(data).hexdigest()
    # The certificate of completion alone (documentId "certificate"), the archive job's second download.
    certificate = api.get_document(account_id, "certificate", sent["envelope_id"], _request_timeout=TIMEOUT)
    assert certificate.startswith(b"%PDF-") and len(certificate) < len(data)
    assert envelopes.certificate_pdf(stack.tenant_id, sent["envelope_id"]) == certificate
    [archived] = [e for e in done["timeline"] if e["type"] == "archived"]
    assert archived["detail"]["certificate"]["sha256"] == hashlib.sha256(certificate).hexdigest()


def test_update_to_void(stack: StackHarness, sent: dict[str, Any]) -> None:
    from docusign_esign import Envelope, EnvelopeUpdateSummary

    api, account_id = envelope_api()
    envelopes.void_envelope(stack.tenant_id, sent["envelope_id"], "Cancelled in the CRM")  # the app's call
    stack.settle_connect()
    voided = stack.sandbox("GET", f"/sandbox/envelopes/{sent['envelope_id']}")
    assert voided["status"] == "voided" and voided["voidedReason"] == "Cancelled in the CRM"
    contract = stack.wait_status(sent["contract_id"], "voided")
    assert contract["status_reason"] == "Cancelled in the CRM"

    # The reply, through the SDK's model, on a second envelope.
    other = envelopes.create_envelope(envelopes.EnvelopeRequest(
        tenant_id=stack.tenant_id, contract_id="ctr_other", subject="Other", document_name="Other",
        document_html="<p>/sn1/ /ds1/ /fn1/</p>", cc=[],
        signers=[envelopes.SignerSpec(1, "A B", "a@b.example", 1, True, "ctr_other-1")]))
    summary, raw, _ = raw_call(api, "update", "EnvelopeUpdateSummary", account_id, other.envelope_id,
                               envelope=Envelope(status="voided", voided_reason="test"))
    assert isinstance(summary, EnvelopeUpdateSummary) and summary.envelope_id == other.envelope_id

    # Voiding twice is DocuSign's 400, a data problem: not retried, with its trace token.
    with pytest.raises(envelopes.EnvelopeRejected) as refused:
        envelopes.void_envelope(stack.tenant_id, other.envelope_id, "again")
    assert refused.value.code == "ENVELOPE_CANNOT_VOID_INVALID_STATE" and refused.value.trace_token


def test_errors_deserialize_and_are_classified(stack: StackHarness) -> None:
    from docusign_esign.client.api_exception import ApiException

    incomplete = envelopes.EnvelopeRequest(tenant_id=stack.tenant_id, contract_id="ctr_x", subject="No signers",
                                           document_name="Doc", document_html="<p>text</p>", signers=[], cc=[])
    with pytest.raises(envelopes.EnvelopeRejected) as refused:
        envelopes.create_envelope(incomplete)
    assert refused.value.code == "ENVELOPE_IS_INCOMPLETE" and refused.value.trace_token
    assert "Complete Envelope Requires" in refused.value.message

    api, account_id = envelope_api()
    with pytest.raises(ApiException) as raw_error:
        api.create_envelope(account_id, envelope_definition=envelopes.envelope_definition(incomplete),
                            _request_timeout=TIMEOUT)
    assert raw_error.value.status == 400 and raw_error.value.trace_token
    assert_fits_model("ErrorDetails", json.loads(raw_error.value.body))


def test_a_revoked_token_is_replaced_once(stack: StackHarness) -> None:
    session = auth.get_session()
    # DocuSign no longer accepts the cached one
    auth._sessions[service_account().cache_key] = replace(session, access_token="revoked")
    assert envelopes.find_envelope(stack.tenant_id, "ctr_none", session_created_at()) is None
    assert auth.get_session().access_token not in ("revoked", session.access_token)


def session_created_at() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
