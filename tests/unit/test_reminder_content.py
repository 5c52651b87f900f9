"""What a reminder email says, for every kind, in zh-CN and en: subject, text and HTML with the contract
number, counterparty, amount (大写 in zh-CN), dates in the locale, what to do, a link, what is still
open after a partial payment, the escalation note, and the .ics for the deadline."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.core.link_keys import new_ring
from chalicelib.lifecycle.share_tokens import read_token
from chalicelib.reminders.content import compose
from chalicelib.reminders.planning import business_moment, in_business_hours, plan_reminders
from chalicelib.reminders.settings import TenantSettings

pytestmark = pytest.mark.usefixtures("pinned_public_base_url")  # the emails' links

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"
RING = new_ring()  # seals each email's contract-page link
TENANT = TenantSettings.from_dict({"payment": {"manager_email": "boss@yunti.example",
                                               "finance_email": "finance@yunti.example"}})


def sample(name: str, **changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())["contract"]
    document.update(changes)
    return document


def record(document: dict[str, Any]) -> Any:
    return SimpleNamespace(tenant_id="t1", contract_id="ctr_1", number=document["number"], locale=document["locale"],
                           document=document, contract_type=document["type"], milestones=None, term=None)


def item(planned: Any, **detail: Any) -> Any:
    d: dict[str, Any] = {"anchor_date": planned.anchor_date.isoformat(), "time_zone": str(planned.local_due.tzinfo),
                         "offset_days": planned.offset_days, "milestone_id": planned.milestone_id,
                         "escalation": planned.escalation}
    for name in ("amount_due", "amount_remaining"):
        if getattr(planned, name) is not None:
            d[name] = str(getattr(planned, name))
    d.update(detail)
    return SimpleNamespace(kind=str(planned.kind), detail=d, to=planned.to, cc=planned.cc, reminder_key=planned.key)


def emails(document: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for p in plan_reminders(document, "ctr_1", TENANT):
        out[p.key.split(":", 1)[1]] = compose(record(document), item(p), p.due_at, TENANT, RING)
    return out


def test_every_zh_cn_kind() -> None:
    got = {k: e.subject for k, e in emails(sample("sales")).items()}
    assert got == {
        "payment:pay-1:2026-12-11:before:-7d": "付款提醒：HT-2026-0117 预付款 将于 2026年12月11日 到期",
        "payment:pay-1:2026-12-11:due": "付款到期：HT-2026-0117 预付款（到期日 2026年12月11日）",
        "payment:pay-1:2026-12-11:overdue:+1d": "付款逾期：HT-2026-0117 预付款 已逾期 3 天",  # Fri -> Mon
        "payment:pay-1:2026-12-11:overdue:+7d": "付款逾期：HT-2026-0117 预付款 已逾期 7 天",
        "payment:pay-1:2026-12-11:overdue:+14d": "付款逾期：HT-2026-0117 预付款 已逾期 14 天",
        "payment:pay-1:2026-12-11:overdue:+30d": "付款逾期：HT-2026-0117 预付款 已逾期 31 天",  # Sun -> Mon
        "delivery:dlv-1:2027-01-15:before:-3d": "交付提醒：HT-2026-0117 整批交货 将于 2027年1月15日 到期",
        "delivery:dlv-1:2027-01-15:overdue:+1d": "交付逾期：HT-2026-0117 整批交货 已逾期 3 天",
        "delivery:dlv-1:2027-01-15:overdue:+7d": "交付逾期：HT-2026-0117 整批交货 已逾期 7 天",
        # Due Sun 02-14, payable Mon 02-15: the overdue count starts there.
        "payment:pay-2:2027-02-14:before:-7d": "付款提醒：HT-2026-0117 尾款 将于 2027年2月14日 到期",
        "payment:pay-2:2027-02-14:due": "付款到期：HT-2026-0117 尾款（到期日 2027年2月14日）",
        "payment:pay-2:2027-02-14:overdue:+1d": "付款逾期：HT-2026-0117 尾款 已逾期 1 天",
        "payment:pay-2:2027-02-14:overdue:+7d": "付款逾期：HT-2026-0117 尾款 已逾期 7 天",
        "payment:pay-2:2027-02-14:overdue:+14d": "付款逾期：HT-2026-0117 尾款 已逾期 14 天",
        "payment:pay-2:2027-02-14:overdue:+30d": "付款逾期：HT-2026-0117 尾款 已逾期 30 天",
        "expiry:2027-11-30:-90d": "合同即将到期：HT-2026-0117（2027年11月30日到期，剩余 90 天）",
        "expiry:2027-11-30:-30d": "合同即将到期：HT-2026-0117（2027年11月30日到期，剩余 29 天）",  # Mon 11-01
        "expiry:2027-11-30:-7d": "合同即将到期：HT-2026-0117（2027年11月30日到期，剩余 7 天）",
    }


def test_zh_cn_body_has_the_facts_the_capitals_and_what_to_do() -> None:
    email = emails(sample("sales"))["payment:pay-2:2027-02-14:due"]
    for text in (email.text, email.html):
        assert "HT-2026-0117" in text and "杭州新禾贸易有限公司" in text
        assert "人民币 128,000.00 元" in text and "壹拾贰万捌仟元整" in text  # the contract amount
        assert "人民币 89,600.00 元" in text and "捌万玖仟陆佰元整" in text  # this milestone
        assert "2027年2月14日" in text and "2026年12月1日 至 2027年11月30日" in text
        assert "请确认杭州新禾贸易有限公司是否已付款" in text  # we sell: they pay, we chase
        # The addressees' own contract page: a payment reminder's lets them mark this milestone paid.
        [token] = re.findall(r"http://127\.0\.0\.1:8000/c/([0-9a-f]{8}\.[A-Za-z0-9_-]+)", text)
        claims = read_token(token, RING)
        assert claims is not None and (claims.tenant_id, claims.contract_id) == ("t1", "ctr_1")
        assert (claims.scope, claims.milestone_id, claims.language) == (("paid",), "pay-2", "zh-CN")
        assert claims.recipient == "wang.min@yunti.example"
    assert email.html.startswith("<!doctype html>") and 'lang="zh-CN"' in email.html
    expiry = emails(sample("sales"))["expiry:2027-11-30:-30d"]
    assert "距今还有 29 天" in expiry.text and "续签" in expiry.text


def test_partial_payment_shows_what_is_still_open() -> None:
    document = sample("sales")
    [p] = [p for p in plan_reminders(document, "ctr_1", TENANT) if p.key.endswith("pay-2:2027-02-14:overdue:+7d")]
    email = compose(record(document), item(p, amount_remaining="49600.00"), p.due_at, TENANT, RING)
    assert email.subject == "付款逾期：HT-2026-0117 尾款 已逾期 7 天（尚欠 人民币 49,600.00 元）"
    assert "目前已收 人民币 40,000.00 元，尚欠 人民币 49,600.00 元" in email.text
    assert "尚欠金额：人民币 49,600.00 元（大写：肆万玖仟陆佰元整）" in email.text
    assert "【已升级】本提醒已同时发送给主管。" in email.text and "已升级" in email.html
    assert email.to == ["wang.min@yunti.example", "boss@yunti.example"]


def test_escalation_to_finance() -> None:
    email = emails(sample("sales"))["payment:pay-2:2027-02-14:overdue:+14d"]
    assert "【已升级】本提醒已同时发送给主管和财务。" in email.text
    assert email.to == ["wang.min@yunti.example", "boss@yunti.example", "finance@yunti.example"]


def test_every_en_kind() -> None:
    got = {k: e.subject for k, e in emails(sample("service")).items() if ":q1:" in k or "renewal" in k}
    assert got == {
        # Q1 due Sun 2027-01-31 (Berlin): payable Mon 02-01.
        "payment:q1:2027-01-31:before:-7d": "Payment reminder: SVC-2026-042 Q1 2027 is due on 31 January 2027",
        "payment:q1:2027-01-31:due": "Payment due: SVC-2026-042 Q1 2027 (due 31 January 2027)",
        "payment:q1:2027-01-31:overdue:+1d": "Payment overdue: SVC-2026-042 Q1 2027 is 1 day overdue",
        "payment:q1:2027-01-31:overdue:+7d": "Payment overdue: SVC-2026-042 Q1 2027 is 7 days overdue",
        "payment:q1:2027-01-31:overdue:+14d": "Payment overdue: SVC-2026-042 Q1 2027 is 14 days overdue",
        "payment:q1:2027-01-31:overdue:+30d": "Payment overdue: SVC-2026-042 Q1 2027 is 30 days overdue",
        # Cancel-by: 12-31 - 60 days = Mon 11-01.
        "renewal:2027-11-01:-30d": "Contract renews automatically: SVC-2026-042 (give notice by 1 November 2027 "
                                   "to stop it)",
        "renewal:2027-11-01:-7d": "Contract renews automatically: SVC-2026-042 (give notice by 1 November 2027 "
                                  "to stop it)",
    }
    email = emails(sample("service"))["renewal:2027-11-01:-30d"]
    assert "the next term runs from 1 January 2028 to 31 December 2028" in email.text
    assert "(the contract requires 60 days' notice)" in email.text
    assert "Contract amount: EUR 36,000.00" in email.text and "大写" not in email.text
    assert "Nordlicht Logistics AG" in email.html and 'lang="en"' in email.html


def test_a_supplier_contract_is_ours_to_pay_and_theirs_to_deliver() -> None:
    document = sample("supplier")
    got = emails(document)
    before = next(e for k, e in got.items() if k.startswith("payment") and k.endswith("before:-7d"))
    assert "Schedule the payment to" in before.text or "请在到期日前安排向" in before.text
    delivery = next((e for k, e in got.items() if k.startswith("delivery") and "overdue" in k), None)
    if delivery is not None:
        assert "催促交付" in delivery.text or "Chase" in delivery.text


def test_html_escapes_what_the_crm_sent() -> None:
    document = sample("service")
    document["parties"]["counterparty"]["name"] = '<script>alert("x")</script> & Co'
    email = next(iter(emails(document).values()))
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert '<script>alert("x")</script> & Co' in email.text  # plain text is not HTML-escaped


@pytest.mark.parametrize("name", ["sales", "service", "partner", "supplier"])
def test_each_email_carries_its_deadline_as_an_ics(name: str) -> None:
    for key, email in emails(sample(name)).items():
        [attachment] = email.attachments
        assert attachment.mime_type == "text/calendar" and attachment.filename.endswith(".ics")
        ics = attachment.content.decode()
        unfolded = ics.replace("\r\n ", "")
        assert f"UID:ctr_1:{key}@signbridge" in unfolded.replace("\\,", ",").replace("\\;", ";")
        anchor = re.search(r"\d{4}-\d{2}-\d{2}", key)  # the deadline is in every key
        assert anchor is not None
        assert f"DTSTART;VALUE=DATE:{anchor.group().replace('-', '')}\r\n" in ics


# --- business hours at send time -----------------------------------------------------------------


def test_in_business_hours_and_the_next_business_moment() -> None:
    from zoneinfo import ZoneInfo

    shanghai = ZoneInfo("Asia/Shanghai")
    s = TenantSettings()

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    assert in_business_hours(s, shanghai, at("2030-01-08T01:00"))  # Tue 09:00
    assert in_business_hours(s, shanghai, at("2030-01-08T09:59"))  # 17:59
    assert not in_business_hours(s, shanghai, at("2030-01-08T10:00"))  # 18:00: closed
    assert not in_business_hours(s, shanghai, at("2030-01-08T00:59"))  # 08:59
    assert not in_business_hours(s, shanghai, at("2030-01-05T03:00"))  # Saturday
    assert business_moment(s, shanghai, at("2030-01-08T13:00")) == at("2030-01-09T01:00")  # 21:00 -> Wed 09:00
    assert business_moment(s, shanghai, at("2030-01-04T12:00")) == at("2030-01-07T01:00")  # Fri 20:00 -> Mon
    assert business_moment(s, shanghai, at("2030-01-08T03:30")) == at("2030-01-08T03:30")  # already open


def test_a_renewal_notice_in_working_days_is_stated_as_such() -> None:
    document = sample("service", renewal_notice_working_days=20)
    del document["renewal_notice_days"]
    # End Fri 2027-12-31, Monday to Friday: 20 working days back, the 31st not counted, is Fri 12-03
    # (Dec 30, 29, 28, 27 / 24 .. 20 / 17 .. 13 / 10 .. 6 / 3).
    email = emails(document)["renewal:2027-12-03:-7d"]
    assert "give notice by 3 December 2027" in email.subject
    assert "(the contract requires 20 working days' notice)" in email.text and "20 days' notice" not in email.text
    document["locale"] = "zh-CN"  # 2027: no PRC arrangement published yet, so Monday to Friday too
    email = emails(document)["renewal:2027-12-03:-7d"]
    assert "（合同约定须提前 20 个工作日通知）" in email.text
