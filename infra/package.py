"""Build the deployable package of a stage: its required settings checked, `chalice package` with
infra/resources.json merged, the template finished (infra/template.py: names, log groups, SnapStart,
per-function policies, alarms, dashboards), then precompiled bytecode added to both zips.

    .venv/bin/python -m infra.package --stage prod --out build/prod [--settings prod-settings.json]

It refuses, before building anything, when a required setting of the stage is missing or still a
placeholder (infra/settings.py names each), and when the Python running it is older than 3.12:
Chalice takes the Lambda runtime from the Python that packages, and SnapStart needs python3.12+.

Chalice ships no .pyc and Lambda's code folder is read-only, so without bytecode every cold start
compiles every module it imports (the DocuSign SDK alone: ~1.3 s instead of ~0.25 s, see
BENCHMARKS.md). The bytecode is "unchecked-hash": Python uses it without comparing source
timestamps, which zip extraction does not preserve anyway. It is built by the Python that packages,
the runtime's own minor version.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import importlib.util
import json
import os
import py_compile
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from infra import settings as stage_settings
from infra.template import TemplateError, finish

ROOT = Path(__file__).resolve().parents[1]
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # reproducible archives, as Chalice writes them
# Compiled zips, by the sha256 of the zip Chalice wrote and the bytecode's magic number: the layer's
# thousands of modules compile in a minute and change only with requirements.txt. Beside Chalice's
# own cache of built zips (git-ignored).
BYTECODE_CACHE = ROOT / ".chalice" / "deployments" / "bytecode"
MIN_PYTHON = (3, 12)  # SnapStart's first Python runtime
STAGES = ("dev", "prod")


class PackageError(Exception):
    pass


def check_python(version: tuple[int, int] = (sys.version_info.major, sys.version_info.minor)) -> None:
    if version < MIN_PYTHON:
        raise PackageError(
            f"Python {version[0]}.{version[1]} would make the Lambda runtime python{version[0]}.{version[1]}: "
            f"package with {MIN_PYTHON[0]}.{MIN_PYTHON[1]}+ (SnapStart), e.g. rebuild .venv with "
            "`make clean && make PYTHON=python3.13 lint`")


def chalice_package(stage: str, out: Path) -> None:
    chalice = Path(sys.executable).parent / "chalice"
    subprocess.run([str(chalice), "package", "--stage", stage, "--merge-template", "infra/resources.json", str(out)],
                   cwd=ROOT, check=True, env={**os.environ, "AWS_DEFAULT_REGION": os.environ.get(
                       "AWS_DEFAULT_REGION", "us-east-1")})


def add_bytecode(archive: Path) -> int:
    """Rewrites the zip with a __pycache__/*.pyc beside every .py; returns how many were added."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(archive) as source:
            infos = source.infolist()
            source.extractall(root)
        before = {p for p in root.rglob("*.pyc")}
        compileall.compile_dir(str(root), quiet=1, workers=0, ddir="",
                               invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        added = sorted(p for p in root.rglob("*.pyc") if p not in before)
        modes = {info.filename: info.external_attr for info in infos}
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as target:
            for info in infos:
                if info.is_dir():
                    continue
                entry = zipfile.ZipInfo(info.filename, ZIP_DATE)
                entry.external_attr = modes[info.filename]
                entry.compress_type = zipfile.ZIP_DEFLATED
                target.writestr(entry, (root / info.filename).read_bytes())
            for path in added:
                name = path.relative_to(root).as_posix()
                entry = zipfile.ZipInfo(name, ZIP_DATE)
                entry.external_attr = 0o644 << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                target.writestr(entry, path.read_bytes())
        return len(added)


def add_bytecode_cached(archive: Path, cache: Path = BYTECODE_CACHE) -> int:
    """add_bytecode, or the same result from the cache when this zip was compiled before."""
    key = hashlib.sha256(archive.read_bytes() + importlib.util.MAGIC_NUMBER).hexdigest()
    cached, count = cache / f"{key}.zip", cache / f"{key}.count"
    if cached.exists() and count.exists():
        archive.write_bytes(cached.read_bytes())
        return int(count.read_text())
    added = add_bytecode(archive)
    cache.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")  # two builds at once never see half a file
    partial.write_bytes(archive.read_bytes())
    partial.replace(cached)
    count.write_text(str(added))
    return added


def resolve_settings(stage: str, settings_file: Path | None) -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return stage_settings.resolve(config, stage, settings_file)


def build(stage: str, out: Path, settings_file: Path | None = None) -> dict[str, int]:
    check_python()
    values = resolve_settings(stage, settings_file)  # before anything is built
    chalice_package(stage, out)
    template_path = out / "sam.json"
    template = finish(json.loads(template_path.read_text()), stage, values)
    template_path.write_text(json.dumps(template, indent=2, ensure_ascii=False) + "\n")
    return {archive.name: add_bytecode_cached(archive) for archive in sorted(out.glob("*.zip"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__.split("\n")[0])
    parser.add_argument("--stage", default="dev", choices=STAGES)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--settings", type=Path, default=None,
                        help="a JSON file of the stage's settings, over .chalice/config.json's "
                             '({"stage": ..., "environment_variables": {...}})')
    args = parser.parse_args(argv)
    out = args.out or ROOT / "build" / args.stage
    try:
        built = build(args.stage, out, args.settings)
    except (PackageError, stage_settings.SettingsError, TemplateError) as err:
        print(f"infra.package: {err}", file=sys.stderr)
        return 2
    for name, added in built.items():
        print(f"{out / name}: {added} precompiled modules added")
    print(f"{out / 'sam.json'}: deploy it as docs/runbook.md#deploying says "
          f"(python{sys.version_info.major}.{sys.version_info.minor}, stage {args.stage})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
