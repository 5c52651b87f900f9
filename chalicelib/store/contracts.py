"""The contract repository: idempotent creation, monotonic status moves, the timeline.

Services see contracts as `StoredContract` values (chalicelib.contracts.stored): every read here
converts the row, every write takes the value back and changes only what its operation names
(`ContractChanges` for the fields that move with a status or on their own). The conditions that make
writes safe against concurrent writers are all here, next to the row."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.contracts.approval import document_version
from chalicelib.contracts.lifecycle import Status, check_move, sources_of
from chalicelib.contracts.stored import SignerProgress, StoredContract, StoredDocument, TimelineEvent
from chalicelib.store import analytics
from chalicelib.store.contention import StoreBusy, StoreError, raise_if_transient, translated
from chalicelib.store.keys import StoredKey, stored_key
from chalicelib.store.models import ContractRecord, DocumentRef, EventRecord, KeyRecord, SignerState

# A CRM retries for up to ~3 days (HubSpot, Standard Webhooks); keep delivery ids a day longer.
DELIVERY_KEY_TTL = timedelta(days=4)


def now_utc() -> datetime:
    return datetime.now(UTC)


def new_contract_id() -> str:
    return "ctr_" + secrets.token_hex(10)


def contract_key(tenant_id: str, contract_id: str) -> str:
    return f"{tenant_id}#{contract_id}"


def _connection() -> Connection:
    # One connection (and botocore client) per warm Lambda, not one per transaction; keyed on where it
    # points, because the tests and the local stack re-point the process.
    return _cached_connection(ContractRecord.Meta.region, getattr(ContractRecord.Meta, "host", None),
                              os.environ.get("AWS_ENDPOINT_URL"))


@lru_cache(maxsize=4)
def _cached_connection(region: str, host: str | None, _endpoint: str | None) -> Connection:
    return Connection(region=region, host=host)


# --- rows <-> values ------------------------------------------------------------------------------


def _document(ref: DocumentRef | None) -> StoredDocument | None:
    if ref is None:
        return None
    return StoredDocument(key=ref.key, sha256=ref.sha256, version_id=ref.version_id,
                          template_version=ref.template_version)


def _document_ref(document: StoredDocument) -> DocumentRef:
    return DocumentRef(  # type: ignore[no-untyped-call]  # PynamoDB's MapAttribute has an untyped __init__
        key=document.key, sha256=document.sha256, version_id=document.version_id,
        template_version=document.template_version)


def _progress(state: SignerState) -> SignerProgress:
    return SignerProgress(position=int(state.position), recipient_id=state.recipient_id, name=state.name,
                          email=state.email, routing_order=int(state.routing_order), delivery=state.delivery,
                          status=state.status, signed_at=state.signed_at, declined_reason=state.declined_reason)


def _signer_state(signer: SignerProgress) -> SignerState:
    return SignerState(  # type: ignore[no-untyped-call]  # as DocumentRef
        position=signer.position, recipient_id=signer.recipient_id, name=signer.name, email=signer.email,
        routing_order=signer.routing_order, delivery=signer.delivery, status=signer.status,
        signed_at=signer.signed_at, declined_reason=signer.declined_reason)


def stored_contract(row: ContractRecord) -> StoredContract:
    """The value of a contracts-table row (every read goes through here)."""
    return StoredContract(
        tenant_id=row.tenant_id, contract_id=row.contract_id, source_id=row.source_id,
        crm_record_id=row.crm_record_id, contract_type=row.contract_type, number=row.number, locale=row.locale,
        status=row.status, status_reason=row.status_reason, document=row.document,
        envelope_id=row.envelope_id, envelope_status=row.envelope_status, last_connect_at=row.last_connect_at,
        signers=tuple(_progress(s) for s in row.signers or ()), rendered=_document(row.rendered),
        signed=_document(row.signed), callback_url=row.callback_url, approval_required=bool(row.approval_required),
        approved_version=row.approved_version, document_version=row.document_version, milestones=row.milestones,
        term=row.term, created_at=row.created_at, updated_at=row.updated_at, version=row.version,
    )


def _row(contract: StoredContract) -> ContractRecord:
    """The row a write starts from: the value as read, its version included (PynamoDB counts it up
    on every write, and conditions on it where a write must see nothing changed since the read)."""
    return ContractRecord(
        tenant_id=contract.tenant_id, contract_id=contract.contract_id, source_id=contract.source_id,
        crm_record_id=contract.crm_record_id, contract_type=contract.contract_type, number=contract.number,
        locale=contract.locale, status=contract.status, status_reason=contract.status_reason,
        document=contract.document, envelope_id=contract.envelope_id, envelope_status=contract.envelope_status,
        last_connect_at=contract.last_connect_at, signers=[_signer_state(s) for s in contract.signers],
        rendered=_document_ref(contract.rendered) if contract.rendered else None,
        signed=_document_ref(contract.signed) if contract.signed else None,
        callback_url=contract.callback_url, approval_required=contract.approval_required,
        approved_version=contract.approved_version, document_version=contract.document_version,
        milestones=contract.milestones, term=contract.term, created_at=contract.created_at,
        updated_at=contract.updated_at, version=contract.version,
    )


@dataclass(frozen=True)
class ContractChanges:
    """Fields a write sets besides the status (None: left as stored)."""

    envelope_id: str | None = None
    envelope_status: str | None = None
    last_connect_at: str | None = None
    rendered: StoredDocument | None = None
    approval_required: bool | None = None
    approved_version: str | None = None
    term: dict[str, Any] | None = None  # the term in force after a renewal

    def actions(self) -> list[Action]:
        actions: list[Action] = []
        if self.envelope_id is not None:
            actions.append(ContractRecord.envelope_id.set(self.envelope_id))
        if self.envelope_status is not None:
            actions.append(ContractRecord.envelope_status.set(self.envelope_status))
        if self.last_connect_at is not None:
            actions.append(ContractRecord.last_connect_at.set(self.last_connect_at))
        if self.rendered is not None:
            actions.append(ContractRecord.rendered.set(_document_ref(self.rendered)))
        if self.approval_required is not None:
            actions.append(ContractRecord.approval_required.set(self.approval_required))
        if self.approved_version is not None:
            actions.append(ContractRecord.approved_version.set(self.approved_version))
        if self.term is not None:
            actions.append(ContractRecord.term.set(self.term))
        return actions


NO_CHANGES = ContractChanges()


@dataclass(frozen=True)
class CreateResult:
    contract: StoredContract
    created: bool  # False: a repeat delivery or a CRM record we already hold


def _event(
    tenant_id: str, contract_id: str, type_: str, status: str | None, detail: Mapping[str, Any] | None,
    at: datetime | None = None,
) -> EventRecord:
    recorded = now_utc()
    return EventRecord(
        contract_key=contract_key(tenant_id, contract_id),
        event_key=f"{recorded.isoformat(timespec='microseconds')}#{secrets.token_hex(3)}",
        type=type_,
        at=at or recorded,
        status=status,
        detail=dict(detail) if detail else None,
    )


@translated
def create_contract(
    *,
    tenant_id: str,
    source_id: str,
    delivery_id: str,
    document: Mapping[str, Any],
    signers: Iterable[SignerProgress],
    callback_url: str | None,
    event_detail: Mapping[str, Any] | None = None,
) -> CreateResult:
    """Creates the contract, its CRM-record claim, the delivery key and the first event in one
    transaction; a repeated delivery (or the same CRM record again) returns what exists.

    The transaction comes first: its conditions (no claim for the CRM record, no key for the
    delivery) are the check, so a new contract costs one write and no read, and only a repeat (the
    transaction refused) reads what it repeats. The contract returned is the record just written."""
    crm_record_id = str(document["crm_record_id"])
    now = now_utc()
    contract_id = new_contract_id()
    record = ContractRecord(
        tenant_id=tenant_id,
        contract_id=contract_id,
        source_id=source_id,
        crm_record_id=crm_record_id,
        contract_type=str(document["type"]),
        number=str(document["number"]),
        locale=str(document["locale"]),
        status=Status.RECEIVED.value,
        document=dict(document),
        document_version=document_version(document),
        signers=[_signer_state(s) for s in signers],
        callback_url=callback_url,
        created_at=now,
        updated_at=now,
    )
    claim = KeyRecord(
        key=f"crm#{tenant_id}#{crm_record_id}", tenant_id=tenant_id, contract_id=contract_id, created_at=now
    )
    delivery = KeyRecord(
        key=f"delivery#{source_id}#{delivery_id}",
        tenant_id=tenant_id,
        contract_id=contract_id,
        created_at=now,
        expires_at=now + DELIVERY_KEY_TTL,
    )
    first_event = _event(tenant_id, contract_id, "received", Status.RECEIVED, event_detail)
    counted = analytics.changes(None, stored_contract(record))  # the day's counters, in the same transaction
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.save(claim, condition=KeyRecord.key.does_not_exist())
            tx.save(delivery, condition=KeyRecord.key.does_not_exist())
            tx.save(record, condition=ContractRecord.contract_id.does_not_exist())
            tx.save(first_event)
            counted.add_to(tx)
    except TransactWriteError as err:
        # Lost a race with a concurrent delivery of the same event or CRM record; or the store was
        # busy (a transaction in progress on the same keys, throttling): then the caller retries.
        raise_if_transient(err)
        winner = find_by_delivery(source_id, delivery_id, tenant_id) or find_by_crm_record(tenant_id, crm_record_id)
        if winner is None:  # the winner's write is not readable yet: the retry will find it
            raise StoreBusy(f"a concurrent delivery of CRM record {crm_record_id} is being stored") from err
        return CreateResult(winner, created=False)
    return CreateResult(stored_contract(record), created=True)


@translated
def remember_delivery(tenant_id: str, source_id: str, delivery_id: str, contract_id: str) -> None:
    """Records a delivery id that resolved to an existing contract, so its retries answer the same."""
    now = now_utc()
    try:
        KeyRecord(
            key=f"delivery#{source_id}#{delivery_id}",
            tenant_id=tenant_id,
            contract_id=contract_id,
            created_at=now,
            expires_at=now + DELIVERY_KEY_TTL,
        ).save(condition=KeyRecord.key.does_not_exist())
    except PutError:
        pass


@translated
def find_by_delivery(source_id: str, delivery_id: str, tenant_id: str | None = None) -> StoredContract | None:
    return _resolve_key(f"delivery#{source_id}#{delivery_id}", tenant_id)


@translated
def find_by_crm_record(tenant_id: str, crm_record_id: str) -> StoredContract | None:
    return _resolve_key(f"crm#{tenant_id}#{crm_record_id}", tenant_id)


def _resolve_key(key: str, tenant_id: str | None) -> StoredContract | None:
    """The contract a claim points at, only if it is the expected tenant's: keys are built from ids
    that cannot hold the separator (validated at the edge), and a lookup checks what it found too."""
    try:
        claim = KeyRecord.get(key, consistent_read=True)
    except DoesNotExist:
        return None
    if claim.tenant_id is None or claim.contract_id is None:
        return None
    if tenant_id is not None and claim.tenant_id != tenant_id:
        return None
    return find_contract(claim.tenant_id, claim.contract_id)


# DynamoDB's key limits (bytes): a longer key is a ValidationException, on a read as on a write.
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024


def storable_key(value: str, limit: int) -> bool:
    """Whether a key value fits DynamoDB: one that does not was never stored, and reading it fails."""
    return 0 < len(value.encode("utf-8", "surrogatepass")) <= limit


@translated
def find_contract(tenant_id: str, contract_id: str) -> StoredContract | None:
    # A path's contract id is anything a caller sends: one too long for a key is no contract (404), not a 500.
    if not (storable_key(tenant_id, MAX_PARTITION_KEY_BYTES) and storable_key(contract_id, MAX_SORT_KEY_BYTES)):
        return None
    try:
        return stored_contract(ContractRecord.get(tenant_id, contract_id, consistent_read=True))
    except DoesNotExist:
        return None


@translated
def get_contract(tenant_id: str, contract_id: str) -> StoredContract:
    """The contract, which must exist (NotStored otherwise)."""
    return stored_contract(ContractRecord.get(tenant_id, contract_id, consistent_read=True))


@translated
def find_by_envelope(envelope_id: str) -> StoredContract | None:
    for hit in ContractRecord.by_envelope.query(envelope_id, limit=1):
        # The index is eventually consistent: read the item itself.
        return find_contract(hit.tenant_id, hit.contract_id)
    return None


def tenant_contracts(tenant_id: str, *, statuses: Iterable[str] = (), contract_type: str | None = None,
                     start_key: dict[str, Any] | None = None, page_size: int | None = None,
                     ) -> Iterator[StoredContract]:
    """The tenant's contracts in contract id order from `start_key` (DynamoDB's exclusive start key),
    filtered by status and type in the store; read page by page as the caller iterates."""
    wanted = tuple(statuses)
    condition: Any = None
    if wanted:
        condition = ContractRecord.status.is_in(*wanted)
    if contract_type:
        type_condition = ContractRecord.contract_type == contract_type
        condition = type_condition if condition is None else condition & type_condition
    return _contracts(lambda: ContractRecord.query(tenant_id, filter_condition=condition,
                                                   last_evaluated_key=start_key, page_size=page_size))


def contracts_created_between(tenant_id: str, lower: datetime, upper: datetime) -> Iterator[StoredContract]:
    """The tenant's contracts created in [lower, upper] (a query of its partition, never a scan)."""
    return _contracts(lambda: ContractRecord.query(
        tenant_id, filter_condition=ContractRecord.created_at.between(lower, upper)))


def _contracts(query: Callable[[], Iterable[ContractRecord]]) -> Iterator[StoredContract]:
    try:
        for row in query():
            yield stored_contract(row)
    except PynamoDBException as err:
        raise StoreError.of(err) from err


class StaleStatus(Exception):
    """The contract is no longer in a state from which the move is allowed."""


def step_key(tenant_id: str, contract_id: str, step: str) -> str:
    """The marker of a step that happens once per contract and envelope (`envelope_sent#<envelope>`)."""
    return f"step#{tenant_id}#{contract_id}#{step}"


def _step_marker(contract: StoredContract, step: str, now: datetime) -> KeyRecord:
    return KeyRecord(key=step_key(contract.tenant_id, contract.contract_id, step), tenant_id=contract.tenant_id,
                     contract_id=contract.contract_id, created_at=now)


@translated
def move_status(
    contract: StoredContract,
    target: Status,
    *,
    event_type: str,
    detail: Mapping[str, Any] | None = None,
    changes: ContractChanges = NO_CHANGES,
    reason: str | None = None,
    at: datetime | None = None,
    step: str | None = None,
    expect_version: str | None = None,
) -> StoredContract:
    """Moves the contract to `target` only if the stored status still allows it, and appends the
    event in the same transaction, with the `changes` that go with the move. Raises StaleStatus when
    another writer got there first.

    A `step` (e.g. `envelope_sent#<envelope id>`) makes the move once-only by construction: its
    marker is written in the same transaction only if absent, so two writers that both saw the old
    status (the send job and Connect, Connect and reconcile) cannot both record the step, whatever
    the store's isolation.

    `expect_version` makes the move conditional on the stored document still being that version (the
    send job moves to `sending` only with the document it read: a CRM update in between fails it).

    The tenant's analytics move in the same transaction (`store.analytics`), computed from the
    contract as read; so the write is also conditional on the row's version, and a refusal because
    something else changed the row (while the status still allows the move) reads it again and
    retries: the move happens exactly when it did before, and the counters always start from the
    state the write replaced."""
    check_move(contract.status, target)
    allowed = [s.value for s in sources_of(target)]
    current = contract
    for _attempt in range(WRITE_ATTEMPTS):
        update_actions = [
            ContractRecord.status.set(target.value),
            ContractRecord.updated_at.set(now_utc()),
            *changes.actions(),
        ]
        update_actions.append(
            ContractRecord.status_reason.set(reason) if reason else ContractRecord.status_reason.remove()
        )
        event = _event(contract.tenant_id, contract.contract_id, event_type, target, detail, at)
        after = replace(current, status=target.value, term=changes.term if changes.term is not None else current.term)
        counted = analytics.changes(current, after, signed_seconds=_seconds_to_sign(current, event.at)
                                    if target == Status.COMPLETED else None)
        try:
            with TransactWrite(connection=_connection()) as tx:
                condition = ContractRecord.status.is_in(*allowed)
                if expect_version is not None:
                    condition &= (ContractRecord.document_version == expect_version) | \
                        ContractRecord.document_version.does_not_exist()
                tx.update(_row(current), actions=update_actions, condition=condition)
                tx.save(event)
                if step:
                    tx.save(_step_marker(contract, step, now_utc()), condition=KeyRecord.key.does_not_exist())
                counted.add_to(tx)
        except TransactWriteError as err:
            raise_if_transient(err)
            current = _read_again(current, lambda fresh: fresh.status in allowed, err,
                                  f"{contract.contract_id}: cannot move to {target}")
            continue
        counted.after_commit()
        return get_contract(contract.tenant_id, contract.contract_id)
    raise StoreBusy(f"{contract.contract_id}: changed on every attempt to move it to {target}; try again")


# A write conditional on the row's version re-reads and retries this often when only the version moved.
WRITE_ATTEMPTS = 5


def _read_again(current: StoredContract, still_allowed: Callable[[StoredContract], bool], err: Exception,
                message: str) -> StoredContract:
    """The contract as stored now, when the refusal was only its version moving (another write landed
    since `current` was read) and the write is still allowed from there; StaleStatus otherwise."""
    fresh = find_contract(current.tenant_id, current.contract_id)
    if fresh is None or fresh.version == current.version or not still_allowed(fresh):
        raise StaleStatus(message) from err
    return fresh


def _seconds_to_sign(contract: StoredContract, completed_at: datetime) -> int | None:
    """Seconds from the contract's first `envelope_sent` to its completion (the summary's time to sign)."""
    sent = [e.at for e in EventRecord.query(contract_key(contract.tenant_id, contract.contract_id),
                                            consistent_read=True, filter_condition=EventRecord.type == "envelope_sent")]
    if not sent or completed_at < min(sent):
        return None
    return int((completed_at - min(sent)).total_seconds())


@translated
def update_fields(contract: StoredContract, changes: ContractChanges) -> StoredContract:
    """A field update that does not change the status (the envelope, the rendered document)."""
    return update_attributes(contract, changes.actions())


@translated
def update_attributes(contract: StoredContract, actions: Iterable[Action]) -> StoredContract:
    """The write under `update_fields`, in PynamoDB's terms (for this package, and for tests that set
    what no service sets): conditional on the status read; answers the contract as now stored."""
    row = _row(contract)
    try:
        row.update(
            actions=[*actions, ContractRecord.updated_at.set(now_utc())],
            condition=ContractRecord.status == contract.status,
            add_version_condition=False,
        )
    except UpdateError as err:
        raise_if_transient(err)
        raise StaleStatus(f"{contract.contract_id}: status changed concurrently") from err
    return stored_contract(row)


@translated
def record_archived(contract: StoredContract, ref: StoredDocument, detail: Mapping[str, Any]) -> StoredContract:
    """Records the signed document of the contract's envelope, once: the reference, its `archived`
    event and the step marker in one transaction, only while no signed document is recorded. Two
    archive jobs for one contract (SQS delivers at least once) cannot both record one; the loser
    gets StaleStatus and finds the winner's."""
    now = now_utc()
    event = _event(contract.tenant_id, contract.contract_id, "archived", contract.status, detail)
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.update(_row(contract), actions=[ContractRecord.signed.set(_document_ref(ref)),
                                               ContractRecord.updated_at.set(now)],
                      condition=(ContractRecord.status == contract.status) & ContractRecord.signed.does_not_exist(),
                      add_version_condition=False)
            tx.save(event)
            tx.save(_step_marker(contract, f"archived#{contract.envelope_id}", now),
                    condition=KeyRecord.key.does_not_exist())
    except TransactWriteError as err:
        raise_if_transient(err)
        raise StaleStatus(f"{contract.contract_id}: the signed document was recorded concurrently") from err
    return get_contract(contract.tenant_id, contract.contract_id)


@translated
def update_signers(contract: StoredContract, changed: Mapping[int, tuple[str, SignerProgress]]) -> StoredContract:
    """Records signers' progress, each signer on its own: `changed` maps a signer's index in the list
    to (the status this writer read, its new state). The write touches only those signers and holds
    only if each still has the status read, so two Connect messages about different signers (they
    come concurrently) both land, and one about the same signer cannot overwrite a newer one (the
    loser raises StaleStatus, reads again and re-ranks)."""
    actions: list[Action] = [ContractRecord.updated_at.set(now_utc())]
    condition: Any = None
    for index, (read_status, signer) in sorted(changed.items()):
        path = ContractRecord.signers[index]
        actions += [path.status.set(signer.status)]  # type: ignore[attr-defined]
        actions += [path.signed_at.set(signer.signed_at)] if signer.signed_at else []  # type: ignore[attr-defined]
        if signer.declined_reason:
            actions.append(path.declined_reason.set(signer.declined_reason))  # type: ignore[attr-defined]
        guard = path.status == read_status  # type: ignore[attr-defined]
        condition = guard if condition is None else condition & guard
    row = _row(contract)
    try:
        row.update(actions=actions, condition=condition, add_version_condition=False)
    except UpdateError as err:
        raise_if_transient(err)
        raise StaleStatus(f"{contract.contract_id}: a signer changed concurrently") from err
    return stored_contract(row)


@translated
def record_milestones(contract: StoredContract, milestones: Mapping[str, Any], recorded_at: datetime,
                      open_statuses: Iterable[str]) -> StoredContract:
    """Stores the contract's execution (`milestones`) only if nothing was written to it since it was
    read (its version: two concurrent payments add up instead of one overwriting the other) and its
    status is still one of `open_statuses`. Any refusal, a busy store's included, is StaleStatus: the
    caller reads again and re-applies. The receivables rows the payment changes (`store.analytics`)
    are rewritten in the same transaction."""
    counted = analytics.changes(contract, replace(contract, milestones=dict(milestones)))
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.update(_row(contract), actions=[ContractRecord.milestones.set(dict(milestones)),
                                               ContractRecord.updated_at.set(recorded_at)],
                      condition=ContractRecord.status.is_in(*open_statuses))
            counted.add_to(tx)
    except TransactWriteError as err:
        raise StaleStatus(f"{contract.contract_id}: changed while its execution was recorded") from err
    counted.after_commit()
    return get_contract(contract.tenant_id, contract.contract_id)


@translated
def append_event(
    contract: StoredContract, type_: str, detail: Mapping[str, Any] | None = None, at: datetime | None = None
) -> None:
    """A timeline event; `reminder_sent` also counts in the summary of the contract's day, in one
    transaction with the event (the reminder's claim makes the call once per reminder)."""
    event = _event(contract.tenant_id, contract.contract_id, type_, contract.status, detail, at)
    if type_ != "reminder_sent":
        event.save()
        return
    counted = analytics.changes(contract, contract, reminders=1, with_rows=False)
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.save(event)
            counted.add_to(tx)
    except TransactWriteError as err:
        raise_if_transient(err)
        raise StoreError(str(err)) from err


@translated
def timeline(tenant_id: str, contract_id: str) -> list[TimelineEvent]:
    return [TimelineEvent(type=e.type, at=e.at, status=e.status, detail=e.detail)
            for e in EventRecord.query(contract_key(tenant_id, contract_id), consistent_read=True)]


@translated
def claim_once(key: str, ttl: timedelta, *, tenant_id: str | None = None, contract_id: str | None = None) -> bool:
    """True the first time a key is claimed (Connect message dedupe, one-shot actions)."""
    now = now_utc()
    try:
        KeyRecord(key=key, tenant_id=tenant_id, contract_id=contract_id, created_at=now,
                  expires_at=now + ttl).save(condition=KeyRecord.key.does_not_exist())
    except PutError as err:
        raise_if_transient(err)  # busy is not "already claimed": the work must not be dropped
        return False
    return True


def release_claim(key: str) -> None:
    """Undo a claim when the work it guarded failed, so the retry is not mistaken for a duplicate."""
    try:
        KeyRecord(key=key).delete()
    except Exception:  # noqa: BLE001 - best effort; the TTL cleans up anyway
        pass


# --- CRM updates and refused intake (added for the CRM adapters) -----------------------------------

REJECTED_INTAKE_TTL = timedelta(days=30)


@translated
def replace_document(
    contract: StoredContract,
    document: Mapping[str, Any],
    signers: Iterable[SignerProgress],
    *,
    event_type: str,
    detail: Mapping[str, Any] | None = None,
    back_to_approval: Mapping[str, Any] | None = None,
) -> StoredContract:
    """Replaces the canonical document (and the signers derived from it) of a contract that has not
    been sent, with its event, in one transaction conditional on the status the caller saw: a send
    job that got there first makes this raise StaleStatus instead of changing what is being sent.
    `back_to_approval` (the `approval_required` event's detail) moves an approved contract back to
    `pending_approval` in the same transaction, so no send job can see the new document as approved."""
    callback_url = document.get("callback_url")
    actions: list[Action] = [
        ContractRecord.document.set(dict(document)),
        ContractRecord.document_version.set(document_version(document)),
        ContractRecord.signers.set([_signer_state(s) for s in signers]),
        ContractRecord.number.set(str(document["number"])),
        ContractRecord.contract_type.set(str(document["type"])),
        ContractRecord.locale.set(str(document["locale"])),
        ContractRecord.callback_url.set(callback_url) if callback_url else ContractRecord.callback_url.remove(),
        ContractRecord.updated_at.set(now_utc()),
    ]
    event = _event(contract.tenant_id, contract.contract_id, event_type, contract.status, detail)
    moved = None
    if back_to_approval is not None:
        check_move(contract.status, Status.PENDING_APPROVAL)
        actions.append(ContractRecord.status.set(Status.PENDING_APPROVAL.value))
        moved = _event(contract.tenant_id, contract.contract_id, "approval_required", Status.PENDING_APPROVAL,
                       back_to_approval)
    current = contract
    for _attempt in range(WRITE_ATTEMPTS):
        # The counters move from the row as read: conditional on its version, read again if only that moved.
        after = replace(current, document=dict(document), contract_type=str(document["type"]),
                        status=Status.PENDING_APPROVAL.value if moved is not None else current.status)
        counted = analytics.changes(current, after)
        try:
            with TransactWrite(connection=_connection()) as tx:
                tx.update(_row(current), actions=list(actions), condition=ContractRecord.status == contract.status)
                tx.save(event)
                if moved is not None:
                    tx.save(moved)
                counted.add_to(tx)
        except TransactWriteError as err:
            raise_if_transient(err)
            current = _read_again(current, lambda fresh: fresh.status == contract.status, err,
                                  f"{contract.contract_id}: status changed concurrently")
            continue
        return get_contract(contract.tenant_id, contract.contract_id)
    raise StoreBusy(f"{contract.contract_id}: changed on every attempt to replace its document; try again")


@translated
def record_rejected_intake(
    tenant_id: str, source_id: str, delivery_id: str, detail: Mapping[str, Any], contract_id: str | None = None,
) -> None:
    """Keeps a CRM event we acknowledged but could not accept (an invalid notification in a
    Salesforce message), so that it is visible and queryable: key rejected#{source}#{delivery}."""
    now = now_utc()
    KeyRecord(key=f"rejected#{source_id}#{delivery_id}", tenant_id=tenant_id, contract_id=contract_id,
              detail=dict(detail), created_at=now, expires_at=now + REJECTED_INTAKE_TTL).save()


@translated
def find_rejected_intake(source_id: str, delivery_id: str) -> StoredKey | None:
    try:
        return stored_key(KeyRecord.get(f"rejected#{source_id}#{delivery_id}", consistent_read=True))
    except DoesNotExist:
        return None
