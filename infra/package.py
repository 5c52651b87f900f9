"""Build the deployable package: `chalice package` with infra/resources.json merged, then precompiled
bytecode added to both zips.

Chalice ships no .pyc and Lambda's code folder is read-only, so without this every cold start compiles
every module it imports (the DocuSign SDK alone: ~1.3 s instead of ~0.25 s, see BENCHMARKS.md).
The bytecode is "unchecked-hash": Python uses it without comparing source timestamps, which zip
extraction does not preserve anyway. It must be built by the same Python minor version as the
Lambda runtime, which Chalice already derives from the Python that packages.

    .venv/bin/python -m infra.package --stage dev --out build/dev
"""

from __future__ import annotations

import argparse
import compileall
import os
import py_compile
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # reproducible archives, as Chalice writes them


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


def build(stage: str, out: Path) -> dict[str, int]:
    chalice_package(stage, out)
    return {archive.name: add_bytecode(archive) for archive in sorted(out.glob("*.zip"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package", description=__doc__.split("\n")[0])
    parser.add_argument("--stage", default="dev", choices=["dev", "prod"])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or ROOT / "build" / args.stage
    for name, added in build(args.stage, out).items():
        print(f"{out / name}: {added} precompiled modules added")
    print(f"{out / 'sam.json'}: deploy with `aws cloudformation package` + `deploy` "
          f"(parameter Stage={args.stage})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
