"""Small files of real formats, built here from their specifications (not from anything the app
writes), for the attachment scan's tests: what a customer would attach, and what must be refused."""

from __future__ import annotations

import base64
import io
import struct
import zipfile
import zlib
from typing import Any

OOXML_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"


def pdf(text: str = "Delivery note 42") -> bytes:
    """A one-page PDF 1.4 (objects, xref and trailer as ISO 32000 lays them out)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def png(width: int = 2, height: int = 2) -> bytes:
    """An RGB PNG (signature, IHDR, one IDAT, IEND; each chunk with its CRC)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def jpeg() -> bytes:
    """The start of a JFIF file (SOI, APP0 'JFIF') and its end (EOI): what a sniffer reads."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\x00" * 64 + b"\xff\xd9"


def gif() -> bytes:
    """A 1x1 GIF89a."""
    return (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
            b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def _entry(name: str, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    """A zip entry with a fixed time: the same bytes on every call (pytest-xdist's workers collect the
    parametrized tests separately and must see the same ids)."""
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = compress
    return info


def ooxml(main: str, part: str, extra: dict[str, bytes] | None = None) -> bytes:
    """An OOXML package: [Content_Types].xml naming its main part (ECMA-376 part 2), and that part."""
    types = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="{OOXML_NS}">'
             '<Default Extension="xml" ContentType="application/xml"/>'
             f'<Override PartName="/{part}" ContentType="{main}"/></Types>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr(_entry("[Content_Types].xml"), types)
        package.writestr(_entry(part), "<document/>")
        for name, body in (extra or {}).items():
            package.writestr(_entry(name), body)
    return out.getvalue()


def docx() -> bytes:
    return ooxml(DOCX_MAIN, "word/document.xml")


def xlsx() -> bytes:
    return ooxml(XLSX_MAIN, "xl/workbook.xml")


def docm() -> bytes:
    return ooxml(DOCM_MAIN, "word/document.xml", {"word/vbaProject.bin": b"\xd0\xcf\x11\xe0macro"})


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(_entry("readme.txt", zipfile.ZIP_STORED), "hello")
    return out.getvalue()


def exe() -> bytes:
    """A PE file's start: the MZ header pointing at the 'PE\\0\\0' signature."""
    header = bytearray(b"MZ" + b"\x90\x00" + b"\x00" * 56)
    header[0x3C:0x40] = struct.pack("<I", 64)
    return bytes(header) + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 128


def elf() -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
TEXT = b"Call with Jonas Weber: the alert thresholds were agreed.\n"
CSV = "date,item,qty\n2027-01-05,patch window,1\n2027-01-06,客户回访,2\n".encode()
EML = (b"From: Anna Keller <anna@example.com>\r\nTo: jonas@example.com\r\nSubject: Acceptance\r\n"
       b"Date: Mon, 5 Jan 2027 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nAccepted.\r\n")


def attachment(filename: str, content_type: str, data: bytes) -> dict[str, Any]:
    return {"filename": filename, "content_type": content_type, "content_base64": base64.b64encode(data).decode()}
