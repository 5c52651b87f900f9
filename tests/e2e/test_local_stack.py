"""End to end: the local stack as real processes (moto's server, the DocuSign sandbox, chalice local,
the SQS dispatcher), driven over HTTP exactly as `make demo` and `make run` do."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from devstack.demo import DemoResult, download_signed_pdf, run_scenario
from devstack.stack import STATE_FILE, StackState, free_port, http_json

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("devstack")]


@pytest.fixture(scope="module")
def demo(stack_state: StackState) -> DemoResult:
    return run_scenario(stack_state)


def test_contract_is_signed_archived_and_in_force(stack_state: StackState, demo: DemoResult) -> None:
    status, contract = http_json("GET", f"{stack_state.api_url}/v1/contracts/{demo.contract_id}",
                                 headers={"Authorization": f"Bearer {stack_state.api_key}"})
    assert status == 200
    # The demo moved the clock to 30 days before the end: inside the 90-day notice window.
    assert contract["status"] == "expiring"
    assert [s["status"] for s in contract["signers"]] == ["signed", "signed"]
    # The archived PDF, downloaded through the API's short-lived link, is the one whose hash we keep.
    pdf = download_signed_pdf(stack_state, demo.contract_id)
    assert pdf.startswith(b"%PDF")
    assert hashlib.sha256(pdf).hexdigest() == contract["documents"]["signed"]["sha256"]


def test_the_expiry_reminder_went_to_the_owner_once(demo: DemoResult) -> None:
    expiry = [m for m in demo.reminder_emails if "HT-2026-0117" in m["subject"] and "剩余" in m["subject"]]
    assert len(expiry) == 1
    assert "wang.min@yunti.example" in expiry[0]["to"]


def test_the_timeline_tells_the_whole_story(demo: DemoResult) -> None:
    types = [e["type"] for e in demo.contract["timeline"]]
    expected = ["received", "sending", "rendered", "envelope_sent", "envelope_completed", "archived", "active",
                "reminder_sent"]
    positions = [types.index(t) for t in expected]
    assert positions == sorted(positions), types


def test_state_file_has_what_scripts_rely_on(stack_state: StackState) -> None:
    data = json.loads(STATE_FILE.read_text())
    for key in ("api_url", "sandbox_url", "aws_endpoint_url", "tenant_id", "api_key", "sources"):
        assert data[key]
    assert data["sources"]["demo-generic"]["kind"] == "generic"
    assert data["sources"]["demo-generic"]["secret"].startswith("whsec_")


def test_make_run_prints_a_working_curl_and_ctrl_c_stops_everything() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "devstack", "run"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "SIGNBRIDGE_PORT": str(port)})
    output = ""
    try:
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while "Ctrl-C stops everything" not in output and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output += line
        assert "Ctrl-C stops everything" in output, output
        assert f"http://127.0.0.1:{port}" in output
        assert "state.json" in output
        curl = next(line.strip() for line in output.splitlines()
                    if line.strip().startswith("curl ") and "-X POST" in line)
        answer = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=60)
        body = json.loads(answer.stdout)
        assert body["status"] == "received" and body["contract_id"].startswith("ctr_")
        pids = json.loads(STATE_FILE.read_text())["pids"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    for name, pid in pids.items():
        assert not _alive(pid), f"{name} (pid {pid}) survived Ctrl-C"
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)


def test_devstack_clock_cli_validates_its_argument() -> None:
    result = subprocess.run([sys.executable, "-m", "devstack", "clock", "--at", "2027-11-01T09:00:00"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert re.search(r"offset", result.stderr + result.stdout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie that its parent has not reaped yet is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_make_demo_runs_twice_in_a_row() -> None:
    """The second run starts at once on the same API port, while the first run's connections are still
    in TIME-WAIT."""
    port = str(free_port())
    for run in (1, 2):
        result = subprocess.run([sys.executable, "-m", "devstack", "demo"], cwd=ROOT, capture_output=True,
                                text=True, timeout=300, env={**os.environ, "SIGNBRIDGE_PORT": port})
        assert result.returncode == 0, f"run {run}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        assert "✓ reminder email sent" in result.stdout and "Timeline of ctr_" in result.stdout
