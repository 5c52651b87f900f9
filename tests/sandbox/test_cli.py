"""`python -m devstack.sandbox` starts a server and says where."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
