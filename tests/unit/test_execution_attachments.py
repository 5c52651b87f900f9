"""The attachment scan of execution-log entries (chalicelib/web/attachments.py): what a customer
attaches is accepted under the type its bytes are; executables, script carriers (HTML, SVG),
archives, macro documents, lies about the type and broken uploads are refused, each saying why."""

from __future__ import annotations

import base64
import hashlib

import pytest

from chalicelib.core.errors import ApiError
from chalicelib.web import attachments
from chalicelib.web.attachments import Refused, safe_name, scan, scan_one, shape_problems
from tests.support import sample_files as f

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.mark.parametrize(("filename", "declared", "data", "stored_as"), [
    ("delivery-note.pdf", "application/pdf", f.pdf(), "application/pdf"),
    ("site.PNG", "image/png", f.png(), "image/png"),
    ("photo.jpeg", "image/jpg", f.jpeg(), "image/jpeg"),
    ("photo.jpg", "image/jpeg", f.jpeg(), "image/jpeg"),
    ("anim.gif", "image/gif", f.gif(), "image/gif"),
    ("minutes.docx", DOCX_TYPE, f.docx(), DOCX_TYPE),
    ("hours.xlsx", XLSX_TYPE, f.xlsx(), XLSX_TYPE),
    ("call.txt", "text/plain; charset=utf-8", f.TEXT, "text/plain"),
    ("items.csv", "text/csv", f.CSV, "text/csv"),
    ("acceptance.eml", "message/rfc822", f.EML, "message/rfc822"),
])
def test_accepted_kinds_are_stored_as_their_bytes_say(filename: str, declared: str, data: bytes,
                                                      stored_as: str) -> None:
    upload = scan_one(f.attachment(filename, declared, data))
    assert (upload.name, upload.content_type, upload.size) == (filename, stored_as, len(data))
    assert upload.sha256 == hashlib.sha256(data).hexdigest() and upload.data == data


@pytest.mark.parametrize(("filename", "declared", "data", "why"), [
    ("invoice.pdf", "application/pdf", f.exe(), "Windows Executable"),  # an .exe renamed
    ("invoice.pdf", "application/pdf", f.elf(), "ELF"),
    ("page.html", "text/html", f.HTML, "HTML"),
    ("note.txt", "text/plain", f.HTML, "HTML"),  # HTML declared as text
    ("logo.svg", "image/svg+xml", f.SVG, "Scalable Vector Graphics"),
    ("data.xml", "text/plain", b'<?xml version="1.0"?><a/>', "XML"),
    ("notes.txt", "text/plain", b"  <b onmouseover=alert(1)>hi</b>", "markup"),
    ("bundle.zip", "application/zip", f.plain_zip(), "ZIP archive"),
    ("bundle.docx", DOCX_TYPE, f.plain_zip(), "ZIP archive"),
    ("macro.docm", "application/vnd.ms-word.document.macroEnabled.12", f.docm(), "macros"),
    ("macro.docx", DOCX_TYPE, f.docm(), "macros"),
    ("scan.pdf", "image/png", f.pdf(), "declared image/png but the content is PDF"),  # the type lies
    ("scan.png", "application/pdf", f.pdf(), "'scan.png' does not end in .pdf"),  # the extension lies
    ("scan", "application/pdf", f.pdf(), "does not end in .pdf"),
    ("sheet.csv", "text/csv", f.xlsx(), "declared text/csv but the content is XLSX"),
    ("blob.txt", "text/plain", b"abc\x00\x01def", "binary content"),
    ("truncated.docx", DOCX_TYPE, f.docx()[:40], "damaged"),
])
def test_refused_kinds_say_why(filename: str, declared: str, data: bytes, why: str) -> None:
    with pytest.raises(Refused, match=why):
        scan_one(f.attachment(filename, declared, data))


def test_broken_uploads_are_refused() -> None:
    with pytest.raises(Refused, match="not valid Base64"):
        scan_one({"filename": "a.pdf", "content_type": "application/pdf", "content_base64": "%%%not base64%%%"})
    with pytest.raises(Refused, match="not valid Base64"):
        scan_one({"filename": "a.pdf", "content_type": "application/pdf", "content_base64": "QUJD="})  # bad padding
    # An empty file: no bytes to send, refused with the body's shape (422) before any scan.
    assert shape_problems([{"filename": "a.txt", "content_type": "text/plain", "content_base64": ""}]) == [
        {"path": "attachments[0].content_base64", "message": "required: the file's bytes in Base64 (an empty file "
                                                             "is refused)"}]
    # Base64 as mail and many encoders write it (76-character lines) is fine.
    wrapped = base64.encodebytes(f.pdf()).decode()
    assert "\n" in wrapped
    assert scan_one({"filename": "a.pdf", "content_type": "application/pdf", "content_base64": wrapped}).data == f.pdf()


def test_size_limits_each_and_together() -> None:
    limit = attachments.MAX_TOTAL_BYTES
    with pytest.raises(Refused, match="larger than 4 MiB"):
        scan_one(f.attachment("big.txt", "text/plain", b"a" * (limit + 1)))
    assert scan_one(f.attachment("edge.txt", "text/plain", b"a" * limit)).size == limit
    half = f.attachment("half.txt", "text/plain", b"a" * (limit // 2 + 1))
    with pytest.raises(ApiError) as refused:
        scan([half, half])
    assert refused.value.status == 400 and refused.value.code == "attachment_refused"
    assert refused.value.details == [{"path": "attachments", "message": f"{limit + 2} bytes together; at most "
                                                                        "4 MiB per entry"}]


def test_every_refused_attachment_is_named_by_its_index() -> None:
    good = f.attachment("a.pdf", "application/pdf", f.pdf())
    with pytest.raises(ApiError) as refused:
        scan([good, f.attachment("x.pdf", "application/pdf", f.exe()), good, f.attachment("y.svg", "image/svg+xml",
                                                                                           f.SVG)])
    assert refused.value.status == 400
    assert [d["path"] for d in refused.value.details] == ["attachments[1]", "attachments[3]"]
    assert "2 attachments refused" in refused.value.message


@pytest.mark.parametrize(("raw", "clean"), [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("C:\\Users\\anna\\report.pdf", "report.pdf"),
    ("  .hidden.pdf", "hidden.pdf"),
    ("evil\u202egnp.pdf", "evilgnp.pdf"),  # a right-to-left override would show it as evil…pdf.png
    ("line\r\nbreak.pdf", "linebreak.pdf"),
    ("合同验收单.pdf", "合同验收单.pdf"),
])
def test_file_names_lose_directories_and_control_characters(raw: str, clean: str) -> None:
    assert safe_name(raw) == clean


def test_a_name_of_nothing_but_a_path_is_refused() -> None:
    with pytest.raises(Refused, match="file name is empty"):
        safe_name("../..//\u0000")


def test_shape_problems_name_their_paths() -> None:
    assert shape_problems("nope") == [{"path": "attachments", "message": "a list of {filename, content_type, "
                                                                           "content_base64}"}]
    six = [f.attachment("a.pdf", "application/pdf", f.pdf())] * 6
    assert [p["path"] for p in shape_problems(six)] == ["attachments"]
    problems = shape_problems([1, {"filename": "x" * 201, "content_type": "", "content_base64": "QQ==", "more": 1}])
    assert [p["path"] for p in problems] == ["attachments[0]", "attachments[1].more", "attachments[1].filename",
                                             "attachments[1].content_type"]
    assert shape_problems([]) == []
