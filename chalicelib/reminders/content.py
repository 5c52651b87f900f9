"""What a reminder email says, in the contract's locale (zh-CN or en): the facts its subject, plain text
and HTML show (templates/emails/reminder.<locale>.{subject,txt,html}.j2, rendered by
chalicelib.notify.emails) and an .ics file for the deadline.

Everything the templates show is prepared here, already formatted for the locale (dates, amounts,
大写 for RMB amounts in zh-CN), so the templates only lay it out.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.contracts.locales import primary_locale_of
from chalicelib.contracts.stored import StoredContract, StoredReminder
from chalicelib.core.link_keys import KeyRing
from chalicelib.lifecycle import share_tokens
from chalicelib.notify import emails
from chalicelib.notify.mailer import Attachment, Email
from chalicelib.reminders.planning import next_term
from chalicelib.reminders.terms import contract_term
from chalicelib.rendering.filters import capitals, format_date, money

from .ics import CalendarEvent, render_ics
from .planning import business_moment, contract_zone
from .settings import TenantSettings

LOCALES = ("zh-CN", "en")

ICS_SUMMARY = {
    "zh-CN": {"expiry": "合同到期：{number}", "renewal": "不续约通知截止：{number}",
              "payment": "付款到期：{number} {milestone}", "delivery": "交付到期：{number} {milestone}"},
    "en": {"expiry": "Contract ends: {number}", "renewal": "Last day to stop the renewal: {number}",
           "payment": "Payment due: {number} {milestone}", "delivery": "Delivery due: {number} {milestone}"},
}
CURRENCY_NAMES_ZH = {"CNY": "人民币", "USD": "美元", "EUR": "欧元", "HKD": "港币", "JPY": "日元", "GBP": "英镑"}


def _milestone(document: dict[str, Any], milestone_id: str | None) -> dict[str, Any] | None:
    if not milestone_id:
        return None
    for section in ("payment", "delivery"):
        for milestone in (document.get(section) or {}).get("milestones") or []:
            if milestone.get("id") == milestone_id:
                return dict(milestone)
    return None


def _locale(record: StoredContract) -> str:
    # A bilingual contract (zh-CN+en) is reminded of in its prevailing language; unknown: English.
    return primary_locale_of(record)


def format_money(value: Any, currency: str, locale: str) -> str:
    if locale == "zh-CN":
        return f"{CURRENCY_NAMES_ZH.get(currency, currency)} {money(value, currency)} 元" if currency == "CNY" \
            else f"{CURRENCY_NAMES_ZH.get(currency, currency)} {money(value, currency)}"
    return f"{currency} {money(value, currency)}"


def capitals_for(value: Any, currency: str, locale: str) -> str | None:
    """大写 for RMB amounts in zh-CN emails (the capitals are written in 元, so other currencies get none)."""
    if locale != "zh-CN" or currency != "CNY" or value in (None, ""):
        return None

    return capitals(value)


def format_day(value: date | str, locale: str) -> str:
    return format_date(value, locale)


def context(record: StoredContract, reminder: StoredReminder, now: datetime,
            tenant: TenantSettings | None = None, ring: KeyRing | None = None) -> dict[str, Any]:
    tenant = tenant or TenantSettings()
    locale = _locale(record)
    document = record.document or {}
    detail = reminder.detail or {}
    currency = str(document.get("currency") or "")
    anchor = date.fromisoformat(detail["anchor_date"])
    zone = ZoneInfo(detail["time_zone"]) if detail.get("time_zone") else contract_zone(document, tenant)
    today = now.astimezone(zone).date()
    milestone = _milestone(document, detail.get("milestone_id"))
    kind = str(reminder.kind)
    # The overdue count starts where planning starts it: the first business day on or after the due date.
    performable = business_moment(tenant, zone, datetime.combine(anchor, datetime.min.time(), zone)).astimezone(
        zone).date()
    amount_due, remaining = detail.get("amount_due"), detail.get("amount_remaining")
    partial = bool(amount_due and remaining and remaining != amount_due)
    term = detail.get("term") or {}
    contract_type = str(document.get("type") or record.contract_type)
    renewal_new_end = None
    if kind == "renewal" and document.get("end_date"):
        current = contract_term(document, term or None)
        if current is not None:
            renewal_new_end = next_term(document, current)
    return {
        "locale": locale,
        "kind": kind,
        "contract": document,
        "contract_id": record.contract_id,
        "number": record.number,
        "title": document.get("title") or "",
        "counterparty": ((document.get("parties") or {}).get("counterparty") or {}).get("name") or "",
        "owner_name": (document.get("owner") or {}).get("name") or "",
        "contract_type": contract_type,
        # Who acts: for a supplier contract we pay and they deliver; otherwise the reverse.
        "we_pay": contract_type == "supplier",
        "we_deliver": contract_type != "supplier",
        "currency": currency,
        "amount_text": format_money(document["amount"], currency, locale) if document.get("amount") else None,
        "amount_capitals": capitals_for(document.get("amount"), currency, locale),
        "milestone": milestone,
        "delivery_place": (document.get("delivery") or {}).get("place") or "",
        "milestone_name": (milestone or {}).get("name") or "",
        "milestone_amount_text": format_money(amount_due, currency, locale) if amount_due else None,
        "milestone_amount_capitals": capitals_for(amount_due, currency, locale),
        "remaining_text": format_money(remaining, currency, locale) if remaining else None,
        "remaining_capitals": capitals_for(remaining, currency, locale),
        "paid_text": format_money(_minus(amount_due, remaining), currency, locale) if partial else None,
        "partial": partial,
        "anchor_date": anchor.isoformat(),
        "anchor_text": format_day(anchor, locale),
        "effective_text": format_day(document["effective_date"], locale) if document.get("effective_date") else None,
        "end_text": format_day(term.get("end") or document["end_date"], locale) if (
            term.get("end") or document.get("end_date")) else None,
        "start_text": format_day(term["start"], locale) if term.get("start") else None,
        "renewal_notice_days": document.get("renewal_notice_days"),
        "renewal_notice_working_days": document.get("renewal_notice_working_days"),
        "new_term_text": (format_day(renewal_new_end.start, locale), format_day(renewal_new_end.end, locale))
        if renewal_new_end else None,
        "days_left": (anchor - today).days,
        "days_overdue": max(1, (today - performable).days),
        "offset_days": detail.get("offset_days"),
        "escalation": detail.get("escalation"),
        "sent_on_text": format_day(today, locale),
        # The addressees' own contract page: a payment reminder's lets them mark this milestone paid, a
        # delivery reminder's delivered, a term notice's only shows (lifecycle/share_tokens).
        "link": share_tokens.mint(record.tenant_id, record.contract_id, ", ".join(reminder.to), locale,
                                  share_tokens.scope_for_reminder(kind), milestone_id=detail.get("milestone_id"),
                                  ring=ring)[0],
    }


def _minus(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return None
    return str(Decimal(a) - Decimal(b))


def calendar_file(ctx: dict[str, Any], reminder: StoredReminder, now: datetime) -> Attachment:
    kind = ctx["kind"]
    family = "payment" if kind.startswith("payment") else "delivery" if kind.startswith("delivery") else kind
    summaries = ICS_SUMMARY[ctx["locale"]]
    summary = summaries.get(family, summaries["expiry"]).format(number=ctx["number"], milestone=ctx["milestone_name"])
    lines = [ctx["title"], ctx["counterparty"]]
    if family == "payment" and ctx["remaining_text"]:
        lines.append(ctx["remaining_text"])
    lines.append(ctx["link"])
    event = CalendarEvent(uid=f"{reminder.reminder_key}@signbridge", day=date.fromisoformat(ctx["anchor_date"]),
                          summary=summary, description="\n".join(line for line in lines if line), url=ctx["link"],
                          stamp=now)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{ctx['number']}-{family}-{ctx['anchor_date']}").strip("-")
    return Attachment(filename=f"{safe}.ics", content=render_ics(event), mime_type="text/calendar",
                      params={"method": "PUBLISH", "charset": "UTF-8"})


def compose(record: StoredContract, reminder: StoredReminder, now: datetime,
            tenant: TenantSettings | None = None, ring: KeyRing | None = None) -> Email:
    """The reminder email; `ring` seals its contract-page link (default: the stored key ring)."""
    ctx = context(record, reminder, now, tenant, ring)
    return emails.reminder(ctx, to=reminder.to, cc=reminder.cc, attachments=(calendar_file(ctx, reminder, now),),
                           tenant_id=record.tenant_id, contract_id=record.contract_id)
