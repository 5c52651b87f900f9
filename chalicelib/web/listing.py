"""`GET /v1/contracts`: a tenant's contracts, filtered and paginated.

Reads only the tenant's own partition of the contracts table (`store.tenant_contracts`, a query,
never a scan), or, with `crm_record_id`, the exact `crm#{tenant}#{record}` claim. Status and type
are filtered by DynamoDB; `expiring_before` (the end of the term in force, which lives inside the
stored JSON document) is filtered here. Items come in contract id order.

The cursor is opaque to callers: base64url of `{"k": <last key>, "s": <HMAC>}`, where the key is
DynamoDB's key of the last contract returned and the HMAC (over the tenant and the key, with a
label, keyed by a key derived from the link key ring, `link_keys`) proves we issued it to this
tenant. Anything else → 400.

The top half is pure (parsing, cursors, the summary); `list_contracts` touches the store.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from chalicelib.contracts.lifecycle import Status
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.errors import BadRequest
from chalicelib.core.link_keys import key_ring
from chalicelib.store import contracts as store

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CRM_RECORD_ID = 256
CONTRACT_TYPES = ("sales", "service", "partner", "supplier")
MAX_CURSOR_LENGTH = 1024
_CURSOR_LABEL = b"signbridge/list-cursor/v1\x00"
_CONTRACT_ID = re.compile(r"^ctr_[0-9a-f]{1,64}$")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
KNOWN_PARAMS = frozenset({"status", "type", "crm_record_id", "expiring_before", "limit", "cursor"})


@dataclass(frozen=True)
class ListQuery:
    statuses: tuple[str, ...] = ()
    contract_type: str | None = None
    crm_record_id: str | None = None
    expiring_before: date | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


def parse_query(params: Mapping[str, str] | None) -> ListQuery:
    """The query string, checked: every bad value is listed (400, `bad_request`, with details)."""
    params = params or {}
    problems: list[dict[str, str]] = []
    unknown = sorted(set(params) - KNOWN_PARAMS)
    for name in unknown:
        problems.append({"path": name, "message": f"unknown parameter; use one of {sorted(KNOWN_PARAMS)}"})
    statuses: tuple[str, ...] = ()
    if params.get("status") is not None:
        # Spaces around a comma are forgiven; nothing else (the OpenAPI document's pattern says the same).
        wanted = tuple(s.strip(" ") for s in params["status"].split(",") if s.strip(" "))
        allowed = {s.value for s in Status}
        bad = [s for s in wanted if s not in allowed]
        if not wanted or bad:
            problems.append({"path": "status", "message": f"unknown status {', '.join(bad) or '(empty)'}; "
                                                           f"use one or more (comma-separated) of {sorted(allowed)}"})
        statuses = tuple(dict.fromkeys(wanted))
    contract_type = params.get("type")
    if contract_type is not None and contract_type not in CONTRACT_TYPES:
        problems.append({"path": "type",
                         "message": f"unknown type {contract_type!r}; use one of {list(CONTRACT_TYPES)}"})
    crm_record_id = params.get("crm_record_id")
    if crm_record_id is not None and not (0 < len(crm_record_id) <= MAX_CRM_RECORD_ID):
        problems.append({"path": "crm_record_id", "message": f"must be 1 to {MAX_CRM_RECORD_ID} characters"})
    expiring_before: date | None = None
    if params.get("expiring_before") is not None:
        try:
            # YYYY-MM-DD only: fromisoformat alone also takes 20271231 and 2027-W52-5.
            if not _ISO_DATE.fullmatch(params["expiring_before"]):
                raise ValueError
            expiring_before = date.fromisoformat(params["expiring_before"])
        except ValueError:
            problems.append({"path": "expiring_before", "message": "not an ISO date like 2027-12-31"})
    limit = DEFAULT_LIMIT
    if params.get("limit") is not None:
        raw = params["limit"]
        if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
            problems.append({"path": "limit", "message": f"must be an integer from 1 to {MAX_LIMIT}"})
        else:
            limit = int(raw)
    cursor = params.get("cursor")
    if cursor is not None and not cursor:
        problems.append({"path": "cursor", "message": "empty cursor; omit it for the first page"})
    if problems:
        raise BadRequest(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the query string",
                         problems)
    return ListQuery(statuses, contract_type, crm_record_id, expiring_before, limit, cursor or None)


# --- cursors -----------------------------------------------------------------------------------

def _mac(key: bytes, tenant_id: str, last_key: Mapping[str, Any]) -> str:
    message = _CURSOR_LABEL + tenant_id.encode() + b"\x00" + json.dumps(last_key, sort_keys=True).encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode().rstrip("=")


def encode_cursor(key: bytes, tenant_id: str, contract_id: str) -> str:
    last_key = {"tenant_id": {"S": tenant_id}, "contract_id": {"S": contract_id}}
    raw = json.dumps({"k": last_key, "s": _mac(key, tenant_id, last_key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(keys: Sequence[bytes], tenant_id: str, cursor: str) -> dict[str, Any]:
    """DynamoDB's exclusive start key from a cursor we issued to this tenant; BadRequest otherwise."""
    invalid = BadRequest("invalid cursor; use the next_cursor of the previous page unchanged",
                         [{"path": "cursor", "message": "not a cursor issued for this key"}], code="invalid_cursor")
    if len(cursor) > MAX_CURSOR_LENGTH or not re.fullmatch(r"[A-Za-z0-9_-]+", cursor):
        raise invalid
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise invalid from None
    if not isinstance(data, dict) or set(data) != {"k", "s"} or not isinstance(data["s"], str):
        raise invalid
    last_key = data["k"]
    if not isinstance(last_key, dict) or set(last_key) != {"tenant_id", "contract_id"}:
        raise invalid
    if last_key["tenant_id"] != {"S": tenant_id}:
        raise invalid
    contract_id = last_key["contract_id"]
    if (not isinstance(contract_id, dict) or set(contract_id) != {"S"} or not isinstance(contract_id["S"], str)
            or not _CONTRACT_ID.fullmatch(contract_id["S"])):
        raise invalid
    if not any(hmac.compare_digest(data["s"], _mac(key, tenant_id, last_key)) for key in keys):
        raise invalid
    return last_key


# --- the summary -------------------------------------------------------------------------------

def term_end(document: Mapping[str, Any], stored_term: Mapping[str, Any] | None) -> str | None:
    """The end of the term in force: a renewal moves it past the document's own end date."""
    end = (stored_term or {}).get("end") or document.get("end_date")
    return str(end) if end else None


def contract_summary(record: StoredContract) -> dict[str, Any]:
    """A compact subset of the contract view (`GET /v1/contracts/{id}` has the rest)."""
    document = record.document or {}
    return {
        "contract_id": record.contract_id,
        "status": record.status,
        "type": record.contract_type,
        "number": record.number,
        "title": document.get("title"),
        "crm_record_id": record.crm_record_id,
        "amount": document.get("amount"),
        "currency": document.get("currency"),
        "end_date": term_end(document, getattr(record, "term", None)),
        "signers": [{"position": int(s.position), "name": s.name, "status": s.status} for s in record.signers],
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def matches(record: StoredContract, query: ListQuery) -> bool:
    """Every filter, in Python (the DynamoDB filter already applied status and type on queries)."""
    if query.statuses and record.status not in query.statuses:
        return False
    if query.contract_type and record.contract_type != query.contract_type:
        return False
    if query.crm_record_id is not None and record.crm_record_id != query.crm_record_id:
        return False
    if query.expiring_before is not None:
        end = term_end(record.document or {}, getattr(record, "term", None))
        if end is None or end >= query.expiring_before.isoformat():
            return False
    return True


# --- the store side ----------------------------------------------------------------------------

def _cursor_keys() -> list[bytes]:
    """The keys cursors are accepted under, the one they are made with first (the link key ring:
    a rotation keeps a cursor from the minutes before it working)."""

    return [key.derived("list-cursor") for key in key_ring().accepted()]


def list_contracts(tenant_id: str, params: Mapping[str, str] | None,
                   cursor_keys: Callable[[], list[bytes]] = _cursor_keys) -> dict[str, Any]:
    query = parse_query(params)
    start_key = decode_cursor(cursor_keys(), tenant_id, query.cursor) if query.cursor else None
    if query.crm_record_id is not None:
        return _by_crm_record(tenant_id, query)


    # One extra match tells whether another page exists, so the last page never carries a cursor.
    results = store.tenant_contracts(tenant_id, statuses=query.statuses, contract_type=query.contract_type,
                                     start_key=start_key, page_size=query.limit + 1)
    page: list[StoredContract] = []
    more = False
    for record in results:
        if not matches(record, query):
            continue
        if len(page) == query.limit:
            more = True
            break
        page.append(record)
    next_cursor = encode_cursor(cursor_keys()[0], tenant_id, page[-1].contract_id) if more and page else None
    return {"contracts": [contract_summary(r) for r in page], "next_cursor": next_cursor}


def _by_crm_record(tenant_id: str, query: ListQuery) -> dict[str, Any]:
    """An exact lookup through the `crm#{tenant}#{record}` claim: one contract at most."""

    record = store.find_by_crm_record(tenant_id, query.crm_record_id or "")
    hits = [record] if record is not None and record.tenant_id == tenant_id and matches(record, query) else []
    if query.cursor:  # a cursor continues a one-item page: there is nothing after it
        hits = []
    return {"contracts": [contract_summary(r) for r in hits], "next_cursor": None}
