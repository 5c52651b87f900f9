"""Driving many contracts through the in-process stack at once, and counting what came out."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from tests.support.esign import signer, webhook_body
from tests.support.stack import StackHarness

IN_FLIGHT = frozenset({"received", "sending"})


def post_contracts(stack: StackHarness, count: int, prefix: str, *, embedded: bool = False) -> list[str]:
    ids = []
    for n in range(count):
        body = webhook_body("sales.en", crm_record_id=f"{prefix}-{n:04d}", signers=[
            signer(f"Signer {n}", f"signer{n}@{prefix}.example", 1, delivery="embedded" if embedded else "email")])
        delivery = f"msg_{prefix}_{n:04d}"
        response = stack.post_webhook(body, webhook_id=delivery)
        while response.status_code == 503:  # what the CRM does after Retry-After: the same delivery again
            response = stack.post_webhook(body, webhook_id=delivery)
        assert response.status_code == 202, response.body
        ids.append(str(response.json_body["contract_id"]))
    return ids


def statuses(stack: StackHarness, ids: list[str]) -> dict[str, str]:
    return {cid: stack.get_contract(cid)["status"] for cid in ids}


def drive(stack: StackHarness, ids: list[str], done: frozenset[str], timeout: float = 180.0) -> dict[str, str]:
    """Runs the jobs (and lets Connect land) until every contract is in one of `done`."""
    deadline = time.monotonic() + timeout
    while True:
        stack.drain_jobs(max_rounds=1000)
        stack.settle_connect(strict=False)
        now = statuses(stack, ids)
        if all(s in done for s in now.values()) or time.monotonic() > deadline:
            return now
        time.sleep(0.05)


def envelopes_per_contract(stack: StackHarness, ids: list[str]) -> Counter[str]:
    """Envelopes DocuSign holds per contract, voided duplicates aside."""
    wanted = set(ids)
    per: Counter[str] = Counter()
    for envelope in stack.sandbox_envelopes():
        fields = {f.get("name"): f.get("value")
                  for f in envelope.get("customFields", {}).get("textCustomFields", [])}
        if fields.get("contractId") in wanted and envelope.get("status") != "voided":
            per[fields["contractId"]] += 1
    return per


def outcome(stack: StackHarness, ids: list[str], done: frozenset[str]) -> dict[str, Any]:
    final = statuses(stack, ids)
    per = envelopes_per_contract(stack, ids)
    return {"lost": sum(s not in done for s in final.values()) + sum(per[c] == 0 for c in ids),
            "duplicate_envelopes": sum(n - 1 for n in per.values() if n > 1), "statuses": Counter(final.values())}


def timeline_counts(stack: StackHarness, contract_id: str, *types: str) -> dict[str, int]:
    kinds = stack.timeline_types(contract_id)
    return {t: kinds.count(t) for t in types}
