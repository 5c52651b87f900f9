"""`make demo`: one sales contract through its whole life on the local stack, printed as it happens.

webhook accepted → envelope sent → signed in the sandbox → Connect completed → signed PDF archived
(sha256) → clock moved to 30 days before the end date → reminder email sent → the timeline.
"""

from __future__ import annotations

import email
import hashlib
import json
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from email import policy
from typing import Any
from zoneinfo import ZoneInfo

from devstack.signer import act, signing_url
from devstack.stack import ROOT, Stack, StackState, http_json
from devstack.webhook import sample, signed_headers


class DemoFailed(RuntimeError):
    pass


@dataclass
class DemoResult:
    contract_id: str
    envelope_id: str
    signed_sha256: str
    pdf_sha256: str
    clock_at: str
    reminder_emails: list[dict[str, Any]] = field(default_factory=list)
    contract: dict[str, Any] = field(default_factory=dict)


def say(text: str) -> None:
    print(text, flush=True)


def get_contract(state: StackState, contract_id: str) -> dict[str, Any]:
    status, body = http_json("GET", f"{state.api_url}/v1/contracts/{contract_id}",
                             headers={"Authorization": f"Bearer {state.api_key}"})
    if status != 200:
        raise DemoFailed(f"GET contract answered {status}: {body}")
    return body


def wait_for(state: StackState, contract_id: str, test: Any, what: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    contract = get_contract(state, contract_id)
    while time.monotonic() < deadline:
        if test(contract):
            return contract
        if contract["status"] in ("send_failed", "declined", "voided"):
            raise DemoFailed(f"contract went {contract['status']}: {contract.get('status_reason')}")
        time.sleep(0.2)
        contract = get_contract(state, contract_id)
    raise DemoFailed(f"timed out waiting for {what} (status {contract['status']}; see .devstack/*.log)")


def ses_messages(state: StackState) -> list[dict[str, Any]]:
    """What moto's SES has 'sent', parsed like a mail client would."""
    with urllib.request.urlopen(f"{state.aws_endpoint_url}/moto-api/data.json", timeout=30) as response:
        data = json.loads(response.read())
    messages = []
    for raw in data.get("ses", {}).get("RawMessage", []):
        parsed = email.message_from_string(raw["raw_data"], policy=policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        messages.append({"id": raw.get("id"), "subject": str(parsed["Subject"]), "to": str(parsed["To"]),
                         "text": body.get_content() if body else ""})
    return messages


def crm_callbacks(state: StackState, contract_id: str) -> list[dict[str, Any]]:
    """What the demo CRM (the local receiver) got for this contract: answered 2xx, oldest first."""
    if not state.receiver_url:
        return []
    deadline = time.monotonic() + 10
    while True:
        _, data = http_json("GET", f"{state.receiver_url}/callbacks.json")
        got = [c for c in (data or {}).get("callbacks", [])
               if c.get("contract_id") == contract_id and 200 <= int(c.get("answered") or 0) < 300]
        if any(c.get("status") == "active" for c in got) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def download_signed_pdf(state: StackState, contract_id: str) -> bytes:
    """Through the public API, as a user would: a 302 to a short-lived S3 URL."""
    from devstack.signer import request_with_auth_no_redirect

    status, location = request_with_auth_no_redirect(
        f"{state.api_url}/v1/contracts/{contract_id}/document?version=signed", state.api_key)
    if status != 302 or not location:
        raise DemoFailed(f"document route answered {status}")
    with urllib.request.urlopen(location, timeout=60) as response:
        return response.read()


def expiry_notice_instant(contract: dict[str, Any], days_before: int = 30) -> datetime:
    """09:00 local, 30 days before the end date, moved to the next business day like the planner."""
    zone = ZoneInfo(contract.get("time_zone") or "Asia/Shanghai")
    day = date.fromisoformat(contract["end_date"]) - timedelta(days=days_before)
    while day.isoweekday() > 5:
        day += timedelta(days=1)
    return datetime.combine(day, dtime(9, 0), zone)


def run_scenario(state: StackState) -> DemoResult:
    body = sample("sales")
    body["contract"]["crm_record_id"] = f"deal-demo-{int(time.time() * 1000)}"
    body["contract"].pop("callback_url", None)  # the demo CRM is the local receiver (the source's callback URL)
    raw = json.dumps(body, ensure_ascii=False).encode()
    source_id = "demo-generic"
    secret = state.sources[source_id]["secret"]
    status, answer = http_json("POST", f"{state.api_url}/v1/webhooks/{source_id}", raw,
                               headers=signed_headers(secret, raw))
    if status != 202:
        raise DemoFailed(f"webhook answered {status}: {answer}")
    contract_id = answer["contract_id"]
    say(f"  ✓ webhook accepted       202 {contract_id} ({body['contract']['number']}, "
        f"{body['contract']['title']})")

    contract = wait_for(state, contract_id, lambda c: c["status"] == "sent", "the envelope")
    say(f"  ✓ envelope sent          {contract['envelope_id']} "
        f"(rendered sha256 {contract['documents']['rendered']['sha256'][:16]}…)")

    for signer in sorted(contract["signers"], key=lambda s: (s["routing_order"], s["position"])):
        position = signer["position"]
        contract = wait_for(state, contract_id, lambda c, p=position: c["signers"][p - 1]["status"] != "created",
                            f"signer {position}'s turn")
        url = signing_url(state.api_url, state.api_key, state.sandbox_url, contract, position)
        status, _ = act(url, "sign")
        if status >= 400:
            raise DemoFailed(f"signing page answered {status}")
        wait_for(state, contract_id, lambda c, p=position: c["signers"][p - 1]["status"] == "signed",
                 f"signer {position} signed")
        say(f"  ✓ signed in the sandbox  signer {position}: {signer['name']} ({signer['delivery']}, "
            f"routing {signer['routing_order']})")

    contract = wait_for(state, contract_id, lambda c: c["status"] in ("completed", "active"), "Connect: completed")
    say("  ✓ Connect completed      envelope-completed delivered with a valid HMAC")
    contract = wait_for(state, contract_id, lambda c: c["status"] == "active" and c["documents"]["signed"],
                        "the archive")
    signed_sha = contract["documents"]["signed"]["sha256"]
    pdf = download_signed_pdf(state, contract_id)
    pdf_sha = hashlib.sha256(pdf).hexdigest()
    if pdf_sha != signed_sha or not pdf.startswith(b"%PDF"):
        raise DemoFailed(f"the archived PDF's sha256 {pdf_sha} differs from the recorded {signed_sha}")
    say(f"  ✓ signed PDF archived    sha256 {signed_sha} ({len(pdf):,} bytes, checked)")

    before = {m["id"] for m in ses_messages(state)}
    instant = expiry_notice_instant(body["contract"])
    say(f"  … clock → {instant.isoformat()} (30 days before the end date {body['contract']['end_date']}, "
        f"first business morning)")
    subprocess.run([sys.executable, "-m", "devstack", "clock", "--at", instant.isoformat()], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    sent = [m for m in ses_messages(state) if m["id"] not in before]
    expiry = [m for m in sent if body["contract"]["number"] in m["subject"] and "到期" in m["subject"]
              and "剩余" in m["subject"]]
    if not expiry:
        raise DemoFailed(f"no expiry reminder was sent; got {[m['subject'] for m in sent]}")
    say(f"  ✓ reminder email sent    to {expiry[-1]['to']}: {expiry[-1]['subject']}")
    if len(sent) > len(expiry):
        others = ", ".join(sorted({m["subject"].split("：")[0] for m in sent if m not in expiry}))
        say(f"    (and {len(sent) - len(expiry)} earlier reminders that came due while the clock jumped a year, "
            f"sent once as a catch-up: {others})")
    contract = get_contract(state, contract_id)
    callbacks = crm_callbacks(state, contract_id)
    if callbacks:
        statuses = " → ".join(c["status"] for c in callbacks)
        verified = all(c.get("verified") for c in callbacks)
        say(f"  ✓ CRM callbacks          {len(callbacks)} signed status callbacks "
            f"({'signatures verified' if verified else 'NOT all verified'}): {statuses}")
    return DemoResult(contract_id, contract["envelope_id"], signed_sha, pdf_sha, instant.isoformat(), sent, contract)


def print_timeline(contract: dict[str, Any]) -> None:
    say(f"\nTimeline of {contract['contract_id']} ({contract['number']}), now {contract['status']}:")
    for event in contract["timeline"]:
        detail = event.get("detail") or {}
        extra = ""
        for key in ("envelope_id", "sha256", "kind", "event", "to"):
            if key in detail:
                value = detail[key]
                extra += f" {key}={','.join(value) if isinstance(value, list) else value}"
        say(f"  {event['at'][:19]}  {event['type']:<22} {event.get('status') or '':<10}{extra}")


def main() -> int:
    stack = Stack()
    say("signbridge demo: starting the local stack (moto, DocuSign sandbox, API, dispatcher)…")
    started = time.monotonic()
    try:
        state = stack.start()
        say(f"  stack up in {time.monotonic() - started:.1f} s — API {state.api_url}, sandbox {state.sandbox_url}\n")
        result = run_scenario(state)
        print_timeline(result.contract)
    except DemoFailed as err:
        say(f"\ndemo failed: {err}")
        return 1
    finally:
        stack.stop()
    say(f"\ndone in {time.monotonic() - started:.1f} s")
    return 0


