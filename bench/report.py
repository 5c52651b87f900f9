"""BENCHMARKS.md's sections: each bench owns one, between `<!-- name:start -->` and
`<!-- name:end -->`, and rewrites only its own, so benches run alone or together leave the others'
figures as they were. Also the machine facts every run records in the file's header section."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "BENCHMARKS.md"
TITLE = "# Benchmarks\n"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_section(document: str, name: str, text: str, *, first: bool = False) -> str:
    """``document`` with section ``name`` replaced by ``text`` (which carries its own markers).

    A section not there yet is appended (or, with ``first``, put right under the title). Text
    outside the markers, other sections included, is kept byte for byte."""
    start, end = markers(name)
    if not text.startswith(start) or not text.rstrip("\n").endswith(end):
        raise ValueError(f"the text of section {name} must start with {start} and end with {end}")
    body = text.rstrip("\n") + "\n"
    if start in document:
        before, rest = document.split(start, 1)
        if end not in rest:
            raise ValueError(f"BENCHMARKS.md has {start} without {end}")
        after = rest.split(end, 1)[1]
        return before + body.rstrip("\n") + after
    if first:
        head, sep, rest = document.partition("\n")
        if head.startswith("# "):
            return head + "\n\n" + body + ("\n" + rest.lstrip("\n") if rest.strip() else "")
        return TITLE + "\n" + body + ("\n" + document.lstrip("\n") if document.strip() else "")
    return (document.rstrip("\n") + "\n\n" if document.strip() else TITLE + "\n") + body


def write_section(name: str, text: str, *, first: bool = False, path: Path = BENCHMARKS) -> None:
    current = path.read_text(encoding="utf-8") if path.exists() else TITLE
    path.write_text(replace_section(current, name, text, first=first), encoding="utf-8")


def machine() -> dict[str, str]:
    """CPU model, cores this process may use, memory, Python and OS: what a reader needs to compare."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages * size / 2**30:.1f} GiB"
    except (ValueError, OSError, AttributeError):
        memory = "unknown"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0
    return {"cpu": cpu, "cores": str(cores), "memory": memory,
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "os": f"{platform.system()} {platform.release()}"}


def header_section(durations: Sequence[tuple[str, float]], total: float, when: datetime | None = None) -> str:
    """The file's first section: the command, the machine, the date and what each bench took."""
    facts = machine()
    when = when or datetime.now(UTC)
    load = os.getloadavg()[0]
    rows = "\n".join(f"| {name} | {seconds:.0f} |" for name, seconds in durations)
    start, end = markers("bench_run")
    return (
        f"{start}\n"
        "`make bench` (`.venv/bin/python -m bench`) runs every benchmark below and rewrites this file; "
        "each section names the command that refreshes it alone. Figures are ratios against a baseline "
        "measured in the same run, on the same machine, so they compare across machines better than the "
        "absolute times do.\n\n"
        f"Last full run: {when:%Y-%m-%d %H:%M} UTC on {facts['cpu']}, {facts['cores']} cores, "
        f"{facts['memory']} RAM, {facts['python']}, {facts['os']}; {total / 60:.1f} minutes in all; load "
        f"average {load:.1f} at the end (the machine was shared: in-process figures count CPU time, not wall "
        "time, for that reason).\n\n"
        "| bench | seconds |\n|---|---:|\n"
        f"{rows}\n"
        f"{end}\n"
    )


# In-process timings count the CPU time of the measuring thread (time.thread_time), not wall time:
# on a machine shared with other work (2 cores, a test run beside), a wall clock counts the other
# processes' turns too, in slices as long as a render.
clock = time.thread_time


def interleaved_medians(subjects: dict[str, Callable[[], object]], runs: int,
                        warmup: int = 3) -> dict[str, float]:
    """Median CPU time (s) of each callable, run in turn (A, B, A, B, ...) so that whatever drifts
    hits them alike; the warm-up runs (caches, first imports) are not counted."""
    for _ in range(warmup):
        for call in subjects.values():
            call()
    samples: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(runs):
        for name, call in subjects.items():
            started = clock()
            call()
            samples[name].append(clock() - started)
    return {name: statistics.median(values) for name, values in samples.items()}
