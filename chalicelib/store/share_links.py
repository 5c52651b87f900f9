"""Revoking contract-page links (lifecycle/share_tokens): the tokens themselves are never stored, so a
revocation is a record in the keys table that every open checks (one BatchGetItem of two keys):

- `sharerevoked#{tenant}#{contract}#{link_id}`: that one link (`DELETE /v1/contracts/{id}/share/{link_id}`);
- `sharerevoked#{tenant}#{contract}`: every link made until then (`DELETE /v1/contracts/{id}/share`),
  by the instant (`before`, epoch seconds): links made later open again.

Each record lives as long as the links it stops can (`share_tokens.MAX_LINK_HOURS`), then its TTL
removes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import PutError

from chalicelib.store.contention import raise_if_transient, translated
from chalicelib.store.models import KeyRecord

KEEP = timedelta(days=91)  # longer than any link lives


def _link_key(tenant_id: str, contract_id: str, link_id: str) -> str:
    return f"sharerevoked#{tenant_id}#{contract_id}#{link_id}"


def _contract_key(tenant_id: str, contract_id: str) -> str:
    return f"sharerevoked#{tenant_id}#{contract_id}"


@translated
def revoke_link(tenant_id: str, contract_id: str, link_id: str, at: datetime) -> None:
    """Idempotent: revoking a link twice keeps it revoked (the record is rewritten whole)."""
    KeyRecord(key=_link_key(tenant_id, contract_id, link_id), tenant_id=tenant_id, contract_id=contract_id,
              detail={"link_id": link_id}, created_at=at, expires_at=at + KEEP).save()


@translated
def revoke_all(tenant_id: str, contract_id: str, at: datetime) -> None:
    """Every link of the contract made up to `at` (to the second) stops opening. A later call moves the
    instant on; an earlier one arriving late (a slow request) never moves it back."""
    try:
        KeyRecord(key=_contract_key(tenant_id, contract_id), tenant_id=tenant_id, contract_id=contract_id,
                  detail={"before": int(at.timestamp())}, created_at=at, expires_at=at + KEEP).save(
            condition=KeyRecord.key.does_not_exist() | (KeyRecord.created_at < at))
    except PutError as err:
        raise_if_transient(err)  # lost the condition: a later revocation is there already


@translated
def is_revoked(tenant_id: str, contract_id: str, link_id: str, issued_at: int) -> bool:
    keys = [_link_key(tenant_id, contract_id, link_id), _contract_key(tenant_id, contract_id)]
    for item in KeyRecord.batch_get(keys, consistent_read=True):
        detail = item.detail if isinstance(item.detail, dict) else {}
        if item.key == keys[0]:
            return True
        before = detail.get("before")
        if isinstance(before, int | float) and issued_at <= before:
            return True
    return False
