"""The load scenario of RELIABILITY.md, asserted: contracts from 16 concurrent clients to the local
stack as processes (20% exact repeat deliveries, 10% CRM retries under a new delivery id):
no 5xx, exactly one contract and one envelope per CRM record, nothing lost, one contract id per CRM record.
It runs its own stack beside the e2e tier's (SIGNBRIDGE_STATE_DIR), through the same command
`make reliability` uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# `make test` posts 500 (within the suite's time); `make reliability` posts 1,000 (RELIABILITY.md).
CONTRACTS = int(os.environ.get("SIGNBRIDGE_LOAD_CONTRACTS", "500"))

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("devstack")]


def test_contracts_from_sixteen_concurrent_clients(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    env = {**os.environ, "SIGNBRIDGE_STATE_DIR": str(tmp_path / "stack")}
    done = subprocess.run([sys.executable, "-m", "reliability.load", "--contracts", str(CONTRACTS), "--clients", "16",
                           "--json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert out.exists(), done.stdout[-2000:] + done.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["server_errors"] == 0, result["answers"]
    assert set(result["answers"]) <= {"200", "202"}, result["answers"]
    assert result["answers"]["202"] == CONTRACTS  # one creation per CRM record; repeats and retries answer 200
    assert result["contracts_stored"] == CONTRACTS
    assert result["envelopes"] == CONTRACTS and result["contracts_with_envelope"] == CONTRACTS
    assert result["duplicate_envelopes"] == 0 and result["lost"] == 0 and result["mismatched_ids"] == 0
    assert result["deliveries"] == CONTRACTS + result["repeats"] + result["crm_retries"]
    assert done.returncode == 0, done.stderr[-4000:]
