"""What every CRM client shares: the two failures a caller tells apart, the write-back update, the
source's API credential and write-back fields, and a small per-container cache for tokens and
metadata."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core.aws import get_secret_json
from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import logger
from chalicelib.store.registry import Source

# Every call to a CRM: connect within 3 s, an answer within 10 s (a job, not a request, waits).
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0
_MESSAGE_LIMIT = 300  # how much of a CRM's error body a message quotes


class CrmUnavailable(RetryableError):
    """The CRM did not answer, or answered "not now": down, 5xx, a timeout, a dropped connection, a
    rate limit (HubSpot, Pipedrive and Zoho 429; Salesforce 403 REQUEST_LIMIT_EXCEEDED). Retrying the
    same call later can succeed; `retry_after_seconds` is when, if the CRM said."""

    def __init__(self, message: str, *, code: str = "unavailable", status: int | None = None,
                 retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retry_after_seconds = retry_after_seconds


class CrmRefused(Exception):
    """The CRM refused our request for a reason that retrying it as it is will not fix: the
    credential (`auth`: missing, invalid or expired and not refreshable: an operator must fix it),
    the record (`not_found`), or our data (an unknown field, a value of the wrong type...)."""

    def __init__(self, message: str, *, code: str, status: int | None = None, auth: bool = False,
                 not_found: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.auth = auth
        self.not_found = not_found


@dataclass(frozen=True)
class WriteBack:
    """The contract's state as the CRM record shows it. Absolute values: writing one twice is
    writing it once."""

    contract_id: str
    number: str
    status: str  # signbridge's: draft, pending_approval, sending, sent, delivered, completed, ...
    status_label: str  # human text, e.g. "Sent for signature"
    envelope_id: str | None
    envelope_url: str | None
    signed_document_url: str | None  # a stable signbridge URL (it redirects to a fresh presigned one)
    signed_at: str | None  # ISO date the last signer signed
    paid_amount: str | None  # decimal as text, in the contract's currency
    overdue: bool | None  # a payment milestone is overdue
    evidence_url: str | None = None  # a stable signbridge URL of the evidence bundle (signed and archived)


# Logical write-back fields and how each is typed on the CRM side.
TEXT, DATE, DECIMAL, BOOLEAN = "text", "date", "decimal", "boolean"
LOGICAL_FIELDS: dict[str, str] = {
    "status": TEXT, "status_label": TEXT, "envelope_url": TEXT, "signed_document_url": TEXT, "signed_at": DATE,
    "paid_amount": DECIMAL, "overdue": BOOLEAN, "contract_id": TEXT,
    # Written only where a source names a field for them (no default field).
    "number": TEXT, "envelope_id": TEXT, "evidence_url": TEXT,
}
_DEFAULT_NAMES = ("status", "status_label", "envelope_url", "signed_document_url", "signed_at", "paid_amount",
                  "overdue", "contract_id")


def _defaults(name: Callable[[str], str]) -> dict[str, str]:
    return {logical: name(logical) for logical in _DEFAULT_NAMES}


def _title(logical: str) -> str:
    return "_".join("URL" if part == "url" else part.capitalize() for part in logical.split("_"))


# The fields an admin creates on the CRM record (docs/crm-setup.md lists them with their types).
# Pipedrive names custom fields by a 40-character key per account: there is no default to guess.
DEFAULT_WRITEBACK_FIELDS: dict[str, dict[str, str]] = {
    "hubspot": _defaults(lambda logical: f"signbridge_{logical}"),
    "salesforce": _defaults(lambda logical: f"Signbridge_{_title(logical)}__c"),
    "zoho": _defaults(lambda logical: f"Signbridge_{_title(logical)}"),
    "fxiaoke": _defaults(lambda logical: f"field_signbridge_{logical}__c"),
    "pipedrive": {},
}

# The credential keys each kind needs in the secret's "api" object (any one of the alternatives).
REQUIRED_CREDENTIALS: dict[str, tuple[tuple[str, ...], ...]] = {
    "hubspot": (("access_token",),),
    "pipedrive": (("api_token",),),
    "zoho": (("client_id", "client_secret", "refresh_token"),),
    "salesforce": (("client_id", "refresh_token"), ("session_id",)),
    "fxiaoke": (("app_id", "app_secret", "permanent_code", "open_user_id"),),
}


@dataclass(frozen=True)
class WriteItem:
    logical: str  # status, signed_at, ...
    field: str  # the CRM's field (property, API name, custom field key)
    value: str | bool | None  # text, ISO date, decimal text, bool; None clears the field
    # Other words for the value, for a CRM field with fixed options (the status's label).
    alternatives: tuple[str, ...] = ()


def credentials_problem(kind: str, api: Any) -> str | None:
    """Why `api` cannot serve as the kind's credential, or None."""
    alternatives = REQUIRED_CREDENTIALS.get(kind)
    if alternatives is None:
        return f"a {kind} source has no CRM API"
    if not isinstance(api, Mapping):
        return "the API credential must be a JSON object"
    for keys in alternatives:
        if all(isinstance(api.get(k), str) and api[k].strip() for k in keys):
            return None
    return "the API credential needs " + " or ".join("{" + ", ".join(keys) + "}" for keys in alternatives)


def load_credentials(source: Source) -> dict[str, str] | None:
    """The source's API credential (the "api" object of its secret), None when it has none or it is
    incomplete. A secret that cannot be read right now is CrmUnavailable."""
    if source.kind not in REQUIRED_CREDENTIALS or not source.secret_id:
        return None
    try:
        value = get_secret_json(source.secret_id)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise CrmUnavailable(f"the secret of source {source.source_id} cannot be read: {err}",
                             code="secret_unavailable") from err
    except BotoCoreError as err:
        raise CrmUnavailable(f"the secret of source {source.source_id} cannot be read: {err}",
                             code="secret_unavailable") from err
    except ValueError:
        return None  # not JSON: nothing usable in it
    api = value.get("api") if isinstance(value, Mapping) else None
    if not isinstance(api, Mapping) or credentials_problem(source.kind, api) is not None:
        return None
    return {str(k): str(v) for k, v in api.items() if isinstance(v, str | int)}


def require_credentials(source: Source) -> dict[str, str]:
    creds = load_credentials(source)
    if creds is None:
        raise CrmRefused(f"source {source.source_id} has no {source.kind} API credential (admin: sources set-api)",
                         code="no_credentials", auth=True)
    return creds


def fingerprint(*parts: str) -> str:
    """A cache key for a credential: a rotated credential never finds the old one's token."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def api_base(source: Source, default: str) -> str:
    """The CRM's API origin: the source's `api_base` option (a double, a proxy, another data
    centre), else the vendor's own."""
    value = source.options.get("api_base")
    return (str(value) if isinstance(value, str) and value.strip() else default).rstrip("/")


_warned: set[tuple[str, str]] = set()


def warn_once(source: Source, what: str, message: str, **extra: Any) -> None:
    """A misconfiguration worth one log line per source and container, not one per contract."""
    if (source.source_id, what) in _warned:
        return
    _warned.add((source.source_id, what))
    logger.warning(message, extra={"source_id": source.source_id, "crm": source.kind, **extra})


def writeback_items(source: Source, update: WriteBack) -> list[WriteItem]:
    """What to write: each logical field the source maps (its `writeback_fields` option over the
    kind's defaults; a null removes one) with the update's value."""
    fields = dict(DEFAULT_WRITEBACK_FIELDS.get(source.kind, {}))
    override = source.options.get("writeback_fields")
    if isinstance(override, Mapping):
        for logical, field in override.items():
            if logical not in LOGICAL_FIELDS:
                warn_once(source, f"writeback:{logical}", "unknown write-back field in writeback_fields ignored",
                          logical=logical)
            elif field is None or field == "":
                fields.pop(logical, None)
            elif isinstance(field, str):
                fields[logical] = field
    values: dict[str, str | bool | None] = {
        "status": update.status, "status_label": update.status_label, "envelope_url": update.envelope_url,
        "signed_document_url": update.signed_document_url, "signed_at": update.signed_at,
        "paid_amount": update.paid_amount, "overdue": update.overdue, "contract_id": update.contract_id,
        "number": update.number, "envelope_id": update.envelope_id, "evidence_url": update.evidence_url,
    }
    alternatives = {"status": (update.status_label,)}
    return [WriteItem(logical, field, values[logical], alternatives.get(logical, ()))
            for logical, field in fields.items()]


def json_value(item: WriteItem) -> Any:
    """A write-back value in JSON's types, as Salesforce and Zoho take them: text, dates as
    YYYY-MM-DD, numbers (currency, decimal) as numbers, booleans; None clears the field."""
    value = item.value
    if value is None:
        return None
    kind = LOGICAL_FIELDS[item.logical]
    if kind == DECIMAL:
        try:
            return float(Decimal(str(value)))
        except InvalidOperation:
            return str(value)
    if kind == BOOLEAN:
        return bool(value)
    if kind == DATE:
        return str(value)[:10]
    return str(value)


def quote_body(data: bytes | str | Any, limit: int = _MESSAGE_LIMIT) -> str:
    """A CRM's answer as a message may quote it: text, cut short."""
    if isinstance(data, bytes):
        text = data.decode("utf-8", "replace")
    elif isinstance(data, str):
        text = data
    else:
        text = json.dumps(data, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"




class TtlCache[V]:
    """A per-container cache with an expiry per entry (access tokens, Pipedrive's deal fields): a
    warm Lambda reuses them, a cold one starts afresh."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            if hit[0] <= time.monotonic():
                del self._items[key]
                return None
            return hit[1]

    def put(self, key: str, value: V, ttl_seconds: float) -> None:
        with self._lock:
            if len(self._items) >= 256:  # bounded: sources are few, but never grow without end
                self._items.pop(next(iter(self._items)))
            self._items[key] = (time.monotonic() + max(0.0, ttl_seconds), value)

    def drop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def clear_warnings() -> None:
    _warned.clear()
