"""Approval from the inbox through the real pieces: the approver's email carries their own approve
and reject links; GET only shows the page, the form's POST acts once per document version."""

from __future__ import annotations

import re
import threading
from typing import Any

from chalicelib.lifecycle import approval_links
from tests.integration.test_approval import APPROVER, RULES, pending, sales_body, set_rules
from tests.integration.test_approval_binding import changed, events
from tests.support.stack import StackHarness

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def links(stack: StackHarness) -> dict[str, str]:
    """The approve and reject paths of the latest email to the approver (as the app sent it)."""
    mail = [m for m in stack.sent_emails() if APPROVER in m.to][-1]
    found = dict(re.findall(r"(?m)^\s*(?:\S.*\n)?\s*(https?://\S+/approval/(\S+))$", mail.text))
    paths = [url.split(stack.api_url, 1)[-1] for url in found]
    assert len(paths) == 2, mail.text
    assert mail.html and all(p in mail.html for p in paths)
    return {"approve": paths[0], "reject": paths[1]}


def get(stack: StackHarness, path: str, lang: str = "en-US") -> Any:
    return stack.client.http.get(path, headers={"Accept-Language": lang})


def submit(stack: StackHarness, path: str, body: str = "") -> Any:
    return stack.client.http.post(path, headers=FORM, body=body.encode())


def text(response: Any) -> str:
    return response.body.decode() if isinstance(response.body, bytes) else str(response.body)


def test_get_never_acts_and_reject_needs_a_reason(stack: StackHarness) -> None:
    set_rules(stack, RULES)
    contract_id = pending(stack, "link-reject")
    paths = links(stack)

    for _ in range(2):  # a mail scanner, then the approver: nothing changes on a GET
        page = get(stack, paths["reject"])
        assert page.status_code == 200, text(page)
        assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
        assert 'data-outcome="ready"' in text(page) and 'method="post"' in text(page)
        # The contract's locale (zh-CN) wins over the browser's; its key facts are shown.
        assert "确认驳回此合同" in text(page) and "CNY 128000.00" in text(page)
    assert stack.get_contract(contract_id)["status"] == "pending_approval"
    assert len(events(stack, contract_id, "approval_link_opened")) == 1

    missing = submit(stack, paths["reject"], "reason=+")
    assert missing.status_code == 422 and 'id="reason-missing"' in text(missing)
    assert stack.get_contract(contract_id)["status"] == "pending_approval"

    done = submit(stack, paths["reject"], "reason=%E4%BB%B7%E6%A0%BC%E8%BF%87%E4%BD%8E")  # 价格过低
    assert done.status_code == 200, text(done)
    assert 'data-outcome="rejected"' in text(done)
    contract = stack.get_contract(contract_id)
    assert contract["status"] == "rejected" and contract["status_reason"] == "价格过低"
    assert events(stack, contract_id, "rejected_by_email")[0]["detail"]["by"] == APPROVER
    assert events(stack, contract_id, "rejected")[0]["detail"]["by"] == APPROVER
    assert stack.sandbox_envelopes(contract_id) == []

    # Either link, afterwards, says who decided.
    again = get(stack, paths["approve"])
    assert again.status_code == 409 and "已由 legal@yunti.example 驳回" in text(again)


def test_a_tampered_token_is_a_404_page(stack: StackHarness) -> None:
    set_rules(stack, RULES)
    contract_id = pending(stack, "link-tampered")
    path = links(stack)["approve"]
    flipped = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    for response in (get(stack, flipped), submit(stack, flipped), get(stack, "/approval/not-a-token"),
                     submit(stack, "/approval/0123abcd." + "A" * 60)):
        assert response.status_code == 404, text(response)
        assert 'data-outcome="invalid"' in text(response)
        assert "HT-" not in text(response)  # nothing about any contract
    assert stack.get_contract(contract_id)["status"] == "pending_approval"


def test_a_link_for_a_superseded_version_is_refused(stack: StackHarness) -> None:
    set_rules(stack, RULES)
    body = sales_body("link-superseded")
    contract_id = pending(stack, "link-superseded")
    old = links(stack)
    assert stack.post_webhook(changed(body)).status_code == 202
    stack.drain_jobs()
    assert stack.get_contract(contract_id)["status"] == "pending_approval"

    refused = submit(stack, old["approve"])
    assert refused.status_code == 410 and 'data-outcome="superseded"' in text(refused)
    assert stack.get_contract(contract_id)["status"] == "pending_approval"
    assert not events(stack, contract_id, "approved")

    new = links(stack)  # the approver was asked about the new version, with new links
    assert new["approve"] != old["approve"]
    assert submit(stack, new["approve"]).status_code == 200
    assert stack.wait_status(contract_id, "sent")["envelope_id"]


def test_two_concurrent_confirmations_make_one_approval(stack: StackHarness) -> None:
    set_rules(stack, RULES)
    contract_id = pending(stack, "link-race")
    token = links(stack)["approve"].rsplit("/", 1)[-1]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def confirm() -> None:
        start.wait()
        outcomes.append(approval_links.act(token, None).page)

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["approved", "decided"], outcomes
    assert len(events(stack, contract_id, "approved")) == 1
    assert len(events(stack, contract_id, "approved_by_email")) == 1
    assert stack.wait_status(contract_id, "sent")["envelope_id"]
    assert len(stack.sandbox_envelopes(contract_id)) == 1


def test_an_approver_removed_from_the_rules_can_no_longer_act(stack: StackHarness) -> None:
    set_rules(stack, RULES)
    contract_id = pending(stack, "link-removed")
    path = links(stack)["approve"]
    set_rules(stack, {**RULES, "approvers": ["someone.else@yunti.example"]})
    refused = submit(stack, path)
    assert refused.status_code == 410 and 'data-outcome="revoked"' in text(refused)
    assert stack.get_contract(contract_id)["status"] == "pending_approval"
