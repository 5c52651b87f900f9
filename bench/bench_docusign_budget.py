"""Throughput under DocuSign's API budget, on the local stack (every piece a real process).

The sandbox is given a small budget of B calls per "hour" of W seconds (`hour_seconds`: the hour
shortened so that the run takes minutes; the app reads `X-RateLimit-Reset` against its own clock as
it would against DocuSign's). N contracts with one email signer each are posted; a "signer" signs
each envelope as soon as it is out (the sandbox's signing page: not an API call). The physical
limit is B ÷ (calls per contract) contracts per hour; throughput is the contracts completed per
hour the run used, as a ratio to it. Calls per contract are counted by the sandbox: a create and the
archive's two downloads (the combined document, the certificate of completion alone), nothing else on
a first attempt.

`python -m bench.bench_docusign_budget [--contracts 60 --budget 20 --hour-seconds 20] [--write]`
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from devstack.signer import act
from devstack.stack import Stack, StackState, free_port, http_json
from reliability.load import count_contracts, plan, post

ROOT = Path(__file__).resolve().parents[1]
DONE = {"active", "expiring"}  # signed and archived (the archive makes the second and third calls)


def _sign_what_is_out(state: StackState, signed: set[str]) -> None:
    """Signs every envelope whose signer has a link and has not signed yet (a person, not the API)."""
    _, data = http_json("GET", f"{state.sandbox_url}/sandbox/envelopes")
    for envelope in data["envelopes"]:
        if envelope["envelopeId"] in signed or envelope.get("status") not in ("sent", "delivered"):
            continue
        for recipient in envelope.get("recipients", []):
            if recipient.get("signing_url") and recipient.get("status") not in ("completed", "signed"):
                act(recipient["signing_url"])
        signed.add(envelope["envelopeId"])


def measure(contracts: int, budget: int, hour_seconds: float, timeout: float = 1200.0) -> dict[str, Any]:
    # Nothing kept back: the sandbox does not count a refused call, so a container that overshoots
    # costs nothing but a wait (production keeps 10 of 3,000 back, 0.3 %).
    os.environ["SIGNBRIDGE_DOCUSIGN_HOURLY_RESERVE"] = "0"
    with Stack(api_port=free_port()) as state:
        status, _ = http_json("POST", f"{state.sandbox_url}/sandbox/limits",
                              {"hourly": budget, "hour_seconds": hour_seconds})
        assert status == 200, status
        source_id = next(s for s, v in state.sources.items() if v["kind"] == "generic")
        run = f"budget{contracts}"
        deliveries = plan(run, contracts, state.sources[source_id]["secret"], 0.0, 0.0, random.Random(1))
        started = time.monotonic()
        for delivery in deliveries:
            _, status, _, _ = post(f"{state.api_url}/v1/webhooks/{source_id}", delivery)
            assert status == 202, status
        signed: set[str] = set()
        deadline = time.monotonic() + timeout
        while True:
            _sign_what_is_out(state, signed)
            now = count_contracts(state, run)
            if sum(s in DONE for s in now.values()) == contracts or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        elapsed = time.monotonic() - started
        _, limits = http_json("GET", f"{state.sandbox_url}/sandbox/limits")
        usage = next(iter(limits["accounts"].values()))
        failed = sum(s in ("send_failed", "voided", "declined") for s in now.values())
        dead = _dead_letters(state)
    calls = usage["total"]
    completed = sum(s in DONE for s in now.values())
    per_contract = calls / completed if completed else float("nan")
    # Every hour from the first call's to the last one's, those without a call included.
    first, last = (datetime.fromisoformat(usage[k]) for k in ("first_window", "last_window"))
    windows = round((last - first).total_seconds() / hour_seconds) + 1
    limit_per_hour = budget / per_contract
    per_hour = completed / windows
    return {"contracts": contracts, "budget": budget, "hour_seconds": hour_seconds, "completed": completed,
            "failed": failed, "dead_lettered": dead, "calls": calls, "refused_by_docusign": usage["refused"],
            "calls_per_contract": round(per_contract, 2), "hours_used": windows,
            "completed_per_hour": round(per_hour, 2), "physical_limit_per_hour": round(limit_per_hour, 2),
            "ratio": round(per_hour / limit_per_hour, 3), "seconds": round(elapsed, 1)}


def _dead_letters(state: StackState) -> int:
    import boto3

    sqs = boto3.client("sqs", endpoint_url=state.aws_endpoint_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    url = sqs.get_queue_url(QueueName=f"{state.env.get('SIGNBRIDGE_JOBS_QUEUE', 'signbridge-local-jobs')}-dlq")
    attributes = sqs.get_queue_attributes(QueueUrl=url["QueueUrl"], AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def section(result: dict[str, Any], command: str) -> str:
    return (
        "<!-- bench_docusign_budget:start -->\n"
        "## DocuSign's API budget: contracts per hour against the physical limit\n\n"
        f"`{command}` (add `--write` to refresh this section). The local stack (moto server, the DocuSign "
        "sandbox, chalice local, three dispatchers) against a sandbox budget of "
        f"{result['budget']} calls per hour, the hour shortened to {result['hour_seconds']:g} s; "
        f"{result['contracts']} contracts with one email signer each, signed as soon as they are out. "
        "Calls are counted by the sandbox (refused calls are not: DocuSign does not count them either).\n\n"
        "| contracts | completed | failed | dead-lettered | calls | calls per contract | refused by DocuSign "
        "| hours used | completed per hour | physical limit per hour | ratio |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        f"| {result['contracts']} | {result['completed']} | {result['failed']} | {result['dead_lettered']} "
        f"| {result['calls']} | {result['calls_per_contract']} | {result['refused_by_docusign']} "
        f"| {result['hours_used']} | {result['completed_per_hour']} | {result['physical_limit_per_hour']} "
        f"| **{result['ratio']}** |\n\n"
        "Calls per contract on a first attempt: one create and two downloads by the archive (the combined "
        "document and the certificate of completion alone, kept for the evidence bundle); an embedded "
        "signer adds one recipient view per click. The physical limit is the "
        "budget ÷ calls per contract; the ratio is what the run completed per hour it used "
        "(every hour from the first call to the last, idle ones included; the last "
        "hour only partly) against it. The governor (chalicelib/esign/governor.py) keeps the jobs "
        "waiting for the reset instead of failing them; with no reserve "
        "(`SIGNBRIDGE_DOCUSIGN_HOURLY_RESERVE=0`, production keeps 10 of 3,000) the three dispatchers "
        "overshoot now and then, and DocuSign's refusal is a wait too.\n"
        "<!-- bench_docusign_budget:end -->\n"
    )


def write(text: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    current = path.read_text()
    start, end = "<!-- bench_docusign_budget:start -->", "<!-- bench_docusign_budget:end -->\n"
    if start in current:
        before, rest = current.split(start, 1)
        current = before + text + rest.split(end, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_docusign_budget")
    parser.add_argument("--contracts", type=int, default=60)
    parser.add_argument("--budget", type=int, default=20)
    parser.add_argument("--hour-seconds", type=float, default=20.0)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.contracts, args.budget, args.hour_seconds)
    print(json.dumps(result, indent=2))
    command = (f".venv/bin/python -m bench.bench_docusign_budget --contracts {args.contracts} "
               f"--budget {args.budget} --hour-seconds {args.hour_seconds:g}")
    if args.write:
        write(section(result, command))
    ok = result["failed"] == 0 and result["dead_lettered"] == 0 and result["completed"] == args.contracts
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
