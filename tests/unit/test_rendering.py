"""Contract documents: every type and locale renders from realistic fixtures, with what a signer
must see (number, parties, clauses, amounts, 大写) and what DocuSign needs (every signer's anchors).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from chalicelib.rendering.anchors import date_signed_anchor, full_name_anchor, sign_here_anchor
from chalicelib.rendering.render import (
    DictTemplateOverrides,
    RenderedDocument,
    RenderError,
    render_contract,
    template_name_for,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "contracts"
DOCUMENTS = [f"{kind}.{locale}" for kind in ("sales", "service", "partner", "supplier") for locale in ("zh-CN", "en")]


def load(name: str) -> dict[str, Any]:
    body = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return copy.deepcopy(body["contract"])


def esc(text: str) -> str:
    return str(escape(text))


def dig(contract: dict[str, Any], path: str) -> Any:
    value: Any = contract
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


# Free-text fields each type's document must print (CONTRACT.md, "required clauses").
REQUIRED_TEXT = {
    "sales": ["items.0.description", "items.0.specification", "delivery.place", "after_sales", "payment.terms"],
    "service": [
        "service.description",
        "service.standard",
        "quality_guarantee",
        "responsibilities.ours",
        "responsibilities.counterparty",
        "payment.terms",
    ],
    "partner": [
        "cooperation.scope",
        "cooperation.method",
        "profit_sharing.description",
        "responsibilities.ours",
        "responsibilities.counterparty",
        "breach",
    ],
    "supplier": [
        "items.0.description",
        "items.0.specification",
        "items.0.standard",
        "delivery.place",
        "quality_guarantee",
        "responsibilities.ours",
        "responsibilities.counterparty",
    ],
}


def test_fixtures_cover_every_type_and_locale() -> None:
    for name in DOCUMENTS:
        contract = load(name)
        kind, locale = name.split(".", 1)
        assert (contract["type"], contract["locale"]) == (kind, locale)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_document_renders_with_number_parties_and_required_clauses(name: str) -> None:
    contract = load(name)
    doc = render_contract(contract)
    html = doc.html
    assert html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{contract["locale"]}">' in html
    assert esc(contract["number"]) in html
    assert esc(contract["title"]) in html
    for party in ("ours", "counterparty"):
        assert esc(contract["parties"][party]["name"]) in html
        assert esc(contract["parties"][party]["address"]) in html
        assert esc(contract["parties"][party]["contact"]["email"]) in html
    for path in REQUIRED_TEXT[contract["type"]]:
        assert esc(dig(contract, path)) in html, path
    if contract["locale"] == "zh-CN":
        assert "合同编号" in html and "合同日期" in html
    else:
        assert "Contract No." in html and "Contract date" in html


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_signer_has_its_three_anchors_once_in_white(name: str) -> None:
    contract = load(name)
    html = render_contract(contract).html
    count = len(contract["signers"])
    for n in range(1, count + 1):
        for anchor in (sign_here_anchor(n), date_signed_anchor(n), full_name_anchor(n)):
            assert html.count(anchor) == 1, anchor
            assert re.search(rf'<span style="color:#ffffff;[^"]*">{re.escape(anchor)}</span>', html), anchor
    found = re.findall(r"/(?:sn|ds|fn)\d+/", html, flags=re.IGNORECASE)
    assert len(found) == 3 * count
    assert sign_here_anchor(count + 1) not in html
    # the signer's caption next to its anchors names the right person
    for n, signer in enumerate(contract["signers"], start=1):
        caption = "签署人" if contract["locale"] == "zh-CN" else "Signatory"
        sep = "：" if contract["locale"] == "zh-CN" else ": "
        assert f"{caption} {n}{sep}<bdi>{esc(signer['name'])}</bdi>" in html


def test_anchor_functions_are_the_template_globals() -> None:
    assert (sign_here_anchor(1), date_signed_anchor(2), full_name_anchor(10)) == ("/sn1/", "/ds2/", "/fn10/")
    assert sign_here_anchor(1) not in sign_here_anchor(10)
    for bad in (0, -1, True, "1", 1.0):
        with pytest.raises(ValueError):
            sign_here_anchor(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sales.zh-CN", "人民币 128,000.00 元（大写：壹拾贰万捌仟元整）"),
        ("service.zh-CN", "人民币 216,000.00 元（大写：贰拾壹万陆仟元整）"),
        ("supplier.zh-CN", "人民币 450,000.00 元（大写：肆拾伍万元整）"),
    ],
)
def test_zh_cn_amount_in_figures_and_capitals(name: str, expected: str) -> None:
    assert expected in render_contract(load(name)).html


def test_zh_cn_milestones_in_capitals() -> None:
    html = render_contract(load("sales.zh-CN")).html
    assert "38,400.00" in html and "叁万捌仟肆佰元整" in html
    assert "89,600.00" in html and "捌万玖仟陆佰元整" in html
    html = render_contract(load("supplier.zh-CN")).html
    assert html.count("贰拾贰万伍仟元整") == 2


@pytest.mark.parametrize(
    ("name", "expected"),
    [("sales.en", "USD 58,485.00"), ("service.en", "EUR 36,000.00"), ("supplier.en", "EUR 93,600.00")],
)
def test_en_amount_with_currency_code(name: str, expected: str) -> None:
    html = render_contract(load(name)).html
    assert expected in html
    assert "大写" not in html


def test_en_document_in_cny_and_no_capitals() -> None:
    contract = load("sales.zh-CN")
    contract["locale"] = "en"
    doc = render_contract(contract)
    assert doc.template_name == "contracts/sales.en.html.j2"
    assert "CNY 128,000.00" in doc.html
    assert "大写" not in doc.html and "壹拾贰万" not in doc.html


def test_line_totals_are_exact_decimals() -> None:
    html = render_contract(load("sales.en")).html
    for figure in ("49,500.00", "2,385.00", "6,600.00", "58,485.00"):
        assert figure in html
    contract = load("sales.zh-CN")
    # in float: 3 × 0.1 = 0.30000000000000004, 1.1 × 1.1 = 1.2100000000000002, 3 × 0.105 = 0.31499999999999995
    contract["items"] = [
        {"description": "样品 A", "quantity": "3", "unit": "件", "unit_price": "0.10"},
        {"description": "样品 B", "quantity": "1.1", "unit": "米", "unit_price": "1.10"},
        {"description": "样品 C", "quantity": "3", "unit": "件", "unit_price": "0.105"},
    ]
    html = render_contract(contract).html
    assert ">0.30<" in html
    assert ">1.21<" in html
    assert ">0.315<" in html  # exact, never rounded away
    assert ">1.825<" in html  # the items total
    assert "0000000" not in html and "9999999" not in html


def test_dates_per_locale() -> None:
    assert "2026年12月1日" in render_contract(load("sales.zh-CN")).html
    html = render_contract(load("service.en")).html
    assert "3 December 2026" in html
    assert "1 January 2027" in html and "31 December 2027" in html
    assert "60 days" in html  # auto-renewal notice


@pytest.mark.parametrize(
    ("name", "ours", "counterparty"),
    [
        ("sales.zh-CN", "卖方", "买方"),
        ("sales.en", "Seller", "Buyer"),
        ("service.zh-CN", "服务方（乙方）", "委托方（甲方）"),
        ("service.en", "Service Provider", "Client"),
        ("partner.zh-CN", "甲方", "乙方"),
        ("partner.en", "Party A", "Party B"),
        ("supplier.zh-CN", "采购方（甲方）", "供应方（乙方）"),
        ("supplier.en", "Buyer", "Supplier"),
    ],
)
def test_party_roles_per_type(name: str, ours: str, counterparty: str) -> None:
    contract = load(name)
    html = render_contract(contract).html
    for role, key in ((ours, "ours"), (counterparty, "counterparty")):
        party = esc(contract["parties"][key]["name"])
        assert re.search(rf">{re.escape(role)}</p>\s*<p[^>]*><bdi>{re.escape(party)}</bdi>", html), (role, key)


def test_partner_shares_table() -> None:
    html = render_contract(load("partner.zh-CN")).html
    assert ">88%<" in html and ">12%<" in html
    assert "收益分配" in html and "违约责任" in html


def test_optional_fields_may_be_absent() -> None:
    contract = load("sales.zh-CN")
    for key in ("cc", "effective_date", "end_date", "auto_renew", "renewal_notice_days", "callback_url"):
        contract.pop(key, None)
    contract["payment"].pop("milestones")
    contract["payment"].pop("terms")
    contract["delivery"].pop("milestones")
    contract["delivery"].pop("terms")
    contract["parties"]["ours"]["contact"].pop("phone")
    contract["items"][0].pop("specification")
    contract["items"][0].pop("unit")
    html = render_contract(contract).html
    assert "付款计划" not in html and "交付计划" not in html and "合同期限" not in html
    assert "人民币 128,000.00 元（大写：壹拾贰万捌仟元整）" in html


def test_template_choice() -> None:
    for kind in ("sales", "service", "partner", "supplier"):
        for locale in ("zh-CN", "en"):
            assert template_name_for(kind, locale) == f"contracts/{kind}.{locale}.html.j2"
            doc = render_contract(load(f"{kind}.{locale}"))
            assert doc.template_name == f"contracts/{kind}.{locale}.html.j2"
            assert doc.locale == locale
            assert re.fullmatch(rf"{kind}\.{re.escape(locale)}@[0-9a-f]{{12}}", doc.template_version)


@pytest.mark.parametrize(
    ("field", "value"),
    [("type", "lease"), ("type", "../emails/x"), ("type", None), ("locale", "fr"), ("locale", "zh")],
)
def test_unknown_type_or_locale_is_a_render_error(field: str, value: Any) -> None:
    contract = load("sales.zh-CN")
    contract[field] = value
    with pytest.raises(RenderError) as info:
        render_contract(contract)
    assert info.value.field == f"contract.{field}"


def test_sha256_and_version() -> None:
    doc = render_contract(load("supplier.en"))
    assert isinstance(doc, RenderedDocument)
    assert doc.sha256 == hashlib.sha256(doc.html.encode("utf-8")).hexdigest()
    assert doc.content == doc.html.encode("utf-8")
    again = render_contract(load("supplier.en"))
    assert (again.sha256, again.template_version) == (doc.sha256, doc.template_version)
    other = render_contract(load("supplier.zh-CN"))
    assert other.template_version.split("@")[1] != doc.template_version.split("@")[1]
    with pytest.raises(AttributeError):
        doc.html = "x"  # type: ignore[misc]


# --- missing data fails loudly ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "remove", "path"),
    [
        ("sales.zh-CN", "after_sales", "contract.after_sales"),
        ("sales.en", "delivery.place", "contract.delivery.place"),
        ("sales.zh-CN", "items.0.unit_price", "contract.items[0].unit_price"),
        ("service.en", "service.standard", "contract.service.standard"),
        ("service.zh-CN", "end_date", "contract.end_date"),
        ("partner.zh-CN", "breach", "contract.breach"),
        ("partner.en", "responsibilities.counterparty", "contract.responsibilities.counterparty"),
        ("supplier.zh-CN", "items.0.specification", "contract.items[0].specification"),
        ("supplier.en", "signers.1.name", "contract.signers[1].name"),
        ("sales.zh-CN", "number", "contract.number"),
    ],
)
def test_missing_required_field_names_its_path(name: str, remove: str, path: str) -> None:
    contract = load(name)
    *parents, last = remove.split(".")
    holder = dig(contract, ".".join(parents)) if parents else contract
    del holder[int(last) if isinstance(holder, list) else last]
    with pytest.raises(RenderError) as info:
        render_contract(contract)
    error = info.value
    assert error.field == path
    assert f"missing field {path}" in str(error)
    assert str(error).startswith(f"cannot render contracts/{name}.html.j2")
    assert "Traceback" not in str(error) and "jinja2" not in str(error)
    assert error.__cause__ is None and error.__suppress_context__
    assert error.location and re.fullmatch(r"contracts/[\w.-]+\.html\.j2:\d+", error.location)


def test_bad_amount_is_a_render_error() -> None:
    contract = load("sales.zh-CN")
    contract["amount"] = "12O000.00"
    with pytest.raises(RenderError, match="not a decimal number"):
        render_contract(contract)
    contract = load("sales.zh-CN")
    contract["items"][0]["quantity"] = 200.0
    with pytest.raises(RenderError, match="float"):
        render_contract(contract)


# --- tenant overrides ------------------------------------------------------------------------------


def test_tenant_override_of_a_document() -> None:
    overrides = DictTemplateOverrides(
        {"t-1": {"contracts/sales.zh-CN.html.j2": "<h1>{{ contract.title }}</h1><p>{{ contract.amount | money }}</p>"}}
    )
    contract = load("sales.zh-CN")
    contract["title"] = "<b>定制</b>"
    doc = render_contract(contract, overrides=overrides, tenant_id="t-1")
    assert doc.html == "<h1>&lt;b&gt;定制&lt;/b&gt;</h1><p>128,000.00</p>"
    assert re.fullmatch(r"tenant:t-1/sales\.zh-CN@[0-9a-f]{12}", doc.template_version)
    assert doc.template_name == "contracts/sales.zh-CN.html.j2"
    # another tenant, and a tenant without overrides, get the built-in document
    for tenant in ("t-2", None):
        default = render_contract(contract, overrides=overrides if tenant else None, tenant_id=tenant)
        assert default.template_version.startswith("sales.zh-CN@")
        assert "第一条" in default.html


def test_tenant_override_of_the_base_is_used_by_the_built_in_document() -> None:
    base = (
        "<!DOCTYPE html><html><body><header>ACME {{ contract.number }}</header>"
        "{% set c = contract %}{% set zh = true %}"
        "{% macro clause(t) %}<h2>{{ t }}</h2>{% endmacro %}"
        "{% macro items_table(items) %}<table>{% for i in items %}<tr><td>{{ i.description }}</td></tr>"
        "{% endfor %}</table>{% endmacro %}"
        "{% macro field(l, v) %}<p>{{ l }}: {{ v }}</p>{% endmacro %}"
        "{% macro amount(v) %}{{ v | money }} / {{ v | capitals }}{% endmacro %}"
        "{% macro payment_clause(t, with_amount=true) %}{{ clause(t) }}{% endmacro %}"
        "{% macro delivery_clause(t) %}{{ clause(t) }}{% endmacro %}"
        "{% macro text_clause(t, v) %}{{ clause(t) }}<p>{{ v }}</p>{% endmacro %}"
        "{% macro term_clause(t) %}{{ clause(t) }}{% endmacro %}"
        "{% block clauses %}{% endblock %}"
        "{% for s in contract.signers %}<i>{{ sign_here_anchor(loop.index) }}</i>{% endfor %}</body></html>"
    )
    overrides = DictTemplateOverrides({"acme": {"contracts/_base.html.j2": base}})
    doc = render_contract(load("sales.zh-CN"), overrides=overrides, tenant_id="acme")
    assert "<header>ACME HT-2026-0117</header>" in doc.html
    assert "<h2>售后服务</h2>" in doc.html  # the built-in sales document filled the tenant's base
    assert "128,000.00 / 壹拾贰万捌仟元整" in doc.html
    assert "<i>/sn1/</i><i>/sn2/</i>" in doc.html
    assert doc.template_version.startswith("tenant:acme/sales.zh-CN@")
    built_in = render_contract(load("sales.zh-CN"))
    assert built_in.template_version.split("@")[1] != doc.template_version.split("@")[1]


def test_tenant_version_changes_with_the_override() -> None:
    overrides = DictTemplateOverrides({"t": {"contracts/service.en.html.j2": "v1 {{ contract.number }}"}})
    first = render_contract(load("service.en"), overrides=overrides, tenant_id="t")
    overrides.put("t", "contracts/service.en.html.j2", "v2 {{ contract.number }}")
    second = render_contract(load("service.en"), overrides=overrides, tenant_id="t")
    assert (first.html, second.html) == ("v1 SVC-2026-042", "v2 SVC-2026-042")
    assert first.template_version != second.template_version


@pytest.mark.parametrize(
    "source",
    [
        "{{ contract.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ contract._data }}",
        "{% set _ = contract['items'].append(1) %}",
        "{% set _ = contract.signers.pop() %}",
        "{{ 'x' * 100000000 }}",
        "{{ 10 ** 100000 }}",
        "{% for i in range(10000000) %}{% endfor %}",
        "{{ contract.title",
        "{% include 'contracts/../../chalicelib/rendering/render.py' %}",
    ],
)
def test_tenant_templates_are_sandboxed(source: str) -> None:
    overrides = DictTemplateOverrides({"evil": {"contracts/sales.en.html.j2": source}})
    with pytest.raises(RenderError) as info:
        render_contract(load("sales.en"), overrides=overrides, tenant_id="evil")
    assert "Traceback" not in str(info.value)
    assert str(info.value).startswith("cannot render contracts/sales.en.html.j2")


def test_tenant_syntax_error_names_the_tenant_template() -> None:
    overrides = DictTemplateOverrides({"t": {"contracts/_base.html.j2": "line one\n{% if %}"}})
    with pytest.raises(RenderError, match=r"syntax error at tenant:t/contracts/_base\.html\.j2:2"):
        render_contract(load("partner.en"), overrides=overrides, tenant_id="t")


def test_tenant_template_cannot_unescape_crm_data_by_accident() -> None:
    contract = load("sales.en")
    contract["after_sales"] = "<script>alert(1)</script>"
    overrides = DictTemplateOverrides({"t": {"contracts/sales.en.html.j2": "<div>{{ contract.after_sales }}</div>"}})
    html = render_contract(contract, overrides=overrides, tenant_id="t").html
    assert html == "<div>&lt;script&gt;alert(1)&lt;/script&gt;</div>"


def test_overrides_need_a_tenant() -> None:
    with pytest.raises(ValueError, match="tenant_id"):
        render_contract(load("sales.en"), overrides=DictTemplateOverrides())


# --- cold start -----------------------------------------------------------------------------------

_IMPORT_PROBE = """
import json, sys
import chalicelib.rendering
import chalicelib.rendering.render
import chalicelib.rendering.environment
import chalicelib.rendering.filters
import chalicelib.rendering.data
import chalicelib.rendering.anchors
import chalicelib.rendering.overrides
before = sorted(m for m in ("jinja2", "cn2an", "markupsafe") if m in sys.modules)
from chalicelib.rendering.render import render_contract
body = json.load(open(sys.argv[1], encoding="utf-8"))
render_contract(body["contract"])
after = sorted(m for m in ("jinja2", "cn2an") if m in sys.modules)
print(json.dumps({"before": before, "after": after}))
"""


def test_importing_the_renderer_does_not_import_jinja2_or_cn2an() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE, str(FIXTURES / "sales.zh-CN.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    seen = json.loads(result.stdout)
    assert seen["before"] == []
    assert seen["after"] == ["cn2an", "jinja2"]  # the probe does see them once a render needs them
