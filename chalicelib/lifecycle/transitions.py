"""Every status change goes through here: the conditional move (store), then what a status change
sets off — the signed callback to the CRM. Keeping it in one place means no caller can forget it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.contracts.lifecycle import ENVELOPE_OPEN, Status
from chalicelib.contracts.stored import StoredContract
from chalicelib.notify import callbacks, crm_writeback
from chalicelib.store import contracts as store
from chalicelib.store import signing_grants


def transition(
    record: StoredContract,
    target: Status,
    *,
    event_type: str,
    detail: Mapping[str, Any] | None = None,
    changes: store.ContractChanges = store.NO_CHANGES,
    reason: str | None = None,
    at: datetime | None = None,
    step: str | None = None,
    expect_version: str | None = None,
) -> StoredContract:
    previous = record.status
    moved = store.move_status(record, target, event_type=event_type, detail=detail, changes=changes,
                              reason=reason, at=at, step=step, expect_version=expect_version)
    _notify(moved, previous, event_type, detail, at)
    return moved


def moved_elsewhere(record: StoredContract, previous: str, event_type: str, detail: Mapping[str, Any]) -> None:
    """What a transition sets off, for a status change the store made in another transaction (a
    replaced document that sent the contract back to approval)."""
    _notify(record, previous, event_type, detail, None)


def _notify(record: StoredContract, previous: str, event_type: str, detail: Mapping[str, Any] | None,
            at: datetime | None) -> None:
    if previous in ENVELOPE_OPEN and record.status not in ENVELOPE_OPEN:
        # The envelope closed: its signing links die with it.
        signing_grants.revoke_all(record.tenant_id, record.contract_id, len(record.signers or []),
                                  record.envelope_id, str(record.status))
    callbacks.status_changed(record, event_type, record.status, {**(detail or {}), "previous_status": previous},
                             at or store.now_utc())
    crm_writeback.queue(record, event_type)
