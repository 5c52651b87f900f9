"""Stable links to a contract's signed document, for the CRM record: `/v1/signed/{link_id}` never
changes, and each click is redirected to a fresh five-minute S3 URL (web/signed_document.py).

The link id is 128 random bits (a bearer capability, like a DocuSign or Google Drive share link): two
items of the keys table, `doclink#{link_id}` (what a click looks up) and
`doclink-of#{tenant}#{contract}` (the contract's one link: asked twice, it is the same). Both are
written conditionally, so two write-back jobs at once end with one link, not two.

A second kind of link, `/v1/evidence/{link_id}` (the contract's evidence bundle), is made the same way
under `evidencelink#…` / `evidencelink-of#…`: a link of one kind never opens the other."""

from __future__ import annotations

import re
import secrets

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.contracts.stored import StoredContract
from chalicelib.store.contention import raise_if_transient, translated
from chalicelib.store.contracts import find_contract, now_utc
from chalicelib.store.models import KeyRecord

LINK_ID_BYTES = 16
_LINK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


SIGNED, EVIDENCE = "doclink", "evidencelink"  # the kinds of link (their keys' prefixes)


def _of(tenant_id: str, contract_id: str, kind: str = SIGNED) -> str:
    return f"{kind}-of#{tenant_id}#{contract_id}"


@translated
def link_for(tenant_id: str, contract_id: str, kind: str = SIGNED) -> str:
    """The contract's link id of that kind, made on first use."""
    try:
        found = KeyRecord.get(_of(tenant_id, contract_id, kind), consistent_read=True)
        if isinstance(found.owner, str) and found.owner:
            return found.owner
    except DoesNotExist:
        pass
    link_id = secrets.token_urlsafe(LINK_ID_BYTES)
    now = now_utc()
    # The look-up item first: a click on a link id always finds its contract.
    KeyRecord(key=f"{kind}#{link_id}", tenant_id=tenant_id, contract_id=contract_id, created_at=now
              ).save(condition=KeyRecord.key.does_not_exist())
    try:
        KeyRecord(key=_of(tenant_id, contract_id, kind), tenant_id=tenant_id, contract_id=contract_id, owner=link_id,
                  created_at=now).save(condition=KeyRecord.key.does_not_exist())
    except PutError as err:
        raise_if_transient(err)
        # Another job made the contract's link first: use it; ours opens nothing.
        KeyRecord(key=f"{kind}#{link_id}").delete()
        return str(KeyRecord.get(_of(tenant_id, contract_id, kind), consistent_read=True).owner)
    return link_id


@translated
def contract_of(link_id: str, kind: str = SIGNED) -> tuple[str, str] | None:
    """(tenant, contract) of a link id of that kind, or None."""
    if not _LINK_ID.fullmatch(link_id or ""):
        return None  # never made by link_for: not looked up
    try:
        item = KeyRecord.get(f"{kind}#{link_id}")
    except DoesNotExist:
        return None
    if not item.tenant_id or not item.contract_id:
        return None
    return str(item.tenant_id), str(item.contract_id)


def linked_contract(link_id: str, kind: str = SIGNED) -> StoredContract | None:
    """The contract a link of that kind opens, or None (no such link, or the contract is gone)."""
    found = contract_of(link_id, kind)
    return find_contract(*found) if found else None
