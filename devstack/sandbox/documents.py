"""Envelope documents: decoding, text for anchor search, and the combined PDF."""

from __future__ import annotations

import html
import io
import re
import threading
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

# The project installs Debian's fonts-noto-cjk; the rest are fallbacks found on other machines.
FONT_STACK = (
    '"Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "Droid Sans Fallback", "DejaVu Sans", sans-serif'
)
BASE_CSS = f"""
@page {{ size: A4; margin: 18mm 16mm; }}
html, body {{ font-family: {FONT_STACK}; }}
"""

HTML_EXTENSIONS = {"html", "htm"}
SUPPORTED_EXTENSIONS = HTML_EXTENSIONS | {"pdf", "txt"}

# weasyprint/pango are not documented as thread-safe; the sandbox renders one PDF at a time.
_render_lock = threading.Lock()


@dataclass
class Document:
    document_id: str
    name: str
    extension: str
    content: bytes
    order: int

    @property
    def is_html(self) -> bool:
        return self.extension in HTML_EXTENSIONS

    def html_text(self) -> str:
        """The HTML as a string (UTF-8, BOM tolerated); txt documents become a <pre> block."""
        text = self.content.decode("utf-8-sig", errors="replace")
        if self.extension == "txt":
            return f"<html><body><pre style='white-space: pre-wrap'>{html.escape(text)}</pre></body></html>"
        return text

    def plain_text(self) -> str:
        """Visible text, used to find anchor strings (white text counts, as in DocuSign)."""
        if self.extension == "pdf":
            from pypdf import PdfReader  # lazy: only PDFs need it

            reader = PdfReader(io.BytesIO(self.content))
            return "\n".join(page.extract_text() or "" for page in reader.pages)
        if self.extension == "txt":
            return self.content.decode("utf-8-sig", errors="replace")
        extractor = _TextExtractor()
        extractor.feed(self.html_text())
        extractor.close()
        return "".join(extractor.parts)


# Elements laid out apart on the page: their texts are separate words in the PDF (two table cells
# never read as one word), so whole-word anchor matching sees a break between them.
_BLOCK_TAGS = frozenset(
    (
        "address article aside blockquote br caption dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
        "header hr li main nav ol p pre section table tbody td tfoot th thead tr ul"
    ).split()
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip += 1
        elif tag in _BLOCK_TAGS and not self._skip:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title") and self._skip:
            self._skip -= 1
        elif tag in _BLOCK_TAGS and not self._skip:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def normalise_space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def anchor_found(anchor: str, texts: list[str], case_sensitive: bool, whole_word: bool = False) -> bool:
    """Whether `anchor` occurs in any text (runs of white space compare equal).

    `whole_word` is DocuSign's anchorMatchWholeWord: the match may not be part of a longer word,
    i.e. no letter, digit or underscore right before or after it ("man" is found in "man." but
    not in "fireman" or "manpower"; "/sn1" not in "/sn10/"). Without it any substring counts.
    """
    needle = normalise_space(anchor)
    if not case_sensitive:
        needle = needle.casefold()
    pattern = re.compile(rf"(?<!\w){re.escape(needle)}(?!\w)" if whole_word else re.escape(needle))
    for text in texts:
        hay = normalise_space(text)
        if pattern.search(hay if case_sensitive else hay.casefold()):
            return True
    return False


def _fetcher() -> Any:
    from weasyprint.urls import URLFetcher

    # Documents come from callers: never let them make the sandbox fetch files or URLs.
    return URLFetcher(allowed_protocols={"data"})


def html_to_pdf(source: str) -> bytes:
    import weasyprint  # lazy: ~0.7 s to import, only needed for documents

    with _render_lock:
        document = weasyprint.HTML(string=source, url_fetcher=_fetcher())
        return document.write_pdf(stylesheets=[weasyprint.CSS(string=BASE_CSS)])


def document_pdf(document: Document) -> bytes:
    if document.extension == "pdf":
        return document.content
    return html_to_pdf(document.html_text())


# The sandbox records no signer's address; the certificate prints a documentation address (RFC 5737)
# where DocuSign prints the one each recipient signed from ("Using IP Address: ...").
PLACEHOLDER_IP = "192.0.2.1"


def certificate_html(summary: dict[str, Any]) -> str:
    """Certificate of completion for an envelope snapshot (see Store.certificate_data): the envelope's
    facts and, per recipient, its status, sent / viewed / signed times and an IP address (a placeholder).
    Served alone as documentId `certificate` and at the end of `combined` (DocuSign's eSignature REST
    API reference, EnvelopeDocuments: get, https://developers.docusign.com/docs/esign-rest-api/reference/
    envelopes/envelopedocuments/get/: `certificate` is the certificate of completion alone;
    `combined` appends it unless `certificate=false`)."""
    e = html.escape
    rows = []
    for r in summary["recipients"]:
        rows.append(
            "<tr>"
            f"<td>{e(r['name'])}<br><span class='muted'>{e(r['email'])}</span></td>"
            f"<td>{e(r['type'])}</td><td>{e(r['recipientId'])}</td><td>{e(r['routingOrder'])}</td>"
            f"<td>{e(r['status'])}</td><td>{e(r.get('sentDateTime') or '')}</td>"
            f"<td>{e(r.get('deliveredDateTime') or '')}</td>"
            f"<td>{e(r.get('signedDateTime') or r.get('declinedDateTime') or '')}"
            f"{('<br>' + e('Declined: ' + r['declinedReason'])) if r.get('declinedReason') else ''}</td>"
            f"<td>{e(PLACEHOLDER_IP) if r.get('signedDateTime') or r.get('declinedDateTime') else ''}</td>"
            "</tr>"
        )
    events = "".join(f"<tr><th>{e(label)}</th><td>{e(value)}</td></tr>" for label, value in summary["facts"] if value)
    return f"""<!doctype html><html><head><meta charset="utf-8"><style>
      body {{ font-size: 10pt; color: #222; }}
      h1 {{ font-size: 18pt; margin: 0 0 4mm; }}
      table {{ border-collapse: collapse; width: 100%; margin-bottom: 6mm; }}
      th, td {{ border: 0.5pt solid #999; padding: 1.5mm 2mm; text-align: left; vertical-align: top; }}
      th {{ background: #f0f0f0; }}
      .muted {{ color: #666; font-size: 8.5pt; }}
    </style></head><body>
    <h1>Certificate of Completion</h1>
    <p class="muted">Issued by the signbridge DocuSign sandbox. All times are UTC (ISO 8601).</p>
    <table>{events}</table>
    <h2>Recipients</h2>
    <table><tr><th>Recipient</th><th>Type</th><th>Id</th><th>Routing</th><th>Status</th><th>Sent</th>
    <th>Viewed</th><th>Signed / declined</th><th>Using IP address</th></tr>{"".join(rows)}</table>
    <p class="muted">IP addresses are placeholders: the sandbox does not record where a recipient signed from.</p>
    </body></html>"""


def combine(pdfs: list[bytes]) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for pdf in pdfs:
        writer.append(io.BytesIO(pdf))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
