"""Execution-log attachments in the archive bucket (versioned, SSE, Object Lock like the documents).

The key is derived from the entry, never chosen by the caller:
`execution/{tenant}/{contract}/{entry_id}/{index}-{sha256[:16]}`. The objects are written before the
entry's claim (web/execution_log.py), so a retry of the same entry (the same `entry_id`) writes the
same keys: each put is conditional on the key being absent (`If-None-Match: *`), so a retry adds no
second version and leaves nothing behind that its entry does not name. The content digest in the key
keeps a different body sent under an entry id already used from overwriting the first entry's files."""

from __future__ import annotations

import re
from urllib.parse import quote

from botocore.exceptions import ClientError

from chalicelib.core.aws import client
from chalicelib.core.config import settings
from chalicelib.store.contention import StoreBusy, StoreError

URL_LIFETIME_SECONDS = 300
_ASCII_FALLBACK = re.compile(r'[^A-Za-z0-9._ ()-]')


def object_key(tenant_id: str, contract_id: str, entry_id: str, index: int, sha256: str) -> str:
    return f"execution/{tenant_id}/{contract_id}/{entry_id}/{index}-{sha256[:16]}"


def put(key: str, body: bytes, content_type: str, sha256: str) -> bool:
    """Stores the bytes at `key` unless something is there already (a retry): True when written."""
    try:
        client("s3").put_object(
            Bucket=settings().archive_bucket, Key=key, Body=body, ContentType=content_type,
            ContentDisposition="attachment", ServerSideEncryption="AES256", Metadata={"sha256": sha256},
            IfNoneMatch="*",
        )
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code"))
        if code == "PreconditionFailed":  # a retry: the same entry id, index and content are stored
            return False
        if code in ("ConditionalRequestConflict", "SlowDown", "ServiceUnavailable", "InternalError"):
            raise StoreBusy("the archive is busy; try again") from err
        raise StoreError(str(err)) from err
    return True


def content_disposition(name: str) -> str:
    """`attachment` with the file's name (RFC 6266: an ASCII fallback and the UTF-8 name)."""
    fallback = _ASCII_FALLBACK.sub("_", name) or "attachment"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def download_url(key: str, name: str, content_type: str) -> str:
    """A short-lived URL that downloads the file (never shown inline), under its name and type."""
    return str(client("s3").generate_presigned_url("get_object", Params={
        "Bucket": settings().archive_bucket, "Key": key, "ResponseContentDisposition": content_disposition(name),
        "ResponseContentType": content_type}, ExpiresIn=URL_LIFETIME_SECONDS))
