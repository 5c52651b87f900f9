"""Rendering is bounded for tenants' template overrides (and our own templates): an adversarial
review found overrides that allocate 400 MB each (`'x'|center(4e8)`, `'%0400000000d'%1`,
`'{:>400000000}'.format()`), take 10 s (`lipsum(n=2e5)`) or never end (nested `range(100000)`
loops). Each is now a RenderError naming the bound, raised after a bounded amount of work."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.rendering.environment import MAX_LIPSUM_PARAGRAPHS, MAX_LOOP_ITERATIONS, MAX_OUTPUT_CHARS
from chalicelib.rendering.render import DictTemplateOverrides, RenderError, render_contract

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "contracts"
TEMPLATE = "contracts/sales.en.html.j2"


def sales() -> dict[str, Any]:
    return copy.deepcopy(json.loads((FIXTURES / "sales.en.json").read_text(encoding="utf-8"))["contract"])


def render_override(source: str) -> str:
    overrides = DictTemplateOverrides({"t-1": {TEMPLATE: source}})
    return render_contract(sales(), overrides=overrides, tenant_id="t-1").html


@pytest.mark.parametrize(("source", "bound"), [
    ("{{ 'x'|center(4e8) }}", "center's width"),
    ("{{ 'x'|center(400000000) }}", "center's width"),
    ("{{ '%0400000000d' % 1 }}", "width in a format"),
    ("{{ '%.400000000f' % 1.5 }}", "width in a format"),
    ("{{ '%*d' % (400000000, 1) }}", "'*' widths"),
    ("{{ '{:>400000000}'.format('x') }}", "width in a format"),
    ("{{ '{0:{1}}'.format('x', 400000000) }}", "a width in a format from an argument"),
    ("{{ '%0400000000d'|format(1) }}", "width in a format"),
    ("{{ 'x'|indent(400000000) }}", "indent's width"),
    ("{{ 'x'|wordwrap(400000000) }}", "wordwrap's width"),
    ("{{ ('x' * 1000000)|replace('x', 'yyyyyyyyyy') }}", "replace would build"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "loop turns"),
    ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "longer than"),
    ("{% macro f(n) %}{% for i in range(100000) %}{{ n }}{% endfor %}{% endmacro %}"
     "{% for k in range(100000) %}{{ f(k)|length }}{% endfor %}", "loop turns"),
])
def test_an_override_over_a_bound_is_refused(source: str, bound: str) -> None:
    with pytest.raises(RenderError, match="unsafe template operation") as info:
        render_override(source)
    assert bound in str(info.value)


def test_lipsum_is_capped_not_refused() -> None:
    html = render_override("{{ lipsum(n=200000, html=True) }}")
    assert html.count("<p>") == MAX_LIPSUM_PARAGRAPHS


def test_the_bounds_leave_room_for_real_documents() -> None:
    """Our own largest document is far inside every bound (the bounds are not what it brushes)."""
    contract = sales()
    contract["items"] = contract["items"] * 200  # a very long item table
    html = render_contract(contract).html
    assert len(html) < MAX_OUTPUT_CHARS // 2
    assert MAX_LOOP_ITERATIONS >= 100_000


def test_reasonable_widths_and_loops_still_work() -> None:
    html = render_override("{{ 'x'|center(20) }}|{{ '%05d' % 42 }}|{{ '{:>6}'.format('ab') }}|"
                           "{% for i in range(3) %}{{ i }}{% endfor %}|{{ range(10)|length }}")
    assert "00042" in html and "    ab" in html and "012" in html and "|10" in html
