"""Tenants, CRM sources and API keys. Secrets that must be used (HMAC keys) live in Secrets Manager;
secrets that are only compared (API keys) are stored as sha256."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, PynamoDBException, UpdateError

from chalicelib.core.aws import get_secret_json
from chalicelib.core.lifecycle_hooks import forget_after_restore
from chalicelib.core.secrets import usable_secrets
from chalicelib.store.contention import StoreError, translated
from chalicelib.store.contracts import now_utc
from chalicelib.store.models import RegistryRecord

_CACHE_TTL_SECONDS = 60.0
# Misses are cached too (an unknown source is asked about again and again), so the cache is bounded:
# a caller cycling through made-up ids must not grow a warm Lambda's memory without end.
_CACHE_MAX_ENTRIES = 1024
_cache: dict[str, tuple[float, Any]] = {}


def _cached[T](key: str, load: Callable[[], T]) -> T:
    hit = _cache.get(key)
    if hit and time.monotonic() - hit[0] < _CACHE_TTL_SECONDS:
        return cast(T, hit[1])
    value = load()
    if key not in _cache and len(_cache) >= _CACHE_MAX_ENTRIES:
        _cache.pop(next(iter(_cache)))  # the oldest entry (dicts keep insertion order)
    _cache.pop(key, None)
    _cache[key] = (time.monotonic(), value)
    return value


@forget_after_restore
def clear_cache() -> None:
    _cache.clear()


@dataclass(frozen=True)
class Source:
    source_id: str
    tenant_id: str
    kind: str  # generic | hubspot | salesforce | zoho | fxiaoke | pipedrive
    secret_id: str | None  # Secrets Manager id holding {"secrets": [...]} (several during rotation)
    options: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, Any] | None = None

    def secrets(self) -> list[str]:
        """The secrets a request may be signed with now: during a rotation, the new one and the old
        one until its overlap window ends. Expired entries are ignored."""
        if not self.secret_id:
            return []
        return usable_secrets(active_secrets(get_secret_json(self.secret_id), now_utc()), f"source {self.source_id}")




def active_secrets(value: Mapping[str, Any], now: datetime) -> list[str]:
    """`{"secrets": [{"value": ..., "expires_at": ISO | null}, ...]}` -> the values still valid at
    `now`, in stored order (a rotation appends the new one). Plain strings are secrets without
    expiry (the first seeds wrote that shape). Values that cannot be secrets (empty, short, not
    text) are left out by the caller (`usable_secrets`)."""
    values: list[str] = []
    entries = (value.get("secrets") or []) if isinstance(value, Mapping) else []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str):
            values.append(entry)
            continue
        if not isinstance(entry, dict) or not entry.get("value"):
            continue
        expires_at = entry.get("expires_at")
        if expires_at:
            try:
                expiry = datetime.fromisoformat(str(expires_at).replace("Z", "+00:00"))
            except ValueError:
                continue  # an unreadable expiry is treated as expired: fail closed
            if expiry.tzinfo is None or expiry <= now:
                continue
        values.append(str(entry["value"]))
    return values


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    settings: dict[str, Any] = field(default_factory=dict)


def _get(key: str) -> RegistryRecord | None:
    try:
        return RegistryRecord.get(key)
    except DoesNotExist:
        return None


@translated
def get_source(source_id: str) -> Source | None:
    # The id comes from the URL: one `admin sources add` would refuse was never stored. It is not
    # looked up (a key over DynamoDB's 2,048 bytes fails the read) nor cached.
    if not _SOURCE_ID.fullmatch(source_id):
        return None

    def load() -> Source | None:
        item = _get(f"source#{source_id}")
        if item is None:
            return None
        data = item.data or {}
        return Source(
            source_id=source_id,
            tenant_id=item.tenant_id,
            kind=data.get("kind", "generic"),
            secret_id=data.get("secret_id"),
            options=data.get("options") or {},
            mapping=data.get("mapping"),
        )

    return _cached(f"source#{source_id}", load)


@translated
def get_tenant(tenant_id: str) -> Tenant:
    def load() -> Tenant:
        item = _get(f"tenant#{tenant_id}")
        data = (item.data if item else None) or {}
        return Tenant(tenant_id=tenant_id, name=data.get("name", tenant_id), settings=data.get("settings") or {})

    return _cached(f"tenant#{tenant_id}", load)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


# An API key's last use is written at most this often per key: a request costs one read, and a
# write only when the stored time is older than this.
LAST_USED_RESOLUTION = timedelta(minutes=15)


@translated
def tenant_for_api_key(api_key: str) -> str | None:
    """The key's tenant, or None for an unknown, revoked or expired key. A strongly consistent read
    and no cache: a revocation (`admin tenants keys revoke`, the item deleted) answers 401 at once."""
    key = f"apikey#{hash_api_key(api_key)}"
    try:
        item = RegistryRecord.get(key, consistent_read=True)
    except DoesNotExist:
        return None
    now = now_utc()
    if _expired((item.data or {}).get("expires_at"), now):
        return None
    _note_use(item, now)
    return item.tenant_id


def _expired(expires_at: object, now: datetime) -> bool:
    if not expires_at:
        return False
    try:
        expiry = datetime.fromisoformat(str(expires_at))
    except ValueError:
        return True  # unreadable: fail closed
    return expiry.tzinfo is None or expiry <= now


def _note_use(item: RegistryRecord, now: datetime) -> None:
    """Records the key's use when the stored time is older than LAST_USED_RESOLUTION. Conditional on
    the item still being there, so a use racing a revocation can never bring the key back; a lost
    condition or a busy table only skips the note (authentication does not depend on it)."""
    if item.last_used_at is not None and now - item.last_used_at < LAST_USED_RESOLUTION:
        return
    try:
        item.update(actions=[RegistryRecord.last_used_at.set(now)],
                    condition=RegistryRecord.key.exists() & (
                        RegistryRecord.last_used_at.does_not_exist()
                        | (RegistryRecord.last_used_at < now - LAST_USED_RESOLUTION)))
    except PynamoDBException:
        pass


@translated
def api_key_label(api_key: str) -> str:
    """The label an API key was given (`admin`), "" if none."""
    item = _get(f"apikey#{hash_api_key(api_key)}")
    return str(((item.data if item else None) or {}).get("label") or "").strip()


# Tenant and source ids become parts of stored keys ("crm#{tenant}#{record}", "source#{id}"): a
# documented character set without '#', the keys' separator.
TENANT_ID_PATTERN = r"[a-z0-9][a-z0-9_-]{1,63}"
_TENANT_ID = re.compile(TENANT_ID_PATTERN)
SOURCE_ID_PATTERN = r"[a-z0-9][a-z0-9_-]{1,62}[a-z0-9]"
_SOURCE_ID = re.compile(SOURCE_ID_PATTERN)


def check_tenant_id(tenant_id: str) -> str:
    if not isinstance(tenant_id, str) or not _TENANT_ID.fullmatch(tenant_id):
        raise ValueError(f"tenant id {tenant_id!r} is not 2-64 characters of a-z, 0-9, '-' and '_' (starting with "
                         "a letter or digit)")
    return tenant_id


@translated
def put_tenant(tenant_id: str, name: str, settings: dict[str, Any] | None = None) -> None:
    check_tenant_id(tenant_id)
    RegistryRecord(key=f"tenant#{tenant_id}", kind="tenant", tenant_id=tenant_id,
                   data={"name": name, "settings": settings or {}}, created_at=now_utc()).save()


@translated
def put_source(source: Source) -> None:
    check_tenant_id(source.tenant_id)
    RegistryRecord(
        key=f"source#{source.source_id}",
        kind="source",
        tenant_id=source.tenant_id,
        data={"kind": source.kind, "secret_id": source.secret_id, "options": source.options,
              "mapping": source.mapping},
        created_at=now_utc(),
    ).save()


def iter_sources(tenant_id: str | None = None) -> Iterator[Source]:
    """Every source (admin CLI only: a scan of the small registry table, never on a request path)."""
    condition = RegistryRecord.kind == "source"
    if tenant_id is not None:
        condition = condition & (RegistryRecord.tenant_id == tenant_id)
    try:
        for item in RegistryRecord.scan(condition):
            data = item.data or {}
            yield Source(
                source_id=item.key.split("#", 1)[1],
                tenant_id=item.tenant_id,
                kind=data.get("kind", "generic"),
                secret_id=data.get("secret_id"),
                options=data.get("options") or {},
                mapping=data.get("mapping"),
            )
    except PynamoDBException as err:
        raise StoreError.of(err) from err


def iter_tenants() -> Iterator[Tenant]:
    """Every tenant record (scheduled jobs and the admin CLI: a scan of the small registry table)."""
    try:
        for item in RegistryRecord.scan(RegistryRecord.kind == "tenant"):
            data = item.data or {}
            yield Tenant(tenant_id=item.tenant_id, name=data.get("name", item.tenant_id),
                         settings=data.get("settings") or {})
    except PynamoDBException as err:
        raise StoreError.of(err) from err


@translated
def set_tenant_setting(tenant_id: str, name: str, value: Any) -> None:
    """One tenant setting set (or removed, with None), the others kept. Conditional on the record
    being as read: two admins changing settings at once never lose one another's change."""
    check_tenant_id(tenant_id)
    item = _get(f"tenant#{tenant_id}")
    if item is None:
        settings = {} if value is None else {name: value}
        RegistryRecord(key=f"tenant#{tenant_id}", kind="tenant", tenant_id=tenant_id,
                       data={"name": tenant_id, "settings": settings}, created_at=now_utc()
                       ).save(condition=RegistryRecord.key.does_not_exist())
    else:
        before = item.data or {}
        settings = dict(before.get("settings") or {})
        if value is None:
            settings.pop(name, None)
        else:
            settings[name] = value
        item.data = {**before, "settings": settings}
        item.save(condition=RegistryRecord.data == before)
    _cache.pop(f"tenant#{tenant_id}", None)


def tenant_ids() -> list[str]:
    """Every tenant the registry knows, sorted (admin CLI only: a scan of the small registry table).
    A tenant is known by its own record or by a source's: contracts only arrive through a source, and
    a source may have been added without a tenant record."""
    condition = RegistryRecord.kind.is_in("tenant", "source")
    try:
        return sorted({item.tenant_id for item in RegistryRecord.scan(condition)})
    except PynamoDBException as err:
        raise StoreError.of(err) from err


@translated
def put_api_key(tenant_id: str, api_key: str, label: str = "", *, expires_at: datetime | None = None) -> None:
    data: dict[str, Any] = {"label": label}
    if expires_at is not None:
        data["expires_at"] = expires_at.isoformat()
    RegistryRecord(key=f"apikey#{hash_api_key(api_key)}", kind="apikey", tenant_id=tenant_id,
                   data=data, created_at=now_utc()).save()


# --- tenants and API keys, as the admin CLI manages them ----------------------------------------


class TenantExists(ValueError):
    """`create_tenant` of an id that is taken."""


class TenantChanged(ValueError):
    """The tenant's record changed between the read and the conditional write (another operator)."""


class NoSuchKey(ValueError):
    """No API key of the tenant by that id (or it was revoked already)."""


@dataclass(frozen=True)
class TenantRecord:
    """A tenant's record as stored, with what a conditional update needs (`data` as read)."""

    tenant: Tenant
    created_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class ApiKeyInfo:
    """An API key as listed: never the key, only its id (the first 12 hex digits of its sha256)."""

    key_id: str
    tenant_id: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: str | None


def api_key_id(api_key: str) -> str:
    return hash_api_key(api_key)[:12]


@translated
def find_tenant(tenant_id: str) -> TenantRecord | None:
    """The tenant's own record, read strongly and past the cache (None: no record)."""
    check_tenant_id(tenant_id)
    try:
        item = RegistryRecord.get(f"tenant#{tenant_id}", consistent_read=True)
    except DoesNotExist:
        return None
    data = dict(item.data or {})
    return TenantRecord(Tenant(tenant_id, str(data.get("name") or tenant_id), dict(data.get("settings") or {})),
                        item.created_at, data)


@translated
def create_tenant(tenant_id: str, name: str, settings: dict[str, Any] | None = None) -> None:
    """A new tenant record; TenantExists when the id is taken (never overwrites)."""
    check_tenant_id(tenant_id)
    try:
        RegistryRecord(key=f"tenant#{tenant_id}", kind="tenant", tenant_id=tenant_id,
                       data={"name": name, "settings": settings or {}}, created_at=now_utc()
                       ).save(condition=RegistryRecord.key.does_not_exist())
    except PutError as err:
        if _condition_failed(err):
            raise TenantExists(f"tenant {tenant_id!r} exists") from None
        raise
    _cache.pop(f"tenant#{tenant_id}", None)


@translated
def update_tenant(record: TenantRecord, *, name: str | None = None, settings: dict[str, Any] | None = None) -> None:
    """Writes a new name and/or settings document, conditional on the record being as `record` read
    it: TenantChanged when another writer got there first (read again, decide again)."""
    data = {**record.data, **({"name": name} if name is not None else {}),
            **({"settings": settings} if settings is not None else {})}
    item = RegistryRecord(key=f"tenant#{record.tenant.tenant_id}", kind="tenant", tenant_id=record.tenant.tenant_id,
                          data=data, created_at=record.created_at)
    try:
        item.save(condition=RegistryRecord.data == record.data)
    except PutError as err:
        if _condition_failed(err):
            raise TenantChanged(f"tenant {record.tenant.tenant_id!r} changed meanwhile; run the command "
                                "again") from None
        raise
    _cache.pop(f"tenant#{record.tenant.tenant_id}", None)


def _condition_failed(err: PutError | DeleteError | UpdateError) -> bool:
    return getattr(err, "cause_response_code", None) == "ConditionalCheckFailedException"


def iter_api_keys(tenant_id: str | None = None) -> Iterator[ApiKeyInfo]:
    """The API keys (admin CLI only: a scan of the small registry table)."""
    condition = RegistryRecord.kind == "apikey"
    if tenant_id is not None:
        condition = condition & (RegistryRecord.tenant_id == tenant_id)
    try:
        for item in RegistryRecord.scan(condition, consistent_read=True):
            data = item.data or {}
            yield ApiKeyInfo(key_id=item.key.split("#", 1)[1][:12], tenant_id=item.tenant_id,
                             label=str(data.get("label") or ""), created_at=item.created_at,
                             last_used_at=item.last_used_at, expires_at=data.get("expires_at"))
    except PynamoDBException as err:
        raise StoreError.of(err) from err


def _api_key_item(tenant_id: str, key_id: str) -> RegistryRecord:
    if not re.fullmatch(r"[0-9a-f]{6,64}", key_id):
        raise NoSuchKey(f"{key_id!r} is not a key id (the hex digits `keys list` shows)")
    condition = (RegistryRecord.kind == "apikey") & (RegistryRecord.tenant_id == tenant_id)
    try:
        found = [item for item in RegistryRecord.scan(condition, consistent_read=True)
                 if item.key.split("#", 1)[1].startswith(key_id)]
    except PynamoDBException as err:
        raise StoreError.of(err) from err
    if len(found) != 1:
        raise NoSuchKey(f"tenant {tenant_id!r} has no API key {key_id!r}" if not found
                        else f"{key_id!r} names {len(found)} keys: give more of its digits")
    return found[0]


@translated
def revoke_api_key(tenant_id: str, key_id: str) -> ApiKeyInfo:
    """Deletes the key: the next request with it is answered 401 (reads are strong, nothing caches)."""
    item = _api_key_item(tenant_id, key_id)
    data = item.data or {}
    info = ApiKeyInfo(item.key.split("#", 1)[1][:12], item.tenant_id, str(data.get("label") or ""), item.created_at,
                      item.last_used_at, data.get("expires_at"))
    try:
        item.delete(condition=RegistryRecord.key.exists())
    except DeleteError as err:
        if _condition_failed(err):
            raise NoSuchKey(f"API key {key_id!r} was revoked meanwhile") from None
        raise
    return info


@translated
def expire_api_key(tenant_id: str, key_id: str, expires_at: datetime) -> ApiKeyInfo:
    """Sets the key's expiry (a rotation's overlap): it works until then, and not after."""
    item = _api_key_item(tenant_id, key_id)
    data = {**(item.data or {}), "expires_at": expires_at.isoformat()}
    try:
        item.update(actions=[RegistryRecord.data.set(data)], condition=RegistryRecord.key.exists())
    except UpdateError as err:
        if _condition_failed(err):
            raise NoSuchKey(f"API key {key_id!r} was revoked meanwhile") from None
        raise
    return ApiKeyInfo(key_id[:12], item.tenant_id, str(data.get("label") or ""), item.created_at, item.last_used_at,
                      data["expires_at"])
