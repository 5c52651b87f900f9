"""What one contract contributes to its tenant's analytics, as pure functions of its stored state
(no AWS): the summary counters of its creation day, and the shape of the projection rows the
collections reports query (the rows themselves come from `chalicelib.reminders.projection`, which
needs the milestones, terms and calendar: see `store.analytics.use_projector`).
`chalicelib.store.analytics` writes the difference between a contract's state before and after a
write, in that write's transaction.

Counters (one day item per tenant, UTC creation day and shard; numbers are exact, DynamoDB's 38
digits): `s_<status>` and `t_<type>` counts, `v_<currency>` value, `sv_<currency>` signed value,
`rem` reminders sent, `h` the set of `<contract id>=<seconds from the first envelope_sent to the
completion>` (a set, so a repeat adds nothing; the read takes median and nearest-rank p90 over the
exact values). `inforce` (in force: completed, active, expiring, renewed) goes to the tenant's gauge.

Rows: one per payment milestone with money still open of a contract in force (`recv#{tenant}`, sorted
by due date) and one per contract in force with a deadline (`renew#{tenant}`, sorted by the deadline:
the cancel-by date of an auto-renewing term, else the end of the term in force)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.contracts.lifecycle import EXECUTION_OPEN, IN_FORCE, SIGNED
from chalicelib.contracts.money import parse_amount
from chalicelib.contracts.stored import StoredContract

SIGNED_STATUSES: frozenset[str] = frozenset(s.value for s in SIGNED)
OPEN_STATUSES: frozenset[str] = frozenset(s.value for s in EXECUTION_OPEN)  # rows exist in these
IN_FORCE_STATUSES: frozenset[str] = frozenset(s.value for s in IN_FORCE)
SHARDS = 4  # day items per tenant and day: concurrent writes of one busy day spread over them
GAUGE = "inforce"


def shard_of(contract_id: str) -> int:
    return hashlib.sha256(contract_id.encode()).digest()[0] % SHARDS


def amount_of(document: Mapping[str, Any]) -> Decimal | None:
    raw = document.get("amount")
    try:
        return parse_amount(str(raw)) if raw is not None else None
    except ValueError:
        return None


def contribution(contract: StoredContract | None) -> dict[str, Decimal]:
    """The counters one contract adds to its day (and `inforce` to the tenant's gauge)."""
    if contract is None:
        return {}
    document = contract.document or {}
    out: dict[str, Decimal] = {f"s_{contract.status}": Decimal(1), f"t_{contract.contract_type}": Decimal(1)}
    currency = str(document.get("currency") or "")
    amount = amount_of(document)
    if currency and amount is not None:
        out[f"v_{currency}"] = amount
        if contract.status in SIGNED_STATUSES:
            out[f"sv_{currency}"] = amount
    if contract.status in OPEN_STATUSES:
        out[GAUGE] = Decimal(1)
    return out


def counter_delta(before: StoredContract | None, after: StoredContract | None) -> dict[str, Decimal]:
    """after's contribution minus before's, zeros left out (a write that changes nothing counted: {})."""
    old, new = contribution(before), contribution(after)
    delta = {name: new.get(name, Decimal(0)) - old.get(name, Decimal(0)) for name in old.keys() | new.keys()}
    return {name: value for name, value in sorted(delta.items()) if value != 0}


def hours_member(contract_id: str, seconds: int) -> str:
    return f"{contract_id}={seconds}"


def hours_of(members: set[str] | frozenset[str]) -> list[float]:
    return [int(m.rpartition("=")[2]) / 3600 for m in members]


# --- projection rows (made by chalicelib.reminders.projection) ---------------------------------

@dataclass(frozen=True)
class Row:
    """One projection item: its keys and its string attributes (sorted pairs, so rows compare)."""

    pk: str
    sk: str
    attrs: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str:
        return dict(self.attrs).get(name, "")

    @property
    def digest(self) -> str:
        return hashlib.sha256(repr(self.attrs).encode()).hexdigest()[:16]
