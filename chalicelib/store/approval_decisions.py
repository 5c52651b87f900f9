"""The one decision an approval link may make per contract version: an item
`approval-decision#{tenant}#{contract}#{version}` in the keys table, written only if absent. The
first approve or reject link to claim it acts; every later click (the same link again, the other
link, another approver's, a second POST racing the first) finds who decided what and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.store.contention import raise_if_transient, translated
from chalicelib.store.contracts import now_utc
from chalicelib.store.models import KeyRecord

# Longer than any link lives, so a late click still learns who decided.
KEEP = timedelta(days=60)


@dataclass(frozen=True)
class Decision:
    action: str  # approve | reject
    by: str  # the approver's email


def _key(tenant_id: str, contract_id: str, version: str) -> str:
    return f"approval-decision#{tenant_id}#{contract_id}#{version}"


@translated
def claim(tenant_id: str, contract_id: str, version: str, decision: Decision) -> bool:
    """True for the first claim of this version's decision; False if one was made already."""
    now = now_utc()
    try:
        KeyRecord(key=_key(tenant_id, contract_id, version), tenant_id=tenant_id, contract_id=contract_id,
                  owner=decision.by, detail={"action": decision.action, "by": decision.by}, created_at=now,
                  expires_at=now + KEEP).save(condition=KeyRecord.key.does_not_exist())
    except PutError as err:
        raise_if_transient(err)  # busy is not "already decided"
        return False
    return True


@translated
def find(tenant_id: str, contract_id: str, version: str) -> Decision | None:
    try:
        item = KeyRecord.get(_key(tenant_id, contract_id, version), consistent_read=True)
    except DoesNotExist:
        return None
    detail = item.detail if isinstance(item.detail, dict) else {}
    return Decision(str(detail.get("action") or ""), str(detail.get("by") or ""))


def release(tenant_id: str, contract_id: str, version: str) -> None:
    """Undo a claim whose action did not happen (the contract moved meanwhile, the store was busy)."""
    try:
        KeyRecord(key=_key(tenant_id, contract_id, version)).delete()
    except Exception:  # noqa: BLE001 - best effort: a stale claim only makes later links say "decided"
        pass
