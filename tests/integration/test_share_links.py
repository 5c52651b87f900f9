"""Contract-page links (`/c/{token}`) over HTTP against the in-process stack: minting through the API,
what a link shows and in which language, what its scope lets it record (once), and that a tampered,
expired, revoked or foreign link answers a 4xx page that says nothing about the contract.

The contracts are tests/integration/test_reminders_support.sales_2030 (zh-CN, CNY 128,000.00, pay-1
38,400.00, pay-2 89,600.00, dlv-1) made active directly; the emails' own links are exercised in the
browser tier (tests/browser/test_contract_page.py)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.integration.test_reminders_support import active_contract, sales_2030, service_2030
from tests.support.interleave import arm_for_thread
from tests.support.stack import StackHarness

# What the sample says about the contract: none of it may appear on a dead link's page.
CONTRACT_WORDS = ("HT-2030-0001", "智能门锁", "杭州新禾贸易有限公司", "上海云梯科技有限公司", "128,000.00", "预付款")
FINANCE = "finance@yunti.example"


def share(stack: StackHarness, contract_id: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    return stack.client.http.post(f"/v1/contracts/{contract_id}/share", body=raw,
                                  headers={"Content-Type": "application/json", **stack.auth(), **(headers or {})})


def path_of(url: str) -> str:
    return url[url.index("/c/"):]


def open_link(stack: StackHarness, url: str, accept_language: str = "en-US") -> Any:
    return stack.client.http.get(path_of(url), headers={"Accept-Language": accept_language})


def post_form(stack: StackHarness, url: str, fields: dict[str, str]) -> Any:
    return stack.client.http.post(path_of(url), body=urlencode(fields).encode(),
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})


def body_of(response: Any) -> str:
    return response.body.decode() if isinstance(response.body, bytes) else str(response.body)


def assert_says_nothing(response: Any) -> None:
    text = body_of(response)
    for word in CONTRACT_WORDS:
        assert word not in text, word
    assert "<form" not in text


def test_a_link_shows_the_contract_in_its_language(stack: StackHarness) -> None:
    record = active_contract(stack, sales_2030())
    made = share(stack, record.contract_id, {"email": FINANCE})
    assert made.status_code == 201, made.body
    link = made.json_body
    assert link["language"] == "zh-CN" and link["scope"] == [] and link["recipient"] == FINANCE
    assert record.contract_id not in link["url"] and "demo" not in link["url"].split("/c/")[1]
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(UTC) <= timedelta(days=30)

    page = open_link(stack, link["url"], "en-US")  # the browser's language does not matter: the link's does
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    text = body_of(page)
    assert '<html lang="zh-CN">' in text
    for word in ("HT-2030-0001", "杭州新禾贸易有限公司", "上海云梯科技有限公司", "履行中"):
        assert word in text, word
    # CNY 128,000.00 in words: 壹拾贰万捌仟元整 (100,000 + 20,000 + 8,000, nothing below).
    assert "人民币 128,000.00 元" in text and "大写：壹拾贰万捌仟元整" in text
    assert "2030年1月2日 – 2030年11月30日" in text  # the term
    assert 'id="payment-pay-1"' in text and 'id="delivery-dlv-1"' in text
    assert "<form" not in text  # a link without scope only shows
    assert "已生成合同链接" in text  # the timeline in words: this very link was made

    english = share(stack, record.contract_id, {"email": FINANCE, "language": "en"}).json_body
    text = body_of(open_link(stack, english["url"], "zh-CN"))
    assert '<html lang="en">' in text and "In force" in text and "CNY 128,000.00" in text and "大写" not in text
    timeline = stack.timeline(record.contract_id)
    created = [e["detail"] for e in timeline if e["type"] == "share_link_created"]
    assert [c["recipient"] for c in created] == [FINANCE, FINANCE] and created[0]["link_id"] == link["link_id"]


def test_mark_paid_records_once_with_who_and_then_says_already_recorded(stack: StackHarness) -> None:
    record = active_contract(stack, sales_2030())
    cid = record.contract_id
    url = share(stack, cid, {"email": FINANCE, "scope": ["paid"], "milestone_id": "pay-1"}).json_body["url"]
    text = body_of(open_link(stack, url))
    assert 'id="pay-form-pay-1"' in text and 'id="pay-form-pay-2"' not in text  # only the link's milestone
    assert 'value="38400.00"' in text  # what is open, offered as the amount

    unconfirmed = post_form(stack, url, {"action": "paid", "milestone": "pay-1", "amount": "38400.00"})
    assert unconfirmed.status_code == 422 and "请勾选确认框" in body_of(unconfirmed)
    assert stack.get_contract(cid)["milestones"]["payment"][0]["status"] == "open"

    fields = {"action": "paid", "milestone": "pay-1", "amount": "38400.00", "on": "2030-01-14", "confirm": "yes"}
    done = post_form(stack, url, fields)
    assert done.status_code == 200, body_of(done)
    assert 'data-outcome="recorded"' in body_of(done)
    view = stack.get_contract(cid)
    pay_1 = view["milestones"]["payment"][0]
    assert (pay_1["status"], pay_1["paid_amount"]) == ("paid", "38400.00")
    assert pay_1["payments"][0]["paid_on"] == "2030-01-14"
    event = next(e for e in view["timeline"] if e["type"] == "milestone_paid")
    assert event["detail"]["by"] == FINANCE and event["detail"]["source"] == "contract_page"

    again = post_form(stack, url, fields)
    assert again.status_code == 409 and 'data-outcome="already"' in body_of(again)
    assert "已登记过" in body_of(again)
    assert len(stack.get_contract(cid)["milestones"]["payment"][0]["payments"]) == 1


def test_a_part_payment_then_the_same_link_again_is_already_recorded(stack: StackHarness) -> None:
    record = active_contract(stack, sales_2030())
    url = share(stack, record.contract_id, {"scope": ["paid"]}).json_body["url"]
    fields = {"action": "paid", "milestone": "pay-2", "amount": "40000.00", "confirm": "yes"}
    assert post_form(stack, url, fields).status_code == 200
    assert post_form(stack, url, {**fields, "amount": "49600.00"}).status_code == 409  # one payment per link
    too_much = share(stack, record.contract_id, {"scope": ["paid"]}).json_body["url"]
    refused = post_form(stack, too_much, {**fields, "amount": "50000.00"})  # 49,600.00 is open
    assert refused.status_code == 409 and 'data-outcome="conflict"' in body_of(refused)
    assert "at most 49600.00 is open" in body_of(refused)
    assert stack.get_contract(record.contract_id)["milestones"]["payment"][1]["paid_amount"] == "40000.00"


def test_two_submissions_at_once_make_one_payment(stack: StackHarness) -> None:
    """The first submission is held inside its write (after the condition check); the second, over
    HTTP, arrives meanwhile. The contract's versioned write keeps it out; it then finds the payment
    with this link's reference: "already recorded"."""
    from chalicelib.web import contract_page

    record = active_contract(stack, sales_2030())
    cid = record.contract_id
    url = share(stack, cid, {"scope": ["paid"]}).json_body["url"]
    token = path_of(url)[3:]
    fields = {"action": "paid", "milestone": "pay-1", "confirm": "yes"}
    rival: dict[str, Any] = {}
    rival_done = threading.Event()

    def second() -> None:
        def run() -> None:
            rival["answer"] = post_form(stack, url, fields)
            rival_done.set()
        threading.Thread(target=run, daemon=True).start()

    hold = arm_for_thread(cid, while_held=second, rival_done=rival_done, patience=1.5)
    first = contract_page.submit(token, urlencode(fields).encode(), None)
    assert hold.fired.is_set() and not hold.rival_finished_inside
    assert rival_done.wait(30)
    assert first.status == 200
    assert rival["answer"].status_code == 409 and 'data-outcome="already"' in body_of(rival["answer"])
    pay_1 = stack.get_contract(cid)["milestones"]["payment"][0]
    assert pay_1["status"] == "paid" and len(pay_1["payments"]) == 1
    assert stack.timeline_types(cid).count("milestone_paid") == 1


def test_the_scope_decides_what_a_link_may_record(stack: StackHarness) -> None:
    record = active_contract(stack, sales_2030())
    cid = record.contract_id
    notice = share(stack, cid, {}).json_body["url"]
    payment = share(stack, cid, {"scope": ["paid"], "milestone_id": "pay-1"}).json_body["url"]
    paid = {"action": "paid", "milestone": "pay-1", "confirm": "yes"}
    for url, fields in ((notice, paid), (payment, {**paid, "milestone": "pay-2"}),
                        (payment, {"action": "delivered", "milestone": "dlv-1", "confirm": "yes"})):
        answer = post_form(stack, url, fields)
        assert answer.status_code == 403, fields
        assert 'data-outcome="refused"' in body_of(answer)
    assert post_form(stack, payment, {"action": "void", "milestone": "pay-1"}).status_code == 400
    assert post_form(stack, payment, {**paid, "on": "14/01/2030"}).status_code == 422
    view = stack.get_contract(cid)
    assert view["milestones"]["totals"]["paid"] == "0.00" and view["milestones"]["totals"]["deliveries_done"] == 0

    delivery = share(stack, cid, {"scope": ["delivered"], "language": "en"}).json_body["url"]
    done = post_form(stack, delivery, {"action": "delivered", "milestone": "dlv-1", "on": "2030-02-19",
                                       "confirm": "yes"})
    assert done.status_code == 200 and "Recorded." in body_of(done)
    assert stack.get_contract(cid)["milestones"]["delivery"][0]["delivered_on"] == "2030-02-19"
    again = post_form(stack, delivery, {"action": "delivered", "milestone": "dlv-1", "confirm": "yes"})
    assert again.status_code == 409 and "Already recorded" in body_of(again)


def test_tampered_expired_revoked_and_foreign_links_say_so_and_nothing_else(stack: StackHarness) -> None:
    from chalicelib.lifecycle import share_tokens

    record = active_contract(stack, sales_2030())
    cid = record.contract_id
    url = share(stack, cid, {"scope": ["paid"]}).json_body["url"]
    assert open_link(stack, url).status_code == 200

    token = path_of(url)[3:]
    kid, sealed = token.split(".")
    tampered = f"{kid}.{sealed[:30]}{'A' if sealed[30] != 'A' else 'B'}{sealed[31:]}"
    for bad in (f"/c/{tampered}", "/c/not-a-token", f"/c/{token[:-2]}"):
        answer = stack.client.http.get(bad, headers={"Accept-Language": "zh-CN"})
        assert answer.status_code == 404, bad
        assert "链接无效" in body_of(answer) and "合同负责人" in body_of(answer)  # whom to ask
        assert_says_nothing(answer)
    assert post_form(stack, f"/c/{tampered}", {"action": "paid", "milestone": "pay-1",
                                               "confirm": "yes"}).status_code == 404

    # Expired: made 31 days ago for 30 days. The page is in the link's language, and says whom to ask.
    old, _ = share_tokens.mint("demo", cid, FINANCE, "en", ["paid"], now=datetime.now(UTC) - timedelta(days=31))
    expired = open_link(stack, old, "zh-CN")
    assert expired.status_code == 410 and "This link has expired" in body_of(expired)
    assert "Ask the person who sent you the email" in body_of(expired)
    assert_says_nothing(expired)
    late = post_form(stack, old, {"action": "paid", "milestone": "pay-1", "confirm": "yes"})
    assert late.status_code == 410

    # Another tenant's link to this contract id finds no contract: invalid, like a tampered one.
    foreign, _ = share_tokens.mint("other", cid, FINANCE, "en", ["paid"])
    assert open_link(stack, foreign).status_code == 404
    assert_says_nothing(open_link(stack, foreign))
    for path in ("document", "signed", "evidence"):
        answer = stack.client.http.get(f"{path_of(foreign)}/{path}")
        assert answer.status_code == 404 and "Location" not in answer.headers

    # Revoked: that one link, then every link made until now.
    other = share(stack, cid, {"email": "owner@yunti.example"}).json_body
    revoked = stack.client.http.delete(f"/v1/contracts/{cid}/share/{other['link_id']}", headers=stack.auth())
    assert revoked.status_code == 200 and revoked.json_body["revoked"] == other["link_id"]
    answer = open_link(stack, other["url"])
    assert answer.status_code == 410 and "链接已撤回" in body_of(answer)  # the link's language: the contract's
    assert_says_nothing(answer)
    assert open_link(stack, url).status_code == 200  # the other link still opens
    assert stack.client.http.delete(f"/v1/contracts/{cid}/share", headers=stack.auth()).status_code == 200
    assert open_link(stack, url).status_code == 410
    assert post_form(stack, url, {"action": "paid", "milestone": "pay-1", "confirm": "yes"}).status_code == 410
    assert stack.get_contract(cid)["milestones"]["totals"]["paid"] == "0.00"
    time.sleep(1.1)  # revocation counts whole seconds: a link made in the same second is revoked too
    fresh = share(stack, cid, {}).json_body["url"]
    assert open_link(stack, fresh).status_code == 200
    assert [e["detail"]["link_id"] for e in stack.timeline(cid) if e["type"] == "share_link_revoked"] == [
        other["link_id"], "all"]


def test_the_share_api_checks_what_it_is_given(stack: StackHarness) -> None:
    record = active_contract(stack, sales_2030())
    cid = record.contract_id
    bad = share(stack, cid, {"email": "", "language": "fr", "scope": ["void"], "milestone_id": "pay-9",
                             "expires_in_hours": 0, "colour": "red"})
    assert bad.status_code == 422
    assert {d["path"] for d in bad.json_body["error"]["details"]} == {
        "email", "language", "scope", "milestone_id", "expires_in_hours", "colour"}
    assert share(stack, cid, {"expires_in_hours": 2161}).status_code == 422
    assert share(stack, cid, {"expires_in_hours": True}).status_code == 422
    assert share(stack, cid, {"milestone_id": None}).status_code == 422  # absent is "any", null is not a milestone
    assert share(stack, cid, [1]).status_code == 400
    assert share(stack, cid, b"{").status_code == 400
    assert share(stack, cid, {}, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert share(stack, "ctr_00000000000000000000", {}).status_code == 404
    assert stack.client.http.delete(f"/v1/contracts/{cid}/share/short", headers=stack.auth()).status_code == 400
    assert stack.client.http.delete(f"/v1/contracts/{cid}/share").status_code == 401
    one_hour = share(stack, cid, {"expires_in_hours": 1}).json_body
    left = datetime.fromisoformat(one_hour["expires_at"]) - datetime.now(UTC)
    assert timedelta(minutes=59) < left <= timedelta(hours=1)
    # No body: the API key's label (or "api") is the recipient, the contract's language, no scope.
    plain = share(stack, cid).json_body
    assert plain["language"] == "zh-CN" and plain["scope"] == [] and plain["recipient"]


def test_files_open_through_the_link_or_say_why_not(stack: StackHarness) -> None:
    record = active_contract(stack, service_2030())  # stored directly: nothing rendered or signed yet
    url = share(stack, record.contract_id, {}).json_body["url"]
    page = body_of(open_link(stack, url))
    assert '<html lang="en">' in page and 'id="file-signed"' not in page and "No document yet." in page
    missing = stack.client.http.get(f"{path_of(url)}/document")
    assert missing.status_code == 404 and 'data-outcome="no_file"' in body_of(missing)
    # Active without a signed PDF recorded: as if its archive were still running.
    for kind in ("signed", "evidence"):
        answer = stack.client.http.get(f"{path_of(url)}/{kind}")
        assert answer.status_code == 409 and "not there yet" in body_of(answer)
    assert stack.client.http.get(f"{path_of(url)}/other").status_code == 404


@pytest.mark.parametrize("kind", ["document", "signed", "evidence"])
def test_a_signed_contracts_files_redirect_to_short_lived_urls(stack: StackHarness, kind: str) -> None:
    from tests.integration.test_reminders_milestones import signed_contract

    cid = signed_contract(stack, sales_2030())
    url = share(stack, cid, {}).json_body["url"]
    page = body_of(open_link(stack, url))
    assert f'id="file-{kind}"' in page
    answer = stack.client.http.get(f"{path_of(url)}/{kind}")
    assert answer.status_code == 302, body_of(answer)
    assert answer.headers["Referrer-Policy"] == "no-referrer" and "X-Amz-Expires=300" in answer.headers["Location"]
