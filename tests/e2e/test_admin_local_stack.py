"""End to end: an operator runs a new tenant on the local stack with the admin CLI alone
(`python -m devstack admin …`, what `make admin ARGS=…` runs), as processes, over HTTP: the tenant
is made and configured, given a key and a generic source; a contract over its approval limit is held
for approval; an invalid setting is refused; a revoked key is answered 401 at once; the audit log
shows it all."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.stack import StackState, http_json
from devstack.webhook import signed_headers

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("devstack")]


def admin_process(*argv: str) -> tuple[int, str]:
    """`python -m devstack admin …` as its own process: what `make admin ARGS=…` runs."""
    done = subprocess.run([sys.executable, "-m", "devstack", "admin", "--actor", "e2e-operator", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def admin(stack_state: StackState) -> Iterator[Callable[..., tuple[int, str]]]:
    """The same entry point in this process (a new interpreter per command costs seconds on a busy
    machine): devstack.admin.main reads the state file and aims this process at the stack; the
    environment is put back afterwards."""
    from devstack.admin import main
    from devstack.stack import use_environment

    saved = dict(os.environ)

    def run(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(["--actor", "e2e-operator", *argv])
        return code, out.getvalue()

    yield run
    os.environ.clear()
    os.environ.update(saved)
    use_environment({})


def test_an_operator_runs_a_tenant_with_the_cli_alone(stack_state: StackState,
                                                      admin: Callable[..., tuple[int, str]]) -> None:
    code, out = admin_process("tenants", "add", "--id", "northwind", "--name", "Northwind Trading",
                      "time_zone=America/New_York", "business_hours.start=08:30", "business_hours.end=17:00")
    assert code == 0, out
    code, out = admin("tenants", "set", "--id", "northwind", 'approval.approvers=["legal@northwind.example"]',
                      "approval.amount_over.CNY=100000.00")
    assert code == 0, out
    assert '  approval.amount_over.CNY: (not set) -> "100000.00"' in out

    # An invalid setting: its path and reason, exit 2, nothing stored.
    code, out = admin("tenants", "set", "--id", "northwind", "business_hours.end=07:00")
    assert code == 2 and "  business_hours.end: must be after start (08:30)" in out, out
    code, out = admin("tenants", "show", "--id", "northwind")
    shown = json.loads(out)
    assert shown["settings"]["business_hours"] == {"start": "08:30", "end": "17:00"}

    code, out = admin("tenants", "keys", "issue", "--tenant", "northwind", "--label", "northwind CRM", "--json")
    assert code == 0, out
    issued = json.loads(out)
    code, out = admin("sources", "add", "--id", "northwind-generic", "--tenant", "northwind", "--kind", "generic",
                      "--json")
    assert code == 0, out
    secret = json.loads(out)["secret"]

    body = json.loads((ROOT / "devstack" / "samples" / "sales.json").read_text(encoding="utf-8"))
    body["contract"].update(crm_record_id="nw-deal-1", amount="128000.00")  # over the 100,000.00 CNY limit
    body["contract"].pop("callback_url", None)
    raw = json.dumps(body, ensure_ascii=False).encode()
    status, created = http_json("POST", f"{stack_state.api_url}/v1/webhooks/northwind-generic", raw,
                                headers=signed_headers(secret, raw))
    assert status == 202, created
    auth = {"Authorization": f"Bearer {issued['api_key']}"}
    contract = wait_for(lambda: http_json("GET", f"{stack_state.api_url}/v1/contracts/{created['contract_id']}",
                                          headers=auth),
                        lambda answer: answer[1].get("status") == "pending_approval")[1]
    # Held by the rule just set: the timeline gives the reason.
    assert any("CNY 128000.00 is over CNY 100000.00" in json.dumps(e["detail"] or {}) for e in contract["timeline"]), \
        contract["timeline"]

    code, out = admin_process("tenants", "keys", "revoke", "--tenant", "northwind", "--key-id", issued["key_id"])
    assert code == 0, out
    status, refused = http_json("GET", f"{stack_state.api_url}/v1/contracts/{created['contract_id']}", headers=auth)
    assert status == 401, refused

    code, out = admin("audit", "--tenant", "northwind", "--json")
    entries = [json.loads(line) for line in out.splitlines()]
    assert [e["command"] for e in entries] == ["tenants.add", "tenants.set", "tenants.keys.issue", "sources.add",
                                               "tenants.keys.revoke"]
    assert {e["actor"] for e in entries} == {"e2e-operator"}
    assert issued["api_key"] not in out and secret not in out


def wait_for(read: Any, done: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        answer = read()
        if done(answer) or time.monotonic() > deadline:
            assert done(answer), answer
            return answer
        time.sleep(0.3)
