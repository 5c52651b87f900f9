"""Tenant template overrides kept in the registry table (`template#{tenant}#{name}`): any built-in
template, `_base` included, can be replaced per tenant. Read at most once a minute per warm Lambda."""

from __future__ import annotations

import time

from pynamodb.exceptions import DoesNotExist, PynamoDBException

from chalicelib.core.lifecycle_hooks import forget_after_restore
from chalicelib.store.contention import StoreError, translated
from chalicelib.store.contracts import now_utc
from chalicelib.store.models import RegistryRecord

_TTL_SECONDS = 60.0
_cache: dict[str, tuple[float, str | None]] = {}


def _key(tenant_id: str, template_name: str) -> str:
    return f"template#{tenant_id}#{template_name}"


class RegistryTemplateOverrides:
    """Implements chalicelib.rendering.overrides.TemplateOverrides over DynamoDB."""

    @translated
    def get(self, tenant_id: str, template_name: str) -> str | None:
        key = _key(tenant_id, template_name)
        hit = _cache.get(key)
        if hit and time.monotonic() - hit[0] < _TTL_SECONDS:
            return hit[1]
        try:
            source = (RegistryRecord.get(key).data or {}).get("source")
        except DoesNotExist:
            source = None
        _cache[key] = (time.monotonic(), source)
        return source


@translated
def put_template_override(tenant_id: str, template_name: str, source: str) -> None:
    RegistryRecord(key=_key(tenant_id, template_name), kind="template", tenant_id=tenant_id,
                   data={"source": source}, created_at=now_utc()).save()
    _cache.pop(_key(tenant_id, template_name), None)


@translated
def delete_template_override(tenant_id: str, template_name: str) -> None:
    try:
        RegistryRecord.get(_key(tenant_id, template_name)).delete()
    except DoesNotExist:
        pass
    _cache.pop(_key(tenant_id, template_name), None)


def list_template_overrides(tenant_id: str) -> dict[str, str]:
    """The tenant's overrides by template name (admin CLI only: a scan of the small registry table)."""
    prefix = _key(tenant_id, "")
    condition = (RegistryRecord.kind == "template") & (RegistryRecord.tenant_id == tenant_id)
    try:
        return {item.key[len(prefix):]: str((item.data or {}).get("source") or "")
                for item in RegistryRecord.scan(condition, consistent_read=True) if item.key.startswith(prefix)}
    except PynamoDBException as err:
        raise StoreError.of(err) from err


@forget_after_restore
def clear_cache() -> None:
    _cache.clear()
