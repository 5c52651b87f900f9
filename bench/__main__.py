"""`python -m bench` (make bench): every benchmark, each writing its section of BENCHMARKS.md."""

from __future__ import annotations

import sys

from bench import bench_cold_start, bench_docusign_budget, bench_reminders


def main() -> int:
    status = bench_cold_start.main(["--write"])
    status = status or bench_reminders.main(["--write"])
    return status or bench_docusign_budget.main(["--contracts", "120", "--write"])


if __name__ == "__main__":
    sys.exit(main())
