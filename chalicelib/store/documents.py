"""Documents in S3: the rendered HTML, the signed PDF and its certificate of completion, each with
its sha256 (bucket versioned and encrypted; see infra/)."""

from __future__ import annotations

import dataclasses
import hashlib

from botocore.exceptions import ClientError

from chalicelib.contracts.stored import StoredDocument
from chalicelib.core.aws import client
from chalicelib.core.config import settings


def _put(key: str, body: bytes, content_type: str) -> StoredDocument:
    digest = hashlib.sha256(body).hexdigest()
    response = client("s3").put_object(
        Bucket=settings().archive_bucket, Key=key, Body=body, ContentType=content_type,
        ServerSideEncryption="AES256", Metadata={"sha256": digest},
    )
    return StoredDocument(key=key, sha256=digest, version_id=response.get("VersionId"))


def put_rendered(tenant_id: str, contract_id: str, html: str, template_version: str) -> StoredDocument:
    body = html.encode("utf-8")
    ref = _put(f"rendered/{tenant_id}/{contract_id}/{hashlib.sha256(body).hexdigest()[:16]}.html", body,
               "text/html; charset=utf-8")
    return dataclasses.replace(ref, template_version=template_version)


def put_signed(tenant_id: str, contract_id: str, envelope_id: str, pdf: bytes) -> StoredDocument:
    return _put(f"signed/{tenant_id}/{contract_id}/{envelope_id}.pdf", pdf, "application/pdf")


def put_certificate(tenant_id: str, contract_id: str, envelope_id: str, pdf: bytes) -> StoredDocument:
    """DocuSign's certificate of completion, beside the signed PDF of the same envelope."""
    return _put(f"signed/{tenant_id}/{contract_id}/{envelope_id}.certificate.pdf", pdf, "application/pdf")


def get_bytes(ref: StoredDocument) -> bytes:
    kwargs = {"Bucket": settings().archive_bucket, "Key": ref.key}
    if ref.version_id:
        kwargs["VersionId"] = ref.version_id
    return bytes(client("s3").get_object(**kwargs)["Body"].read())


def presigned_url(ref: StoredDocument, expires_in: int = 300) -> str:
    params = {"Bucket": settings().archive_bucket, "Key": ref.key}
    if ref.version_id:
        params["VersionId"] = ref.version_id
    return str(client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in))


# --- evidence bundles (web/evidence.py): built on request, kept under the contract's own prefix -----

def evidence_key(tenant_id: str, contract_id: str, version: str) -> str:
    return f"evidence/{tenant_id}/{contract_id}/{version}.zip"


def object_exists(key: str) -> bool:
    try:
        client("s3").head_object(Bucket=settings().archive_bucket, Key=key)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def put_evidence(key: str, body: bytes) -> StoredDocument:
    return _put(key, body, "application/zip")


def presigned_key_url(key: str, expires_in: int = 300) -> str:
    """A short-lived URL of the newest version of `key` (an evidence bundle is immutable per key)."""
    return str(client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": settings().archive_bucket, "Key": key}, ExpiresIn=expires_in))
