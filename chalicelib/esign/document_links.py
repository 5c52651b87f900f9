"""GET /v1/contracts/{id}/document?version=signed|rendered: a short-lived S3 URL of one of the
contract's documents (the archived, signed PDF with DocuSign's certificate, or the rendered HTML that
was sent), pinned to the S3 object version whose sha256 the contract records."""

from __future__ import annotations

from chalicelib.errors import BadRequest, NotFound
from chalicelib.store import documents
from chalicelib.store.models import ContractRecord

VERSIONS = ("signed", "rendered")
URL_LIFETIME_SECONDS = 300


def check_version(version: str | None) -> str:
    if version not in VERSIONS:
        raise BadRequest("version must be 'signed' or 'rendered'",
                         [{"path": "version", "message": f"expected one of {', '.join(VERSIONS)}, got {version!r}"}])
    return version


def document_url(record: ContractRecord, version: str) -> str:
    ref = record.signed if check_version(version) == "signed" else record.rendered
    if ref is None:
        raise NotFound(f"contract {record.contract_id} has no {version} document yet")
    return documents.presigned_url(ref, expires_in=URL_LIFETIME_SECONDS)
