"""Per-tenant template overrides: the port, and an in-memory adapter for tests and previews.

A tenant may replace any template, including ``contracts/_base.html.j2``, by name. Overrides are
rendered by the same sandboxed, autoescaping environment as the built-in templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable


@runtime_checkable
class TemplateOverrides(Protocol):
    """Where tenant templates come from (an S3/DynamoDB adapter later)."""

    def get(self, tenant_id: str, template_name: str) -> str | None:
        """The tenant's source for ``template_name`` (e.g. ``contracts/sales.zh-CN.html.j2``),
        or None when the tenant uses the built-in one."""
        ...


class DictTemplateOverrides:
    """In-memory overrides: ``{tenant_id: {template_name: source}}``."""

    def __init__(self, templates: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._templates: dict[str, dict[str, str]] = {
            tenant: dict(sources) for tenant, sources in (templates or {}).items()
        }

    def get(self, tenant_id: str, template_name: str) -> str | None:
        return self._templates.get(tenant_id, {}).get(template_name)

    def put(self, tenant_id: str, template_name: str, source: str) -> None:
        self._templates.setdefault(tenant_id, {})[template_name] = source
