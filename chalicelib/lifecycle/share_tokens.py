"""The tokens of contract-page links (`/c/{token}`): what an email that points at a contract carries, so
the person it was sent to can open the contract in a browser without an API key.

A token is sealed with the link key ring under its own derived key (`contract-page`: never valid as a
signing, approval or cursor token) and names a random link id, the tenant, the contract, whom the link
was made for, the page's language, the actions it allows (`scope`: "paid", "delivered" or none), the
milestone those actions are limited to (a reminder's), when it was made and when it expires. Nothing
in it is readable without our key, so the URL shows no ids. Revocation is a record per link or per
contract (`store.share_links`), checked on every open.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chalicelib.core.config import settings
from chalicelib.core.link_keys import KeyRing, seal, unseal

TOKEN_USE = "contract-page"
ACTIONS = ("paid", "delivered")
LANGUAGES = ("zh-CN", "en")
DEFAULT_LINK_HOURS = 30 * 24  # an email's link: as long as a reminder ladder runs, give or take
MAX_LINK_HOURS = 90 * 24
MAX_RECIPIENT = 320  # one address (254) or a short list of the email's addressees
MAX_TOKEN_LENGTH = 1600
PAGE_PATH = "/c/"

# What a reminder's link lets its reader do: a payment reminder goes to those who see the money come
# in (the owner, then finance), a delivery reminder to the owner chasing it; a notice about the term
# (expiry, renewal) or the end of a contract (declined, voided) only shows.
REMINDER_SCOPE: dict[str, tuple[str, ...]] = {
    "payment_before": ("paid",), "payment_due": ("paid",), "payment_overdue": ("paid",),
    "delivery_before": ("delivered",), "delivery_overdue": ("delivered",),
}


@dataclass(frozen=True)
class ShareClaims:
    link_id: str
    tenant_id: str
    contract_id: str
    recipient: str  # whom the link was made for: what the timeline records as who acted
    language: str  # zh-CN | en: the email's
    scope: tuple[str, ...]  # actions allowed, a subset of ACTIONS
    milestone_id: str | None  # the actions' only milestone (a reminder's), None: any
    issued_at: int  # epoch seconds
    expires_at: int

    def allows(self, action: str, milestone_id: str) -> bool:
        return action in self.scope and self.milestone_id in (None, milestone_id)


def scope_for_reminder(kind: str) -> tuple[str, ...]:
    return REMINDER_SCOPE.get(kind, ())


def clean_scope(values: Iterable[str]) -> tuple[str, ...]:
    """The known actions among `values`, in ACTIONS' order, each once."""
    wanted = set(values)
    return tuple(a for a in ACTIONS if a in wanted)


def new_claims(tenant_id: str, contract_id: str, recipient: str, language: str, scope: Iterable[str] = (), *,
               milestone_id: str | None = None, hours: float = DEFAULT_LINK_HOURS,
               now: datetime | None = None) -> ShareClaims:
    at = now or datetime.now(UTC)
    return ShareClaims(link_id=secrets.token_urlsafe(12), tenant_id=tenant_id, contract_id=contract_id,
                       recipient=recipient[:MAX_RECIPIENT], language=language if language in LANGUAGES else "en",
                       scope=clean_scope(scope), milestone_id=milestone_id, issued_at=int(at.timestamp()),
                       expires_at=int((at + timedelta(hours=min(hours, MAX_LINK_HOURS))).timestamp()))


def make_token(claims: ShareClaims, ring: KeyRing | None = None) -> str:
    return seal(TOKEN_USE, {"l": claims.link_id, "t": claims.tenant_id, "c": claims.contract_id,
                            "r": claims.recipient, "g": claims.language, "s": list(claims.scope),
                            "m": claims.milestone_id, "i": claims.issued_at, "x": claims.expires_at}, ring)


def read_token(token: str, ring: KeyRing | None = None) -> ShareClaims | None:
    """The claims of a token we sealed; None for anything else (expiry and revocation are the caller's)."""
    data = unseal(TOKEN_USE, token, MAX_TOKEN_LENGTH, ring)
    if data is None:
        return None
    try:
        scope = data["s"]
        milestone = data.get("m")
        if not isinstance(scope, list) or not (milestone is None or isinstance(milestone, str)):
            return None
        return ShareClaims(str(data["l"]), str(data["t"]), str(data["c"]), str(data["r"]), str(data["g"]),
                           clean_scope(str(a) for a in scope), milestone, int(data["i"]), int(data["x"]))
    except (KeyError, TypeError, ValueError):
        return None


def page_url(token: str) -> str:
    return f"{settings().public_base_url.rstrip('/')}{PAGE_PATH}{token}"


def mint(tenant_id: str, contract_id: str, recipient: str, language: str, scope: Iterable[str] = (), *,
         milestone_id: str | None = None, hours: float = DEFAULT_LINK_HOURS,
         now: datetime | None = None, ring: KeyRing | None = None) -> tuple[str, ShareClaims]:
    """A fresh link (its URL and claims): no store write, so every email can carry its own."""
    claims = new_claims(tenant_id, contract_id, recipient, language, scope, milestone_id=milestone_id,
                        hours=hours, now=now)
    return page_url(make_token(claims, ring)), claims
