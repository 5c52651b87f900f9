"""The approval gate's rules: which contracts a tenant wants approved before they are sent.

Rules live in the tenant's settings (`settings["approval"]`)::

    {"approvers": ["legal@example.com"],
     "amount_over": {"CNY": "100000.00", "USD": "15000.00"},
     "types": ["partner"],
     "always": false}

Pure: no I/O, Decimal only. An amount threshold applies to its own currency only (100000 CNY says
nothing about USD). A rule the gate cannot read fails closed: the contract waits for an approver
rather than going out unchecked. No rules, no approval.

Each reason is an ApprovalReason: the English text stored and shown everywhere, carrying a code and
its parameters so that an approver's email can say it in the contract's language.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from chalicelib.contracts.money import parse_amount

# What each reason says. The English text is the reason itself: the timeline, the API's contract
# view and the webhook answer show it; an approver's email says it in the contract's locale.
_WORDING: dict[str, dict[str, str]] = {
    "en": {
        "always": "every contract of this tenant needs approval",
        "contract_type": "contract type {type} needs approval",
        "amount_over": "amount {currency} {amount} is over {currency} {limit}",
        "amount_over_unreadable": "approval rule amount_over is not readable: {value}",
        "limit_unreadable": "approval rule amount_over.{currency} is not a decimal amount: {value}",
        "amount_unreadable": "contract amount is not a decimal amount: {value}",
        "changed_after_approval": "the contract changed after it was approved (approved version "
                                  "{approved_version}, now {version})",
    },
    "zh-CN": {
        "always": "按本公司的审批规则，所有合同均需审批",
        "contract_type": "{type_name}均需审批",
        "amount_over": "合同金额 {currency} {amount} 超过审批限额 {currency} {limit}",
        "amount_over_unreadable": "审批规则中的金额限额无法读取：{value}",
        "limit_unreadable": "审批规则中 {currency} 的金额限额不是有效金额：{value}",
        "amount_unreadable": "合同金额不是有效金额：{value}",
        "changed_after_approval": "合同在审批通过后被修改（已审批版本 {approved_version}，当前版本 {version}）",
    },
}
_TYPE_NAMES_ZH = {"sales": "销售合同", "service": "服务合同", "partner": "合作伙伴合同", "supplier": "采购合同"}


class ApprovalReason(str):
    """One reason a contract needs approval: its English text (a plain str wherever it is stored or
    shown, as before) that also carries a code and its parameters, so `text(locale)` can say it in
    another language.

        ApprovalReason("amount_over", currency="CNY", amount="128000.00", limit="100000.00")
    """

    code: str
    params: Mapping[str, str]

    def __new__(cls, code: str, **params: object) -> ApprovalReason:
        values = {name: str(value) for name, value in params.items()}
        reason = super().__new__(cls, _WORDING["en"][code].format(**values))
        reason.code = code
        reason.params = MappingProxyType(values)
        return reason

    def __reduce__(self) -> tuple[Any, ...]:
        # copy and pickle rebuild from the code, not from the text (str's default)
        return _rebuild, (self.code, dict(self.params))

    def text(self, locale: str) -> str:
        """The reason in `locale` (zh-CN or en; anything else gets English)."""
        wording = _WORDING.get(locale, _WORDING["en"])[self.code]
        values = dict(self.params)
        if self.code == "contract_type" and locale == "zh-CN":
            known = _TYPE_NAMES_ZH.get(values["type"])
            values["type_name"] = known or f"类型为 {values['type']} 的合同"
        return wording.format(**values)


def _rebuild(code: str, params: dict[str, str]) -> ApprovalReason:
    return ApprovalReason(code, **params)


def changed_after_approval(approved_version: str | None, version: str) -> ApprovalReason:
    """The send job's reason when the document is no longer the version that was approved."""
    return ApprovalReason("changed_after_approval", approved_version=approved_version, version=version)


def approval_reasons(document: Mapping[str, Any], rules: Mapping[str, Any] | None) -> list[ApprovalReason]:
    """The reasons this contract needs an approval before sending; empty when it needs none."""
    if not rules:
        return []
    reasons: list[ApprovalReason] = []
    if rules.get("always") is True:
        reasons.append(ApprovalReason("always"))
    contract_type = str(document.get("type") or "")
    types = rules.get("types") or []
    if isinstance(types, str):
        types = [types]
    if contract_type and contract_type in {str(t) for t in types}:
        reasons.append(ApprovalReason("contract_type", type=contract_type))
    reasons.extend(_amount_reasons(document, rules.get("amount_over")))
    return reasons


def needs_approval(document: Mapping[str, Any], rules: Mapping[str, Any] | None) -> list[str]:
    """`approval_reasons` typed as the strings they are (each one an ApprovalReason)."""
    return list(approval_reasons(document, rules))


def _amount_reasons(document: Mapping[str, Any], thresholds: Any) -> list[ApprovalReason]:
    if not thresholds:
        return []
    if not isinstance(thresholds, Mapping):
        return [ApprovalReason("amount_over_unreadable", value=repr(thresholds))]
    currency = str(document.get("currency") or "").upper()
    by_currency = {str(k).upper(): v for k, v in thresholds.items()}
    if not currency or currency not in by_currency:
        return []
    limit = _decimal(by_currency[currency])
    if limit is None:
        return [ApprovalReason("limit_unreadable", currency=currency, value=repr(by_currency[currency]))]
    if document.get("amount") is None:  # a contract without an amount (a framework agreement)
        return []
    amount = _decimal(document.get("amount"))
    if amount is None:
        return [ApprovalReason("amount_unreadable", value=repr(document.get("amount")))]
    if amount > limit:
        return [ApprovalReason("amount_over", currency=currency, amount=amount, limit=limit)]
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
