"""The CRMs both ways, for the jobs: `read_record` (enrichment: a webhook named a record without
carrying it) and `write_back` (the contract's state onto the CRM record), with the credential stored
on the source (the "api" object of its secret; `python -m chalicelib.admin sources set-api`).

Every failure is one of two: CrmUnavailable (a RetryableError: down, 5xx, timeouts, rate limits,
with `retry_after_seconds` when the CRM said) or CrmRefused (retrying as it is will not help: `auth`
for a credential an operator must fix, `not_found` for a record that does not exist). Anything else
escaping from here is a bug."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from chalicelib.core.lifecycle_hooks import forget_after_restore
from chalicelib.core.observability import logger
from chalicelib.crm import fxiaoke, hubspot, pipedrive, salesforce, zoho
from chalicelib.crm.base import (
    CrmRefused,
    CrmUnavailable,
    WriteBack,
    WriteItem,
    clear_warnings,
    load_credentials,
    require_credentials,
    warn_once,
    writeback_items,
)
from chalicelib.store.registry import Source

__all__ = ["CrmRefused", "CrmUnavailable", "WriteBack", "api_configured", "read_record", "reset_caches",
           "write_back"]


class _Client(Protocol):
    def read(self, source: Source, creds: Mapping[str, str], object_type: str, record_id: str,
             context: Mapping[str, Any]) -> dict[str, Any]: ...

    def write(self, source: Source, creds: Mapping[str, str], record_id: str, items: list[WriteItem]) -> None: ...


class _Module:
    """A CRM module as a client (its module-level read and write)."""

    def __init__(self, module: Any) -> None:
        self.read = module.read
        self.write = module.write


CLIENTS: dict[str, _Client] = {kind: _Module(module) for kind, module in (
    ("hubspot", hubspot), ("pipedrive", pipedrive), ("zoho", zoho), ("salesforce", salesforce),
    ("fxiaoke", fxiaoke))}


def _client(source: Source) -> _Client:
    client = CLIENTS.get(source.kind)
    if client is None:
        raise CrmRefused(f"a {source.kind} source has no CRM API", code="unsupported_crm")
    return client


def api_configured(source: Source) -> bool:
    """True when the source has a complete API credential: enrichment and write-back are possible.
    A secret Secrets Manager cannot give right now raises CrmUnavailable (not False: that would
    silently skip the write-back)."""
    return source.kind in CLIENTS and load_credentials(source) is not None


def read_record(source: Source, object_type: str, record_id: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """The record read through the CRM's API, as the body the source's webhook adapter maps (what
    its `records()` puts in CrmRecord.record), so the source's mapping applies unchanged:
    - hubspot: the app card's {deal, lineItems, company, contacts, owner} (CRM v3 objects);
    - pipedrive: {data, meta, custom}: the deal in the webhooks v2 form, `custom` the source's named
      custom fields with option ids as labels (dealFields, cached 10 minutes);
    - zoho: the workflow webhook's flat body (lookups as names, Billing_*, Contact_Email/Phone,
      Deal_Owner/Owner_Email);
    - salesforce: {"sObject": {...}} as in an outbound message (formula fields derived when absent);
    - fxiaoke: the APL function's {objectApiName, data, details: {SaleContractLineObj: [...]}}.
    `object_type` is the NeedsEnrichment's; `context` what the webhook added (HubSpot portalId,
    Salesforce OrganizationId). Raises CrmUnavailable or CrmRefused."""
    client = _client(source)
    creds = require_credentials(source)
    return client.read(source, creds, object_type, str(record_id), context)


def write_back(source: Source, crm_record_id: str, update: WriteBack) -> None:
    """Writes the update onto the CRM record the contract came from (`crm_record_id` as the source's
    mapping produced it: HubSpot deal id, Pipedrive deal id, Zoho record id, Salesforce Id, 纷享销客
    _id). Only the fields the source maps are written (its `writeback_fields` over the kind's
    defaults); absolute values, so a repeat changes nothing. Raises CrmUnavailable or CrmRefused."""
    client = _client(source)
    creds = require_credentials(source)
    items = writeback_items(source, update)
    if not items:
        warn_once(source, "writeback:none", "the source maps no write-back field (option writeback_fields): "
                  "nothing is written to the CRM")
        return
    client.write(source, creds, str(crm_record_id), items)
    logger.debug("CRM record written back", extra={"source_id": source.source_id, "crm": source.kind,
                                                   "crm_record_id": crm_record_id, "status": update.status})


@forget_after_restore  # the CRMs' access tokens and sessions
def reset_caches() -> None:
    """Drops every per-container cache (tokens, sessions, deal fields, warnings): for tests."""
    zoho.clear_caches()
    salesforce.clear_caches()
    fxiaoke.clear_caches()
    pipedrive.clear_caches()
    clear_warnings()
