"""Handing a contract to the send job (after intake, after an approval)."""

from __future__ import annotations

from chalicelib.contracts.stored import StoredContract
from chalicelib.core.aws import enqueue


def enqueue_send(record: StoredContract) -> None:
    enqueue({"job": "send", "tenant_id": record.tenant_id, "contract_id": record.contract_id})
