"""The approver's side in a real browser: the approve link from the email the app sent (moto's SES
captured it) → our page with the contract's key facts → confirm → the contract is sent (an envelope
at the DocuSign sandbox); the same link again says who approved it; an expired link says so."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.integration.test_approval import APPROVER, RULES, pending, set_rules
from tests.support.stack import StackHarness

pytestmark = pytest.mark.browser


def approve_url(stack: StackHarness) -> str:
    mail = [m for m in stack.sent_emails() if APPROVER in m.to][-1]
    assert mail.html is not None
    # The HTML email's approve button: what the approver clicks.
    found = re.search(r'id="approve-link" href="([^"]+)"', mail.html)
    assert found, mail.html
    url = found.group(1).replace("&amp;", "&")
    assert url.startswith(stack.api_url + "/approval/") and url in mail.text
    return url


def test_an_approver_approves_from_the_email(stack: StackHarness, new_page: Any) -> None:
    set_rules(stack, RULES)
    contract_id = pending(stack, "browser-approve")
    url = approve_url(stack)

    page = new_page("en-US")
    response = page.goto(url)
    assert response.status == 200
    # The contract's language (zh-CN), its key facts, and nothing done yet: a GET never approves.
    assert page.inner_text("#outcome-title") == "确认同意此合同？"
    assert page.inner_text("#amount") == "CNY 128000.00"
    assert "杭州新禾贸易有限公司" in page.inner_text("#facts")
    assert stack.get_contract(contract_id)["status"] == "pending_approval"

    page.fill("#reason", "预算内")
    with page.expect_navigation():
        page.click("#confirm")
    assert page.locator("main").get_attribute("data-outcome") == "approved"
    assert page.inner_text("#outcome-title") == "合同已审批通过"

    sent = stack.wait_status(contract_id, "sent")
    assert sent["envelope_id"] and len(stack.sandbox_envelopes(contract_id)) == 1
    types = [e["type"] for e in sent["timeline"]]
    for expected in ("approval_requested", "approval_link_opened", "approved", "approved_by_email", "sending"):
        assert expected in types, types
    by_email = next(e for e in sent["timeline"] if e["type"] == "approved_by_email")
    assert by_email["detail"]["by"] == APPROVER and by_email["detail"]["reason"] == "预算内"

    # A second click on the same link: already approved, by whom; nothing happens twice.
    again = new_page("en-US")
    response = again.goto(url)
    assert response.status == 409
    assert again.locator("main").get_attribute("data-outcome") == "decided"
    assert f"此合同已由 {APPROVER} 审批通过" in again.inner_text("#outcome-message")
    assert again.locator("#confirm").count() == 0
    assert len(stack.sandbox_envelopes(contract_id)) == 1


def test_an_expired_link_says_so(stack: StackHarness, new_page: Any) -> None:
    set_rules(stack, {**RULES, "link_hours": 0.0005})  # links live 1.8 seconds
    contract_id = pending(stack, "browser-approve-expired")
    url = approve_url(stack)
    time.sleep(2.0)

    page = new_page("en-US")
    response = page.goto(url)
    assert response.status == 410
    assert page.locator("main").get_attribute("data-outcome") == "expired"
    assert page.inner_text("#outcome-title") == "This approval link has expired"
    assert page.locator("#confirm").count() == 0
    assert stack.get_contract(contract_id)["status"] == "pending_approval"
