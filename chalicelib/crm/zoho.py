"""Zoho CRM through the Records API v8, with the refresh-token flow: read a deal as the workflow
webhook's body (flat fields, lookups as their names, the account's billing address, the contact's
email and phone, the owner's name and email), and write fields back with PUT /crm/v8/{module}/{id}
(`"trigger": []`, so the write does not fire the workflow rules that call our webhook).

Access tokens live an hour and a refresh token mints at most 10 in 10 minutes: one token per
credential is kept per container until shortly before it expires, and this container refreshes at
most 5 times in 10 minutes (beyond that the call waits, as CrmUnavailable, rather than trip the
limit for every other container)."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from chalicelib.crm.base import (
    CrmRefused,
    CrmUnavailable,
    TtlCache,
    WriteItem,
    fingerprint,
    json_value,
    quote_body,
)
from chalicelib.crm.http import Answer, call, unavailable_status
from chalicelib.store.registry import Source

CRM = "zoho"
DEFAULT_API = "https://www.zohoapis.com"
DEFAULT_ACCOUNTS = "https://accounts.zoho.com"
DEFAULT_MODULE = "Deals"
TOKEN_MARGIN_SECONDS = 120.0  # refresh this long before Zoho's expiry
REFRESH_BUDGET, REFRESH_WINDOW_SECONDS = 5, 600.0  # half of Zoho's 10 per 10 minutes, per container
_ID = re.compile(r"[0-9]{1,19}")
_MODULE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
AUTH_CODES = ("INVALID_TOKEN", "AUTHENTICATION_FAILURE", "OAUTH_SCOPE_MISMATCH", "NO_PERMISSION")


@dataclass(frozen=True)
class _Token:
    access_token: str
    api_domain: str | None


_tokens: TtlCache[_Token] = TtlCache()
_refreshes: dict[str, deque[float]] = {}
_refresh_lock = threading.Lock()


def clear_caches() -> None:
    _tokens.clear()
    _refreshes.clear()


def _key(source: Source, creds: Mapping[str, str]) -> str:
    return fingerprint(source.source_id, creds["client_id"], creds["refresh_token"])


def _accounts(source: Source, creds: Mapping[str, str]) -> str:
    value = creds.get("accounts_url") or source.options.get("accounts_url") or DEFAULT_ACCOUNTS
    return str(value).rstrip("/")


def _api(source: Source, token: _Token) -> str:
    # The source's api_base wins (a double, a proxy); else the data centre the token answer names.
    explicit = source.options.get("api_base")
    if isinstance(explicit, str) and explicit.strip():
        return explicit.rstrip("/")
    return (token.api_domain or DEFAULT_API).rstrip("/")


def _refresh(source: Source, creds: Mapping[str, str]) -> _Token:
    key = _key(source, creds)
    with _refresh_lock:
        now = time.monotonic()
        recent = _refreshes.setdefault(key, deque())
        while recent and recent[0] <= now - REFRESH_WINDOW_SECONDS:
            recent.popleft()
        if len(recent) >= REFRESH_BUDGET:
            wait = recent[0] + REFRESH_WINDOW_SECONDS - now
            raise CrmUnavailable(f"zoho: {REFRESH_BUDGET} token refreshes in 10 minutes already; waiting for the "
                                 "window", code="refresh_budget", retry_after_seconds=max(1.0, wait))
        recent.append(now)
    answer = call(CRM, "POST", _accounts(source, creds) + "/oauth/v2/token", form={
        "grant_type": "refresh_token", "client_id": creds["client_id"], "client_secret": creds["client_secret"],
        "refresh_token": creds["refresh_token"]})
    body = answer.json()
    error = body.get("error") if isinstance(body, dict) else None
    if error == "Access Denied" or (isinstance(body, dict) and "too many requests" in
                                     str(body.get("error_description", "")).lower()):
        # Zoho's refresh limit: refreshes are blocked for a while, not refused for good.
        raise CrmUnavailable("zoho refused a token refresh: too many in 10 minutes", code="refresh_limited",
                             status=answer.status, retry_after_seconds=REFRESH_WINDOW_SECONDS)
    unavailable = unavailable_status(CRM, answer, "the token refresh")
    if unavailable is not None:
        raise unavailable
    if error or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        # Zoho answers a bad refresh token or client with HTTP 200 and {"error": ...}.
        raise CrmRefused(f"zoho refused the refresh token: {error or quote_body(answer.data)}",
                         code=str(error or f"http_{answer.status}"), status=answer.status, auth=True)
    expires = body.get("expires_in")
    lifetime = float(expires) if isinstance(expires, int | float) else 3600.0
    domain = body.get("api_domain")
    token = _Token(body["access_token"], domain if isinstance(domain, str) and domain else None)
    _tokens.put(key, token, lifetime - TOKEN_MARGIN_SECONDS)
    return token


def _with_token(source: Source, creds: Mapping[str, str], send: Callable[[_Token], Answer]) -> Answer:
    """One API call with the cached token; an answer that the token is invalid gets one refresh and
    one retry (a token revoked or expired early), a second such answer is the credential's fault."""
    token = _tokens.get(_key(source, creds))
    fresh = token is None
    if token is None:
        token = _refresh(source, creds)
    answer = send(token)
    if _auth_failure(answer) and not fresh:
        _tokens.drop(_key(source, creds))
        answer = send(_refresh(source, creds))
    if _auth_failure(answer):
        body = answer.json()
        code = str(body.get("code")) if isinstance(body, dict) else f"http_{answer.status}"
        raise CrmRefused(f"zoho refused the access token: {quote_body(answer.data)}", code=code,
                         status=answer.status, auth=True)
    return answer


def _auth_failure(answer: Answer) -> bool:
    body = answer.json()
    return answer.status == 401 or (answer.status == 403 and isinstance(body, dict) and body.get("code") in AUTH_CODES)


def _headers(token: _Token) -> dict[str, str]:
    return {"Authorization": f"Zoho-oauthtoken {token.access_token}"}  # not "Bearer": Zoho's own word


def _failure(answer: Answer, what: str) -> Exception:
    unavailable = unavailable_status(CRM, answer, what)
    if unavailable is not None:
        return unavailable
    body = answer.json()
    code = str(body.get("code")) if isinstance(body, dict) and body.get("code") else f"http_{answer.status}"
    details = body.get("details") if isinstance(body, dict) else None
    if code == "INVALID_DATA" and isinstance(details, dict) and details.get("api_name") == "id":
        return CrmRefused(f"zoho: {what}: no such record", code=code, status=answer.status, not_found=True)
    return CrmRefused(f"zoho refused {what}: {quote_body(answer.data)}", code=code, status=answer.status,
                      not_found=answer.status == 404)


def _get(source: Source, creds: Mapping[str, str], path: str, what: str) -> dict[str, Any] | None:
    """The first of the answer's `data` (or `users`), None for Zoho's "nothing here" (204)."""
    answer = _with_token(source, creds, lambda token: call(CRM, "GET", _api(source, token) + path,
                                                           headers=_headers(token)))
    if answer.status == 204:
        return None
    body = answer.json()
    if answer.status != 200 or not isinstance(body, dict):
        raise _failure(answer, what)
    rows = body.get("data", body.get("users"))
    first = rows[0] if isinstance(rows, list) and rows else None
    return first if isinstance(first, dict) else None


def _ids(record_id: str, module: str) -> tuple[str, str]:
    if not _MODULE.fullmatch(module):
        raise CrmRefused(f"{module!r} is not a Zoho module name", code="unsupported_object")
    if not _ID.fullmatch(record_id):
        raise CrmRefused(f"{record_id!r} is not a Zoho record id", code="invalid_id", not_found=True)
    return quote(record_id), quote(module)


# --- reading -----------------------------------------------------------------------------------------


def read(source: Source, creds: Mapping[str, str], object_type: str, record_id: str,
         context: Mapping[str, Any]) -> dict[str, Any]:
    module = object_type or DEFAULT_MODULE
    rid, mod = _ids(record_id, module)
    record = _get(source, creds, f"/crm/v8/{mod}/{rid}", f"GET {module} {record_id}")
    if record is None:
        raise CrmRefused(f"zoho: {module} {record_id} does not exist", code="NO_CONTENT", status=204, not_found=True)
    body: dict[str, Any] = {k: _lookup_name(v) for k, v in record.items()}
    body["id"] = str(record.get("id", record_id))
    body.setdefault("module", module)
    owner = record.get("Owner")
    if isinstance(owner, dict):
        body.setdefault("Deal_Owner", owner.get("name"))
        email = owner.get("email")
        if not email and _ID.fullmatch(str(owner.get("id", ""))):
            user = _get(source, creds, f"/crm/v8/users/{owner['id']}", "GET the owner")
            email = (user or {}).get("email")
        body.setdefault("Owner_Email", email)
    account = _related(source, creds, "Accounts", record.get("Account_Name"))
    if account is not None:
        # The webhook's merge fields give the account's billing address under the same names.
        for name in ("Billing_Street", "Billing_City", "Billing_State", "Billing_Code", "Billing_Country"):
            body.setdefault(name, account.get(name))
    contact = _related(source, creds, "Contacts", record.get("Contact_Name"))
    if contact is not None:
        body.setdefault("Contact_Email", contact.get("Email"))
        body.setdefault("Contact_Phone", contact.get("Phone") or contact.get("Mobile"))
    return body


def _lookup_name(value: Any) -> Any:
    """A lookup reads {"name", "id"}; a webhook's merge field gives its name."""
    if isinstance(value, dict) and "id" in value and "name" in value:
        return value.get("name")
    return value


def _related(source: Source, creds: Mapping[str, str], module: str, lookup: Any) -> dict[str, Any] | None:
    ref = lookup.get("id") if isinstance(lookup, dict) else None
    if not isinstance(ref, str | int) or not _ID.fullmatch(str(ref)):
        return None
    return _get(source, creds, f"/crm/v8/{module}/{ref}", f"GET {module} {ref}")


# --- writing -----------------------------------------------------------------------------------------


def write(source: Source, creds: Mapping[str, str], record_id: str, items: list[WriteItem]) -> None:
    module = str(source.options.get("writeback_object") or DEFAULT_MODULE)
    rid, mod = _ids(record_id, module)
    fields = {item.field: json_value(item) for item in items}
    # "trigger": [] keeps the workflow rules (and so our own webhook) from firing on this write.
    payload = {"data": [fields], "trigger": []}
    what = f"PUT {module} {record_id}"
    answer = _with_token(source, creds, lambda token: call(CRM, "PUT", _api(source, token) + f"/crm/v8/{mod}/{rid}",
                                                           headers=_headers(token), json_body=payload))
    body = answer.json()
    items_out = body.get("data") if isinstance(body, dict) else None
    first: dict[str, Any] | None = (items_out[0] if isinstance(items_out, list) and items_out
                                    and isinstance(items_out[0], dict) else None)
    if answer.status in (200, 201, 202) and first is not None and first.get("status") == "success":
        return
    if first is not None and answer.status in (200, 400):
        # Per-item status: the item's own error says what was wrong.
        code = str(first.get("code") or "error")
        given = first.get("details")
        details: dict[str, Any] = given if isinstance(given, dict) else {}
        if details.get("api_name") == "id":
            raise CrmRefused(f"zoho: {module} {record_id} does not exist", code=code, status=answer.status,
                             not_found=True)
        raise CrmRefused(f"zoho refused {what}: {code} {first.get('message')} ({details.get('api_name')})",
                         code=code, status=answer.status)
    raise _failure(answer, what)


