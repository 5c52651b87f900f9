"""GET /v1/contracts/{id}/document?version=signed|rendered: a short-lived S3 URL of one of the
contract's documents (the archived, signed PDF with DocuSign's certificate, or the rendered HTML that
was sent), pinned to the S3 object version whose sha256 the contract records.

The signed PDF of a contract that every signer signed is never "not found": between `completed` and
the archive job recording it (usually seconds) the answer is 409 `archiving` with `Retry-After`,
because CRMs fetch it as soon as the `completed` callback arrives. Before signing (and for a contract
declined, voided or rejected) there is no signed document: 404 `not_found`."""

from __future__ import annotations

from chalicelib.contracts.lifecycle import SIGNED
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.store import document_links as links
from chalicelib.store import documents

VERSIONS = ("signed", "rendered")
URL_LIFETIME_SECONDS = 300
# The archive job runs as soon as DocuSign reports completion and takes seconds (one PDF download,
# one S3 put); a failed attempt is retried by the job runner with a backoff that starts at 10 s.
ARCHIVE_RETRY_AFTER_SECONDS = 10


def check_version(version: str | None) -> str:
    if version not in VERSIONS:
        raise BadRequest("version must be 'signed' or 'rendered'",
                         [{"path": "version", "message": f"expected one of {', '.join(VERSIONS)}, got {version!r}"}])
    return version


def document_url(record: StoredContract, version: str) -> str:
    ref = record.signed if check_version(version) == "signed" else record.rendered
    if ref is None:
        if version == "signed" and record.status in SIGNED:
            raise Conflict(
                f"contract {record.contract_id} is signed and its signed PDF is being archived; retry in "
                f"{ARCHIVE_RETRY_AFTER_SECONDS} seconds (the contract turns 'active' once it is archived)",
                code="archiving", headers={"Retry-After": str(ARCHIVE_RETRY_AFTER_SECONDS)})
        raise NotFound(f"contract {record.contract_id} has no {version} document yet")
    return documents.presigned_url(ref, expires_in=URL_LIFETIME_SECONDS)


def signed_link_path(tenant_id: str, contract_id: str) -> str:
    """The contract's stable signed-document path (`/v1/signed/{link id}`), for the CRM record."""
    return f"/v1/signed/{links.link_for(tenant_id, contract_id)}"


def signed_url_by_link(link_id: str) -> str:
    """GET /v1/signed/{link id}: a fresh short-lived URL of the signed PDF (409 while archiving)."""
    record = links.linked_contract(link_id)
    if record is None:
        raise NotFound("no such document link")
    return document_url(record, "signed")


def evidence_link_path(tenant_id: str, contract_id: str) -> str:
    """The contract's stable evidence-bundle path (`/v1/evidence/{link id}`), for the CRM record."""
    return f"/v1/evidence/{links.link_for(tenant_id, contract_id, links.EVIDENCE)}"
