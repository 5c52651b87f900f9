"""Cold start: what a Lambda pays at init to import each handler's module, as ratios against a bare
interpreter measured in the same run, for one Python or several side by side.

    .venv/bin/python -m bench.bench_cold_start            # prints the table (this Python)
    .venv/bin/python -m bench.bench_cold_start --write    # and updates its section of BENCHMARKS.md
    .venv/bin/python -m bench.bench_cold_start --python old-venv/bin/python --python .venv/bin/python

Each case runs in a fresh interpreter, N times, alternating cases (and Pythons) so machine noise hits
them alike; the median wall time is reported, with and without bytecode (`-B` plus an empty
PYTHONPYCACHEPREFIX stands for a package without .pyc on Lambda, where /var/task is read-only).
Each Python imports from its own environment (a venv with requirements-dev.txt installed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ".venv/bin/python -m bench.bench_cold_start"
RUNS = 7
CASES: dict[str, str] = {
    "bare interpreter (baseline)": "pass",
    "import app (every handler's init)": "import app",
    "webhook path (intake + contracts)": "import app, chalicelib.intake.service, chalicelib.contracts",
    "send job (SDK + Jinja2 + cn2an)": "import app, chalicelib.jobs.send, chalicelib.esign.envelopes, "
                                       "chalicelib.rendering.render; import docusign_esign, jinja2, cn2an",
    "docusign_esign alone": "import docusign_esign",
}
BASELINE = "bare interpreter (baseline)"
Key = tuple[str, str, bool]  # (python, case, bytecode)


def version(python: str) -> str:
    out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, check=True)
    return f"python{out.stdout.strip()}"


def _time_once(python: str, code: str, bytecode: bool) -> float:
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", "SIGNBRIDGE_STAGE": "local"}
    args = [python]
    if not bytecode:
        args.append("-B")
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="nopyc-")  # no cached bytecode to read
    args += ["-c", code]
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def measure(pythons: list[str], runs: int = RUNS) -> dict[Key, float]:
    samples: dict[Key, list[float]] = {(py, name, bc): [] for py in pythons for name in CASES for bc in (True, False)}
    for python in pythons:
        for code in CASES.values():  # warm the bytecode cache once
            _time_once(python, code, True)
    for _ in range(runs):
        for bytecode in (True, False):
            for name, code in CASES.items():
                for python in pythons:
                    samples[(python, name, bytecode)].append(_time_once(python, code, bytecode))
    return {key: statistics.median(values) for key, values in samples.items()}


def table(medians: dict[Key, float], pythons: list[str], names: dict[str, str]) -> str:
    head = ["what is imported"]
    for bytecode in (True, False):
        label = "with .pyc" if bytecode else "without .pyc"
        head += [f"{names[py]} {label}: ms (× baseline)" for py in pythons]
    rows = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name in CASES:
        cells = [name]
        for bytecode in (True, False):
            for py in pythons:
                value, base = medians[(py, name, bytecode)], medians[(py, BASELINE, bytecode)]
                cells.append(f"{value * 1000:.0f} ({value / base:.1f})")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def section(medians: dict[Key, float], pythons: list[str], names: dict[str, str], runs: int) -> str:
    return (
        "<!-- bench_cold_start:start -->\n## Cold start: import cost per handler\n\n"
        f"`{COMMAND}` (add `--write` to refresh this section; `--python PATH` once per Python to compare). "
        f"Median of {runs} fresh interpreters per case, cases and Pythons interleaved; in brackets the ratio "
        "to a bare interpreter of the same Python in the same run. \"Without .pyc\" is what Lambda would pay "
        "if the package shipped no bytecode (infra/package.py adds it).\n\n"
        f"{table(medians, pythons, names)}\n\n"
        "The webhook handler's init is `import app` plus intake and the contract model: the DocuSign SDK, "
        "Jinja2 and cn2an are loaded only by the jobs that use them (tests/unit/test_cold_start.py "
        "guards it).\n\n"
        "The runtime moved from python3.11 to python3.13 on 2026-11-30 (issue 14). Measured side by side "
        "that day, the move alone does not make the init faster: with the package's bytecode `import app` "
        "405 → 433 ms, the webhook path 400 → 416 ms, the send job 763 → 777 ms, the DocuSign SDK alone "
        "286 → 310 ms, and compiling (no bytecode) is slower still on 3.13 (`import app` 1323 → 1566 ms), "
        "one more reason the package ships bytecode. What 3.12+ brings is SnapStart: the API and jobs "
        "functions are restored from a snapshot taken after `import app`, so this init is paid once per "
        "published version instead of once per new container. A restore's own cost (the snapshot's "
        "size, then the app's after-restore hook dropping clients and cached secrets) can only be "
        "measured on Lambda; no local figure stands for it.\n\n"
        "Every module imports at its top (docs/architecture.md, \"Layers\"), so `import app` loads all of "
        "chalicelib with boto3 and pydantic: on 2026-11-30 that moved the webhook path from 253 ms to about "
        "400 ms with bytecode (what the package ships). About 110 ms of it is boto3, which the webhook "
        "path loaded before too, at its first SQS call instead of at import; the rest is the price of "
        "imports a reader can see.\n<!-- bench_cold_start:end -->\n"
    )


def write_section(text: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    start, end = "<!-- bench_cold_start:start -->", "<!-- bench_cold_start:end -->\n"
    if start in current:
        before, rest = current.split(start, 1)
        after = rest.split(end, 1)[1] if end in rest else ""
        current = before + text + after
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_cold_start", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="update the section in BENCHMARKS.md")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--python", action="append", default=None,
                        help="an interpreter to measure (repeat to compare); default: this one")
    args = parser.parse_args(argv)
    pythons = args.python or [sys.executable]
    names = {py: version(py) for py in pythons}
    medians = measure(pythons, args.runs)
    text = section(medians, pythons, names, args.runs)
    print(text)
    if args.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
