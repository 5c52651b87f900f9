"""Attachments of an execution-log entry, as sent in the entry's JSON body: shape (422 with a path per
problem), then a scan of each file's bytes before anything is stored (400 `attachment_refused`,
naming each refused attachment by its index and why).

What is accepted is decided from the bytes, never from what the caller says: puremagic (pure Python,
no libmagic to ship in the Lambda package, maintained, and it knows the script carriers HTML and SVG,
email and executables, which `filetype` does not) names the format from its magic numbers; a ZIP is
accepted only as a DOCX or XLSX, read from its `[Content_Types].xml` (the ECMA-376 way; bounded, parsed
with defusedxml, macro-enabled documents refused); a file with no magic number is text only if it
has no NUL or control bytes and does not open as markup. The declared content type and the file
name's extension must then agree with what was found. Files are downloaded as attachments only
(`Content-Disposition: attachment`), never shown inline.

Limits: Lambda takes a request of at most 6 MB (API Gateway's 10 MB does not bind first), and Base64
makes 3 bytes 4 characters, so the files of one entry are at most 4 MiB decoded, together."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from defusedxml import ElementTree

from chalicelib.core.errors import ApiError

MAX_ATTACHMENTS = 5
MAX_TOTAL_BYTES = 4 * 1024 * 1024  # decoded, all files of the entry together (each file too)
MAX_FILENAME_CHARS = 200
MAX_CONTENT_TYPE_CHARS = 200
# Base64 of MAX_TOTAL_BYTES, line breaks allowed: a longer string is refused before it is decoded.
MAX_BASE64_CHARS = (MAX_TOTAL_BYTES + 2) // 3 * 4 * 77 // 76 + 4
MAX_CONTENT_TYPES_XML = 1024 * 1024  # an office document's [Content_Types].xml is a few KB
FIELDS = ("filename", "content_type", "content_base64")
REFUSED = "attachment_refused"
EMPTY_FILE = "required: the file's bytes in Base64 (an empty file is refused)"


@dataclass(frozen=True)
class Kind:
    """An accepted format: what it is stored and served as, what a caller may declare, which extensions."""
    content_type: str
    declared: frozenset[str]
    extensions: frozenset[str]
    label: str


def _kind(content_type: str, label: str, extensions: str, *aliases: str) -> Kind:
    return Kind(content_type, frozenset((content_type, *aliases)), frozenset(extensions.split()), label)


PDF = _kind("application/pdf", "PDF", ".pdf")
PNG = _kind("image/png", "PNG image", ".png")
JPEG = _kind("image/jpeg", "JPEG image", ".jpg .jpeg", "image/jpg", "image/pjpeg")
GIF = _kind("image/gif", "GIF image", ".gif")
WEBP = _kind("image/webp", "WebP image", ".webp")
TEXT = _kind("text/plain", "plain text", ".txt .log")
CSV = _kind("text/csv", "CSV", ".csv", "application/csv", "text/comma-separated-values")
EML = _kind("message/rfc822", "email message", ".eml")
DOCX = _kind("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "DOCX", ".docx")
XLSX = _kind("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "XLSX", ".xlsx")
ACCEPTED = (PDF, PNG, JPEG, GIF, WEBP, TEXT, CSV, EML, DOCX, XLSX)
ACCEPTED_LIST = "PDF, PNG, JPEG, GIF, WebP, plain text, CSV, email (.eml), DOCX, XLSX"
# puremagic's best match (its MIME type) → the accepted kind; a PK header goes to the office check.
_BY_MAGIC = {k.content_type: k for k in (PDF, PNG, JPEG, GIF, WEBP, EML)}
# The main part of an OOXML package ([Content_Types].xml) → the kind; macro-enabled ones are refused.
_OOXML_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
}
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")  # text keeps \t \n \f \r (and ESC-free)
_MARKUP = re.compile(rb"^(\xef\xbb\xbf)?\s*<", re.ASCII)


class Refused(Exception):
    """Why one attachment is not accepted (its message is said to the caller)."""


@dataclass(frozen=True)
class Upload:
    """A scanned attachment, ready to store."""
    name: str
    content_type: str
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


def shape_problems(raw: Any) -> list[dict[str, str]]:
    """422 problems of the `attachments` field's shape (the bytes are scanned later)."""
    if not isinstance(raw, list):
        return [{"path": "attachments", "message": "a list of {filename, content_type, content_base64}"}]
    problems: list[dict[str, str]] = []
    if len(raw) > MAX_ATTACHMENTS:
        problems.append({"path": "attachments", "message": f"at most {MAX_ATTACHMENTS} attachments per entry"})
    for index, item in enumerate(raw[:MAX_ATTACHMENTS]):
        path = f"attachments[{index}]"
        if not isinstance(item, dict):
            problems.append({"path": path, "message": "an object {filename, content_type, content_base64}"})
            continue
        problems += [{"path": f"{path}.{name}", "message": "unknown field"} for name in sorted(set(item) - set(FIELDS))]
        for name, limit in (("filename", MAX_FILENAME_CHARS), ("content_type", MAX_CONTENT_TYPE_CHARS),
                            ("content_base64", MAX_BASE64_CHARS)):
            value = item.get(name)
            if not isinstance(value, str) or not value.strip():
                problems.append({"path": f"{path}.{name}", "message": EMPTY_FILE if name == "content_base64"
                                 else "required, a non-blank string"})
            elif name != "content_base64" and len(value) > limit:
                problems.append({"path": f"{path}.{name}", "message": f"at most {limit} characters"})
    return problems


def safe_name(filename: str) -> str:
    """The file name without any directory part, control or format characters, or leading dots
    (a name is shown and offered as the download's name, never used as a path)."""
    name = re.split(r"[/\\]", unicodedata.normalize("NFC", filename))[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    name = name.strip().lstrip(".").strip()
    if not name:
        raise Refused("the file name is empty once its directories and control characters are removed")
    return name


def extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return f".{ext.lower()}" if dot and stem else ""


def decode(content_base64: str) -> bytes:
    if len(content_base64) > MAX_BASE64_CHARS:
        raise Refused(f"larger than {MAX_TOTAL_BYTES // (1024 * 1024)} MiB")
    try:
        data = base64.b64decode("".join(content_base64.split()), validate=True)  # line breaks allowed
    except (binascii.Error, ValueError):
        raise Refused("content_base64 is not valid Base64") from None
    if not data:
        raise Refused("the file is empty")
    return data


def _office(data: bytes) -> Kind:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if any(n.lower().endswith("vbaproject.bin") for n in names):
                raise Refused("an office document with macros (only DOCX and XLSX without macros are accepted)")
            try:
                info = archive.getinfo("[Content_Types].xml")
            except KeyError:
                raise Refused("a ZIP archive (archives are refused; only DOCX and XLSX are accepted)") from None
            if info.file_size > MAX_CONTENT_TYPES_XML:
                raise Refused("an office document whose [Content_Types].xml is implausibly large")
            root = ElementTree.fromstring(archive.read(info))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError):
        raise Refused("a damaged or unreadable ZIP container") from None
    except ElementTree.ParseError:
        raise Refused("an office document whose [Content_Types].xml is not readable XML") from None
    except ValueError:  # defusedxml's refusals (entities, DTDs)
        raise Refused("an office document whose [Content_Types].xml is refused (entities or DTD)") from None
    mains = {str(el.get("ContentType", "")).lower() for el in root.iter() if el.tag.endswith("Override")}
    for main, kind in _OOXML_MAIN.items():
        if main in mains:
            return kind
    if any("macroenabled" in m for m in mains):
        raise Refused("an office document with macros (only DOCX and XLSX without macros are accepted)")
    raise Refused("a ZIP-based file that is neither DOCX nor XLSX (archives and other formats are refused)")


def _text(data: bytes, declared: str) -> Kind:
    if _CONTROL.search(data):
        raise Refused(f"binary content of no accepted type (accepted: {ACCEPTED_LIST})")
    if _MARKUP.match(data):
        raise Refused("markup (HTML, SVG or XML can carry scripts): refused")
    return CSV if declared in CSV.declared else TEXT


def detect(data: bytes, declared: str) -> Kind:
    """The accepted kind the bytes are, or Refused naming what they are."""
    import puremagic  # ~45 ms: loaded only when an entry carries attachments (cold start)

    try:
        matches = puremagic.magic_string(data)
    except puremagic.PureError:  # nothing known
        matches = []
    if not matches:
        return _text(data, declared)
    if any(m.extension == ".zip" for m in matches) or data[:4] == b"PK\x03\x04":
        return _office(data)
    best = matches[0]
    kind = _BY_MAGIC.get(best.mime_type)
    if kind is None:
        detail = best.mime_type or best.extension
        what = best.name or detail or "of an unknown format"
        raise Refused(f"the content is {what}{f' ({detail})' if detail and detail != what else ''}, not an "
                      f"accepted type (accepted: {ACCEPTED_LIST})")
    return kind


def scan_one(item: dict[str, str]) -> Upload:
    """One attachment checked: its bytes decoded, its kind sniffed, and its declared type and extension
    agreeing with that kind."""
    name = safe_name(item["filename"])
    declared = item["content_type"].split(";")[0].strip().lower()
    data = decode(item["content_base64"])
    if len(data) > MAX_TOTAL_BYTES:
        raise Refused(f"larger than {MAX_TOTAL_BYTES // (1024 * 1024)} MiB ({len(data)} bytes)")
    kind = detect(data, declared)
    if declared not in kind.declared:
        raise Refused(f"declared {declared} but the content is {kind.label} ({kind.content_type})")
    if extension(name) not in kind.extensions:
        raise Refused(f"the file name {name!r} does not end in {' or '.join(sorted(kind.extensions))}, as a "
                      f"{kind.label} file does")
    return Upload(name=name, content_type=kind.content_type, data=data, sha256=hashlib.sha256(data).hexdigest())


def scan(items: Sequence[dict[str, str]]) -> list[Upload]:
    """Every attachment scanned; one refused refuses the entry (400 listing each refused one)."""
    uploads: list[Upload] = []
    problems: list[dict[str, str]] = []
    for index, item in enumerate(items):
        try:
            uploads.append(scan_one(item))
        except Refused as why:
            problems.append({"path": f"attachments[{index}]", "message": str(why)})
    total = sum(u.size for u in uploads)
    if not problems and total > MAX_TOTAL_BYTES:
        problems.append({"path": "attachments", "message": f"{total} bytes together; at most "
                                                           f"{MAX_TOTAL_BYTES // (1024 * 1024)} MiB per entry"})
    if problems:
        count = len(problems)
        raise ApiError(f"{count} attachment{'s' if count != 1 else ''} refused: nothing was recorded", problems,
                       status=400, code=REFUSED)
    return uploads
