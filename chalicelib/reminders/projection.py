"""The projection rows of one contract for the collections reports, as a pure function of its
stored state and its tenant's settings: one row per payment milestone with money still open
(`recv#{tenant}`, sorted by due date) and one per contract with a deadline (`renew#{tenant}`, sorted
by it: the cancel-by date of an auto-renewing term, `planning.cancel_by_date`, else the end of the
term in force); none unless the contract is in force (completed, active, expiring, renewed).

The store writes them in the same transaction as the contract's change (`store.analytics`), but the
store sits below the milestones, terms and calendar this needs: importing this module hands
`projector` to the store (`use_projector`). app.py and the admin CLI import it; a store write that
needs rows without it raises rather than drift."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from chalicelib.contracts.stored import StoredContract
from chalicelib.reminders.milestones import milestones_view
from chalicelib.reminders.planning import cancel_by_date, contract_zone
from chalicelib.reminders.settings import TenantSettings
from chalicelib.reminders.terms import contract_term
from chalicelib.store import analytics
from chalicelib.store.analytics_rows import OPEN_STATUSES, Row, amount_of


def deadline(contract: StoredContract, settings: TenantSettings) -> tuple[str, date] | None:
    """("cancel_by" | "end_date", the date) of the term in force, None without a term."""
    document = contract.document or {}
    try:
        term = contract_term(document, contract.term)
    except (KeyError, ValueError):
        return None
    if term is None:
        return None
    if document.get("auto_renew") is True:
        try:
            return "cancel_by", cancel_by_date(document, settings, term.end)
        except (ValueError, OverflowError):
            pass  # an unusable notice period or zone: the end of the term is the deadline left
    return "end_date", term.end


def counterparty(document: Mapping[str, Any]) -> str | None:
    parties = document.get("parties")
    party = parties.get("counterparty") if isinstance(parties, Mapping) else None
    name = party.get("name") if isinstance(party, Mapping) else None
    return str(name) if name else None


def _zone_name(document: Mapping[str, Any], settings: TenantSettings) -> str:
    try:
        return str(contract_zone(document, settings).key)
    except (ValueError, KeyError, TypeError):
        return "UTC"


def projection_rows(contract: StoredContract, settings: TenantSettings) -> frozenset[Row]:
    """The rows a contract has in this state: none unless it is in force (completed included)."""
    if contract.status not in OPEN_STATUSES:
        return frozenset()
    document = contract.document or {}
    tenant, cid = contract.tenant_id, contract.contract_id
    currency = str(document.get("currency") or "")
    created = contract.created_at.date().isoformat()
    zone = _zone_name(document, settings)
    rows: set[Row] = set()
    for payment in milestones_view(document, contract.milestones)["payment"]:
        remaining = Decimal(payment["remaining"])
        try:
            due = date.fromisoformat(str(payment["due_date"]))
        except ValueError:
            continue  # validated at intake: a stored milestone always has its date
        if remaining <= 0:
            continue
        rows.add(Row(f"recv#{tenant}", f"{due.isoformat()}#{cid}#{payment['id']}", tuple(sorted({
            "contract_id": cid, "currency": currency, "remaining": str(remaining), "created": created,
            "status": contract.status, "zone": zone}.items()))))
    found = deadline(contract, settings)
    if found is not None:
        kind, day = found
        amount = amount_of(document)
        rows.add(Row(f"renew#{tenant}", f"{day.isoformat()}#{cid}", tuple(sorted({
            "contract_id": cid, "number": contract.number, "counterparty": counterparty(document) or "",
            "currency": currency, "amount": "" if amount is None else str(amount), "kind": kind,
            "status": contract.status}.items()))))
    return frozenset(rows)


def projector(contract: StoredContract, settings: Mapping[str, Any]) -> frozenset[Row]:
    """What the store calls: the tenant's settings as stored (its registry item's `settings`)."""
    return projection_rows(contract, TenantSettings.from_dict(settings))


analytics.use_projector(projector)
