"""Bilingual documents (locale "zh-CN+en"): one HTML document, the Chinese and English texts side by
side clause by clause, a clause saying which text prevails, 大写 in the Chinese column, and the
DocuSign anchors of each signer exactly once (one tab set per signer in the envelope)."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.notify import emails
from chalicelib.rendering.anchors import date_signed_anchor, full_name_anchor, sign_here_anchor
from chalicelib.rendering.render import DictTemplateOverrides, RenderError, render_contract, template_name_for

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "contracts"

# The sales contract's clauses, in order, as each text titles them (the general provisions last).
ZH_CLAUSES = ["产品名称、规格、数量及价款", "付款方式及期限", "交货时间、地点及方式", "售后服务", "合同期限",
              "其他约定"]
EN_CLAUSES = ["Goods and price", "Payment", "Delivery", "After-sales service and warranty", "Term",
              "General provisions"]
ZH_ORDINALS = ["一", "二", "三", "四", "五", "六"]
# devstack/samples/sales.json: 128,000.00 in total, paid 38,400.00 then 89,600.00.
CAPITALS = ["壹拾贰万捌仟元整", "叁万捌仟肆佰元整", "捌万玖仟陆佰元整"]


def sales(**changes: Any) -> dict[str, Any]:
    """The CONTRACT.md sales example (devstack/samples/sales.json), changed."""
    contract = json.loads((ROOT / "devstack" / "samples" / "sales.json").read_text(encoding="utf-8"))["contract"]
    return {**contract, "locale": "zh-CN+en", **changes}


class _Rows(HTMLParser):
    """The two-column rows of a bilingual document: (section, [zh-CN cell text, en cell text])."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[str, list[str]]] = []
        self.depth = 0  # <td> nesting inside the current cell
        self.row: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("class") == "pair":
            self.row = (str(found["data-section"]), [])
            self.rows.append(self.row)
        elif tag == "td" and self.row is not None:
            if self.depth == 0:
                self.row[1].append("")
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self.row is not None:
            self.depth -= 1
        elif tag == "tr" and self.depth == 0:
            self.row = None

    def handle_data(self, data: str) -> None:
        if self.row is not None and self.depth > 0:
            self.row[1][-1] += data


def rows(html: str) -> list[tuple[str, list[str]]]:
    parser = _Rows()
    parser.feed(html)
    return parser.rows


def test_one_document_with_both_texts_clause_by_clause() -> None:
    doc = render_contract(sales())
    html = doc.html
    assert html.count("<!DOCTYPE html>") == 1 and html.count("<html") == 1 and html.count("</body>") == 1
    assert "<!--sb:" not in html  # the section marks are consumed
    assert doc.locale == "zh-CN+en"
    assert doc.template_name == "contracts/sales.zh-CN+en.html.j2" == template_name_for("sales", "zh-CN+en")
    assert re.fullmatch(r"sales\.zh-CN\+en@[0-9a-f]{12}", doc.template_version)

    found = rows(html)
    assert [section for section, _ in found] == ["parties", "preamble"] + ["clause"] * len(ZH_CLAUSES)
    assert all(len(cells) == 2 for _, cells in found)
    clauses = [cells for section, cells in found if section == "clause"]
    for i, (zh, en) in enumerate(clauses):
        assert f"第{ZH_ORDINALS[i]}条" in zh and ZH_CLAUSES[i] in zh and EN_CLAUSES[i] not in zh
        assert f"{i + 1}." in en and EN_CLAUSES[i] in en and ZH_CLAUSES[i] not in en
    parties_zh, parties_en = found[0][1]
    assert "卖方" in parties_zh and "买方" in parties_zh
    assert "Seller" in parties_en and "Buyer" in parties_en


def test_the_chinese_text_prevails_by_default() -> None:
    zh, en = rows(render_contract(sales()).html)[-1][1]  # the general provisions
    assert "两种文本如有任何不一致，以中文文本为准" in zh
    assert "In case of any discrepancy between the two texts, the Chinese text shall prevail." in en
    assert "英文文本为准" not in zh and "English text shall prevail" not in en


def test_the_contract_may_make_the_english_text_prevail() -> None:
    html = render_contract(sales(prevailing_language="en")).html
    zh, en = rows(html)[-1][1]
    assert "以英文文本为准" in zh and "the English text shall prevail" in en
    assert "以中文文本为准" not in html and "Chinese text shall prevail" not in html
    assert "以此为准 prevailing</th>" in html.split('<th lang="en"', 1)[1]  # the English column is marked


def test_amounts_in_capitals_in_the_chinese_column_only() -> None:
    found = rows(render_contract(sales()).html)
    zh_text = "".join(cells[0] for _, cells in found)
    en_text = "".join(cells[1] for _, cells in found)
    for capitals in CAPITALS:
        assert capitals in zh_text and capitals not in en_text
    assert "人民币 128,000.00 元（大写：壹拾贰万捌仟元整）" in zh_text
    assert "CNY 128,000.00" in en_text


def test_each_signer_has_one_set_of_anchors() -> None:
    contract = sales()
    html = render_contract(contract).html
    for n in range(1, len(contract["signers"]) + 1):
        for anchor in (sign_here_anchor(n), date_signed_anchor(n), full_name_anchor(n)):
            assert html.count(anchor) == 1, anchor
    assert sign_here_anchor(len(contract["signers"]) + 1) not in html
    # The signature block comes once, after the two columns, labelled in both languages.
    tail = html[html.rindex("</tbody>"):]
    assert sign_here_anchor(1) in tail and "授权代表签字 Signature" in tail and "签署日期 Date" in tail


def test_three_signers_still_one_set_each() -> None:
    contract = sales()
    contract["signers"] = [*contract["signers"], {"party": "ours", "name": "赵六", "email": "zhao@yunti.example",
                                                   "routing_order": 3, "delivery": "email"}]
    html = render_contract(contract).html
    for n in (1, 2, 3):
        assert [html.count(a) for a in (sign_here_anchor(n), date_signed_anchor(n), full_name_anchor(n))] == [1, 1, 1]


@pytest.mark.parametrize("kind", ["sales", "service", "partner", "supplier"])
def test_every_type_has_a_bilingual_document(kind: str) -> None:
    contract = json.loads((FIXTURES / f"{kind}.zh-CN.json").read_text(encoding="utf-8"))["contract"]
    contract["locale"] = "zh-CN+en"
    html = render_contract(contract).html
    found = rows(html)
    assert found and all(len(cells) == 2 for _, cells in found)
    assert "以中文文本为准" in html and "the Chinese text shall prevail" in html
    for n in range(1, len(contract["signers"]) + 1):
        assert html.count(sign_here_anchor(n)) == 1


def test_crm_text_cannot_forge_a_section_mark() -> None:
    html = render_contract(sales(after_sales="保修 <!--sb:clause--> 24 个月 <!--sb:signatures-->")).html
    assert len(rows(html)) == 2 + len(ZH_CLAUSES)
    assert "&lt;!--sb:clause--&gt;" in html and "<!--sb:" not in html


def test_single_language_documents_are_unchanged_by_the_bilingual_mode() -> None:
    single = render_contract(sales(locale="zh-CN")).html
    assert "<!--sb:" not in single and "Contract No." not in single and "以中文文本为准" not in single


def test_an_override_of_the_base_without_section_marks_cannot_be_set_side_by_side() -> None:
    base = (ROOT / "templates" / "contracts" / "_base.html.j2").read_text(encoding="utf-8")
    unmarked = base.replace("<!--sb:{{ name }}-->", "")
    overrides = DictTemplateOverrides({"t-1": {"contracts/_base.html.j2": unmarked}})
    with pytest.raises(RenderError, match="does not mark its sections"):
        render_contract(sales(), overrides=overrides, tenant_id="t-1")
    # The tenant's single-language documents still render.
    assert render_contract(sales(locale="en"), overrides=overrides, tenant_id="t-1").html


def test_texts_with_different_clauses_are_refused() -> None:
    en = (ROOT / "templates" / "contracts" / "sales.en.html.j2").read_text(encoding="utf-8")
    fewer = en.replace('{{ text_clause("After-sales service and warranty", contract.after_sales) }}', "")
    overrides = DictTemplateOverrides({"t-1": {"contracts/sales.en.html.j2": fewer}})
    with pytest.raises(RenderError, match="clauses zh-CN: 6, en: 5"):
        render_contract(sales(), overrides=overrides, tenant_id="t-1")


@pytest.mark.usefixtures("pinned_public_base_url")
@pytest.mark.parametrize(("prevailing", "language"), [(None, "zh-CN"), ("zh-CN", "zh-CN"), ("en", "en")])
def test_emails_about_a_bilingual_contract_are_in_its_prevailing_language(prevailing: str | None,
                                                                          language: str) -> None:
    document = copy.deepcopy(sales(**({"prevailing_language": prevailing} if prevailing else {})))
    record = SimpleNamespace(contract_id="ctr_1", number=document["number"], locale="zh-CN+en", document=document,
                             status="voided", status_reason="Envelope has expired.", signers=[])
    mail = emails.owner_notice(record)
    if language == "zh-CN":
        assert mail.subject.endswith("（签署期限已过）")
    else:
        assert mail.subject.endswith(" (signing period expired)")
    assert emails.approval_request(record, [], ["legal@x.example"]).subject


# Each type's roles as its zh-CN and en texts name them (templates/contracts/<type>.<locale>.html.j2):
# the signature block of a bilingual document names each party's role in both languages.
ROLES = {
    "sales": {"ours": ("卖方", "Seller"), "counterparty": ("买方", "Buyer")},
    "service": {"ours": ("服务方", "Service Provider"), "counterparty": ("委托方", "Client")},
    "partner": {"ours": ("甲方", "Party A"), "counterparty": ("乙方", "Party B")},
    "supplier": {"ours": ("采购方", "Buyer"), "counterparty": ("供应方", "Supplier")},
}


def signature_labels(html: str) -> list[str]:
    """The party labels of the signature block (after the two columns), in page order."""
    tail = html[html.rindex('class="signatures"'):]
    return re.findall(r'<p style="[^"]*"><span style="[^"]*">([^<]+)</span></p>', tail)


@pytest.mark.parametrize("prevailing", [None, "en"])
@pytest.mark.parametrize("kind", ["sales", "service", "partner", "supplier"])
def test_the_signature_block_names_each_role_in_both_languages(kind: str, prevailing: str | None) -> None:
    contract = json.loads((FIXTURES / f"{kind}.zh-CN.json").read_text(encoding="utf-8"))["contract"]
    contract["locale"] = "zh-CN+en"
    if prevailing:
        contract["prevailing_language"] = prevailing
    labels = signature_labels(render_contract(contract).html)
    colon = ":" if prevailing == "en" else "："
    expected = {f"{zh} / {en}（盖章）{colon}" for zh, en in ROLES[kind].values()}
    assert set(labels) == expected


def test_single_language_signature_blocks_name_one_role() -> None:
    assert signature_labels(render_contract(sales(locale="zh-CN")).html) == ["卖方（盖章）：", "买方（盖章）："]
    assert signature_labels(render_contract(sales(locale="en")).html) == ["Seller:", "Buyer:"]


def test_a_working_day_notice_period_is_printed_as_working_days_in_both_texts() -> None:
    contract = json.loads((FIXTURES / "service.zh-CN.json").read_text(encoding="utf-8"))["contract"]
    del contract["renewal_notice_days"]
    contract.update(locale="zh-CN+en", renewal_notice_working_days=10)
    zh, en = [cells for section, cells in rows(render_contract(contract).html) if "期满" in cells[0]][0]
    assert "应于期满前 10 个工作日书面通知对方" in zh
    assert "at least 10 working days before the end date" in en
    contract.update(renewal_notice_days=60, renewal_notice_working_days=None)
    zh, en = [cells for section, cells in rows(render_contract(contract).html) if "期满" in cells[0]][0]
    assert "应于期满前 60 日书面通知对方" in zh and "at least 60 days before the end date" in en
