"""The combined PDF: real pages from the HTML as sent (Chinese included) plus a certificate."""

from __future__ import annotations

import base64
import io

import docusign_esign as ds
import pytest
from pypdf import PdfReader

from .helpers import CONTRACT_TITLE, SandboxHandle, api_error, definition, embedded_signer


def embedded_fonts(pdf: bytes) -> set[str]:
    fonts: set[str] = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            fonts.add(str(font.get_object()["/BaseFont"]))
    return fonts


def pdf_text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(page.extract_text() or "" for page in reader.pages)


@pytest.fixture(scope="module")
def completed(_shared_sandbox: SandboxHandle) -> tuple[SandboxHandle, str, bytes]:
    """One signed envelope and its combined PDF, rendered once for the whole module."""
    sandbox = _shared_sandbox
    signers = [embedded_signer(1), embedded_signer(2, routing_order=2)]
    envelope_id = sandbox.api().create_envelope(sandbox.account_id, envelope_definition=definition(signers)).envelope_id
    for signer in signers:
        assert sandbox.sign(envelope_id, signer).status == 302
    pdf = sandbox.api().get_document(sandbox.account_id, "combined", envelope_id)
    return sandbox, envelope_id, pdf


def test_combined_pdf_has_the_document_and_a_certificate(completed) -> None:
    sandbox, envelope_id, pdf = completed
    assert isinstance(pdf, bytes) and pdf.startswith(b"%PDF")
    pages, text = pdf_text(pdf)
    assert pages >= 2
    assert CONTRACT_TITLE in text  # CJK glyphs embedded with a ToUnicode map, so the text round-trips
    assert "壹拾贰万捌仟元整" in text
    # Real CJK glyphs, not boxes: a CJK font is embedded (text extraction alone would not prove it).
    assert any("CJK" in font for font in embedded_fonts(pdf)), embedded_fonts(pdf)
    assert "Certificate of Completion" in text
    assert envelope_id in text
    for name in ("张三", "李四"):
        assert name in text
    assert "completed" in text


def test_certificate_can_be_left_out_and_documents_fetched_alone(completed) -> None:
    sandbox, envelope_id, pdf = completed
    api = sandbox.api()
    without = api.get_document(sandbox.account_id, "combined", envelope_id, certificate="false")
    pages, text = pdf_text(without)
    assert pages == pdf_text(pdf)[0] - 1
    assert "Certificate of Completion" not in text and CONTRACT_TITLE in text
    single = api.get_document(sandbox.account_id, "1", envelope_id)
    assert "Certificate of Completion" not in pdf_text(single)[1]
    certificate = api.get_document(sandbox.account_id, "certificate", envelope_id)
    assert pdf_text(certificate)[0] == 1


def test_the_certificate_alone_names_the_envelope_its_signers_their_sign_times_and_addresses(completed) -> None:
    sandbox, envelope_id, _ = completed
    api = sandbox.api()
    certificate = api.get_document(sandbox.account_id, "certificate", envelope_id)
    assert certificate.startswith(b"%PDF")
    pages, text = pdf_text(certificate)
    assert pages == 1
    assert "Certificate of Completion" in text and envelope_id in text
    assert "壹拾贰万捌仟元整" not in text  # no page of the contract
    recipients = api.list_recipients(sandbox.account_id, envelope_id).signers
    assert {r.name for r in recipients} == {"张三", "李四"}
    flat = text.replace("\n", "")  # a table cell may wrap a timestamp
    for recipient in recipients:
        assert recipient.name in text
        # The signed time as the envelope's recipients report it, to the second, in UTC.
        assert recipient.signed_date_time[:19] + "Z" in flat, recipient.signed_date_time
    assert text.count("192.0.2.1") == 2  # one placeholder address per signer who signed
    # It is listed among the envelope's documents, as DocuSign lists it.
    listed = api.list_documents(sandbox.account_id, envelope_id).envelope_documents
    assert [d.document_id for d in listed][-1] == "certificate"

    with pytest.raises(ds.ApiException) as caught:
        api.get_document(sandbox.account_id, "7", envelope_id)
    assert api_error(caught.value)["errorCode"] == "DOCUMENT_DOES_NOT_EXIST"


def test_pdf_documents_are_included_as_sent(completed) -> None:
    sandbox, _, signed_pdf = completed
    # The previous envelope's PDF is a real PDF with text: anchors are found in it too.
    pdf_doc = ds.Document(
        document_base64=base64.b64encode(signed_pdf).decode(), document_id="2", file_extension="pdf", name="附件.pdf"
    )
    html_doc = definition([embedded_signer(1)]).documents[0]
    signer = embedded_signer(1)
    signer.tabs.sign_here_tabs[0].anchor_string = "Certificate of Completion"
    envelope = definition([signer], documents=[html_doc, pdf_doc])
    envelope_id = sandbox.api().create_envelope(sandbox.account_id, envelope_definition=envelope).envelope_id
    combined = sandbox.api().get_document(sandbox.account_id, "combined", envelope_id)
    attached_pages = pdf_text(signed_pdf)[0]
    pages, text = pdf_text(combined)
    assert pages == 1 + attached_pages + 1  # HTML page, the PDF as is, this envelope's certificate
    assert envelope_id in text
