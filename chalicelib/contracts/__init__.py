"""The contract domain, pure Python: the canonical contract, its validation, money, lifecycle.

No AWS, no HTTP, no Jinja here; cn2an is imported only inside `chinese_capitals` (cold start).
"""

from .lifecycle import IllegalTransition, Status
from .locales import BILINGUAL, CONTRACT_LOCALES, LANGUAGES, is_bilingual, languages_of, primary_locale
from .model import (
    CONTRACT_TYPES,
    DEFAULT_TIME_ZONE,
    Contract,
    ContractRef,
    ContractType,
    Delivery,
    DeliveryMilestone,
    EventName,
    Item,
    OrderedSigner,
    Party,
    Payment,
    PaymentMilestone,
    Person,
    Signer,
    WebhookEnvelope,
)
from .money import chinese_capitals, format_amount, parse_amount
from .validation import REQUIRED_CLAUSES, ContractInvalid, ErrorDetail, parse_contract, parse_webhook_body
from .workdays import WorkingCalendar

__all__ = [
    "BILINGUAL",
    "CONTRACT_LOCALES",
    "LANGUAGES",
    "CONTRACT_TYPES",
    "DEFAULT_TIME_ZONE",
    "REQUIRED_CLAUSES",
    "Contract",
    "ContractInvalid",
    "ContractRef",
    "ContractType",
    "Delivery",
    "DeliveryMilestone",
    "ErrorDetail",
    "EventName",
    "IllegalTransition",
    "Item",
    "OrderedSigner",
    "Party",
    "Payment",
    "PaymentMilestone",
    "Person",
    "Signer",
    "Status",
    "WebhookEnvelope",
    "is_bilingual",
    "languages_of",
    "primary_locale",
    "WorkingCalendar",
    "chinese_capitals",
    "format_amount",
    "parse_amount",
    "parse_contract",
    "parse_webhook_body",
]
