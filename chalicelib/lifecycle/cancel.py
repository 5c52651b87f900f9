"""Cancelling a contract that is not signed yet: shared by the CRM's cancel and the API's void."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.contracts.lifecycle import EDITABLE, ENVELOPE_OPEN, Status
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.aws import enqueue
from chalicelib.core.observability import logger
from chalicelib.lifecycle.transitions import transition

# States a contract can be cancelled in: nothing signed yet.
VOIDABLE: frozenset[Status] = EDITABLE | ENVELOPE_OPEN | {Status.SENDING}


def void_contract(existing: StoredContract, event_type: str, detail: Mapping[str, Any], *,
                  reason: str) -> StoredContract:
    """Moves a contract that is not signed yet to voided (raises StaleStatus when another writer got
    there first); an envelope that exists at DocuSign, or is being created, is voided there by the
    void job. Shared by the CRM's cancel and the API's void."""
    status = Status(existing.status)
    record = transition(existing, Status.VOIDED, event_type=event_type,
                        detail={**detail, "previous_status": status.value}, reason=reason)
    if status in ENVELOPE_OPEN or status == Status.SENDING:
        # The envelope exists at DocuSign (or is being created): the void job voids it there.
        enqueue({"job": "void", "tenant_id": record.tenant_id, "contract_id": record.contract_id,
                 "reason": reason, "from_status": status.value})
    logger.info("contract cancelled", extra={"contract_id": record.contract_id, "previous_status": status.value})
    return record
