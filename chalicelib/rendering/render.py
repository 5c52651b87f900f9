"""Render a canonical contract into the HTML document its signers sign.

    doc = render_contract(contract)                      # built-in templates
    doc = render_contract(contract, overrides=store, tenant_id="t-1")  # tenant overrides first

The template is ``contracts/<type>.<locale>.html.j2`` (which extends ``contracts/_base.html.j2``).
A bilingual contract (locale ``zh-CN+en``) is one document with both texts side by side, clause by
clause: the type's zh-CN and en templates are rendered in their bilingual mode, which marks each
section, and ``contracts/<type>.zh-CN+en.html.j2`` (extending ``contracts/_bilingual.html.j2``) lays
the pairs out in two columns, with the header and the signature block (the DocuSign anchors, once
per signer) taken once from the prevailing text.
``template_version`` fingerprints every template source the document was rendered from, so an
archived document can always be traced to the exact templates (``sales.zh-CN@1a2b3c4d5e6f``, or
``tenant:<tenant_id>/sales.zh-CN@…`` when any of them was a tenant override).

Importing this module does not import jinja2 or cn2an (cold start); the first render does.
"""

from __future__ import annotations

import hashlib
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.contracts.locales import BILINGUAL, CONTRACT_LOCALES, languages_of, prevailing_language
from chalicelib.rendering.data import wrap_contract
from chalicelib.rendering.environment import (
    MISSING_FIELD_PREFIX,
    TEMPLATES_DIR,
    TenantOverrideLoader,
    environment_for,
    is_tenant_filename,
    render_budget,
)
from chalicelib.rendering.overrides import DictTemplateOverrides, TemplateOverrides

if TYPE_CHECKING:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    from chalicelib.rendering.environment import RenderBudget

__all__ = [
    "CONTRACT_TYPES",
    "LOCALES",
    "DictTemplateOverrides",
    "RenderError",
    "RenderedDocument",
    "TemplateOverrides",
    "render_contract",
    "template_name_for",
]

CONTRACT_TYPES = ("sales", "service", "partner", "supplier")
LOCALES = CONTRACT_LOCALES  # "zh-CN", "en", "zh-CN+en"
BASE_TEMPLATE = "contracts/_base.html.j2"
_VERSION_LENGTH = 12


class RenderError(Exception):
    """A contract could not be rendered. ``str(error)`` says why, in words, never a traceback.

    ``field`` is the dotted path of the missing contract field when that was the cause, and
    ``location`` the template and line (``contracts/sales.zh-CN.html.j2:42``) when known.
    """

    def __init__(
        self,
        message: str,
        *,
        template_name: str | None = None,
        field: str | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.template_name = template_name
        self.field = field
        self.location = location


@dataclass(frozen=True, slots=True)
class RenderedDocument:
    """One rendered document: the HTML and what it was made from."""

    html: str
    sha256: str  # hex digest of html encoded as UTF-8
    template_name: str  # e.g. "contracts/sales.zh-CN.html.j2"
    template_version: str  # e.g. "sales.zh-CN@1a2b3c4d5e6f" or "tenant:t-1/sales.zh-CN@…"
    locale: str

    @property
    def content(self) -> bytes:
        """The document as uploaded and hashed: the HTML in UTF-8."""
        return self.html.encode("utf-8")


def template_name_for(contract_type: Any, locale: Any) -> str:
    """``("sales", "zh-CN")`` -> ``"contracts/sales.zh-CN.html.j2"`` (``"zh-CN+en"``: the bilingual
    layout, ``"contracts/sales.zh-CN+en.html.j2"``); RenderError otherwise."""
    if contract_type not in CONTRACT_TYPES:
        raise RenderError(
            f"no contract template for type {_short(contract_type)}; expected one of {', '.join(CONTRACT_TYPES)}",
            field="contract.type",
        )
    if locale not in LOCALES:
        raise RenderError(
            f"no contract template for locale {_short(locale)}; expected one of {', '.join(LOCALES)}",
            field="contract.locale",
        )
    return f"contracts/{contract_type}.{locale}.html.j2"


def render_contract(
    contract: Mapping[str, Any],
    *,
    overrides: TemplateOverrides | None = None,
    tenant_id: str | None = None,
) -> RenderedDocument:
    """Render the canonical ``contract`` (the webhook's ``contract`` object, not the envelope).

    With ``overrides`` and ``tenant_id`` the tenant's templates are used where it has them, and
    rendered in the same sandbox. Raises RenderError when the document cannot be rendered.
    """
    if not isinstance(contract, Mapping):
        raise TypeError(f"contract must be a mapping, not {type(contract).__name__}")
    if overrides is not None and not tenant_id:
        raise ValueError("tenant_id is required when overrides are given")
    locale = contract.get("locale")
    name = template_name_for(contract.get("type"), locale)
    env = environment_for(overrides, tenant_id)
    try:
        with render_budget() as budget:  # output size, loop turns and time, for overrides and ours alike
            if locale == BILINGUAL:
                html, names = _render_bilingual(env, name, contract, budget)
            else:
                html, names = _generate(env, name, budget, contract=wrap_contract(contract), locale=locale), [name]
        sources: dict[str, str] = {}
        for used in names:
            sources.update(_sources_used(env, used))
    except RenderError:
        raise
    except Exception as exc:  # anything a template or a filter raised: say what, not how
        raise _render_error(exc, name) from None
    overridden = isinstance(env.loader, TenantOverrideLoader) and bool(env.loader.overridden)
    return RenderedDocument(
        html=html,
        sha256=hashlib.sha256(html.encode("utf-8")).hexdigest(),
        template_name=name,
        template_version=_version(name, sources, tenant_id if overridden else None),
        locale=str(locale),
    )


def _generate(env: ImmutableSandboxedEnvironment, name: str, budget: RenderBudget, **context: Any) -> str:
    parts: list[str] = []
    append, wrote = parts.append, budget.wrote
    for chunk in env.get_template(name).generate(**context):
        wrote(len(chunk))
        append(chunk)
    return "".join(parts)


# --- bilingual documents ---------------------------------------------------------------------

# The section marks _base.html.j2 prints in its bilingual mode. CRM text cannot contain one: the
# sandbox autoescapes its "<".
_SECTION_MARK = re.compile(r"<!--sb:([a-z]+)-->")
_PAIRED = frozenset({"parties", "preamble", "clause"})
_SHARED = ("header", "signatures")


def _render_bilingual(
    env: ImmutableSandboxedEnvironment, name: str, contract: Mapping[str, Any], budget: RenderBudget
) -> tuple[str, list[str]]:
    """The bilingual document and the names of the templates it was rendered from.

    The sections given to the layout are HTML the sandbox already rendered and escaped; the layout
    prints them with ``|safe``.
    """
    languages = languages_of(BILINGUAL)
    prevailing = prevailing_language(contract)
    data = wrap_contract(contract)
    texts: dict[str, list[tuple[str, str]]] = {}
    names = [name]
    for language in languages:
        text_name = template_name_for(contract.get("type"), language)
        html = _generate(env, text_name, budget, contract=data, locale=language, bilingual=True, prevailing=prevailing)
        texts[language] = _sections(html, text_name)
        names.append(text_name)
    columns = [[(section, html) for section, html in texts[language] if section in _PAIRED] for language in languages]
    shapes = [[section for section, _ in column] for column in columns]
    if any(shape != shapes[0] for shape in shapes):
        counts = ", ".join(
            f"{language}: {shape.count('clause')}" for language, shape in zip(languages, shapes, strict=True)
        )
        raise RenderError(
            f"cannot render {name}: the {' and '.join(languages)} texts do not have the same sections "
            f"(clauses {counts}), so they cannot be set side by side",
            template_name=name,
        )
    rows = [
        {"name": shapes[0][i], "cells": [column[i][1] for column in columns]} for i in range(len(shapes[0]))
    ]
    shared = dict(texts[prevailing])
    html = _generate(
        env, name, budget, contract=data, locale=BILINGUAL, languages=list(languages), prevailing=prevailing,
        rows=rows, **{section: shared[section] for section in _SHARED},
    )
    return html, names


def _sections(html: str, name: str) -> list[tuple[str, str]]:
    """``html`` cut at its section marks: ``[(section, html), ...]`` (what precedes the first mark and
    follows the ``end`` mark is the single-language page around them, left out)."""
    parts = _SECTION_MARK.split(html)
    sections = [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]
    found = [section for section, _ in sections]
    if any(found.count(section) != 1 for section in (*_SHARED, "end")) or found[-1:] != ["end"]:
        raise RenderError(
            f"cannot render a bilingual document: {name} does not mark its sections (header, parties, "
            "preamble, clauses, signatures, end) as contracts/_base.html.j2 does in its bilingual mode",
            template_name=name,
        )
    return [(section, text) for section, text in sections if section != "end"]


# --- template fingerprint --------------------------------------------------------------------

_references_cache: dict[tuple[str, str], tuple[str, ...]] = {}
# Per built-in template name: the environment's loaded Template (a new object when its file changed),
# its source and the templates it references; a render of the shared environment reads its
# fingerprint from here instead of reading and parsing every source again.
_built_in_sources: dict[str, tuple[object, str, tuple[str, ...]]] = {}


def _sources_used(env: ImmutableSandboxedEnvironment, name: str) -> dict[str, str]:
    """Every template source ``name`` is made of: itself, what it extends, includes, imports."""
    from jinja2 import meta

    shared = not isinstance(env.loader, TenantOverrideLoader)
    sources: dict[str, str] = {}
    pending = [name]
    while pending:
        current = pending.pop()
        if current in sources:
            continue
        loaded = env.get_template(current) if shared else None
        known = _built_in_sources.get(current) if shared else None
        if known is not None and known[0] is loaded:
            sources[current] = known[1]
            pending.extend(known[2])
            continue
        source, filename, _ = env.loader.get_source(env, current)  # type: ignore[union-attr]
        sources[current] = source
        key = (current, hashlib.sha256(source.encode("utf-8")).hexdigest())
        references = None if is_tenant_filename(filename) else _references_cache.get(key)
        if references is None:
            found = meta.find_referenced_templates(env.parse(source, current, filename))
            references = tuple(ref for ref in found if ref is not None)  # None: a dynamic name
            if not is_tenant_filename(filename):
                _references_cache[key] = references
        if shared:
            _built_in_sources[current] = (loaded, source, references)
        pending.extend(references)
    return sources


def _version(name: str, sources: Mapping[str, str], tenant_id: str | None) -> str:
    digest = hashlib.sha256()
    for template_name in sorted(sources):
        digest.update(template_name.encode("utf-8") + b"\0")
        digest.update(sources[template_name].encode("utf-8") + b"\0")
    stem = name.removeprefix("contracts/").removesuffix(".html.j2")
    prefix = f"tenant:{tenant_id}/" if tenant_id else ""
    return f"{prefix}{stem}@{digest.hexdigest()[:_VERSION_LENGTH]}"


# --- errors ----------------------------------------------------------------------------------


def _render_error(exc: Exception, name: str) -> RenderError:
    from jinja2 import TemplateNotFound, TemplateSyntaxError, UndefinedError
    from jinja2.sandbox import SecurityError

    location = _template_location(exc.__traceback__)
    where = f" ({location})" if location else ""
    if isinstance(exc, TemplateSyntaxError):
        origin = _display_filename(exc.filename) or exc.name or name
        location = f"{origin}:{exc.lineno}"
        return RenderError(
            f"cannot render {name}: template syntax error at {location}: {exc.message}",
            template_name=name,
            location=location,
        )
    if isinstance(exc, TemplateNotFound):
        return RenderError(f"cannot render {name}: template not found: {exc.name}", template_name=name)
    if isinstance(exc, UndefinedError):
        message = str(exc.message or exc)
        field = message[len(MISSING_FIELD_PREFIX) :] if message.startswith(MISSING_FIELD_PREFIX) else None
        return RenderError(
            f"cannot render {name}: {message}{where}", template_name=name, field=field, location=location
        )
    if isinstance(exc, SecurityError):
        return RenderError(
            f"cannot render {name}: unsafe template operation: {exc}{where}",
            template_name=name,
            location=location,
        )
    detail = str(exc) or type(exc).__name__
    field = exc.path if isinstance(exc, KeyError) and hasattr(exc, "path") else None
    return RenderError(
        f"cannot render {name}: {detail[:500]}{where}", template_name=name, field=field, location=location
    )


def _template_location(tb: types.TracebackType | None) -> str | None:
    """The innermost template frame of a (Jinja-rewritten) traceback, as ``name:line``."""
    found = None
    while tb is not None:
        display = _display_filename(tb.tb_frame.f_code.co_filename)
        if display is not None:
            found = f"{display}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _display_filename(filename: str | None) -> str | None:
    if not filename:
        return None
    if is_tenant_filename(filename):
        return filename
    root = str(TEMPLATES_DIR) + "/"
    if filename.startswith(root):
        return filename[len(root) :]
    if filename.endswith(".j2"):
        return filename
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
