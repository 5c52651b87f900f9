"""Per-signer signing grants: what a signing-link token is minted from, and what revoking kills.

One item per (tenant, contract, signer) in the keys table, `signgrant#{tenant}#{contract}#{position}`
(tenant ids and our contract ids hold no `#`), with a random grant id (in `owner`, which conditions
can compare) and the envelope it is for. A
token names its grant id; it opens only while that grant is the signer's live grant. Revoking marks
the item (the audit keeps who and why); the next link asked for gets a new grant, so every token of
the old one is dead at once. Writes are conditional on the grant id read, so two workers (a revoke
and a new link) cannot resurrect a revoked grant.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError, PynamoDBException

from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import logger
from chalicelib.store.contention import StoreBusy, StoreError, raise_if_transient, translated
from chalicelib.store.contracts import now_utc
from chalicelib.store.models import KeyRecord

# The item outlives the envelope a little, so a late click still finds why it was revoked.
KEEP_AFTER_ENVELOPE = timedelta(days=30)


@dataclass(frozen=True)
class Grant:
    tenant_id: str
    contract_id: str
    signer: int
    grant_id: str
    envelope_id: str
    revoked: str | None = None  # why: voided, declined, completed, revoked (by the sender)

    @property
    def live(self) -> bool:
        return self.revoked is None


def _key(tenant_id: str, contract_id: str, signer: int) -> str:
    return f"signgrant#{tenant_id}#{contract_id}#{signer}"


def _from_item(item: KeyRecord, signer: int) -> Grant | None:
    detail = item.detail if isinstance(item.detail, dict) else {}
    grant_id, envelope_id = item.owner, detail.get("envelope_id")
    if not isinstance(grant_id, str) or not isinstance(envelope_id, str):
        return None
    revoked = detail.get("revoked")
    return Grant(str(item.tenant_id), str(item.contract_id), signer, grant_id, envelope_id,
                 str(revoked) if revoked else None)


def _unless_lost_race(err: PynamoDBException) -> None:
    """A failed condition is an answer (another writer won); busy or anything else is raised."""
    if err.cause_response_code != "ConditionalCheckFailedException":
        raise_if_transient(err)
        raise err


@translated
def find_grant(tenant_id: str, contract_id: str, signer: int) -> Grant | None:
    try:
        item = KeyRecord.get(_key(tenant_id, contract_id, signer), consistent_read=True)
    except DoesNotExist:
        return None
    grant = _from_item(item, signer)
    if grant is None or grant.tenant_id != tenant_id or grant.contract_id != contract_id:
        return None
    return grant


@translated
def live_grant(tenant_id: str, contract_id: str, signer: int, envelope_id: str, envelope_expires: datetime) -> Grant:
    """The signer's live grant for this envelope, made if there is none (or only a revoked one, or one
    for an earlier envelope). Two callers at once get the same grant."""
    for _ in range(3):
        current = find_grant(tenant_id, contract_id, signer)
        if current is not None and current.live and current.envelope_id == envelope_id:
            return current
        fresh = Grant(tenant_id, contract_id, signer, secrets.token_urlsafe(16), envelope_id)
        now = now_utc()
        item = KeyRecord(key=_key(tenant_id, contract_id, signer), tenant_id=tenant_id, contract_id=contract_id,
                         owner=fresh.grant_id, detail={"envelope_id": envelope_id}, created_at=now,
                         expires_at=envelope_expires + KEEP_AFTER_ENVELOPE)
        condition = KeyRecord.key.does_not_exist() if current is None else KeyRecord.owner == current.grant_id
        try:
            item.save(condition=condition)
            return fresh
        except PutError as err:
            _unless_lost_race(err)  # someone else made or revoked it meanwhile: read again
    raise StoreBusy("the signer's signing grant kept changing under us; try again")


@translated
def revoke(tenant_id: str, contract_id: str, signer: int, reason: str, *, envelope_id: str | None = None) -> bool:
    """Marks the signer's live grant revoked (only the one for `envelope_id` if given); True if one was."""
    try:
        item = KeyRecord.get(_key(tenant_id, contract_id, signer), consistent_read=True)
    except DoesNotExist:
        return False
    current = _from_item(item, signer)
    if current is None or not current.live or (envelope_id is not None and current.envelope_id != envelope_id):
        return False
    item.detail = {**(item.detail or {}), "revoked": reason, "revoked_at": now_utc().isoformat()}
    try:
        item.save(condition=KeyRecord.owner == current.grant_id)
    except PutError as err:
        _unless_lost_race(err)
        return False  # replaced meanwhile: the grant we read is not live any more either
    return True


def revoke_all(tenant_id: str, contract_id: str, signers: int, envelope_id: str | None, reason: str) -> None:
    """Every signer's grant for the envelope, when it closes (void, decline, completion). Opening a
    link checks the contract's status too, so a grant this misses (the store down for a moment)
    still opens nothing; the revocation is the record of it."""
    for position in range(1, signers + 1):
        try:
            revoke(tenant_id, contract_id, position, reason, envelope_id=envelope_id)
        except (StoreError, RetryableError) as err:
            logger.warning("signing grant not revoked", extra={"contract_id": contract_id, "signer": position,
                                                               "error": type(err).__name__})
