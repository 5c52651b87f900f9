"""Email addresses a tenant's emails no longer go to: one small item of the keys table per address,
`suppressed#{tenant}#{sha256(lower-cased address)}` (no TTL: it stays until an operator removes it),
written when SES reports a permanent bounce or a complaint (chalicelib/notify/ses_feedback.py) and
read by the mailer before every send (chalicelib/notify/mailer.py).

The key hashes the address so it has a fixed length and one spelling (case and surrounding spaces
never make a second item); the address itself is kept in the item's detail for the operator's list.
Writes are conditional: the first report of an address is the one kept (later ones change nothing,
so a repeated SNS delivery is harmless), and a removal removes only what is there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DeleteError, PutError

from chalicelib.store.contention import raise_if_transient, translated
from chalicelib.store.models import KeyRecord

PREFIX = "suppressed#"
BOUNCE, COMPLAINT = "bounce", "complaint"
_BATCH_KEYS = 100  # DynamoDB's BatchGetItem limit


@dataclass(frozen=True)
class Suppression:
    tenant_id: str
    email: str  # lower-cased, as reported
    reason: str  # bounce | complaint
    created_at: datetime
    contract_id: str | None = None  # the contract whose email bounced or was complained about
    detail: dict[str, Any] | None = None  # SES's words: bounce type and subtype, status, feedback id...


def normalize(email: str) -> str:
    return email.strip().lower()


def suppression_key(tenant_id: str, email: str) -> str:
    return f"{PREFIX}{tenant_id}#{hashlib.sha256(normalize(email).encode()).hexdigest()}"


def _value(item: KeyRecord) -> Suppression:
    detail = dict(item.detail or {})
    return Suppression(tenant_id=str(item.tenant_id), email=str(detail.pop("email", "")),
                       reason=str(detail.pop("reason", "")), created_at=item.created_at,
                       contract_id=item.contract_id, detail=detail or None)


@translated
def suppress(tenant_id: str, email: str, reason: str, *, at: datetime, contract_id: str | None = None,
             detail: dict[str, Any] | None = None) -> bool:
    """Suppresses the address for the tenant; False when it already was (the first report stays)."""
    address = normalize(email)
    try:
        KeyRecord(key=suppression_key(tenant_id, address), tenant_id=tenant_id, contract_id=contract_id,
                  detail={**(detail or {}), "email": address, "reason": reason}, created_at=at).save(
            condition=KeyRecord.key.does_not_exist())
    except PutError as err:
        raise_if_transient(err)
        return False
    return True


@translated
def find(tenant_id: str, email: str) -> Suppression | None:
    try:
        return _value(KeyRecord.get(suppression_key(tenant_id, email), consistent_read=True))
    except KeyRecord.DoesNotExist:
        return None


@translated
def suppressed_among(tenant_id: str, emails: Iterable[str]) -> set[str]:
    """Which of these addresses are suppressed for the tenant (normalized), in one batch read."""
    by_key = {suppression_key(tenant_id, e): normalize(e) for e in emails if e and e.strip()}
    found: set[str] = set()
    keys = list(by_key)
    for start in range(0, len(keys), _BATCH_KEYS):
        for item in KeyRecord.batch_get(keys[start:start + _BATCH_KEYS], attributes_to_get=["key"]):
            found.add(by_key[item.key])
    return found


@translated
def list_for_tenant(tenant_id: str) -> list[Suppression]:
    """Every suppression of the tenant, oldest first (the admin CLI only: a filtered scan of the keys
    table, never on a request or job path)."""
    condition = KeyRecord.key.startswith(f"{PREFIX}{tenant_id}#") & (KeyRecord.tenant_id == tenant_id)
    return sorted((_value(item) for item in KeyRecord.scan(condition)), key=lambda s: (s.created_at, s.email))


@translated
def remove(tenant_id: str, email: str) -> bool:
    """Lifts the suppression; False when the address was not suppressed."""
    try:
        KeyRecord(key=suppression_key(tenant_id, email)).delete(condition=KeyRecord.key.exists())
    except DeleteError as err:
        raise_if_transient(err)
        return False
    return True
