"""Handing a contract to the send job (after intake, after an approval)."""

from __future__ import annotations

from chalicelib.core.aws import enqueue
from chalicelib.store.models import ContractRecord


def enqueue_send(record: ContractRecord) -> None:
    enqueue({"job": "send", "tenant_id": record.tenant_id, "contract_id": record.contract_id})
