"""DocuSign anchor strings: the one definition shared by the templates and the e-sign code.

A document carries, for every signer, three anchors printed in white text where DocuSign must
place that signer's tabs. The signer's position ``n`` is its index in ``contract.signers`` + 1
(1-based), the same number the API uses in ``/signing-link?signer=N``:

- ``/sn{n}/`` sign here (``signHereTabs``)
- ``/ds{n}/`` date signed (``dateSignedTabs``)
- ``/fn{n}/`` full name (``fullNameTabs``)

The trailing slash keeps ``/sn1/`` from matching inside ``/sn10/``. DocuSign matches anchors
case-insensitively and not as whole words by default, so CRM text that happens to contain an
anchor-like string is defused before rendering (see ``defuse_anchors``).

Pure Python, no imports beyond the standard library: the e-sign code imports this module too.
"""

from __future__ import annotations

import re

# Invisible, zero-width, no line break: splits an anchor-like string in CRM data so DocuSign's
# text search cannot find it, while the text still reads the same on the page.
WORD_JOINER = "\u2060"

_ANCHOR_LIKE = re.compile(r"/(?=(?:sn|ds|fn)\d+/)", re.IGNORECASE)


def _position(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"signer position must be an integer >= 1, got {n!r}")
    return n


def sign_here_anchor(n: int) -> str:
    """Anchor of the sign-here tab of the signer at 1-based position ``n``."""
    return f"/sn{_position(n)}/"


def date_signed_anchor(n: int) -> str:
    """Anchor of the date-signed tab of the signer at 1-based position ``n``."""
    return f"/ds{_position(n)}/"


def full_name_anchor(n: int) -> str:
    """Anchor of the full-name tab of the signer at 1-based position ``n``."""
    return f"/fn{_position(n)}/"


def anchors_for(n: int) -> dict[str, str]:
    """The three anchors of signer ``n``, keyed by the DocuSign tab kind."""
    return {
        "sign_here": sign_here_anchor(n),
        "date_signed": date_signed_anchor(n),
        "full_name": full_name_anchor(n),
    }


def defuse_anchors(text: str) -> str:
    """Make anchor-like substrings of untrusted text unfindable by DocuSign.

    A word joiner goes after the leading slash: ``/sn1/`` becomes ``/\u2060sn1/``, which looks
    identical on the page but no longer matches the anchor, so CRM data cannot move or add a
    signer's tabs.
    """
    if "/" not in text:  # every anchor has one; most contract text has none (a render wraps hundreds)
        return text
    return _ANCHOR_LIKE.sub("/" + WORD_JOINER, text)
