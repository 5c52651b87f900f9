"""The sandbox's attribute lookup answers contract fields, template dicts, loops and namespaces
without its generic path; every answer must be the one Jinja2's own immutable sandbox gives."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from chalicelib.rendering.data import wrap_contract
from chalicelib.rendering.environment import get_environment

CONTRACT = wrap_contract({
    "number": "C-1", "amount": 12.5, "count": 3, "flag": True, "nothing": None,
    "format": "a field named like str.format", "items": [{"name": "x"}], "party": {"name": "P"},
    "update": "a field named like dict.update",
})
LABELS = {"title": "T", "items": "a key named like dict.items", "update": "u", "pop": "p", "n": 1}
NAMES = ["number", "amount", "count", "flag", "nothing", "format", "items", "party", "update", "pop", "title",
         "n", "missing", "_data", "_path", "__class__", "__init__", "mro", "keys", "get", "copy", "clear",
         "index", "index0", "first", "last", "length", "revindex", "cycle", "changed", "depth", "total"]


def _loop() -> LoopContext:
    env = get_environment()
    loop = LoopContext(iter([1, 2, 3]), env.undefined)
    next(iter(loop))
    return loop


def _objects() -> list[Any]:
    return [CONTRACT, CONTRACT.party, CONTRACT["items"], LABELS, _loop(), Namespace(total=3, title="t"), "text", 7]


def _same(ours: Any, theirs: Any) -> bool:
    if callable(ours) and callable(theirs):
        return True  # a method: the generic path on both sides (ours wraps str.format to bound widths)
    if type(ours) is not type(theirs):
        return False
    if hasattr(ours, "_undefined_name"):  # an Undefined: the same name and hint
        return (ours._undefined_name, ours._undefined_hint) == (theirs._undefined_name, theirs._undefined_hint)
    return bool(ours is theirs or ours == theirs)


@pytest.mark.parametrize("name", NAMES)
def test_every_lookup_answers_what_the_immutable_sandbox_answers(name: str) -> None:
    ours = get_environment()
    reference = ImmutableSandboxedEnvironment(undefined=ours.undefined)
    for obj in _objects():
        mine, theirs = ours.getattr(obj, name), reference.getattr(obj, name)
        assert _same(mine, theirs), (obj, name, mine, theirs)


def test_a_template_still_cannot_mutate_a_dict_it_reads() -> None:
    env = get_environment()
    template = env.from_string("{% set d = {'update': 1} %}{{ d.update({'x': 2}) }}")
    with pytest.raises(Exception, match="unsafe|not safely callable|update"):
        template.render()
