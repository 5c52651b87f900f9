"""The operators' audit log: every change an admin command makes, append-only.

Items of the events table (the contracts' timelines' table, whose items are never updated) under
the partition `~audit#{tenant}` (`~audit#-` for changes that belong to no tenant, such as the link
key ring): `~` cannot start a tenant id, so no contract's timeline shares it. The sort key is the
time and a random suffix, so `entries(tenant, since=...)` is one query in time order, never a scan.
Each entry: who ran it (`actor`), when, the command, what it changed (`target`) and the values
before and after, with secrets redacted by the caller (chalicelib/admin/audit.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PynamoDBException

from chalicelib.store.contention import StoreError, translated
from chalicelib.store.contracts import now_utc
from chalicelib.store.models import EventRecord

NO_TENANT = "-"


def _partition(tenant_id: str | None) -> str:
    return f"~audit#{tenant_id or NO_TENANT}"


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    tenant_id: str | None
    actor: str
    command: str
    target: str
    before: Any
    after: Any
    detail: dict[str, Any]


@translated
def append(tenant_id: str | None, actor: str, command: str, target: str, before: Any, after: Any,
           detail: Mapping[str, Any] | None = None) -> AuditEntry:
    at = now_utc()
    EventRecord(contract_key=_partition(tenant_id),
                event_key=f"{at.isoformat(timespec='microseconds')}#{secrets.token_hex(4)}",
                type=command, at=at, status=None,
                detail={"actor": actor, "target": target, "before": before, "after": after, **(detail or {})},
                ).save(condition=EventRecord.event_key.does_not_exist())
    return AuditEntry(at, tenant_id, actor, command, target, before, after, dict(detail or {}))


def entries(tenant_id: str | None, *, since: datetime | None = None) -> Iterator[AuditEntry]:
    """The tenant's entries (None: those of no tenant), oldest first, from `since` on."""
    condition = (EventRecord.event_key >= since.astimezone(UTC).isoformat(timespec="microseconds")) if since else None
    try:
        for item in EventRecord.query(_partition(tenant_id), range_key_condition=condition, consistent_read=True):
            detail = dict(item.detail or {})
            yield AuditEntry(at=item.at, tenant_id=tenant_id, actor=str(detail.pop("actor", "")), command=item.type,
                             target=str(detail.pop("target", "")), before=detail.pop("before", None),
                             after=detail.pop("after", None), detail=detail)
    except PynamoDBException as err:
        raise StoreError.of(err) from err
