"""The one home of outgoing email (chalicelib.notify.emails): every kind has its subject, text and
HTML template in both locales; the reasons an email quotes are said in its locale (an approval's
reasons, DocuSign's and our own void phrases), while their English text stays what the timeline shows."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.contracts.approval import ApprovalReason, approval_reasons, changed_after_approval
from chalicelib.contracts.status_reasons import recognise
from chalicelib.notify import emails
from chalicelib.rendering.environment import TEMPLATES_DIR

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"


pytestmark = pytest.mark.usefixtures("pinned_public_base_url")  # the emails' links


def record(locale: str, **fields: Any) -> Any:
    document = json.loads((FIXTURES / f"sales.{locale}.json").read_text())["contract"]
    values = {"contract_id": "ctr_1", "number": document["number"], "locale": locale, "document": document,
              "status": "voided", "status_reason": None, "signers": []}
    return SimpleNamespace(**{**values, **fields})


@pytest.mark.parametrize("kind", emails.KINDS)
@pytest.mark.parametrize("locale", emails.LOCALES)
def test_every_kind_has_its_three_templates_in_both_locales(kind: str, locale: str) -> None:
    for part in emails.PARTS:
        name = emails.template_name(kind, locale, part)
        assert (TEMPLATES_DIR / name).is_file(), name


def test_no_other_email_templates() -> None:
    expected = {emails.template_name(k, loc, p).removeprefix("emails/")
                for k in emails.KINDS for loc in emails.LOCALES for p in emails.PARTS}
    assert {p.name for p in (TEMPLATES_DIR / "emails").iterdir()} == expected


@pytest.mark.parametrize(("locale", "subject"), [("zh-CN", "合同待审批：HT-2026-0117 智能门锁销售合同"),
                                                 ("en", "Approval needed: SC-2026-0204 Smart Lock Sales Contract")])
def test_a_subject_is_one_line_of_plain_text(locale: str, subject: str) -> None:
    mail = emails.approval_request(record(locale), [], ["legal@x.example"])
    assert mail.subject == subject
    title = record(locale, document={**record(locale).document, "title": 'A & B <C>\n"D"'})
    assert emails.approval_request(title, [], ["legal@x.example"]).subject.endswith('A & B <C> "D"')


def test_approval_reasons_in_both_languages() -> None:
    document = {"type": "partner", "currency": "CNY", "amount": "128000.00"}
    rules = {"always": True, "types": ["partner"], "amount_over": {"CNY": "100000.00"}}
    reasons = approval_reasons(document, rules)
    assert reasons == ["every contract of this tenant needs approval", "contract type partner needs approval",
                       "amount CNY 128000.00 is over CNY 100000.00"]  # the English, as the timeline shows it
    assert [r.text("zh-CN") for r in reasons] == ["按本公司的审批规则，所有合同均需审批", "合作伙伴合同均需审批",
                                                  "合同金额 CNY 128000.00 超过审批限额 CNY 100000.00"]
    assert [r.text("en") for r in reasons] == reasons
    assert ApprovalReason("contract_type", type="lease").text("zh-CN") == "类型为 lease 的合同均需审批"


@pytest.mark.parametrize(("reason", "english", "chinese"), [
    (ApprovalReason("amount_over_unreadable", value="['CNY']"),
     "approval rule amount_over is not readable: ['CNY']", "审批规则中的金额限额无法读取：['CNY']"),
    (ApprovalReason("limit_unreadable", currency="CNY", value="'abc'"),
     "approval rule amount_over.CNY is not a decimal amount: 'abc'", "审批规则中 CNY 的金额限额不是有效金额：'abc'"),
    (ApprovalReason("amount_unreadable", value="128000.0"),
     "contract amount is not a decimal amount: 128000.0", "合同金额不是有效金额：128000.0"),
    (changed_after_approval("0123abcd", "4567ef01"),
     "the contract changed after it was approved (approved version 0123abcd, now 4567ef01)",
     "合同在审批通过后被修改（已审批版本 0123abcd，当前版本 4567ef01）"),
])
def test_every_approval_reason_in_both_languages(reason: ApprovalReason, english: str, chinese: str) -> None:
    assert reason == english and reason.text("zh-CN") == chinese


def test_an_approval_reason_survives_a_copy_and_json() -> None:
    reason = ApprovalReason("amount_over", currency="CNY", amount="2", limit="1")
    for again in (copy.deepcopy(reason), pickle.loads(pickle.dumps(reason))):
        assert again == reason and again.code == "amount_over" and again.text("zh-CN") == reason.text("zh-CN")
    assert json.dumps({"reasons": [reason]}) == '{"reasons": ["amount CNY 2 is over CNY 1"]}'


def test_the_approval_email_says_its_reasons_in_its_locale() -> None:
    reasons = [ApprovalReason("always"), "a reason from elsewhere"]
    zh = emails.approval_request(record("zh-CN"), reasons, ["legal@x.example"])
    assert "- 按本公司的审批规则，所有合同均需审批\n- a reason from elsewhere\n" in zh.text
    en = emails.approval_request(record("en"), reasons, ["legal@x.example"])
    assert "- every contract of this tenant needs approval\n" in en.text and "审批" not in en.text


@pytest.mark.parametrize(("reason", "code", "chinese"), [
    ("Envelope has expired.", "expired", "签署期限已过"),
    ("cancelled in the CRM", "cancelled_in_crm", "合同已在 CRM 中取消"),
    ("Cancelled in the CRM", "cancelled_in_crm", "合同已在 CRM 中取消"),
    ("Contract HT-1 was cancelled", "cancelled_while_sending", "合同 HT-1 在发送过程中被取消"),
    ("Duplicate of envelope env-9 for contract HT-1", "duplicate_envelope", "该信封与合同 HT-1 的信封 env-9 重复"),
])
def test_known_void_phrases_are_translated(reason: str, code: str, chinese: str) -> None:
    known = recognise(reason)
    assert known is not None and known.code == code
    assert known.text("zh-CN") == chinese and known.text("en") is None


@pytest.mark.parametrize("typed", ["customer withdrew", "客户取消", "the envelope has expired, says Bob", "", None])
def test_anything_else_is_someones_own_words(typed: str | None) -> None:
    assert recognise(typed) is None


def test_the_voided_notice_translates_a_known_phrase_and_quotes_a_typed_one() -> None:
    expired = emails.owner_notice(record("zh-CN", status_reason="Envelope has expired."))
    assert expired.subject.endswith("（签署期限已过）") and "原因：签署期限已过" in expired.text
    assert "Envelope" not in expired.text and "Envelope" not in (expired.html or "")
    typed = emails.owner_notice(record("zh-CN", status_reason="deal lost <again>"))
    assert not typed.subject.endswith("（签署期限已过）")
    assert "作废理由（原文）：deal lost <again>" in typed.text and "deal lost &lt;again&gt;" in (typed.html or "")
    english = emails.owner_notice(record("en", status_reason="Envelope has expired."))
    assert english.subject.endswith(" (signing period expired)") and "Reason: Envelope has expired." in english.text


def test_the_declined_notice_quotes_the_signer() -> None:
    signer = SimpleNamespace(name="李强", email="li.qiang@xinhe.example", status="declined", declined_reason="太贵")
    mail = emails.owner_notice(record("zh-CN", status="declined", status_reason="李强: 太贵", signers=[signer]))
    assert mail.subject == "合同被拒签：HT-2026-0117 智能门锁销售合同" and mail.to == ["wang.min@yunti.example"]
    assert "已被 李强（li.qiang@xinhe.example）拒签" in mail.text and "拒签理由（原文）：太贵" in mail.text
