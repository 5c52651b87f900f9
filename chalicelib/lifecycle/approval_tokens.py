"""The tokens of approval links: sealed with the link key ring under their own derived key (never a
signing link or a list cursor), naming the tenant, the contract, the approver, the document version
asked about, the action and an expiry (`link_hours` in the tenant's approval rules, 72 by default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.contracts.approval import approvers, document_version
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.config import settings
from chalicelib.core.link_keys import seal, unseal

TOKEN_USE = "approval-link"
ACTIONS = ("approve", "reject")
DEFAULT_LINK_HOURS = 72.0
MAX_LINK_HOURS = 30 * 24.0
MAX_TOKEN_LENGTH = 1200  # an approver's address is at most 254 characters


@dataclass(frozen=True)
class LinkClaims:
    tenant_id: str
    contract_id: str
    approver: str
    version: str
    action: str  # approve | reject
    expires_at: int  # epoch seconds


def link_hours(rules: Mapping[str, Any]) -> float:
    """How long a link lives: the rules' `link_hours` (a positive number, fractions allowed), else 72."""
    value = rules.get("link_hours")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= MAX_LINK_HOURS:
        return float(value)
    return DEFAULT_LINK_HOURS


def make_token(claims: LinkClaims) -> str:
    return seal(TOKEN_USE, {"t": claims.tenant_id, "c": claims.contract_id, "e": claims.approver,
                            "v": claims.version, "a": claims.action, "x": claims.expires_at})


def read_token(token: str) -> LinkClaims | None:
    """The claims of a token we sealed; None for anything else (expiry is judged by the caller)."""
    data = unseal(TOKEN_USE, token, MAX_TOKEN_LENGTH)
    if data is None:
        return None
    try:
        claims = LinkClaims(str(data["t"]), str(data["c"]), str(data["e"]), str(data["v"]), str(data["a"]),
                            int(data["x"]))
    except (KeyError, TypeError, ValueError):
        return None
    return claims if claims.action in ACTIONS else None


def links_for(record: StoredContract, approver: str, rules: Mapping[str, Any],
              now: datetime | None = None) -> dict[str, str]:
    """{"approve": url, "reject": url} for one approver and the contract's current version."""
    at = now or datetime.now(UTC)
    expires = int((at + timedelta(hours=link_hours(rules))).timestamp())
    version = document_version(record.document or {})
    base = settings().public_base_url.rstrip("/")
    return {action: f"{base}/approval/{make_token(LinkClaims(record.tenant_id, record.contract_id, approver,
                                                                      version, action, expires))}"
            for action in ACTIONS}


def allowed_approvers(rules: Mapping[str, Any]) -> set[str]:
    """Who may still answer: the approvers and the escalation approvers, as the rules say now."""
    escalate = rules.get("escalate_to") or []
    return {a.lower() for a in approvers(rules) + approvers({"approvers": escalate})}
