"""Write-back, the trigger: each status change (lifecycle/transitions.py) and each payment or
delivery recorded (web/contract_actions.py, intake/events.py) queues a `crm_writeback` job for the
contract when its source has a CRM API credential. The job (jobs/crm_writeback.py) writes the
contract's state onto the CRM record; Standard Webhooks callbacks (callbacks.py) stay for custom
systems."""

from __future__ import annotations

from chalicelib.contracts.stored import StoredContract
from chalicelib.core.aws import enqueue
from chalicelib.crm import api as crm_api
from chalicelib.store.contention import StoreError
from chalicelib.store.registry import Source, get_source

JOB = "crm_writeback"


def source_of(record: StoredContract) -> Source | None:
    try:
        return get_source(record.source_id)
    except StoreError:
        return None


def queue(record: StoredContract, why: str) -> None:
    """Queues the contract's write-back, if its source writes back to its CRM."""
    source = source_of(record)
    if source is None or source.kind == "generic":
        return
    try:
        if not crm_api.api_configured(source):
            return
    except crm_api.CrmUnavailable:
        pass  # the secret is unreadable just now: the job asks again, rather than a change being skipped
    enqueue({"job": JOB, "tenant_id": record.tenant_id, "contract_id": record.contract_id,
             "source_id": record.source_id, "why": why, "attempt": 1})
