"""The sandboxed Jinja2 environment that renders contract documents.

- ``ImmutableSandboxedEnvironment``: templates (ours and every tenant override) cannot reach
  Python internals, call unsafe attributes or mutate lists and dicts; ``*`` and ``**`` are
  bounded so a template cannot allocate gigabytes.
- autoescape is on for every template, whatever its name.
- undefined values are strict: a missing required field fails loudly and names its path
  (``missing field contract.delivery.place``).
- templates come from the repository's top-level ``templates/`` directory (``/var/task/templates``
  in Lambda, vendored there through ``vendor/templates``), or from a tenant override.

Cold start: jinja2 is imported inside the functions here, never at module level; the environment
is built once per process and cached in a module global.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import string
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.rendering.anchors import date_signed_anchor, full_name_anchor, sign_here_anchor
from chalicelib.rendering.data import Record, RecordList, path_of
from chalicelib.rendering.filters import FILTERS
from chalicelib.rendering.overrides import TemplateOverrides

if TYPE_CHECKING:
    from collections.abc import Callable

    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment

def _find_templates_dir() -> Path:
    """The project's templates/: next to chalicelib/ in a checkout or a plain Lambda zip
    (/var/task/templates); with Chalice's automatic_layer, vendor/templates lands in the dependency
    layer's site-packages (/opt/python/lib/python3.X/site-packages/templates) instead."""
    beside_code = Path(__file__).resolve().parents[2] / "templates"
    if (beside_code / "contracts").is_dir():
        return beside_code
    for entry in sys.path:
        candidate = Path(entry or ".") / "templates"
        if (candidate / "contracts").is_dir():
            return candidate.resolve()
    return beside_code


TEMPLATES_DIR = _find_templates_dir()

MISSING_FIELD_PREFIX = "missing field "

# Bounds on what one template expression may build (see _SandboxLimits below).
MAX_SEQUENCE_REPEAT = 1_000_000  # characters/items produced by "x" * n
MAX_POWER_BITS = 100_000  # bits of an integer produced by a ** b
# Bounds on one render, for our templates and tenants' overrides alike: a contract document is tens
# of kilobytes, a few thousand loop turns and a few hundred milliseconds; an override that wants far
# more is refused (RenderError, a 422 in preview) instead of holding a Lambda.
MAX_OUTPUT_CHARS = 2_000_000
MAX_LOOP_ITERATIONS = 200_000  # turns of range() loops and calls, all loops of one render together
MAX_RENDER_SECONDS = 5.0
MAX_FORMAT_WIDTH = 10_000  # widths and precisions in "%10d", "{:>10}", center(10), indent(10), wordwrap(10)
MAX_LIPSUM_PARAGRAPHS = 20


class RenderBudget:
    """What one render may still spend; counted by range() turns, calls and output chunks."""

    def __init__(self) -> None:
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS
        self.turns = 0
        self.output = 0

    def tick(self, turns: int = 1) -> None:
        self.turns += turns
        if self.turns > MAX_LOOP_ITERATIONS:
            from jinja2.sandbox import SecurityError

            raise SecurityError(f"the template runs more than {MAX_LOOP_ITERATIONS:,} loop turns and calls")
        if self.turns % 256 == 0 and time.monotonic() > self.deadline:
            from jinja2.sandbox import SecurityError

            raise SecurityError(f"the template takes longer than {MAX_RENDER_SECONDS:g} s")

    def wrote(self, chars: int) -> None:
        self.output += chars
        if self.output > MAX_OUTPUT_CHARS:
            from jinja2.sandbox import SecurityError

            raise SecurityError(f"the document is longer than {MAX_OUTPUT_CHARS:,} characters")
        self.turns += 1  # tick(), inlined: once per chunk of output
        if self.turns > MAX_LOOP_ITERATIONS or self.turns % 256 == 0:
            self.tick(0)


_budgets = threading.local()


@contextmanager
def render_budget() -> Iterator[RenderBudget]:
    """The budget of the render running in this thread (nested renders share the outer one)."""
    outer = getattr(_budgets, "current", None)
    budget = outer or RenderBudget()
    _budgets.current = budget
    try:
        yield budget
    finally:
        _budgets.current = outer


def _tick() -> None:
    budget = getattr(_budgets, "current", None)
    if budget is not None:
        budget.tick()


def _check_width(value: Any, what: str) -> None:
    from jinja2.sandbox import SecurityError

    try:
        width = int(value)
    except (TypeError, ValueError):
        return  # the filter itself refuses what is not a number
    if abs(width) > MAX_FORMAT_WIDTH:
        raise SecurityError(f"{what} of {width} is over {MAX_FORMAT_WIDTH:,}")


_PRINTF_WIDTHS = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_SPEC_NUMBERS = re.compile(r"\d+")


def _check_printf(fmt: str) -> None:
    for width, precision in _PRINTF_WIDTHS.findall(fmt):
        for number in (width, precision):
            if number and number != "*":
                _check_width(number, "a width in a format")
            elif number == "*":
                from jinja2.sandbox import SecurityError

                raise SecurityError("'*' widths are not allowed in templates")


def _check_format_spec(fmt: str) -> None:
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises its own error
    for _, _, spec, _ in fields:
        if "{" in (spec or ""):
            from jinja2.sandbox import SecurityError

            raise SecurityError("nested fields in a format spec (a width in a format from an argument) are not allowed")
        for number in _SPEC_NUMBERS.findall(spec or ""):
            _check_width(number, "a width in a format")


# What SandboxWithLimits.getattr answers without the sandbox's generic path: the values a contract
# Record holds (data, never callables, so the sandbox would return them as they are) and the names
# under which a dict has attributes of its own (those take the generic path).
_ABSENT = object()
_PLAIN_VALUES = frozenset({str, int, float, bool, type(None), Record, RecordList})
_DICT_ATTRIBUTES = frozenset(dir(dict))

GLOBALS: dict[str, Any] = {
    "sign_here_anchor": sign_here_anchor,
    "date_signed_anchor": date_signed_anchor,
    "full_name_anchor": full_name_anchor,
}

_environment: ImmutableSandboxedEnvironment | None = None
_lock = threading.Lock()


def get_environment() -> ImmutableSandboxedEnvironment:
    """The process-wide environment over the built-in templates (built on first use)."""
    global _environment
    if _environment is None:
        with _lock:
            if _environment is None:
                _environment = _build_environment()
    return _environment


def environment_for(overrides: TemplateOverrides | None, tenant_id: str | None) -> ImmutableSandboxedEnvironment:
    """The environment for one render: the shared one, or for a tenant with overrides an overlay
    whose loader asks the tenant's overrides first and falls back to the built-in templates.

    The overlay is the same sandbox class with the same autoescape, undefined, filters and
    globals; it has no template cache, since an override may change between renders.
    """
    env = get_environment()
    if overrides is None or tenant_id is None:
        return env
    loader: Any = TenantOverrideLoader(overrides, tenant_id, fallback=env.loader)  # a loader by duck typing
    return env.overlay(loader=loader, cache_size=0)


def is_tenant_filename(filename: str | None) -> bool:
    return bool(filename) and str(filename).startswith("tenant:")


class TenantOverrideLoader:
    """A Jinja loader: the tenant's override of a template when there is one, else the fallback.

    Each override is fetched at most once per loader (one loader serves one render), and the
    names that came from the tenant are recorded in ``overridden``.
    """

    def __init__(self, overrides: TemplateOverrides, tenant_id: str, fallback: Any) -> None:
        self.overrides = overrides
        self.tenant_id = tenant_id
        self.fallback = fallback
        self.overridden: set[str] = set()
        self._fetched: dict[str, str | None] = {}

    def _override(self, name: str) -> str | None:
        if name not in self._fetched:
            self._fetched[name] = self.overrides.get(self.tenant_id, name)
        return self._fetched[name]

    def get_source(
        self, environment: ImmutableSandboxedEnvironment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        from jinja2 import TemplateNotFound

        normalised = posixpath.normpath(template)
        if (
            template.startswith("/")
            or "\\" in template
            or normalised != template.rstrip("/")
            or normalised.startswith("..")
        ):
            raise TemplateNotFound(template)
        source = self._override(template)
        if source is None:
            found: tuple[str, str | None, Callable[[], bool] | None] = self.fallback.get_source(environment, template)
            return found
        self.overridden.add(template)
        return source, f"tenant:{self.tenant_id}/{template}", lambda: False

    def load(
        self,
        environment: ImmutableSandboxedEnvironment,
        name: str,
        globals: Any = None,
    ) -> Template:
        source, filename, uptodate = self.get_source(environment, name)
        code = _compiled(environment, source, name, filename)
        return environment.template_class.from_code(environment, code, globals or {}, uptodate)

    def list_templates(self) -> list[str]:
        return list(self.fallback.list_templates())


_COMPILED_LIMIT = 256
_compiled_code: OrderedDict[tuple[str, str | None, str], Any] = OrderedDict()


def _compiled(environment: ImmutableSandboxedEnvironment, source: str, name: str, filename: str | None) -> Any:
    """Compiled template code, kept per (name, origin, source digest): an overlay has no template
    cache of its own (an override may change), but the same source compiles to the same code, and
    compiling is most of a render's cost. Every overlay shares the base environment's settings,
    which the code depends on."""
    key = (name, filename, hashlib.sha256(source.encode("utf-8")).hexdigest())
    with _lock:
        code = _compiled_code.get(key)
        if code is not None:
            _compiled_code.move_to_end(key)
            return code
    code = environment.compile(source, name, filename)
    with _lock:
        _compiled_code[key] = code
        while len(_compiled_code) > _COMPILED_LIMIT:
            _compiled_code.popitem(last=False)
    return code


def _build_environment() -> ImmutableSandboxedEnvironment:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.runtime import LoopContext, Macro
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
    from jinja2.utils import Namespace, missing

    plain_holders = frozenset({LoopContext, Namespace})

    class PathUndefined(StrictUndefined):
        """StrictUndefined whose message names the contract field by its dotted path."""

        __slots__ = ()

        @property
        def _undefined_message(self) -> str:
            if self._undefined_hint is None and self._undefined_obj is not missing:
                path = path_of(self._undefined_obj)
                if path is not None:
                    name = self._undefined_name
                    where = f"{path}[{name}]" if isinstance(name, int) else f"{path}.{name}"
                    return MISSING_FIELD_PREFIX + where
            message: str = super()._undefined_message
            return message

    class SandboxWithLimits(ImmutableSandboxedEnvironment):
        """Bounds ``*`` (sequence repetition), ``**`` (big integers) and ``%`` (printf widths) in
        template expressions, widths in ``str.format``, and counts every call against the render's
        budget (RenderBudget)."""

        intercepted_binops = frozenset({"*", "**", "%"})

        def getattr(self, obj: Any, attribute: str) -> Any:
            """The sandbox's answer, reached without its exceptions and generic checks for what
            templates read most: a contract field (a Record's plain value), a key of a dict the
            template built (its labels) that is not one of dict's attribute names, and a plain value
            of a loop or a namespace; anything else takes the sandbox's own path (render time was
            twice plain Jinja2's, BENCHMARKS.md; tests/unit/test_rendering_attribute_lookup.py)."""
            kind = type(obj)
            if kind is Record and not attribute.startswith("_"):
                value = obj._data.get(attribute, _ABSENT)
                if type(value) in _PLAIN_VALUES:
                    return value
            elif kind is dict and attribute not in _DICT_ATTRIBUTES and attribute in obj:
                return obj[attribute]
            elif kind in plain_holders and not attribute.startswith("_"):
                # loop.index, ns.total: neither object is internal or a known mutable, so a plain
                # value read from it is what the sandbox would return.
                value = getattr(obj, attribute, _ABSENT)
                if type(value) in _PLAIN_VALUES:
                    return value
            return super().getattr(obj, attribute)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            _tick()
            if type(__obj) is Macro:  # a template's own macro: never unsafe_callable nor alters_data
                return __context.call(__obj, *args, **kwargs)
            return super().call(__context, __obj, *args, **kwargs)

        def wrap_str_format(self, value: Any) -> Any:
            wrapped = super().wrap_str_format(value)
            if wrapped is None:
                return None
            fmt = str(value.__self__)

            def checked(*args: Any, **kwargs: Any) -> Any:
                _check_format_spec(fmt)
                return wrapped(*args, **kwargs)

            return checked

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "%" and isinstance(left, str):
                _check_printf(left)
            if operator == "*":
                for seq, times in ((left, right), (right, left)):
                    if isinstance(seq, str | list | tuple) and isinstance(times, int):
                        if len(seq) * times > MAX_SEQUENCE_REPEAT:
                            raise SecurityError("sequence repetition too large")
            elif operator == "**" and isinstance(left, int) and isinstance(right, int):
                if right > 0 and abs(left).bit_length() * right > MAX_POWER_BITS:
                    raise SecurityError("power too large")
            return super().call_binop(context, operator, left, right)

    env = SandboxWithLimits(
        loader=FileSystemLoader(str(TEMPLATES_DIR), encoding="utf-8"),
        autoescape=True,
        undefined=PathUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.filters.update(_bounded_filters(env.filters))
    env.globals.update(GLOBALS)
    env.globals.update(_bounded_globals(env.globals))
    return env


class _CountedRange:
    """range() for templates: the sandbox's own (at most 100,000 items), each turn of a loop over it
    counted against the render's budget, so nested loops cannot run for ever."""

    def __init__(self, items: range) -> None:
        self._items = items

    def __iter__(self) -> Iterator[int]:
        for item in self._items:
            _tick()
            yield item

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]


def _bounded_globals(globals_: Mapping[str, Any]) -> dict[str, Any]:
    safe_range, lipsum = globals_["range"], globals_["lipsum"]

    def counted_range(*args: Any) -> _CountedRange:
        return _CountedRange(safe_range(*args))

    def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:  # noqa: A002
        _check_width(max, "lipsum's max")
        return lipsum(n=max_(0, min_(int(n), MAX_LIPSUM_PARAGRAPHS)), html=html, min=min, max=max)

    return {"range": counted_range, "lipsum": bounded_lipsum}


def _bounded_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    center, indent, wordwrap, format_, replace = (filters["center"], filters["indent"], filters["wordwrap"],
                                                  filters["format"], filters["replace"])

    def bounded_center(value: Any, width: int = 80) -> Any:
        _check_width(width, "center's width")
        return center(value, width)

    def bounded_indent(value: Any, width: Any = 4, *args: Any, **kwargs: Any) -> Any:
        _check_width(width if not isinstance(width, str) else len(width), "indent's width")
        return indent(value, width, *args, **kwargs)

    def bounded_wordwrap(environment: Any, value: Any, width: int = 79, *args: Any, **kwargs: Any) -> Any:
        _check_width(width, "wordwrap's width")
        return wordwrap(environment, value, width, *args, **kwargs)

    def bounded_format(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_printf(str(value))
        return format_(value, *args, **kwargs)

    def bounded_replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: Any = None) -> Any:
        text, old_text, new_text = str(value), str(old), str(new)
        hits = (len(text) + 1) if not old_text else text.count(old_text)
        if len(text) + hits * len(new_text) > MAX_OUTPUT_CHARS:
            from jinja2.sandbox import SecurityError

            raise SecurityError(f"replace would build more than {MAX_OUTPUT_CHARS:,} characters")
        return replace(eval_ctx, value, old, new, count)

    from jinja2.filters import pass_environment, pass_eval_context

    return {"center": bounded_center, "indent": bounded_indent, "wordwrap": pass_environment(bounded_wordwrap),
            "format": bounded_format, "replace": pass_eval_context(bounded_replace)}


# lipsum's own parameters are named min and max: the builtins under other names.
min_, max_ = min, max
