"""Term transitions applied by the hourly run: active → expiring → expired for a fixed term,
active → renewed (→ renewed …) with the new term for an auto-renewing one, each once, at the right
moment in the contract's zone, in the timeline and in the signed callback to the CRM.

Fixed term (sales_2030, Asia/Shanghai): ends Sat 2030-11-30; the 90-day notice window opens on
2030-09-01, so `expiring` at 2030-09-01 00:00 +08:00 = 2030-08-31T16:00Z, and `expired` at
2030-12-01 00:00 +08:00 = 2030-11-30T16:00Z.
Auto-renewing (service_2030, Europe/Berlin): term 2030-01-01 .. 2030-06-30, `renewed` at
2030-07-01 00:00 CEST = 2030-06-30T22:00Z into 2030-07-01 .. 2030-12-31 (whole months keep their
length); again at 2031-01-01 00:00 CET = 2030-12-31T23:00Z into 2031-01-01 .. 2031-06-30.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.integration.test_reminders_support import (
    ANNA,
    active_contract,
    emails_since,
    fire,
    pending_keys,
    sales_2030,
    service_2030,
)
from tests.support.stack import StackHarness


@pytest.fixture
def crm() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A CRM endpoint on loopback that records the callbacks it receives."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/signbridge", received
    server.shutdown()
    server.server_close()


def events(stack: StackHarness, contract_id: str, type_: str) -> list[dict[str, Any]]:
    return [e for e in stack.get_contract(contract_id)["timeline"] if e["type"] == type_]


def callbacks(stack: StackHarness, received: list[dict[str, Any]], status: str) -> list[dict[str, Any]]:
    stack.drain_jobs()
    return [c["data"] for c in received if c["data"]["status"] == status]


def test_fixed_term_goes_expiring_then_expired(stack: StackHarness, crm: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = crm
    cid = active_contract(stack, sales_2030(), callback_url=url).contract_id
    assert fire(stack, "2030-08-31T15:00")["applied"] == 0
    assert stack.get_contract(cid)["status"] == "active"

    assert fire(stack, "2030-08-31T16:00")["applied"] == 1
    assert fire(stack, "2030-08-31T16:00")["applied"] == 0  # the schedule fired twice
    contract = stack.get_contract(cid)
    assert (contract["status"], contract["status_reason"]) == ("expiring", "the term ends on 2030-11-30")
    [expiring] = events(stack, cid, "expiring")
    assert expiring["at"] == "2030-08-31T16:00:00+00:00"
    assert expiring["detail"]["term_end"] == "2030-11-30"
    [sent] = callbacks(stack, received, "expiring")
    assert (sent["previous_status"], sent["event"], sent["reason"]) == ("active", "expiring",
                                                                       "the term ends on 2030-11-30")
    # Reminders keep going while it is expiring: the 90-day notice on Mon 09-02.
    before = len(stack.sent_emails())
    fire(stack, "2030-09-02T01:00")
    assert "合同即将到期：HT-2030-0001（2030年11月30日到期，剩余 89 天）" in [
        e.subject for e in emails_since(stack, before)]

    assert fire(stack, "2030-11-30T15:00")["applied"] == 0  # 23:00 on the last day: still in force
    assert fire(stack, "2030-11-30T16:00")["applied"] == 1
    contract = stack.get_contract(cid)
    assert (contract["status"], contract["status_reason"]) == ("expired", "the term ended on 2030-11-30")
    assert len(events(stack, cid, "expired")) == 1
    assert pending_keys(cid) == set()  # nothing is left to send or apply
    [sent] = callbacks(stack, received, "expired")
    assert sent["previous_status"] == "expiring"
    assert fire(stack, "2030-12-02T01:00")["read"] == 0


def test_auto_renewing_contract_renews_into_its_next_term(stack: StackHarness,
                                                          crm: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = crm
    cid = active_contract(stack, service_2030(), callback_url=url).contract_id
    assert f"{cid}:renewal:2030-05-31:-30d" in pending_keys(cid)
    assert fire(stack, "2030-06-30T21:00")["applied"] == 0  # 23:00 in Berlin on the last day
    assert stack.get_contract(cid)["status"] == "active"

    assert fire(stack, "2030-06-30T22:00")["applied"] == 1
    assert fire(stack, "2030-06-30T22:00")["applied"] == 0
    contract = stack.get_contract(cid)
    assert contract["status"] == "renewed"
    assert contract["status_reason"] == "renewed automatically for the term 2030-07-01 to 2030-12-31"
    assert contract["term"] == {"start": "2030-07-01", "end": "2030-12-31", "renewals": 1, "auto_renew": True}
    [renewed] = events(stack, cid, "renewed")
    assert renewed["at"] == "2030-06-30T22:00:00+00:00"
    assert renewed["detail"]["previous_term"] == {"start": "2030-01-01", "end": "2030-06-30"}
    assert renewed["detail"]["term"] == {"start": "2030-07-01", "end": "2030-12-31"}
    [sent] = callbacks(stack, received, "renewed")
    assert sent["previous_status"] == "active" and "2030-07-01 to 2030-12-31" in sent["reason"]

    # The new term is planned: cancel-by = 12-31 - 30 days = Sun 12-01 -> Fri 11-29; notices 30 days
    # before (Wed 10-30) and 7 days before (Fri 11-22); nothing of the old term is left pending.
    keys = pending_keys(cid)
    assert {f"{cid}:renewal:2030-11-29:-30d", f"{cid}:renewal:2030-11-29:-7d",
            f"{cid}:transition:renewed:2030-12-31", f"{cid}:payment:h2:2030-07-31:due"} <= keys
    assert not [k for k in keys if "2030-05-31" in k or "renewed:2030-06-30" in k]

    before = len(stack.sent_emails())
    fire(stack, "2030-10-30T07:00")  # 08:00 CET: not yet
    fire(stack, "2030-10-30T08:00")  # 09:00 CET
    renewal = [e for e in emails_since(stack, before) if e.subject.startswith("Contract renews")]
    assert [e.subject for e in renewal] == [
        "Contract renews automatically: SVC-2030-007 (give notice by 29 November 2030 to stop it)"]
    assert renewal[0].to == [ANNA]
    assert "the next term runs from 1 January 2031 to 30 June 2031" in renewal[0].text  # six months again
    assert "Term: 1 July 2030 to 31 December 2030" in renewal[0].text

    # And again at the end of the renewed term: 2031-01-01 00:00 CET = 2030-12-31T23:00Z.
    assert fire(stack, "2030-12-31T22:00")["applied"] == 0
    assert fire(stack, "2030-12-31T23:00")["applied"] == 1
    contract = stack.get_contract(cid)
    assert (contract["status"], contract["term"]["start"], contract["term"]["end"], contract["term"]["renewals"]) == (
        "renewed", "2031-01-01", "2031-06-30", 2)
    assert len(events(stack, cid, "renewed")) == 2
    assert f"{cid}:transition:renewed:2031-06-30" in pending_keys(cid)
