"""The templates reach the deployment package: `chalice package` builds the zip, the templates are
inside, and a contract renders from the extracted zip alone (the app code and its packaged
dependencies, not this checkout)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group("package")


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real build: `python -m infra.package` (chalice package + infra merge + bytecode)."""
    out = tmp_path_factory.mktemp("package") / "out"
    subprocess.run([sys.executable, "-m", "infra.package", "--stage", "dev", "--out", str(out)], cwd=ROOT,
                   check=True, capture_output=True, text=True, timeout=600,
                   env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"})
    return out


def test_the_zip_holds_every_contract_template(package: Path) -> None:
    app_zip = zipfile.ZipFile(package / "deployment.zip").namelist()
    assert "app.py" in app_zip and "chalicelib/rendering/render.py" in app_zip
    # vendor/templates ships with the code, or in the shared layer under site-packages.
    names = {n.split("site-packages/", 1)[-1] for z in package.glob("*.zip") for n in zipfile.ZipFile(z).namelist()}
    for contract_type in ("sales", "service", "partner", "supplier"):
        for locale in ("zh-CN", "en"):
            assert f"templates/contracts/{contract_type}.{locale}.html.j2" in names
    assert "templates/contracts/_base.html.j2" in names
    assert any(n.startswith("templates/emails/") for n in names)
    assert any(n.startswith("templates/pages/") for n in names)


def test_a_contract_renders_from_the_extracted_zip(package: Path, tmp_path: Path) -> None:
    root = tmp_path / "task"
    for archive in package.glob("*.zip"):  # the app and, with automatic_layer, its dependency layer
        zipfile.ZipFile(archive).extractall(root)
    site = root / "python" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    contract = json.loads((ROOT / "devstack" / "samples" / "sales.json").read_text())["contract"]
    code = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(root)!r}, {str(site)!r}]\n"
        "from chalicelib.rendering.render import render_contract\n"
        "import chalicelib.rendering.environment as env\n"
        f"doc = render_contract(json.loads({json.dumps(contract, ensure_ascii=False)!r}))\n"
        "print(env.TEMPLATES_DIR)\n"
        "print(doc.template_version)\n"
        "print('壹拾贰万捌仟元整' in doc.html, 'HT-2026-0117' in doc.html)\n"
    )
    # -I: isolated, so nothing comes from this checkout or the venv's site-packages.
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=tmp_path, capture_output=True,
                            text=True, check=True)
    templates_dir, version, checks = result.stdout.strip().splitlines()
    # In the app zip, or in the dependency layer when automatic_layer is on: either way, extracted.
    assert templates_dir in (str(root / "templates"), str(site / "templates"))
    assert version.startswith("sales.zh-CN@")
    assert checks == "True True"


def test_the_merged_template_passes_cfn_lint_and_declares_the_resources(package: Path) -> None:
    template = json.loads((package / "sam.json").read_text())
    resources = template["Resources"]
    for name in ("ContractsTable", "EventsTable", "KeysTable", "RemindersTable", "RegistryTable", "JobsQueue",
                 "JobsDeadLetterQueue", "ArchiveBucket", "DeadLetterAlarm", "Dashboard", "ProcessJob", "APIHandler"):
        assert name in resources, name
    assert resources["JobsQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert resources["ProcessJob"]["Properties"]["Runtime"] == runtime
    # The token cache's key: symmetric, rotated, administered through the account (IAM policies).
    key = resources["TokenCacheKey"]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert key["Properties"]["EnableKeyRotation"] is True
    [root] = key["Properties"]["KeyPolicy"]["Statement"]
    assert root["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    alias = resources["TokenCacheKeyAlias"]
    assert alias["Properties"] == {"AliasName": {"Fn::Sub": "alias/signbridge-${Stage}-token-cache"},
                                   "TargetKeyId": {"Ref": "TokenCacheKey"}}
    # Every function's role may seal and open the token with that alias, and nothing else with KMS.
    roles = [r for r in resources.values() if r["Type"] == "AWS::IAM::Role"]
    assert roles
    for role in roles:
        statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
        assert [s for s in statements if any(a.startswith("kms:") for a in s["Action"])] == [
            token_cache_statement("dev")]
    lint = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(package / "sam.json")],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_every_module_ships_with_unchecked_hash_bytecode(package: Path) -> None:
    import importlib.util

    for archive in package.glob("*.zip"):
        zipped = zipfile.ZipFile(archive)  # opened once: the zip holds thousands of modules
        names = set(zipped.namelist())
        sources = [n for n in names if n.endswith(".py")]
        assert sources
        missing = []
        for source in sources:
            cached = importlib.util.cache_from_source(source)
            if cached not in names:
                missing.append(source)
                continue
            with zipped.open(cached) as member:
                header = member.read(8)
            assert header[:4] == importlib.util.MAGIC_NUMBER, cached  # this Python's bytecode
            # PEP 552 flags: bit 0 hash-based, bit 1 check the source. Unchecked: 0b01 — Lambda never
            # recompiles (zip extraction loses mtimes, and /var/task is read-only).
            assert int.from_bytes(header[4:8], "little") == 0b01, cached
        assert missing == [], missing[:5]


def token_cache_statement(stage: str) -> dict[str, object]:
    return {
        "Sid": "TokenCache", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "arn:aws:kms:*:*:key/*",
        "Condition": {"StringEquals": {"kms:RequestAlias": f"alias/signbridge-{stage}-token-cache",
                                       "kms:EncryptionContext:purpose": "docusign-access-token"}},
    }


@pytest.mark.parametrize("stage", ["local", "dev", "prod"])
def test_each_stage_policy_allows_the_token_cache_key_by_alias_only(stage: str) -> None:
    policy = json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())
    kms = [s for s in policy["Statement"] if any(a.startswith("kms:") for a in s["Action"])]
    assert kms == [token_cache_statement(stage)]
    # The alias the app uses by default for the stage (chalicelib/config.py) is the one allowed.
    from chalicelib.core.config import reset_settings, settings

    with pytest.MonkeyPatch.context() as env:
        env.setenv("SIGNBRIDGE_STAGE", stage)
        env.delenv("SIGNBRIDGE_TOKEN_CACHE_KMS_KEY", raising=False)
        reset_settings()
        assert settings().token_cache_kms_key == f"alias/signbridge-{stage}-token-cache"
    reset_settings()
