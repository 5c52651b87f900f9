"""POST /v1/contracts/preview, and per-tenant template overrides used by preview and by sending."""

from __future__ import annotations

import io
import json
from pathlib import Path

from pypdf import PdfReader

from tests.support.esign import envelope_api
from tests.support.stack import StackHarness

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"


def body(kind: str = "sales") -> dict:
    return json.loads((SAMPLES / f"{kind}.json").read_text())


def preview(stack: StackHarness, payload: object, auth: bool = True):
    headers = {"Content-Type": "application/json", **(stack.auth() if auth else {})}
    return stack.client.http.post("/v1/contracts/preview", headers=headers,
                                  body=json.dumps(payload, ensure_ascii=False).encode())


def test_preview_renders_and_sends_nothing(stack: StackHarness) -> None:
    response = preview(stack, body("sales"))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    html = response.body.decode()
    assert "HT-2026-0117" in html and "壹拾贰万捌仟元整" in html
    assert stack.drain_jobs() == 0
    assert stack.sandbox("GET", "/sandbox/envelopes").get("envelopes", []) == []


def test_a_bilingual_contract_previews_and_sends_one_document(stack: StackHarness) -> None:
    payload = body("sales")
    payload["contract"]["locale"] = "zh-CN+en"
    html = preview(stack, payload).body.decode()
    assert "产品名称、规格、数量及价款" in html and "Goods and price" in html
    assert "以中文文本为准" in html and "the Chinese text shall prevail" in html
    assert "壹拾贰万捌仟元整" in html
    assert [html.count(f"/sn{n}/") for n in (1, 2)] == [1, 1]

    contract_id = stack.post_webhook(payload).json_body["contract_id"]
    sent = stack.wait_status(contract_id, "sent")
    assert sent["locale"] == "zh-CN+en"
    assert sent["documents"]["rendered"]["template_version"].startswith("sales.zh-CN+en@")

    # The PDF DocuSign (here its sandbox) prints from what was sent shows both scripts, with a CJK font
    # embedded (real glyphs, not boxes), and the signature block's roles in both languages.
    api, account_id = envelope_api()
    pdf = api.get_document(account_id, "1", sent["envelope_id"], _request_timeout=(3, 60))
    reader = PdfReader(io.BytesIO(pdf))
    # Whitespace left out: the PDF's text breaks lines where the narrow columns wrap.
    text = "".join("".join(page.extract_text() or "" for page in reader.pages).split())
    for phrase in ("产品名称、规格、数量及价款", "Goods and price", "壹拾贰万捌仟元整", "以中文文本为准",
                   "the Chinese text shall prevail", "卖方 / Seller（盖章）", "买方 / Buyer（盖章）"):
        assert "".join(phrase.split()) in text, phrase
    fonts = {str(font.get_object()["/BaseFont"]) for page in reader.pages
             for font in page["/Resources"]["/Font"].values()}
    assert any("CJK" in font for font in fonts), fonts


def test_preview_lists_every_problem(stack: StackHarness) -> None:
    payload = body("service")
    del payload["contract"]["quality_guarantee"]
    payload["contract"]["end_date"] = payload["contract"]["effective_date"]
    response = preview(stack, payload)
    assert response.status_code == 422
    details = response.json_body["error"]["details"]
    paths = {d["path"] for d in details}
    assert "contract.quality_guarantee" in paths
    assert "contract.end_date" in paths


def test_preview_needs_an_api_key(stack: StackHarness) -> None:
    assert preview(stack, body(), auth=False).status_code == 401


def test_a_tenant_template_override_is_used_and_recorded(stack: StackHarness) -> None:
    from chalicelib.store.templates import put_template_override

    put_template_override(stack.tenant_id, "contracts/sales.zh-CN.html.j2", (
        '{% extends "contracts/_base.html.j2" %}'
        '{% set R = {"ours": "卖方", "counterparty": "买方", "order": ["ours", "counterparty"], '
        '"subject": "产品买卖"} %}'
        "{% block clauses %}<p>租户专用条款：{{ contract.after_sales }}</p>{% endblock %}"
    ))
    html = preview(stack, body("sales")).body.decode()
    assert "租户专用条款" in html

    contract_id = stack.post_webhook(body("sales")).json_body["contract_id"]
    sent = stack.wait_status(contract_id, "sent")
    assert sent["documents"]["rendered"]["template_version"].startswith("tenant:demo/sales.zh-CN@")


def test_an_override_over_the_render_bounds_is_a_422_with_the_reason(stack: StackHarness) -> None:
    """Security review finding 5: an override that would allocate 400 MB or loop for ever is refused
    by preview (and by sending) with the bound it broke, within a bounded time."""
    from chalicelib.store.templates import put_template_override

    for clause, reason in (("{{ 'x'|center(400000000) }}", "center's width"),
                           ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                            "loop turns")):
        put_template_override(stack.tenant_id, "contracts/sales.zh-CN.html.j2", (
            '{% extends "contracts/_base.html.j2" %}'
            '{% set R = {"ours": "卖方", "counterparty": "买方", "order": ["ours", "counterparty"], '
            '"subject": "产品买卖"} %}'
            "{% block clauses %}" + clause + "{% endblock %}"
        ))
        response = preview(stack, body("sales"))
        assert response.status_code == 422, response.body
        error = response.json_body["error"]
        assert error["code"] == "render_error" and reason in error["message"], error
