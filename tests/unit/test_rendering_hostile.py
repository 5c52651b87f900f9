"""Hostile CRM strings render inert and intact: escaped once where they belong, never markup,
never template code, never a DocuSign anchor."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from chalicelib.rendering.anchors import WORD_JOINER, defuse_anchors
from chalicelib.rendering.render import render_contract

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "contracts"
DOCUMENTS = [f"{kind}.{locale}" for kind in ("sales", "service", "partner", "supplier") for locale in ("zh-CN", "en")]

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "expression": "{{ 7*7 }}",
    "statement": "{% for x in y %}",
    "comment": "{# hidden #} {{ contract.parties }}",
    "attribute": '" onmouseover="alert(1)" x=\'',
    "bdi_breakout": "</bdi></p><img src=x onerror=alert(1)><p>",
    "entities": "&lt;b&gt; &amp; &#60;",
    "rtl": "שלום \u202eعالم مرحبا\u202c end",
    "emoji": "🔏✍️👍🏽 签约成功 🎉",
    "cjk": "上海𠮷野家（株）株式会社・한국어",
    "huge": "合" * 20_000 + "A" * 40_000 + "ß" * 20_000,  # > 100 KB in UTF-8
    "nul_and_controls": "a\x00b\tc\rd",
}

# A free-text field of each type that the document prints exactly once.
ONCE_FIELD = {
    "sales": ("after_sales",),
    "service": ("service", "description"),
    "partner": ("breach",),
    "supplier": ("quality_guarantee",),
}


def load(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))["contract"])


def put(contract: dict[str, Any], path: tuple[str, ...], value: str) -> None:
    holder = contract
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value


@pytest.mark.parametrize("name", DOCUMENTS)
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_text_renders_once_escaped_and_intact(name: str, kind: str) -> None:
    text = HOSTILE[kind]
    contract = load(name)
    baseline = render_contract(contract).html
    put(contract, ONCE_FIELD[contract["type"]], text)
    html = render_contract(contract).html
    escaped = str(escape(text))
    assert html.count(escaped) == 1
    assert f">{escaped}</bdi>" in html  # in its place, whole, bidi-isolated
    assert html.count("<script") == 0
    assert html.count("<img") == 0
    assert html.count("49") == baseline.count("49")  # {{ 7*7 }} was not evaluated
    assert html.count("<bdi") == baseline.count("<bdi")
    assert html.count("</bdi>") == baseline.count("</bdi>")


@pytest.mark.parametrize("name", DOCUMENTS)
def test_hostile_text_everywhere(name: str) -> None:
    """Every string field of the contract at once: the document still has exactly its own markup."""
    contract = load(name)
    baseline = render_contract(contract).html
    payload = "<script>alert(1)</script>{{ 7*7 }}{% if 1 %}x{% endif %}\u202e"

    def poison(node: Any, key: str | int | None = None) -> Any:
        if isinstance(node, dict):
            return {k: poison(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [poison(v) for v in node]
        keep = {"type", "locale", "currency", "party", "percent", "delivery", "method", "time_zone"}
        if isinstance(node, str) and key not in keep and not re.fullmatch(r"[\d.\-]+", node):
            return node + payload
        return node

    hostile = poison(contract)
    html = render_contract(hostile).html
    assert "<script" not in html
    assert html.count("49") == baseline.count("49")  # no {{ 7*7 }} was evaluated
    tags = re.compile(r"<(/?[a-zA-Z][a-zA-Z0-9]*)")
    assert sorted(tags.findall(html)) == sorted(tags.findall(baseline))
    assert html.count(str(escape(payload))) >= 10


def test_100_kb_string_is_kept_whole() -> None:
    text = HOSTILE["huge"]
    assert len(text.encode("utf-8")) > 100_000
    contract = load("sales.zh-CN")
    contract["after_sales"] = text
    contract["parties"]["counterparty"]["name"] = "X" * 100_000
    html = render_contract(contract).html
    assert html.count(text) == 1
    assert html.count("X" * 100_000) == 2  # parties block and signature block
    assert "overflow-wrap:anywhere" in html  # long unbroken strings wrap instead of overflowing


def test_anchor_lookalikes_in_crm_data_cannot_place_tabs() -> None:
    contract = load("sales.en")
    contract["signers"][0]["name"] = "/sn2/"
    contract["after_sales"] = "sign here: /SN1/ /ds1/ /fn2/ /sn99/"
    contract["parties"]["counterparty"]["name"] = "ACME /Fn1/ Ltd"
    html = render_contract(contract).html
    found = sorted(re.findall(r"/(?:sn|ds|fn)\d+/", html, flags=re.IGNORECASE))
    assert found == sorted(["/sn1/", "/ds1/", "/fn1/", "/sn2/", "/ds2/", "/fn2/"])
    # the text still reads the same: only an invisible word joiner was added
    assert f"sign here: /{WORD_JOINER}SN1/ /{WORD_JOINER}ds1/ /{WORD_JOINER}fn2/ /{WORD_JOINER}sn99/" in html
    assert defuse_anchors("a/sn1/b /x/ sn1 /sn/").replace(WORD_JOINER, "") == "a/sn1/b /x/ sn1 /sn/"


def test_hostile_keys_and_values_do_not_reach_python() -> None:
    contract = load("partner.en")
    contract["cooperation"]["__class__"] = "x"
    contract["cooperation"]["scope"] = "{{ contract.__class__.__mro__ }}"
    html = render_contract(contract).html
    assert html.count("{{ contract.__class__.__mro__ }}") == 1
    assert "<class" not in html
