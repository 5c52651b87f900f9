"""Constant-time comparison of secrets received in headers, for every scheme (CRM signatures and
tokens, DocuSign Connect's HMAC). A header may arrive in any encoding: text that is not ASCII
compares unequal instead of raising, as `hmac.compare_digest` does on non-ASCII str."""

from __future__ import annotations

import hmac
from collections.abc import Sequence


def header_bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def equal(received: str, expected: str) -> bool:
    return hmac.compare_digest(header_bytes(received), header_bytes(expected))


def matches_any(candidate: str | None, secrets: Sequence[str]) -> bool:
    """True when the candidate equals one of the active secrets (rotation keeps two valid)."""
    if not candidate:
        return False
    found = False
    for secret in secrets:
        # No early exit: the time taken does not tell which secret (if any) matched.
        found |= equal(candidate, secret)
    return found
