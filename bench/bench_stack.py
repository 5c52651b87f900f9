"""The local stack over HTTP: webhooks per second and latency at 1, 4 and 16 concurrent clients, and
which process the time goes to. Informational: the local stack is not Lambda.

    .venv/bin/python -m bench.bench_stack            # prints the table
    .venv/bin/python -m bench.bench_stack --write    # and updates its section of BENCHMARKS.md

One local stack (devstack: moto server, the DocuSign sandbox, chalice local answering one request at
a time as a Lambda container does, three job dispatchers), then for each client count new contracts
posted to the generic source (reliability/load.py's deliveries, no repeats) by that many threads.
Reported per run: accepted webhooks per second, p50 and p99 of the answer time, and the CPU time each
stack process spent meanwhile (/proc), as a share of the run's wall time: a process near 100 % of a
core is the bottleneck (moto's server is one Python process: one core at most).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench.report import write_section

COMMAND = ".venv/bin/python -m bench.bench_stack"
RUNS: tuple[tuple[int, int], ...] = ((1, 30), (4, 60), (16, 120))  # (clients, webhooks)
NAMES = {"moto": "embedded AWS (moto server)", "api": "API (chalice local)", "sandbox": "DocuSign sandbox"}


@dataclass
class Run:
    clients: int
    webhooks: int
    accepted: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_share: dict[str, float]  # process name -> CPU seconds / wall seconds

    @property
    def per_second(self) -> float:
        return self.accepted / self.seconds


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its waited-for children (/proc/<pid>/stat)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


def measure(runs: tuple[tuple[int, int], ...] = RUNS) -> list[Run]:
    from devstack.stack import Stack, free_port
    from reliability.load import plan, post

    results = []
    with Stack(api_port=free_port()) as state:
        source_id = next(s for s, v in state.sources.items() if v["kind"] == "generic")
        url = f"{state.api_url}/v1/webhooks/{source_id}"
        for clients, webhooks in runs:
            deliveries = plan(f"stack{clients}x{webhooks}", webhooks, state.sources[source_id]["secret"], 0.0, 0.0,
                              random.Random(clients))
            cpu_before = {name: _cpu_seconds(pid) for name, pid in state.pids.items()}
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=clients) as pool:
                answers = list(pool.map(lambda d: post(url, d), deliveries))
            seconds = time.perf_counter() - started
            cpu = {name: (_cpu_seconds(pid) - cpu_before[name]) / seconds for name, pid in state.pids.items()}
            latencies = sorted(elapsed for _, _, _, elapsed in answers)
            results.append(Run(clients=clients, webhooks=webhooks, accepted=sum(s == 202 for _, s, _, _ in answers),
                               seconds=seconds, p50_ms=latencies[len(latencies) // 2] * 1000,
                               p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
                               cpu_share=cpu))
    return results


def _busiest(run: Run) -> str:
    name, share = max(run.cpu_share.items(), key=lambda item: item[1])
    return f"{NAMES.get(name, name)} {share:.0%}"


def section(results: list[Run], load: float) -> str:
    shown = ("moto", "api", "sandbox")
    rows = "\n".join(
        f"| {r.clients} | {r.webhooks} | {r.accepted} | {r.seconds:.1f} | {r.per_second:.1f} | {r.p50_ms:.0f} "
        f"| {r.p99_ms:.0f} | " + " | ".join(f"{r.cpu_share.get(n, 0.0):.0%}" for n in shown)
        + f" | {sum(v for k, v in r.cpu_share.items() if k.startswith('dispatcher')):.0%} | {_busiest(r)} |"
        for r in results)
    last = results[-1]
    name, share = max(last.cpu_share.items(), key=lambda item: item[1])
    busiest = NAMES.get(name, name)
    if share >= 0.8:
        note = (f"At 16 clients the {busiest} is saturated ({share:.0%} of a core; one Python process has "
                "one core at most): it, not the app's code, sets the local stack's throughput.")
    else:
        note = (f"At 16 clients the busiest process is the {busiest} ({share:.0%} of a core) and none is "
                "saturated: the machine's cores, shared by every process of the stack and anything else "
                f"running (load average {load:.1f} at the end of the run), set the throughput.")
    return (
        "<!-- bench_stack:start -->\n## The local stack over HTTP\n\n"
        f"`{COMMAND}` (add `--write` to refresh this section). Informational: the local stack is not "
        "Lambda. One stack (moto server, the DocuSign sandbox, chalice local answering one request at a "
        "time as one Lambda container, three job dispatchers sending the contracts meanwhile); new "
        "contracts posted to the generic source by 1, 4 and 16 concurrent clients. CPU: each process's "
        "CPU time during the run over the run's wall time (100 % = one core; the machine's cores are "
        "in the header).\n\n"
        "| clients | webhooks | accepted (202) | seconds | webhooks/s | p50 ms | p99 ms | CPU moto | CPU api "
        "| CPU sandbox | CPU dispatchers | busiest |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
        f"{rows}\n\n"
        f"{note} The API answers one request at a time (one Lambda container), so more clients mostly "
        "queue: p50 grows with the clients while webhooks/s stays near what one container can answer. "
        "Measured by hand before this bench: 16 clients, 267 deliveries in 18.9 s, p50 1.08 s.\n"
        "<!-- bench_stack:end -->\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_stack", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="update the section in BENCHMARKS.md")
    args = parser.parse_args(argv)
    results = measure()
    text = section(results, os.getloadavg()[0])
    print(text)
    if args.write:
        write_section("bench_stack", text)
    return 0 if all(r.accepted == r.webhooks for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
