"""DynamoDB tables (PynamoDB), designed for the queries written next to each model.

Only chalicelib.store uses these models: its modules offer named operations and hand out plain values
(chalicelib.contracts.stored; StoredKey, Source, Tenant, Grant), and PynamoDB's exceptions leave them as
chalicelib.store.contention.StoreError. Every key is tenant-scoped. Table names come from the
environment (SIGNBRIDGE_TABLE_PREFIX) when the module is imported; `bind_tables()` re-reads them (tests
and the local stack). The endpoint follows botocore's AWS_ENDPOINT_URL, so the same code talks to moto
locally and to DynamoDB in AWS.

Queries, and the operations that make them:
- contract by id:              ContractRecord.get(tenant_id, contract_id)
                               (contracts.find_contract, get_contract)
- contract by CRM record:      KeyRecord "crm#{tenant}#{crm_record_id}" -> contract_id (also enforces
                               one contract per CRM record, in the create transaction)
                               (contracts.find_by_crm_record, create_contract)
- contract by envelope id:     ContractRecord.by_envelope.query(envelope_id)   (sparse GSI)
                               (contracts.find_by_envelope)
- a tenant's contracts:        ContractRecord.query(tenant_id, filter..., last_evaluated_key=cursor)
                               (contracts.tenant_contracts, contracts_created_between)
- timeline:                    EventRecord.query("{tenant}#{contract}")       (append-only, sorted)
                               (contracts.timeline, append_event; moves write their event with them)
- idempotency:                 KeyRecord conditional put (webhook deliveries, Connect events), with TTL
                               (contracts.claim_once, remember_delivery, find_by_delivery; leases.Lease)
- small named items:           KeyRecord get / put / delete (a checkpoint, a disabled callback
                               endpoint, the DocuSign token cache)    (keys.find_key, key_exists, put_key)
- reminders due now:           ReminderRecord.due_index.query(shard, due_at <= now) (sparse GSI: an
                               item leaves the index once sent, so a run reads only what is due)
                               — expiry/renewal transitions are items of kind "transition" there too
                               (reminders.due_chunk, reminders_by_key; claim, finish, release)
- a contract's reminders:      ReminderRecord.query("{tenant}#{contract}")  (re-planning reconciles them)
                               (reminders.contract_reminders; add_pending, update_pending, revive,
                               cancel_pending)
- sources, tenants, API keys:  RegistryRecord.get("source#{id}" | "tenant#{id}" | "apikey#{sha256}")
                               (registry.get_source, get_tenant, tenant_for_api_key, api_key_label)
- analytics kept incrementally: AnalyticsRecord.query("stats#{tenant}", sk between days) (summary
                               counters), .query("recv#{tenant}") (open receivables), .query("renew#{tenant}",
                               sk between dates) (renewal deadlines)   (analytics.*)
"""

from __future__ import annotations

import os

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.lifecycle_hooks import forget_after_restore

REMINDER_SHARDS = 4  # spreads the due-index partition; a run queries each shard


def _prefix() -> str:
    stage = os.environ.get("SIGNBRIDGE_STAGE", "dev")
    return os.environ.get("SIGNBRIDGE_TABLE_PREFIX", f"signbridge-{stage}-")


def _region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))


class _Meta:
    billing_mode = "PAY_PER_REQUEST"
    connect_timeout_seconds = 3
    read_timeout_seconds = 10
    max_retry_attempts = 3


class SignerState(MapAttribute[str, object]):
    position = NumberAttribute()  # 1-based index in the contract's signers[]
    recipient_id = UnicodeAttribute()
    name = UnicodeAttribute()
    email = UnicodeAttribute()
    routing_order = NumberAttribute()
    delivery = UnicodeAttribute()
    status = UnicodeAttribute(default="created")
    signed_at = UnicodeAttribute(null=True)
    declined_reason = UnicodeAttribute(null=True)


class DocumentRef(MapAttribute[str, object]):
    key = UnicodeAttribute()
    sha256 = UnicodeAttribute()
    version_id = UnicodeAttribute(null=True)
    template_version = UnicodeAttribute(null=True)


class EnvelopeIndex(GlobalSecondaryIndex["ContractRecord"]):
    class Meta:
        index_name = "by-envelope"
        projection = AllProjection()

    envelope_id = UnicodeAttribute(hash_key=True)


class ContractRecord(Model):
    class Meta(_Meta):
        table_name = _prefix() + "contracts"
        region = _region()

    tenant_id = UnicodeAttribute(hash_key=True)
    contract_id = UnicodeAttribute(range_key=True)
    source_id = UnicodeAttribute()
    crm_record_id = UnicodeAttribute()
    contract_type = UnicodeAttribute()
    number = UnicodeAttribute()
    locale = UnicodeAttribute()
    status = UnicodeAttribute()
    status_reason = UnicodeAttribute(null=True)
    document = JSONAttribute()  # the canonical contract, as validated
    envelope_id = UnicodeAttribute(null=True)
    envelope_status = UnicodeAttribute(null=True)
    last_connect_at = UnicodeAttribute(null=True)  # generatedDateTime of the newest applied message
    signers = ListAttribute(of=SignerState, default=list)
    rendered = DocumentRef(null=True)
    signed = DocumentRef(null=True)
    callback_url = UnicodeAttribute(null=True)
    approval_required = BooleanAttribute(default=False)
    approved_version = UnicodeAttribute(null=True)  # document_version() of what the approver approved
    document_version = UnicodeAttribute(null=True)  # document_version() of `document`, kept with it
    # Execution tracking: {milestone_id: {"status": "paid"|"partially_paid"|"delivered",
    #   "paid_amount": "…", "payments": [{"amount", "paid_on", "recorded_at", "reference"}],
    #   "delivered_on": "…"}} (chalicelib.reminders.milestones)
    milestones = JSONAttribute(null=True)
    # The term in force once renewed: {"start", "end", "renewals"}; absent = the document's own term.
    term = JSONAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    by_envelope = EnvelopeIndex()


class EventRecord(Model):
    """Append-only timeline and audit trail of one contract."""

    class Meta(_Meta):
        table_name = _prefix() + "events"
        region = _region()

    contract_key = UnicodeAttribute(hash_key=True)  # "{tenant_id}#{contract_id}"
    event_key = UnicodeAttribute(range_key=True)  # "{recorded_at ISO}#{random}": sorts by time
    type = UnicodeAttribute()
    at = UTCDateTimeAttribute()  # when it happened (the scheduled 'now' for time-driven events)
    status = UnicodeAttribute(null=True)  # the contract's status after the event
    detail = JSONAttribute(null=True)


class KeyRecord(Model):
    """Idempotency and uniqueness claims, written with attribute_not_exists conditions."""

    class Meta(_Meta):
        table_name = _prefix() + "keys"
        region = _region()

    key = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute(null=True)
    contract_id = UnicodeAttribute(null=True)
    owner = UnicodeAttribute(null=True)  # the holder's token, for leases
    detail = JSONAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)


class DueIndex(GlobalSecondaryIndex["ReminderRecord"]):
    class Meta:
        index_name = "due"
        projection = AllProjection()

    pending_shard = UnicodeAttribute(hash_key=True)
    due_at = UTCDateTimeAttribute(range_key=True)


class ReminderRecord(Model):
    class Meta(_Meta):
        table_name = _prefix() + "reminders"
        region = _region()

    contract_key = UnicodeAttribute(hash_key=True)  # "{tenant_id}#{contract_id}"
    reminder_key = UnicodeAttribute(range_key=True)
    tenant_id = UnicodeAttribute()
    contract_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    due_at = UTCDateTimeAttribute()
    pending_shard = UnicodeAttribute(null=True)  # set while pending; removed once sent or cancelled
    state = UnicodeAttribute(default="pending")  # pending | sent | cancelled | superseded | failed | applied
    claim_token = UnicodeAttribute(null=True)
    claimed_until = UTCDateTimeAttribute(null=True)
    sent_at = UTCDateTimeAttribute(null=True)
    message_id = UnicodeAttribute(null=True)
    to = ListAttribute(of=UnicodeAttribute, default=list)
    cc = ListAttribute(of=UnicodeAttribute, default=list)
    detail = JSONAttribute(null=True)
    attempts = NumberAttribute(default=0)

    due_index = DueIndex()


class RegistryRecord(Model):
    """Tenants, CRM sources and API keys (hashed)."""

    class Meta(_Meta):
        table_name = _prefix() + "registry"
        region = _region()

    key = UnicodeAttribute(hash_key=True)  # "tenant#{id}" | "source#{id}" | "apikey#{sha256 hex}"
    kind = UnicodeAttribute()  # tenant | source | apikey
    tenant_id = UnicodeAttribute()
    data = JSONAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    last_used_at = UTCDateTimeAttribute(null=True)  # an API key's last use (to the quarter hour)


class AnalyticsRecord(Model):
    """Analytics kept as contracts change (chalicelib.store.analytics): per tenant, day counters
    (`stats#{tenant}` / `{day}#{shard}`), open receivables (`recv#{tenant}` / `{due}#{contract}#{milestone}`),
    renewal deadlines (`renew#{tenant}` / `{deadline}#{contract}`) and each contract's list of its rows
    (`rows#{tenant}#{contract}` / `rows`). Items carry attributes named at write time (counters)."""

    class Meta(_Meta):
        table_name = _prefix() + "analytics"
        region = _region()

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


ALL_MODELS: tuple[type[Model], ...] = (ContractRecord, EventRecord, KeyRecord, ReminderRecord, RegistryRecord,
                                       AnalyticsRecord)


def bind_tables() -> None:
    """Re-read table names and region from the environment and drop cached connections."""
    for model in ALL_MODELS:
        suffix = model.Meta.table_name.rsplit("-", 1)[-1]
        model.Meta.table_name = _prefix() + suffix
        model.Meta.region = _region()
        model._connection = None


@forget_after_restore
def drop_connections() -> None:
    """Each model's cached connection (its botocore client and pooled sockets): made again on next use."""
    for model in ALL_MODELS:
        model._connection = None


def create_tables() -> None:
    """Used by the local stack and the tests; in AWS the tables come from infra/ (CloudFormation)."""
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True)
