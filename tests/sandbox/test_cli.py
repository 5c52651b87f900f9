"""`python -m devstack.sandbox` starts a server and says where."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import generate_key, http, public_pem

REPO = Path(__file__).resolve().parents[2]


def test_module_entry_point_serves(tmp_path: Path) -> None:
    pem = tmp_path / "public.pem"
    pem.write_text(public_pem(generate_key()))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack.sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--quiet",
            "--integration",
            f"cli-key={pem}",
            "--connect-key",
            "k1",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("DocuSign sandbox listening on http://127.0.0.1:")
        base = line.rsplit(" ", 1)[1].strip()
        assert http("GET", base + "/health").json() == {"ok": True}
        config = json.loads(http("GET", base + "/sandbox/config").body)
        assert config["integration_keys"] == ["cli-key"] and config["connect_key_count"] == 1
        assert config["rest_host"] == base + "/restapi"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_rate_limit_and_connect_retry_flags() -> None:
    from devstack.sandbox.__main__ import build_config, parse_args
    from devstack.sandbox.connect import REALISTIC_SCHEDULE

    flags = ["--hourly-limit", "3000", "--burst-limit", "200", "--burst-window", "30", "--connect-retry", "realistic"]
    config = build_config(parse_args(flags))
    assert (config.enforced_hourly_limit, config.enforced_burst_limit, config.burst_window_seconds) == (3000, 200, 30.0)
    assert config.connect_retry_schedule_seconds == list(REALISTIC_SCHEDULE)
    assert build_config(parse_args(["--connect-retry", "15,60,300"])).connect_retry_schedule_seconds == [15, 60, 300]
    defaults = build_config(parse_args([]))
    assert (defaults.enforced_hourly_limit, defaults.enforced_burst_limit) == (None, None)
    assert defaults.connect_retry_schedule_seconds is None
    assert build_config(parse_args(["--connect-retry", "fast"])).connect_retry_schedule_seconds is None
    with pytest.raises(SystemExit):
        build_config(parse_args(["--connect-retry", "soon"]))
