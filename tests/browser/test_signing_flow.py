"""The signer's side in a real browser: our stable signing link → a fresh recipient view on the
DocuSign sandbox → sign or decline → back on our /signed page, in the signer's language; then the
contract (through the API) shows what happened, down to the archived PDF's sha256."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.support.esign import combined_pdf_via_sdk, send, signer, signing_link, webhook_body
from tests.support.stack import StackHarness

pytestmark = pytest.mark.browser


def open_and_act(new_page: Any, url: str, action: str, *, locale: str, reason: str | None = None) -> Any:
    """Opens a stable link in a fresh browser, lands on the sandbox's signing page, acts, and returns
    the page once it is back on our /signed page."""
    page = new_page(locale)
    page.goto(url)
    # The app answered 302 to DocuSign's (the sandbox's) single-use signing page.
    assert "/signing/" in page.url, page.url
    page.wait_for_selector("#sign")
    if reason is not None:
        page.fill("#decline-reason", reason)
    with page.expect_navigation(url=lambda u: "/signed?" in u):
        page.click(f"#{action}")
    return page


def outcome(page: Any) -> tuple[str, str, str]:
    main = page.locator("main")
    return (main.get_attribute("data-outcome") or "", page.inner_text("#outcome-title"),
            page.inner_text("#outcome-message"))


def assert_archived(stack: StackHarness, contract: dict[str, Any]) -> None:
    """The contract's sha256 is that of DocuSign's combined PDF (fetched here through the SDK, apart
    from the archive job), and the document route hands out exactly those bytes."""
    import requests  # moto answers the presigned S3 URL

    signed = contract["documents"]["signed"]
    assert signed is not None, contract
    pdf = combined_pdf_via_sdk(contract["envelope_id"])
    assert pdf.startswith(b"%PDF")
    assert signed["sha256"] == hashlib.sha256(pdf).hexdigest()
    link = stack.client.http.get(f"/v1/contracts/{contract['contract_id']}/document?version=signed",
                                 headers=stack.auth())
    assert link.status_code == 302
    assert requests.get(link.headers["Location"], timeout=10).content == pdf


def test_a_signer_signs_through_the_stable_link(stack: StackHarness, new_page: Any) -> None:
    body = webhook_body("sales.zh-CN", crm_record_id="browser-sign",
                        signers=[signer("李强", "li.qiang@xinhe.example", 1)])
    contract = send(stack, body)
    link = signing_link(stack, contract["contract_id"], 1)
    assert link["url"].startswith(stack.api_url + "/sign/")

    page = open_and_act(new_page, link["url"], "sign", locale="zh-CN")
    event, title, message = outcome(page)
    assert "event=signing_complete" in page.url and "lang=zh-CN" in page.url
    assert event == "signing_complete"
    assert title == "签署成功" and "感谢您的签署" in message
    assert contract["number"] in page.inner_text("main")

    done = stack.wait_status(contract["contract_id"], "active")
    assert [s["status"] for s in done["signers"]] == ["signed"]
    assert done["signers"][0]["signed_at"]
    assert_archived(stack, done)
    types = [e["type"] for e in done["timeline"]]
    for expected in ("envelope_sent", "signers_updated", "envelope_completed", "archived", "active"):
        assert expected in types, types

    # The same stable link, clicked again, now says it is done (in the contract's language).
    again = new_page("en-US")
    response = again.goto(link["url"])
    assert response.status == 410
    assert again.inner_text("#outcome-title") == "合同已签署完成"


def test_a_signer_declines_and_the_owner_and_the_crm_are_told(stack: StackHarness, new_page: Any,
                                                             crm: tuple[str, Any]) -> None:
    _, receiver = crm
    body = webhook_body("sales.en", crm_record_id="browser-decline",
                        signers=[signer("Rachel Tan", "rachel.tan@harbourline.example", 1)])
    contract = send(stack, body)
    link = signing_link(stack, contract["contract_id"], 1)

    page = open_and_act(new_page, link["url"], "decline", locale="en-US", reason="The price is too high")
    event, title, message = outcome(page)
    assert event == "decline" and "event=decline" in page.url
    assert title == "You declined to sign" and "sender has been told" in message

    declined = stack.wait_status(contract["contract_id"], "declined")
    assert declined["signers"][0]["status"] == "declined"
    assert declined["signers"][0]["declined_reason"] == "The price is too high"
    assert "The price is too high" in (declined["status_reason"] or "")
    assert declined["documents"]["signed"] is None
    types = [e["type"] for e in declined["timeline"]]
    assert "envelope_declined" in types and "owner_notified" in types, types

    stack.settle_connect()
    mails = [m for m in stack.sent_emails() if m.subject.startswith("Contract declined")]
    assert len(mails) == 1, [m.subject for m in stack.sent_emails()]
    assert mails[0].to == ["wang.min@yunti.example"]
    assert "Rachel Tan" in mails[0].text and "The price is too high" in mails[0].text
    # The CRM hears of it through a signed status callback.
    stack.wait_until(lambda: any(c["status"] == "declined" for c in receiver.snapshot()["callbacks"]),
                     what="the declined callback")
    declined_calls = [c for c in receiver.snapshot()["callbacks"] if c["status"] == "declined"]
    assert declined_calls[0]["verified"] is True and declined_calls[0]["contract_id"] == contract["contract_id"]

    # The link now explains, in English, that signing is over.
    again = new_page("zh-CN")
    response = again.goto(link["url"])
    assert response.status == 410
    assert again.inner_text("#outcome-title") == "This contract was declined"


def test_two_signers_sign_in_sequence(stack: StackHarness, new_page: Any) -> None:
    body = webhook_body("supplier.zh-CN", crm_record_id="browser-sequential", signers=[
        signer("周婷", "zhou.ting@xincheng.example", 1),
        signer("赵磊", "zhao.lei@yunti.example", 2, party="ours"),
    ])
    contract = send(stack, body)
    contract_id = contract["contract_id"]
    first, second = signing_link(stack, contract_id, 1), signing_link(stack, contract_id, 2)

    # The second signer is too early: a clear page, no DocuSign view.
    early = new_page("zh-CN")
    response = early.goto(second["url"])
    assert response.status == 409
    assert early.locator("main").get_attribute("data-outcome") == "not_your_turn"
    assert early.inner_text("#outcome-title") == "尚未轮到您签署"

    page = open_and_act(new_page, first["url"], "sign", locale="zh-CN")
    assert outcome(page)[0] == "signing_complete"
    stack.wait_until(lambda: stack.get_contract(contract_id)["signers"][0]["status"] == "signed",
                     what="signer 1 signed")
    assert stack.get_contract(contract_id)["status"] in ("sent", "delivered")

    page = open_and_act(new_page, second["url"], "sign", locale="zh-CN")
    assert outcome(page)[1] == "签署成功"

    done = stack.wait_status(contract_id, "active")
    assert [s["status"] for s in done["signers"]] == ["signed", "signed"]
    assert_archived(stack, done)
    envelope = stack.sandbox("GET", f"/sandbox/envelopes/{done['envelope_id']}")
    assert [(r["routingOrder"], r["status"]) for r in envelope["recipients"] if r["type"] == "signer"] == [
        ("1", "completed"), ("2", "completed")]
    assert len(stack.sandbox_envelopes(contract_id)) == 1
