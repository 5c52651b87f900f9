"""The key ring behind what we hand out and later take back: signing-link tokens and list cursors.

It lives in one Secrets Manager secret (`settings().signing_link_secret`) as
`{"keys": [{"kid": "…", "key": "…", "verify_until": <epoch seconds or null>}, …]}`: the first key
signs, every key whose `verify_until` has not passed is accepted. Rotation (`rotate`) puts a new key
first and gives the old ones an overlap window as long as a link token lives, so links minted a
minute before a rotation still open; `--no-overlap` ends them at once (a leaked key). A plain-text
secret (what older stacks stored) is a ring of that one key.

Each use gets its own key derived from the ring's (HMAC-SHA256 with the use's label), so a list
cursor can never be replayed as a link token or the other way round.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib.core.aws import get_secret
from chalicelib.core.config import settings
from chalicelib.core.secrets import secret_problem

KEY_BYTES = 32
_NONCE_BYTES = 12
_SEALED_SHAPE = re.compile(r"([0-9a-f]{8})\.([A-Za-z0-9_-]{40,})")


@dataclass(frozen=True)
class LinkKey:
    kid: str  # short, random-looking and public: tells the reader which key made a token
    secret: str
    verify_until: float | None = None  # epoch seconds; None: no end (the current key)

    def derived(self, use: str) -> bytes:
        return hmac.new(self.secret.encode(), f"signbridge {use} v2".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[LinkKey, ...]  # the first one signs

    @property
    def current(self) -> LinkKey:
        return self.keys[0]

    def accepted(self, now: float | None = None) -> tuple[LinkKey, ...]:
        at = time.time() if now is None else now
        return tuple(k for i, k in enumerate(self.keys) if i == 0 or k.verify_until is None or at < k.verify_until)

    def find(self, kid: str, now: float | None = None) -> LinkKey | None:
        return next((k for k in self.accepted(now) if hmac.compare_digest(k.kid, kid)), None)


class KeyRingError(ValueError):
    """The stored ring is unusable: signing links and cursors fail closed (an ERROR, no fallback)."""


def kid_of(secret: str) -> str:
    return hashlib.sha256(b"kid:" + secret.encode()).hexdigest()[:8]


def parse_ring(text: str) -> KeyRing:
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):  # the legacy form: the whole secret is the one key
        if secret_problem(text) is not None:
            raise KeyRingError("the signing-link key is not a usable secret")
        return KeyRing((LinkKey(kid_of(text), text),))
    keys: list[LinkKey] = []
    for entry in data.get("keys") or []:
        if not isinstance(entry, dict) or secret_problem(entry.get("key")) is not None:
            continue  # a broken key is never used; if none is left, the ring is refused below
        until = entry.get("verify_until")
        keys.append(LinkKey(str(entry.get("kid") or kid_of(entry["key"])), entry["key"],
                            float(until) if isinstance(until, int | float) else None))
    if not keys:
        raise KeyRingError("the signing-link key ring has no usable key")
    return KeyRing(tuple(keys))


def dump_ring(ring: KeyRing) -> str:
    return json.dumps({"keys": [{"kid": k.kid, "key": k.secret, "verify_until": k.verify_until}
                                for k in ring.keys]})


def rotated(ring: KeyRing, overlap_seconds: float, now: float | None = None) -> KeyRing:
    """A new signing key first; the old ones stay accepted `overlap_seconds` more (never longer than
    they already had), and those already past their window are dropped."""
    at = time.time() if now is None else now
    new_secret = secrets.token_urlsafe(KEY_BYTES)
    kept = []
    for key in ring.accepted(at):
        until = at + overlap_seconds if key.verify_until is None else min(key.verify_until, at + overlap_seconds)
        if until > at:
            kept.append(LinkKey(key.kid, key.secret, until))
    return KeyRing((LinkKey(kid_of(new_secret), new_secret), *kept))


def new_ring() -> KeyRing:
    secret = secrets.token_urlsafe(KEY_BYTES)
    return KeyRing((LinkKey(kid_of(secret), secret),))


def key_ring() -> KeyRing:
    """The ring as stored now (Secrets Manager, cached a minute per container)."""

    return parse_ring(get_secret(settings().signing_link_secret))


# --- sealed tokens: a JSON payload under AES-GCM with the use's derived key (the signing links' form) ---


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def seal(use: str, payload: Mapping[str, Any], ring: KeyRing | None = None) -> str:
    """`kid.base64url(nonce + AES-GCM(payload))` under the current key's key for `use` (the kid is the
    associated data): opaque, tamper-evident, readable only by us, and useless for another use."""
    key = (ring or key_ring()).current
    nonce = os.urandom(_NONCE_BYTES)
    body = json.dumps(dict(payload), separators=(",", ":"), ensure_ascii=False).encode()
    return f"{key.kid}.{_b64(nonce + AESGCM(key.derived(use)).encrypt(nonce, body, key.kid.encode()))}"


def unseal(use: str, token: str, max_length: int, ring: KeyRing | None = None) -> dict[str, Any] | None:
    """The payload of a token `seal(use, …)` made with a key still accepted; None for anything else."""
    match = _SEALED_SHAPE.fullmatch(token) if len(token) <= max_length else None
    if match is None:
        return None
    key = (ring or key_ring()).find(match.group(1))
    if key is None:
        return None
    text = match.group(2)
    try:
        sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        body = AESGCM(key.derived(use)).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], key.kid.encode())
        data = json.loads(body)
    except (InvalidTag, ValueError, binascii.Error):
        return None
    return data if isinstance(data, dict) else None
