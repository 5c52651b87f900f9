"""The fixed phrases a declined or voided contract's status reason can hold, besides what a person typed.

DocuSign voids an envelope whose signing period ended with "Envelope has expired."; signbridge voids
with its own phrases (chalicelib.intake.events: a CRM cancel; chalicelib.jobs.send and .reconcile: a
cancel that raced the send, a duplicate envelope). Recognising them lets a notice say them in the
contract's language. Any other reason is someone's own words (an API void, a signer's decline, a
void in DocuSign's console) and is shown as typed.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_PHRASES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("expired", re.compile(r"(?:the )?envelope (?:has )?expired\.?", re.IGNORECASE)),
    ("cancelled_in_crm", re.compile(r"cancell?ed in the CRM\.?", re.IGNORECASE)),
    ("cancelled_while_sending", re.compile(r"contract (?P<number>.+?) was cancell?ed\.?", re.IGNORECASE)),
    ("duplicate_envelope", re.compile(
        r"duplicate of envelope (?P<envelope_id>\S+) for contract (?P<number>.+?)\.?", re.IGNORECASE)),
)

_ZH_CN = {
    "expired": "签署期限已过",
    "cancelled_in_crm": "合同已在 CRM 中取消",
    "cancelled_while_sending": "合同 {number} 在发送过程中被取消",
    "duplicate_envelope": "该信封与合同 {number} 的信封 {envelope_id} 重复",
}


@dataclass(frozen=True)
class KnownReason:
    code: str  # "expired", "cancelled_in_crm", "cancelled_while_sending", "duplicate_envelope"
    params: dict[str, str] = field(default_factory=dict)

    def text(self, locale: str) -> str | None:
        """The phrase in `locale`; None for English, whose phrase is the reason as stored."""
        wording = _ZH_CN.get(self.code) if locale == "zh-CN" else None
        return wording.format(**self.params) if wording else None


def recognise(reason: Any) -> KnownReason | None:
    """The fixed phrase `reason` is, or None when it is someone's own words (or empty)."""
    text = str(reason or "").strip()
    for code, pattern in _PHRASES:
        match = pattern.fullmatch(text)
        if match:
            return KnownReason(code, {name: value for name, value in match.groupdict().items() if value})
    return None
