"""`python -m bench` (make bench): every benchmark, each writing its section of BENCHMARKS.md, then the
header section (the command, the machine, the date, what each bench took). A bench that fails is
reported and the others still run; the exit status says whether all of them passed."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable

from bench import (
    bench_analytics,
    bench_cold_start,
    bench_docusign_budget,
    bench_intake,
    bench_memory,
    bench_reminders,
    bench_render,
    bench_stack,
)
from bench.report import header_section, write_section

# (name, the bench's main, its arguments): sized so that the whole run takes minutes on 2 cores.
BENCHES: list[tuple[str, Callable[[list[str]], int], list[str]]] = [
    ("render", bench_render.main, ["--write"]),
    ("intake", bench_intake.main, ["--write"]),
    ("memory", bench_memory.main, ["--write"]),
    ("local stack over HTTP", bench_stack.main, ["--write"]),
    # Five fresh interpreters per case (the bench's default is seven): the medians barely move, a minute saved.
    ("cold start", bench_cold_start.main, ["--runs", "5", "--write"]),
    # 100,000 contracts take moto minutes per hourly query (it walks the table); 10,000 show the same ratio.
    ("reminders", bench_reminders.main, ["--sizes", "1000", "10000", "--write"]),
    # 60 contracts on 20 calls an "hour" of 15 s: nine hours and more, about two and a half minutes. A
    # 10-s hour is too short for the whole stack on a busy 2-core machine (jobs spill into the next hour).
    # Items read per analytics request at 1,000 and 100,000 contracts (seeded straight into moto's table).
    ("analytics reads", bench_analytics.main, ["--write"]),
    ("DocuSign budget", bench_docusign_budget.main,
     ["--contracts", "60", "--budget", "20", "--hour-seconds", "15", "--write"]),
]


def main() -> int:
    durations: list[tuple[str, float]] = []
    failed: list[str] = []
    started = time.perf_counter()
    for name, run, args in BENCHES:
        print(f"## {name}: {' '.join(args)}", file=sys.stderr, flush=True)
        began = time.perf_counter()
        try:
            status = run(args)
        except Exception:
            traceback.print_exc()
            status = 1
        seconds = time.perf_counter() - began
        durations.append((name if status == 0 else f"{name} (failed)", seconds))
        if status:
            failed.append(name)
        print(f"## {name}: {seconds:.0f} s{' FAILED' if status else ''}", file=sys.stderr, flush=True)
    total = time.perf_counter() - started
    write_section("bench_run", header_section(durations, total), first=True)
    print(f"## all benches: {total / 60:.1f} min" + (f"; failed: {', '.join(failed)}" if failed else ""),
          file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
