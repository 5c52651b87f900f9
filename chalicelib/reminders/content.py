"""What a reminder email says, in the contract's locale (zh-CN or en)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.config import settings
from chalicelib.notify.mailer import Email
from chalicelib.store.models import ContractRecord, ReminderRecord

SUBJECTS = {
    "zh-CN": {
        "expiry": "合同即将到期：{number}（{anchor}到期，剩余 {days} 天）",
        "renewal": "合同将自动续期：{number}（如不续约请于 {anchor} 前通知对方）",
        "payment_before": "付款提醒：{number} {milestone} 将于 {anchor} 到期",
        "payment_due": "今日付款到期：{number} {milestone}",
        "payment_overdue": "付款逾期：{number} {milestone} 已逾期 {overdue} 天",
        "delivery_before": "交付提醒：{number} {milestone} 将于 {anchor} 到期",
        "delivery_overdue": "交付逾期：{number} {milestone} 已逾期 {overdue} 天",
    },
    "en": {
        "expiry": "Contract expiring: {number} ends on {anchor} ({days} days left)",
        "renewal": "Contract renews automatically: {number} (give notice before {anchor} to stop it)",
        "payment_before": "Payment reminder: {number} {milestone} is due on {anchor}",
        "payment_due": "Payment due today: {number} {milestone}",
        "payment_overdue": "Payment overdue: {number} {milestone} is {overdue} days overdue",
        "delivery_before": "Delivery reminder: {number} {milestone} is due on {anchor}",
        "delivery_overdue": "Delivery overdue: {number} {milestone} is {overdue} days overdue",
    },
}


def _milestone(document: dict[str, Any], milestone_id: str | None) -> dict[str, Any] | None:
    if not milestone_id:
        return None
    for section in ("payment", "delivery"):
        for milestone in (document.get(section) or {}).get("milestones") or []:
            if milestone.get("id") == milestone_id:
                return dict(milestone)
    return None


def context(record: ContractRecord, reminder: ReminderRecord, now: datetime) -> dict[str, Any]:
    document = record.document
    detail = reminder.detail or {}
    anchor = date.fromisoformat(detail["anchor_date"])
    zone = ZoneInfo(document.get("time_zone") or "Asia/Shanghai")
    today = now.astimezone(zone).date()
    milestone = _milestone(document, detail.get("milestone_id"))
    return {
        "kind": reminder.kind,
        "contract": document,
        "contract_id": record.contract_id,
        "milestone": milestone,
        "anchor_date": anchor.isoformat(),
        "days_left": (anchor - today).days,
        "days_overdue": (today - anchor).days,
        "amount_due": detail.get("amount_due"),
        "amount_remaining": detail.get("amount_remaining"),
        "escalation": detail.get("escalation"),
        "link": f"{settings().public_base_url.rstrip('/')}/v1/contracts/{record.contract_id}",
    }


def compose(record: ContractRecord, reminder: ReminderRecord, now: datetime) -> Email:
    from chalicelib.rendering.environment import get_environment

    locale = record.locale if record.locale in SUBJECTS else "en"
    ctx = context(record, reminder, now)
    subject = SUBJECTS[locale].get(reminder.kind, SUBJECTS[locale]["expiry"]).format(
        number=record.number, anchor=ctx["anchor_date"], days=ctx["days_left"], overdue=ctx["days_overdue"],
        milestone=(ctx["milestone"] or {}).get("name", ""),
    )
    env = get_environment()
    text = env.get_template(f"emails/reminder.{locale}.txt.j2").render(subject=subject, **ctx)
    html = env.get_template(f"emails/reminder.{locale}.html.j2").render(subject=subject, **ctx)
    return Email(to=list(reminder.to), cc=list(reminder.cc), subject=subject, text=text, html=html)
