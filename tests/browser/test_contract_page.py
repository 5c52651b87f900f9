"""The contract page in a real browser, reached the way people reach it: the link in a payment reminder
the hourly run sent (moto's SES captured it). A phone (390×844) and a wide screen (1280×900), in the
contract's language whatever the browser's; the overdue milestone shown as overdue; "mark paid" once,
then the same link again is "already recorded" and the milestone's later reminders never go out.
Screenshots of both layouts land in docs/images/contract-page-*.png (the README shows them) when
SIGNBRIDGE_UPDATE_SCREENSHOTS=1, else in a scratch folder.

Dates are relative to today (the page counts overdue from the wall clock): the contract began 60 days
ago, its first payment fell due 20 days ago; the hourly run is fired at a business morning 8 or more
days after that, which sends that milestone's overdue reminders."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from tests.integration.test_reminders_support import active_contract, fire, sales_2030, service_2030, stored
from tests.support.stack import StackHarness

pytestmark = pytest.mark.browser

# The README's screenshots are refreshed on request (SIGNBRIDGE_UPDATE_SCREENSHOTS=1): the page's
# dates follow today's, so a plain run must not rewrite tracked files; it shoots into a scratch folder.
IMAGES = (Path(__file__).resolve().parents[2] / "docs" / "images" if os.environ.get("SIGNBRIDGE_UPDATE_SCREENSHOTS")
          else Path(tempfile.gettempdir()) / "signbridge-screenshots")
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 900}


def shifted(body: dict[str, Any], today: date, number: str) -> dict[str, Any]:
    """The sample moved so that its first payment fell due 20 days ago and the rest is ahead."""
    c = body["contract"]
    start = today - timedelta(days=60)
    c.update(number=number, signing_date=start.isoformat(), effective_date=start.isoformat(),
             end_date=(today + timedelta(days=300)).isoformat(), auto_renew=False)
    first, second = c["payment"]["milestones"][:2]
    first["due_date"] = (today - timedelta(days=20)).isoformat()
    second["due_date"] = (today + timedelta(days=40)).isoformat()
    c["payment"]["milestones"] = [first, second]
    if c.get("delivery"):
        due = (today + timedelta(days=20)).isoformat()
        c["delivery"].update(date=due, milestones=[{"id": "dlv-1", "name": c["delivery"]["milestones"][0]["name"],
                                                    "due_date": due}])
    return body


def signed_by_all(record: Any, on: date) -> Any:
    """The signers' progress as DocuSign reported it for a contract signed on `on` (active_contract
    stores the contract past signing without it)."""
    import dataclasses

    from chalicelib.store import contracts as store

    at = datetime.combine(on, time(3, 0), UTC).isoformat()
    return store.update_signers(record, {i: (s.status, dataclasses.replace(s, status="signed", signed_at=at))
                                         for i, s in enumerate(record.signers)})


def business_morning(stack: StackHarness, zone: str, on_or_after: date) -> datetime:
    """10:00 on the first business day from `on_or_after` in the contract's zone (the tenant's calendar)."""
    from chalicelib.reminders.planning import in_business_hours
    from chalicelib.reminders.scheduling import tenant_settings

    settings, tz = tenant_settings(stack.tenant_id), ZoneInfo(zone)
    day = on_or_after
    while not in_business_hours(settings, tz, datetime.combine(day, time(10, 0), tz)):
        day += timedelta(days=1)
    return datetime.combine(day, time(10, 0), tz).astimezone(UTC)


def reminder_link(stack: StackHarness, before: int, subject_start: str, milestone: str) -> tuple[str, Any]:
    """The "Open the contract" button of the newest matching reminder sent since `before`."""
    mails = [m for m in stack.sent_emails()[before:] if m.subject.startswith(subject_start) and milestone in m.subject]
    assert mails, [m.subject for m in stack.sent_emails()[before:]]
    mail = mails[-1]
    assert mail.html is not None
    found = re.findall(r'href="([^"]*/c/[^"]+)"', mail.html)
    assert len(found) == 1, found
    url = found[0].replace("&amp;", "&")
    assert url.startswith(stack.api_url + "/c/") and url in mail.text
    return url, mail


def open_in(browser: Any, url: str, viewport: dict[str, int], *, phone: bool) -> tuple[Any, Any, Any]:
    # The browser speaks English: the page's language is the link's (the email's), not the browser's.
    context = browser.new_context(locale="en-US", viewport=viewport, is_mobile=phone, has_touch=phone)
    context.set_default_timeout(15_000)
    page = context.new_page()
    return context, page, page.goto(url)


def screenshot(page: Any, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / name), full_page=True)


def test_a_payment_reminder_link_opens_the_page_and_marks_paid_once(stack: StackHarness, browser: Any) -> None:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    body = shifted(sales_2030("browser-page-zh"), today, "HT-PAGE-0001")
    start = (today - timedelta(days=60)).isoformat()
    record = signed_by_all(active_contract(stack, body, now=f"{start}T00:00:00+00:00"),
                           today - timedelta(days=61))
    cid = record.contract_id
    due = today - timedelta(days=20)
    before = len(stack.sent_emails())
    fire(stack, business_morning(stack, "Asia/Shanghai", due + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M"))
    url, mail = reminder_link(stack, before, "付款逾期：HT-PAGE-0001", "预付款")

    context, page, response = open_in(browser, url, PHONE, phone=True)
    try:
        assert response.status == 200 and response.headers["content-type"].startswith("text/html")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.inner_text("#number") == "HT-PAGE-0001" and page.inner_text("#status") == "履行中"
        assert page.inner_text("#amount") == "人民币 128,000.00 元"
        assert page.inner_text("#amount-capitals") == "大写：壹拾贰万捌仟元整"
        row = page.locator("#payment-pay-1")
        assert row.get_attribute("data-overdue") == "true" and row.get_attribute("data-status") == "open"
        assert row.locator(".milestone-state").inner_text() == "已逾期"
        assert page.locator("#payment-pay-2").get_attribute("data-overdue") == "false"
        # The reminder was about pay-1: only pay-1 can be marked paid from it.
        assert page.locator("#pay-form-pay-1").count() == 1 and page.locator("#pay-form-pay-2").count() == 0
        # Narrow screen: the tables turn into cards, nothing scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "contract-page-zh-CN-phone.png")

        page.fill("#amount-pay-1", "38400.00")
        page.check("#confirm-pay-1")
        with page.expect_navigation():
            page.click("#mark-paid-pay-1")
        assert page.locator("main").get_attribute("data-outcome") == "recorded"
        assert page.inner_text("#result-title").startswith("已登记")
        assert page.locator("#payment-pay-1").get_attribute("data-status") == "paid"
        assert page.locator("#pay-form-pay-1").count() == 0
    finally:
        context.close()

    view = stack.get_contract(cid)
    pay_1 = view["milestones"]["payment"][0]
    assert (pay_1["status"], pay_1["paid_amount"], pay_1["remaining"]) == ("paid", "38400.00", "0.00")
    assert pay_1["payments"][0]["paid_on"] == today.isoformat()
    paid = [e for e in view["timeline"] if e["type"] == "milestone_paid"]
    assert len(paid) == 1 and paid[0]["detail"]["by"] == ", ".join(mail.to)

    # The same link submitted again: "already recorded", nothing changes.
    again = stack.client.http.post(url[url.index("/c/"):], headers={
        "Content-Type": "application/x-www-form-urlencoded"}, body=urlencode(
        {"action": "paid", "milestone": "pay-1", "amount": "38400.00", "confirm": "yes"}).encode())
    assert again.status_code == 409 and "已登记过" in again.body.decode()
    assert len(stack.get_contract(cid)["milestones"]["payment"][0]["payments"]) == 1

    # pay-1's later reminders never go out: none is pending, and a run 31 days after its due date
    # sends nothing about it.
    assert not [k for k, item in stored(cid).items() if ":pay-1:" in k and item.state == "pending"]
    before = len(stack.sent_emails())
    fire(stack, business_morning(stack, "Asia/Shanghai", due + timedelta(days=31)).strftime("%Y-%m-%dT%H:%M"))
    assert not [m.subject for m in stack.sent_emails()[before:] if "预付款" in m.subject]

    # The wide layout, after the payment: the timeline says who recorded it.
    context, page, response = open_in(browser, url, WIDE, phone=False)
    try:
        assert response.status == 200
        assert "已登记付款" in page.inner_text("#timeline") and mail.to[0] in page.inner_text("#timeline")
        screenshot(page, "contract-page-zh-CN-wide.png")
    finally:
        context.close()


def test_the_page_in_english_on_a_phone_and_a_wide_screen(stack: StackHarness, browser: Any) -> None:
    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    body = shifted(service_2030("browser-page-en"), today, "SVC-PAGE-042")
    start = (today - timedelta(days=60)).isoformat()
    record = signed_by_all(active_contract(stack, body, now=f"{start}T00:00:00+00:00"),
                           today - timedelta(days=61))
    first = body["contract"]["payment"]["milestones"][0]
    due = today - timedelta(days=20)
    before = len(stack.sent_emails())
    fire(stack, business_morning(stack, "Europe/Berlin", due + timedelta(days=8)).strftime("%Y-%m-%dT%H:%M"))
    url, _ = reminder_link(stack, before, "Payment overdue: SVC-PAGE-042", first["name"])

    layouts = ((PHONE, True, "contract-page-en-phone.png"), (WIDE, False, "contract-page-en-wide.png"))
    for viewport, phone, name in layouts:
        context, page, response = open_in(browser, url, viewport, phone=phone)
        try:
            assert response.status == 200
            assert page.locator("html").get_attribute("lang") == "en"
            assert page.inner_text("#status") == "In force" and page.inner_text("#amount") == "EUR 36,000.00"
            assert page.locator("#amount-capitals").count() == 0  # 大写 only in Chinese
            row = page.locator(f"#payment-{first['id']}")
            assert row.get_attribute("data-overdue") == "true"
            assert row.locator(".milestone-state").inner_text() == "Overdue"
            assert page.locator(f"#pay-form-{first['id']}").count() == 1
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            screenshot(page, name)
            # Printed: the facts and milestones stay, the form and the links go, the recipient shows.
            page.emulate_media(media="print")
            assert not page.locator(f"#pay-form-{first['id']}").is_visible()
            assert not page.locator("#files-and-links").is_visible() and page.locator("#payments").is_visible()
            assert "anna.keller@yunti.example" in page.inner_text("header")
        finally:
            context.close()
    assert stack.get_contract(record.contract_id)["milestones"]["totals"]["paid"] == "0.00"  # looking changes nothing


def test_a_dead_link_in_the_browser_says_whom_to_ask(stack: StackHarness, browser: Any) -> None:
    record = active_contract(stack, sales_2030("browser-page-dead"))
    made = stack.client.http.post(f"/v1/contracts/{record.contract_id}/share", body=b"{}",
                                  headers={**stack.auth(), "Content-Type": "application/json"}).json_body
    assert stack.client.http.delete(f"/v1/contracts/{record.contract_id}/share/{made['link_id']}",
                                    headers=stack.auth()).status_code == 200
    context, page, response = open_in(browser, made["url"], PHONE, phone=True)
    try:
        assert response.status == 410
        assert page.inner_text("#outcome-title") == "链接已撤回"
        assert "合同负责人" in page.inner_text("#whom-to-ask")
        assert "HT-2030-0001" not in page.content() and page.locator("form").count() == 0
    finally:
        context.close()
