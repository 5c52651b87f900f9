"""A zh-CN contract's emails are in Chinese from subject to footer, an en contract's in English: the
approver's request (its reasons included), and the owner's notice of a decline or a void (DocuSign's
expiry and our own CRM cancel translated; what a sender or signer typed quoted as typed, under a
Chinese label). Sent through the real pieces and read back from SES."""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any

from tests.integration.test_approval import APPROVER, post, set_rules
from tests.support.esign import send, submit, webhook_body
from tests.support.stack import SentEmail, StackHarness, sign_as

OWNER = "wang.min@yunti.example"
RULES = {"approvers": [APPROVER], "always": True, "types": ["sales"],
         "amount_over": {"CNY": "100000.00", "USD": "15000.00"}}
# Proper nouns a Chinese reader reads as they are: the e-signature service, the CRM, our product and its API.
PROPER_NOUNS = {"DocuSign", "CRM", "signbridge", "API"}
URL = re.compile(r"https?://[^\s<>\"）]+")
EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# The API call an approver makes, quoted verbatim: the method, the URL and the JSON field.
API_CALL = re.compile(r"POST https?://\S+|\"reason\"")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(html: str | None) -> str:
    parser = _Text()
    parser.feed(html or "")
    return " ".join(parser.parts)


def everything(mail: SentEmail) -> str:
    """What a reader sees: the subject, the plain text and the HTML's text (not its tags)."""
    return "\n".join([mail.subject, mail.text, html_text(mail.html)])


def data_of(document: dict[str, Any], *typed: str) -> list[str]:
    """The contract's own values an email may quote: number, names, amount and currency, and what
    someone typed."""
    parties = document.get("parties") or {}
    values = [document["number"], document.get("currency") or "", str(document.get("amount") or ""),
              (document.get("owner") or {}).get("name") or "",
              *[(p or {}).get("name") or "" for p in parties.values()],
              *[s.get("name") or "" for s in document.get("signers") or []], *typed]
    return [v for v in values if v]


def words_left(mail: SentEmail, data: Iterable[str]) -> set[str]:
    """The Latin words of an email once URLs, addresses, the API call, the contract's data and the
    proper nouns are taken out: none, for an email entirely in Chinese."""
    text = API_CALL.sub(" ", everything(mail))
    text = EMAIL_ADDRESS.sub(" ", URL.sub(" ", text))
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return set(re.findall(r"[A-Za-z]{2,}", text)) - PROPER_NOUNS


def assert_chinese(mail: SentEmail, data: Iterable[str]) -> None:
    assert words_left(mail, data) == set(), everything(mail)
    assert mail.html and 'lang="zh-CN"' in mail.html


def assert_english(mail: SentEmail) -> None:
    assert not CJK.findall(everything(mail)), everything(mail)
    assert mail.html and 'lang="en"' in mail.html


def body(fixture: str, crm_record_id: str, number: str) -> dict[str, Any]:
    """A fixture contract under its own number, so that each email can be told by its subject."""
    contract = webhook_body(fixture, crm_record_id=crm_record_id)
    contract["contract"]["number"] = number
    return contract


def mail_about(stack: StackHarness, number: str, to: str) -> SentEmail:
    found: list[SentEmail] = []

    def arrived() -> bool:
        found[:] = [m for m in stack.sent_emails() if number in m.subject and to in m.to]
        return bool(found)

    stack.wait_until(arrived, what=f"the email about {number} to {to}")
    assert len(found) == 1, [m.subject for m in found]
    return found[0]


def test_the_approval_request_lists_its_reasons_in_the_contracts_language(stack: StackHarness) -> None:
    set_rules(stack, RULES)
    zh_body, en_body = body("sales.zh-CN", "approve-zh", "HT-2026-0301"), body("sales.en", "approve-en", "SC-2026-0301")
    zh_id, en_id = submit(stack, zh_body), submit(stack, en_body)
    stack.drain_jobs()

    zh = mail_about(stack, "HT-2026-0301", APPROVER)
    assert zh.subject == "合同待审批：HT-2026-0301 智能门锁销售合同"
    for reason in ("按本公司的审批规则，所有合同均需审批", "销售合同均需审批",
                   "合同金额 CNY 128000.00 超过审批限额 CNY 100000.00"):
        assert reason in zh.text and reason in html_text(zh.html)
    assert_chinese(zh, data_of(zh_body["contract"]))

    en = mail_about(stack, "SC-2026-0301", APPROVER)
    assert en.subject == "Approval needed: SC-2026-0301 Smart Lock Sales Contract"
    for reason in ("every contract of this tenant needs approval", "contract type sales needs approval",
                   "amount USD 58485.00 is over USD 15000.00"):
        assert reason in en.text and reason in html_text(en.html)
    assert_english(en)

    # The timeline keeps the reasons in English, whatever the contract's language.
    for contract_id, amount in ((zh_id, "CNY 128000.00 is over CNY 100000.00"),
                                (en_id, "USD 58485.00 is over USD 15000.00")):
        required = next(e for e in stack.timeline(contract_id) if e["type"] == "approval_required")
        assert required["detail"]["reasons"] == ["every contract of this tenant needs approval",
                                                 "contract type sales needs approval", f"amount {amount}"]


def test_an_expired_envelope_is_told_in_chinese_or_in_english(stack: StackHarness) -> None:
    from tests.integration.test_esign_envelopes import set_signing_settings

    set_signing_settings(stack, {"expire_after_days": 3, "expire_warn_days": 1})
    zh_body, en_body = body("sales.zh-CN", "expire-zh", "HT-2026-0302"), body("sales.en", "expire-en", "SC-2026-0302")
    zh_contract, en_contract = send(stack, zh_body), send(stack, en_body)
    stack.settle_connect()
    stack.sandbox("POST", "/sandbox/clock", {"advance_days": 4})
    for contract in (zh_contract, en_contract):
        assert stack.wait_status(contract["contract_id"], "voided")["status_reason"] == "Envelope has expired."

    zh = mail_about(stack, "HT-2026-0302", OWNER)
    assert zh.subject == "合同已作废：HT-2026-0302 智能门锁销售合同（签署期限已过）"
    assert "原因：签署期限已过" in zh.text and "expired" not in everything(zh)
    assert_chinese(zh, data_of(zh_body["contract"]))

    en = mail_about(stack, "SC-2026-0302", OWNER)
    assert en.subject == "Contract voided: SC-2026-0302 Smart Lock Sales Contract (signing period expired)"
    assert "Reason: Envelope has expired." in en.text
    assert_english(en)


def test_a_void_by_the_sender_or_the_crm_and_a_decline_are_told_in_chinese(stack: StackHarness) -> None:
    voided_body = body("sales.zh-CN", "void-zh", "HT-2026-0303")
    cancelled_body = body("sales.zh-CN", "cancel-zh", "HT-2026-0304")
    declined_body = body("sales.zh-CN", "decline-zh", "HT-2026-0305")
    voided, declined = send(stack, voided_body), send(stack, declined_body)
    send(stack, cancelled_body)

    # The sender's own words, in English: quoted as typed, under a Chinese label.
    assert post(stack, voided["contract_id"], "void", {"reason": "customer withdrew"}).status_code == 200
    assert stack.post_webhook({"event": "contract.cancelled",
                               "contract": {"crm_record_id": "cancel-zh"}}).status_code == 202
    assert sign_as(stack, declined["contract_id"], 1, "decline", "price too high")[0] < 400  # an email signer: 200

    mail = mail_about(stack, "HT-2026-0303", OWNER)
    assert mail.subject == "合同已作废：HT-2026-0303 智能门锁销售合同"
    assert "作废理由（原文）：customer withdrew" in mail.text
    assert_chinese(mail, data_of(voided_body["contract"], "customer withdrew"))

    mail = mail_about(stack, "HT-2026-0304", OWNER)  # our own phrase, "cancelled in the CRM", translated
    assert "原因：合同已在 CRM 中取消" in mail.text and "cancelled" not in everything(mail)
    assert_chinese(mail, data_of(cancelled_body["contract"]))

    mail = mail_about(stack, "HT-2026-0305", OWNER)
    assert mail.subject == "合同被拒签：HT-2026-0305 智能门锁销售合同"
    assert "拒签理由（原文）：price too high" in mail.text and "李强" in mail.text
    assert_chinese(mail, data_of(declined_body["contract"], "price too high"))


def test_the_owner_notices_of_an_en_contract_are_in_english(stack: StackHarness) -> None:
    voided_body, declined_body = body("sales.en", "void-en", "SC-2026-0303"), body("sales.en", "decline-en",
                                                                                    "SC-2026-0305")
    voided, declined = send(stack, voided_body), send(stack, declined_body)
    assert post(stack, voided["contract_id"], "void", {"reason": "customer withdrew"}).status_code == 200
    assert sign_as(stack, declined["contract_id"], 1, "decline", "price too high")[0] < 400  # an email signer: 200

    mail = mail_about(stack, "SC-2026-0303", OWNER)
    assert mail.subject == "Contract voided: SC-2026-0303 Smart Lock Sales Contract"
    assert "Reason: customer withdrew" in mail.text
    assert_english(mail)

    mail = mail_about(stack, "SC-2026-0305", OWNER)
    assert mail.subject == "Contract declined: SC-2026-0305 Smart Lock Sales Contract"
    assert "Reason given: price too high" in mail.text and "Rachel Tan" in mail.text
    assert_english(mail)
