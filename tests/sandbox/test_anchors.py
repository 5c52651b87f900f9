"""Anchor tabs: anchorMatchWholeWord honoured, and the app's own anchors found in the app's documents.

DocuSign's REST reference (envelope tabs, `anchorMatchWholeWord`): "When true, the text string in a
document must match the value of the anchorString property in its entirety for an anchor tab to be
created. The default value is false. For example, when set to true, if the input is man then man will
match but manpower, fireman, and penmanship will not. When false, if the input is man then man,
manpower, fireman, and penmanship will all match." (The OpenAPI text shipped in docusign-esign 6.1.0
says "matches whole words only (strings embedded in other strings are ignored.) The default value is
true"; the sandbox follows the REST reference and has a config knob for the other reading. The project's
DocuSign reference lists the property, §1.6, without a default.) The app always sends it as "true".
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import docusign_esign as ds
import pytest

from devstack.sandbox.documents import Document, anchor_found

from .helpers import SandboxHandle, api_error, definition, embedded_signer

CONTRACTS = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"


@pytest.mark.parametrize(
    ("anchor", "text", "whole_word", "found"),
    [
        ("man", "the man signs here", True, True),
        ("man", "the man.", True, True),
        ("man", "fireman", True, False),  # DocuSign's own example
        ("man", "manpower", True, False),
        ("man", "penmanship", False, True),  # without whole words any substring counts
        ("/sn1", "/sn10/", True, False),  # an anchor without the closing slash inside a longer one
        ("/sn1", "/sn10/", False, True),
        ("/sn1/", "SKU ref/sn1/2024", True, False),  # glued to other text: part of a longer word
        ("/sn1/", "SKU ref/sn1/2024", False, True),
        ("/sn1/", "/sn10/", False, False),  # the trailing slash already keeps /sn1/ out of /sn10/
        ("/sn1/", "甲方签字：/sn1/", True, True),  # punctuation is a word boundary
        ("/sn1/", "Signature:\n/sn1/\nName:", True, True),
        ("/sn1/", "/\u2060sn1/", True, False),  # the app's defused CRM text (anchors.defuse_anchors)
    ],
)
def test_whole_word_rule(anchor: str, text: str, whole_word: bool, found: bool) -> None:
    assert anchor_found(anchor, [text], case_sensitive=False, whole_word=whole_word) is found


def test_case_sensitivity_still_applies_with_whole_words() -> None:
    assert anchor_found("/SN1/", ["x /sn1/ y"], case_sensitive=False, whole_word=True)
    assert not anchor_found("/SN1/", ["x /sn1/ y"], case_sensitive=True, whole_word=True)


def test_table_cells_are_separate_words() -> None:
    """Cells, paragraphs and line breaks are laid out apart on the page, so their texts are not one
    word: an anchor alone in a cell after a label cell matches whole words."""
    html = "<table><tr><td>Sign</td><td><span style='color:white'>/sn1/</span></td></tr></table>x<br>/ds1/"
    text = Document("1", "d", "html", html.encode(), 1).plain_text()
    assert anchor_found("/sn1/", [text], case_sensitive=False, whole_word=True)
    assert anchor_found("/ds1/", [text], case_sensitive=False, whole_word=True)
    inline = Document("1", "d", "html", b"<p>Sign<span>/sn1/</span>x</p>", 1).plain_text()
    assert not anchor_found("/sn1/", [inline], case_sensitive=False, whole_word=True)


def document_with(text: str) -> ds.Document:
    html = f"<html><body><p>合同</p><p>{text}</p></body></html>"
    return ds.Document(
        document_base64=base64.b64encode(html.encode()).decode(), document_id="1", file_extension="html", name="合同"
    )


def signer_with(anchor: str, whole_word: str | None) -> ds.Signer:
    signer = embedded_signer(1)
    tab = signer.tabs.sign_here_tabs[0]
    tab.anchor_string = anchor
    tab.anchor_match_whole_word = whole_word
    return signer


def create(sandbox: SandboxHandle, text: str, anchor: str, whole_word: str | None) -> ds.EnvelopeSummary:
    envelope = definition([signer_with(anchor, whole_word)], documents=[document_with(text)])
    return sandbox.api().create_envelope(sandbox.account_id, envelope_definition=envelope)


def test_sdk_anchor_match_whole_word_is_honoured(sandbox: SandboxHandle) -> None:
    """`/sn1/` is found standalone; glued inside `ref/sn1/2024` it is found only as a substring."""
    assert create(sandbox, "甲方签字：/sn1/", "/sn1/", "true").status == "sent"
    glued = "产品编号 ref/sn1/2024，参见 /sn10/"
    with pytest.raises(ds.ApiException) as caught:
        create(sandbox, glued, "/sn1/", "true")
    assert caught.value.status == 400
    assert api_error(caught.value)["errorCode"] == "ANCHOR_TAG_PROCESSING_FAILURE"
    assert create(sandbox, glued, "/sn1/", "false").status == "sent"
    assert create(sandbox, glued, "/sn1/", None).status == "sent"  # DocuSign's documented default: false
    assert len(sandbox.control("GET", "/sandbox/envelopes")["envelopes"]) == 3


def test_the_default_can_be_whole_words(make_sandbox: Any) -> None:
    """For code written against the other reading (the SDK's docstring: default true)."""
    sandbox = make_sandbox(anchor_match_whole_word_default=True)
    with pytest.raises(ds.ApiException) as caught:
        create(sandbox, "ref/sn1/2024", "/sn1/", None)
    assert api_error(caught.value)["errorCode"] == "ANCHOR_TAG_PROCESSING_FAILURE"
    assert create(sandbox, "ref/sn1/2024", "/sn1/", "false").status == "sent"


@pytest.mark.parametrize("name", sorted(p.stem for p in CONTRACTS.glob("*.json")))
def test_the_apps_anchors_are_found_in_the_apps_documents(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Every contract type and locale, rendered by the app and sent with the app's own envelope
    definition (chalicelib, read-only): each signer's /snN/, /dsN/ and /fnN/ anchors, with
    anchorMatchWholeWord "true" and anchorIgnoreIfNotPresent "false", are all found."""
    from chalicelib.core.config import reset_settings
    from chalicelib.esign import envelopes
    from chalicelib.rendering.render import render_contract

    contract = json.loads((CONTRACTS / f"{name}.json").read_text(encoding="utf-8"))["contract"]
    signers = [
        envelopes.SignerSpec(n, s["name"], s["email"], int(s["routing_order"]), True, f"ctr_t-{n}")
        for n, s in enumerate(contract["signers"], start=1)
    ]
    request = envelopes.EnvelopeRequest(
        tenant_id="demo",
        contract_id="ctr_t",
        subject=contract["title"],
        document_name=contract["title"],
        document_html=render_contract(contract).html,
        signers=signers,
        cc=[],
    )
    monkeypatch.setenv("SIGNBRIDGE_PUBLIC_BASE_URL", "https://api.example/")
    reset_settings()
    try:
        envelope = envelopes.envelope_definition(request)
    finally:
        monkeypatch.undo()
        reset_settings()
    envelope.event_notification = None  # nothing to deliver to: this test is about the anchors
    tabs = [
        tab
        for signer in envelope.recipients.signers
        for tab in (*signer.tabs.sign_here_tabs, *signer.tabs.date_signed_tabs, *signer.tabs.full_name_tabs)
    ]
    assert len(tabs) == 3 * len(signers)
    assert {(t.anchor_match_whole_word, t.anchor_ignore_if_not_present) for t in tabs} == {("true", "false")}
    summary = sandbox.api().create_envelope(sandbox.account_id, envelope_definition=envelope)
    assert summary.status == "sent"
