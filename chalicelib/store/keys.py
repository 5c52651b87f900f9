"""Small named items of the keys table that services keep: a job's checkpoint, a flag (a callback
endpoint disabled, a callback delivered), a cached value (the DocuSign token). Read and written
whole, unconditionally; the contract's claims, steps and delivery keys are chalicelib.store.contracts',
leases chalicelib.store.leases', signing grants chalicelib.store.signing_grants'."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.store.contention import raise_if_transient, translated
from chalicelib.store.models import KeyRecord


@dataclass(frozen=True)
class StoredKey:
    key: str
    created_at: datetime
    tenant_id: str | None = None
    contract_id: str | None = None
    detail: Any = None  # JSON, as written
    expires_at: datetime | None = None  # DynamoDB's TTL deletes it some time after


def stored_key(item: KeyRecord) -> StoredKey:
    return StoredKey(key=item.key, created_at=item.created_at, tenant_id=item.tenant_id,
                     contract_id=item.contract_id, detail=item.detail, expires_at=item.expires_at)


@translated
def find_key(key: str, *, consistent: bool = False) -> StoredKey | None:
    try:
        return stored_key(KeyRecord.get(key, consistent_read=consistent))
    except DoesNotExist:
        return None


@translated
def key_exists(key: str) -> bool:
    """Whether the item is there now (a consistent read)."""
    try:
        KeyRecord.get(key, consistent_read=True)
    except DoesNotExist:
        return False
    return True


@translated
def put_key(key: str, *, created_at: datetime, tenant_id: str | None = None, contract_id: str | None = None,
            detail: Any = None, expires_at: datetime | None = None) -> None:
    """Writes the item whole, replacing any item of that key."""
    KeyRecord(key=key, tenant_id=tenant_id, contract_id=contract_id, detail=detail, created_at=created_at,
              expires_at=expires_at).save()


@translated
def delete_key(key: str) -> None:
    KeyRecord(key=key).delete()


@translated
def put_key_if_newer(key: str, *, created_at: datetime, detail: Any = None, expires_at: datetime | None = None) -> bool:
    """Writes the item whole unless the stored one is at least as recent (`created_at` is when the value
    was observed): two workers reporting at once keep the newer reading. True if written."""
    try:
        KeyRecord(key=key, detail=detail, created_at=created_at, expires_at=expires_at).save(
            condition=KeyRecord.key.does_not_exist() | (KeyRecord.created_at < created_at))
    except PutError as err:
        raise_if_transient(err)
        return False
    return True
