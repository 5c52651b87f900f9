"""`python -m bench` (make bench): every benchmark, each writing its section of BENCHMARKS.md."""

from __future__ import annotations

import sys

from bench import bench_cold_start, bench_reminders


def main() -> int:
    status = bench_cold_start.main(["--write"])
    return status or bench_reminders.main(["--write"])


if __name__ == "__main__":
    sys.exit(main())
