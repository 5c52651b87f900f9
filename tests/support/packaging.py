"""The deployable package, built once per test session and stage (`python -m infra.package`, a minute
or so the first time on a fresh checkout: the layer's bytecode is then cached under
.chalice/deployments), for the package and deployment checks (tests/integration/test_package.py,
test_deploy_check.py). Under xdist the workers share it: the first to need a stage builds it under a
lock in the session's shared temporary directory, the others wait and read.

The settings a deployed stage requires are given the way an operator can give them, a settings file
(infra/settings.py): values that pass the check and belong to nobody (deploy-check.net is not ours,
the GUIDs are made up), never a credential.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GROUP = "package"

SETTINGS = {
    "SIGNBRIDGE_PUBLIC_BASE_URL": "https://signbridge.deploy-check.net",
    "SIGNBRIDGE_MAIL_FROM": "contracts@deploy-check.net",
    "DOCUSIGN_INTEGRATION_KEY": "4c1a5b7e-0d2f-4a8b-9c3d-5e6f7a8b9c0d",
    "DOCUSIGN_USER_ID": "7d2e9f10-3b4c-4d5e-8f6a-1b2c3d4e5f60",
}


def settings_file(directory: Path, stage: str, values: dict[str, str] | None = None) -> Path:
    path = directory / f"settings-{stage}.json"
    path.write_text(json.dumps({"stage": stage, "environment_variables": SETTINGS if values is None else values}))
    return path


def run_package(stage: str, out: Path, settings: Path | None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "infra.package", "--stage", stage, "--out", str(out)]
    if settings is not None:
        args += ["--settings", str(settings)]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"})


class Packages:
    """Each stage's package, built on first use, once for all the session's workers."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        base = factory.getbasetemp()
        self._root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # shared by the workers

    def __call__(self, stage: str) -> Path:
        work = self._root / f"package-{stage}"
        out, done = work / "out", work / "built"
        work.mkdir(exist_ok=True)
        with open(work / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not done.exists():
                result = run_package(stage, out, settings_file(work, stage))
                assert result.returncode == 0, result.stdout + result.stderr
                done.touch()
        return out


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Packages:
    return Packages(tmp_path_factory)
