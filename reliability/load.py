"""The load scenario, on the local stack (every piece a real process, over HTTP): N contracts posted
by C concurrent clients to the generic source, with a share of exact repeat deliveries (same
webhook-id, same bytes: a CRM that did not see our answer) and a share of CRM retries under a new
delivery id (a CRM that re-sends the same record as a new event). Then it waits until every contract
has its envelope and counts, from the outside: answers by status, contracts stored, envelopes at
"DocuSign" (the sandbox), and what is lost or doubled.

`python -m reliability.load --contracts 200 --clients 16` runs it alone and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.stack import Stack, StackState, free_port, http_json
from devstack.webhook import sample, signed_headers


@dataclass(frozen=True)
class Delivery:
    contract: int
    webhook_id: str
    kind: str  # first | repeat | crm_retry
    body: bytes
    headers: dict[str, str]


@dataclass
class LoadResult:
    contracts: int
    clients: int
    deliveries: int
    repeats: int
    crm_retries: int
    answers: Counter[int] = field(default_factory=Counter)
    contracts_stored: int = 0
    envelopes: int = 0
    contracts_with_envelope: int = 0
    duplicate_envelopes: int = 0
    lost: int = 0
    mismatched_ids: int = 0
    seconds_to_accept: float = 0.0
    seconds_to_send_all: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.answers.items() if status >= 500)

    @property
    def ok(self) -> bool:
        return (self.server_errors == 0 and self.lost == 0 and self.duplicate_envelopes == 0
                and self.mismatched_ids == 0 and self.contracts_stored == self.contracts
                and self.envelopes == self.contracts)

    def to_json(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items() if k != "answers"},
                "answers": {str(k): v for k, v in sorted(self.answers.items())},
                "server_errors": self.server_errors, "ok": self.ok}


def contract_body(run: str, n: int) -> bytes:
    body = sample("sales")
    contract = body["contract"]
    contract["crm_record_id"] = f"{run}-{n:05d}"
    contract["number"] = f"LOAD-{run}-{n:05d}"
    contract.pop("callback_url", None)  # the source's own endpoint (the stack's receiver) hears of it
    contract["signers"] = [{"party": "counterparty", "name": f"Signer {n}", "email": f"signer{n}@load.example",
                            "routing_order": 1, "delivery": "email"}]
    return json.dumps(body, ensure_ascii=False).encode()


def plan(run: str, contracts: int, secret: str, repeat_share: float, retry_share: float,
         rng: random.Random) -> list[Delivery]:
    deliveries: list[Delivery] = []
    for n in range(contracts):
        raw = contract_body(run, n)
        webhook_id = f"msg_{run}_{n:05d}"
        headers = signed_headers(secret, raw, webhook_id)
        deliveries.append(Delivery(n, webhook_id, "first", raw, headers))
        if rng.random() < repeat_share:
            deliveries.append(Delivery(n, webhook_id, "repeat", raw, headers))
        if rng.random() < retry_share:
            retry_id = f"msg_{run}_{n:05d}_retry"
            deliveries.append(Delivery(n, retry_id, "crm_retry", raw, signed_headers(secret, raw, retry_id)))
    rng.shuffle(deliveries)
    return deliveries


def post(url: str, delivery: Delivery) -> tuple[Delivery, int, dict[str, Any], float]:
    request = urllib.request.Request(url, data=delivery.body, headers=delivery.headers, method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    elapsed = time.perf_counter() - started
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = {"raw": raw[:200].decode(errors="replace")}
    return delivery, status, body, elapsed


def count_contracts(state: StackState, run: str) -> dict[str, str]:
    """contract id -> status for every contract of this run, through the listing API (all pages)."""
    found: dict[str, str] = {}
    cursor = ""
    while True:
        query = "limit=200" + (f"&cursor={cursor}" if cursor else "")
        status, page = http_json("GET", f"{state.api_url}/v1/contracts?{query}",
                                 headers={"Authorization": f"Bearer {state.api_key}"})
        if status != 200:
            raise RuntimeError(f"listing answered {status}: {page}")
        for item in page["contracts"]:
            if str(item.get("crm_record_id", "")).startswith(f"{run}-"):
                found[item["contract_id"]] = item["status"]
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return found


def sandbox_envelopes(state: StackState) -> list[dict[str, Any]]:
    status, data = http_json("GET", f"{state.sandbox_url}/sandbox/envelopes")
    if status != 200:
        raise RuntimeError(f"sandbox answered {status}")
    return list(data["envelopes"])


def run_load(state: StackState, *, contracts: int, clients: int, repeat_share: float = 0.2,
             retry_share: float = 0.1, seed: int = 7, send_timeout: float = 900.0) -> LoadResult:
    rng = random.Random(seed)
    run = f"load{seed}x{contracts}"
    source_id = next(s for s, v in state.sources.items() if v["kind"] == "generic")
    deliveries = plan(run, contracts, state.sources[source_id]["secret"], repeat_share, retry_share, rng)
    result = LoadResult(contracts=contracts, clients=clients, deliveries=len(deliveries),
                        repeats=sum(d.kind == "repeat" for d in deliveries),
                        crm_retries=sum(d.kind == "crm_retry" for d in deliveries))
    url = f"{state.api_url}/v1/webhooks/{source_id}"
    started = time.monotonic()
    ids_by_contract: dict[int, set[str]] = {}
    latencies: list[float] = []
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for delivery, status, body, elapsed in pool.map(lambda d: post(url, d), deliveries):
            result.answers[status] += 1
            latencies.append(elapsed)
            if status in (200, 202) and body.get("contract_id"):
                ids_by_contract.setdefault(delivery.contract, set()).add(body["contract_id"])
    result.seconds_to_accept = round(time.monotonic() - started, 1)
    latencies.sort()
    result.p50_ms = round(latencies[len(latencies) // 2] * 1000, 1)
    result.p99_ms = round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 1)
    result.mismatched_ids = sum(len(ids) > 1 for ids in ids_by_contract.values())
    result.lost = contracts - len(ids_by_contract)

    deadline = time.monotonic() + send_timeout
    while True:
        stored = count_contracts(state, run)
        waiting = sum(status in ("received", "sending") for status in stored.values())
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(5.0)  # each look lists every contract of the run: not too often
    result.seconds_to_send_all = round(time.monotonic() - started, 1)
    result.contracts_stored = len(stored)
    mine = {cid for ids in ids_by_contract.values() for cid in ids}
    envelopes_by_contract: Counter[str] = Counter()
    for envelope in sandbox_envelopes(state):
        fields = {f.get("name"): f.get("value")
                  for f in envelope.get("customFields", {}).get("textCustomFields", [])}
        if fields.get("contractId") in mine and envelope.get("status") != "voided":
            envelopes_by_contract[fields["contractId"]] += 1
    result.envelopes = sum(envelopes_by_contract.values())
    result.contracts_with_envelope = len(envelopes_by_contract)
    result.duplicate_envelopes = sum(n - 1 for n in envelopes_by_contract.values())
    result.lost += len(mine - set(stored))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability.load")
    parser.add_argument("--contracts", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    with Stack(api_port=free_port()) as state:
        result = run_load(state, contracts=args.contracts, clients=args.clients, seed=args.seed)
    figures = json.dumps(result.to_json(), indent=2)
    print(figures)
    if args.json:
        args.json.write_text(figures + "\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
