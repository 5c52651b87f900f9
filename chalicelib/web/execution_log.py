"""`POST /v1/contracts/{id}/execution`: one entry of a signed contract's execution log (a service
record, a delivery, an acceptance, a communication, feedback, a settlement). The body is read and
bounded here; chalicelib.store.execution_log writes it (timeline event, counters) in one transaction.

An entry may carry files (web/attachments.py scans them, all or nothing). They are stored before the
entry, at keys derived from the entry id, its index and the content (store/attachments.py), and a
repeat of an entry id already recorded answers that entry without storing anything: a retried POST
(same `entry_id`) makes neither a second entry nor a second copy. Send an `entry_id` to retry safely:
without one each request is a new entry. `GET …/execution/{entry}/attachments/{n}` redirects to a
short-lived download URL of one file."""

from __future__ import annotations

import dataclasses
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from chalicelib.contracts.lifecycle import IN_FORCE, Status
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.config import settings
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed, quoted
from chalicelib.core.jsonbody import parse_json
from chalicelib.store import attachments as stored_files
from chalicelib.store import execution_log
from chalicelib.web import attachments
from chalicelib.web.api import load_contract

# From the last signature on, while the contract is in force (as the brief of the log: signed, not ended).
OPEN_STATUSES: frozenset[str] = frozenset(s.value for s in IN_FORCE | {Status.COMPLETED})
MAX_BY_CHARS = 200
MAX_TEXT_CHARS = 4000
MAX_AT_CHARS = 64
STATUSES: dict[str, tuple[str, ...]] = {"feedback": ("open", "closed"), "acceptance": ("accepted", "rejected")}
DEFAULT_STATUS = {"feedback": "open", "acceptance": "accepted"}
ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# RFC 3339 date-time (seconds required, as the document's `date-time` format says), years 1900-2099
# (an entry is about this contract's life; converting an extreme year with its offset to UTC would
# overflow). The OpenAPI document states the same pattern.
AT_PATTERN = (r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]"
              r":[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")
_AT = re.compile(AT_PATTERN)
FIELDS = ("entry_id", "kind", "at", "by", "text", "status", "attachments")
_INDEX = re.compile(r"[0-9]{1,2}")


def _problem(path: str, message: str) -> dict[str, str]:
    return {"path": path, "message": message}


def _text(body: dict[str, Any], name: str, limit: int, problems: list[dict[str, str]]) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        problems.append(_problem(name, "required, a non-blank string"))
        return ""
    if len(value) > limit:  # counts what was sent, as the OpenAPI document's maxLength does
        problems.append(_problem(name, f"at most {limit} characters"))
    return value.strip()


def _at(raw: Any, problems: list[dict[str, str]]) -> str:
    if not isinstance(raw, str) or len(raw) > MAX_AT_CHARS:
        problems.append(_problem("at", "required, an ISO date-time with its offset, like 2027-01-05T10:00:00+01:00"))
        return ""
    try:
        parsed = datetime.fromisoformat(raw) if _AT.fullmatch(raw) else None
    except ValueError:  # the shape is right, the day is not (2027-02-30)
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        problems.append(_problem("at", f"not an ISO date-time with its offset: {raw!r}"))
        return ""
    return parsed.astimezone(UTC).isoformat()


def parse_entry(raw_body: bytes) -> execution_log.ExecutionEntry:
    """The entry a body describes, or ValidationFailed (422) listing every problem with its path."""
    return parse_request(raw_body)[0]


def parse_request(raw_body: bytes) -> tuple[execution_log.ExecutionEntry, list[dict[str, str]]]:
    """(the entry, its attachments as sent, not yet scanned), or ValidationFailed (422) listing every
    problem with its path."""
    body = parse_json(raw_body or b"null")
    if not isinstance(body, dict):
        raise ValidationFailed("1 problem in the request", [_problem("", "expected a JSON object")])
    problems = [_problem(name, "unknown field") for name in sorted(set(body) - set(FIELDS))]
    kind = body.get("kind")
    if kind not in execution_log.KINDS:
        problems.append(_problem("kind", f"expected one of {', '.join(execution_log.KINDS)}"))
    at = _at(body.get("at"), problems)
    by = _text(body, "by", MAX_BY_CHARS, problems)
    text = _text(body, "text", MAX_TEXT_CHARS, problems)
    status = body.get("status")
    allowed = STATUSES.get(kind) if isinstance(kind, str) else None
    if "status" in body and (allowed is None or status not in allowed):  # present means valid, null included
        problems.append(_problem("status", f"expected one of {', '.join(allowed)}" if allowed
                                 else "only feedback (open, closed) and acceptance (accepted, rejected) have one"))
    entry_id = body.get("entry_id")
    if "entry_id" in body and not (isinstance(entry_id, str) and ENTRY_ID.fullmatch(entry_id)):
        problems.append(_problem("entry_id", "1 to 64 of A-Z a-z 0-9 _ -"))
    files = body.get("attachments")
    if "attachments" in body:
        problems += attachments.shape_problems(files)
    if problems:
        count = len(problems)
        raise ValidationFailed(f"{count} problem{'s' if count != 1 else ''} in the request", problems)
    return execution_log.ExecutionEntry(
        entry_id=entry_id or "ex_" + secrets.token_hex(8), kind=str(kind), at=at, by=by, text=text,
        recorded_at=datetime.now(UTC).isoformat(), status=status or DEFAULT_STATUS.get(str(kind))), files or []


def record(tenant_id: str, contract_id: str, raw_body: bytes) -> tuple[dict[str, Any], int]:
    """(the entry, 201) when recorded; (the entry first recorded under that entry_id, 200) for a repeat."""
    contract = load_contract(tenant_id, contract_id)
    entry, files = parse_request(raw_body)
    uploads = attachments.scan(files) if files else []  # 400 before anything is stored
    if contract.status not in OPEN_STATUSES:
        raise _not_signed(contract_id, contract.status)
    if uploads:
        first = execution_log.find_entry(tenant_id, contract_id, entry.entry_id)
        if first is not None:  # a retry: the entry and its files are stored; store nothing again
            return first.as_dict(), 200
        entry = dataclasses.replace(entry, attachments=_store_files(contract, entry.entry_id, uploads))
    try:
        stored, created = execution_log.record_entry(contract, entry, OPEN_STATUSES)
    except execution_log.NotOpenForExecution:
        raise _not_signed(contract_id, load_contract(tenant_id, contract_id).status) from None
    return stored.as_dict(), 201 if created else 200


def _store_files(contract: StoredContract, entry_id: str, uploads: list[attachments.Upload]) -> list[dict[str, Any]]:
    """Each file at its entry's key (a retry finds it there), described as the entry shows it."""
    base = f"{settings().public_base_url.rstrip('/')}/v1/contracts/{contract.contract_id}/execution/{entry_id}"
    described: list[dict[str, Any]] = []
    for index, upload in enumerate(uploads):
        key = stored_files.object_key(contract.tenant_id, contract.contract_id, entry_id, index, upload.sha256)
        stored_files.put(key, upload.data, upload.content_type, upload.sha256)
        described.append({"name": upload.name, "content_type": upload.content_type, "size": upload.size,
                          "sha256": upload.sha256, "url": f"{base}/attachments/{index}"})
    return described


def attachment_url(tenant_id: str, contract_id: str, entry_id: str, index: str) -> str:
    """`GET …/execution/{entry_id}/attachments/{n}`: a 5-minute URL that downloads the file; 404 for
    anything not recorded (another tenant's contract looks like a missing one)."""
    load_contract(tenant_id, contract_id)
    entry = (execution_log.find_entry(tenant_id, contract_id, entry_id)
             if ENTRY_ID.fullmatch(entry_id) and _INDEX.fullmatch(index) else None)
    files = (entry.attachments or []) if entry is not None else []
    if entry is None or int(index) >= len(files):
        raise NotFound(f"no attachment {quoted(index)} on entry {quoted(entry_id)} of contract {quoted(contract_id)}")
    described = files[int(index)]
    key = stored_files.object_key(tenant_id, contract_id, entry_id, int(index), str(described["sha256"]))
    return stored_files.download_url(key, str(described["name"]), str(described["content_type"]))


def _not_signed(contract_id: str, status: str) -> Conflict:
    return Conflict(f"contract {contract_id} is {status}: execution is recorded once it is signed and while it is "
                    "in force (completed, active, expiring, renewed)", code="not_signed")
