"""The approval gate's rules: which contracts a tenant wants approved before they are sent.

Rules live in the tenant's settings (`settings["approval"]`)::

    {"approvers": ["legal@example.com"],
     "amount_over": {"CNY": "100000.00", "USD": "15000.00"},
     "types": ["partner"],
     "always": false}

Pure: no I/O, Decimal only. An amount threshold applies to its own currency only (100000 CNY says
nothing about USD). A rule the gate cannot read fails closed: the contract waits for an approver
rather than going out unchecked. No rules, no approval.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from chalicelib.contracts.money import parse_amount


def needs_approval(document: Mapping[str, Any], rules: Mapping[str, Any] | None) -> list[str]:
    """The reasons this contract needs an approval before sending; empty when it needs none."""
    if not rules:
        return []
    reasons: list[str] = []
    if rules.get("always") is True:
        reasons.append("every contract of this tenant needs approval")
    contract_type = str(document.get("type") or "")
    types = rules.get("types") or []
    if isinstance(types, str):
        types = [types]
    if contract_type and contract_type in {str(t) for t in types}:
        reasons.append(f"contract type {contract_type} needs approval")
    reasons.extend(_amount_reasons(document, rules.get("amount_over")))
    return reasons


def _amount_reasons(document: Mapping[str, Any], thresholds: Any) -> list[str]:
    if not thresholds:
        return []
    if not isinstance(thresholds, Mapping):
        return [f"approval rule amount_over is not readable: {thresholds!r}"]
    currency = str(document.get("currency") or "").upper()
    by_currency = {str(k).upper(): v for k, v in thresholds.items()}
    if not currency or currency not in by_currency:
        return []
    limit = _decimal(by_currency[currency])
    if limit is None:
        return [f"approval rule amount_over.{currency} is not a decimal amount: {by_currency[currency]!r}"]
    if document.get("amount") is None:  # a contract without an amount (a framework agreement)
        return []
    amount = _decimal(document.get("amount"))
    if amount is None:
        return [f"contract amount is not a decimal amount: {document.get('amount')!r}"]
    if amount > limit:
        return [f"amount {currency} {amount} is over {currency} {limit}"]
    return []


def _decimal(value: Any) -> Decimal | None:
    try:
        return parse_amount(value)
    except (TypeError, ValueError):
        return None


def approvers(rules: Mapping[str, Any] | None) -> list[str]:
    """The approvers' email addresses (a single string is accepted for one approver)."""
    value = (rules or {}).get("approvers") or []
    if isinstance(value, str):
        value = [value]
    return [str(v).strip() for v in value if str(v).strip()]


# Fields a CRM may set on a milestone to report its execution: not part of what is approved or signed.
EXECUTION_FIELDS = ("status", "paid_amount", "paid_on", "delivered_on")


def without_execution(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document without the execution fields on its milestones: what was signed."""
    clean = dict(document)
    for section in ("payment", "delivery"):
        part = clean.get(section)
        if isinstance(part, Mapping) and isinstance(part.get("milestones"), list):
            clean[section] = {**part, "milestones": [
                {k: v for k, v in m.items() if k not in EXECUTION_FIELDS} if isinstance(m, Mapping) else m
                for m in part["milestones"]]}
    return clean


def document_version(document: Mapping[str, Any]) -> str:
    """A short digest of the canonical document as it would be signed (execution reports aside): an
    approval binds to it, and the send job sends only the version that was approved."""
    text = json.dumps(without_execution(document), sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
