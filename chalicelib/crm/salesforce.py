"""Salesforce through its REST API with simple-salesforce: read a Contract as the outbound message's
sObject, and write fields back with PATCH /sobjects/Contract/{id} (204, no body).

Credentials: a connected app's refresh token ({"client_id", "client_secret", "refresh_token"}: the
session is minted at /services/oauth2/token and refreshed once when Salesforce answers
INVALID_SESSION_ID), or a bare {"session_id"} (used until it expires: then the operator's turn).
The instance is the source's `api_base`, else the token answer's `instance_url`, else the source's
`instance_url` option.

An outbound message carries formula fields an admin added for what a message cannot follow
(Account_Name__c, Customer_Signer_*__c, Owner_*__c, Product_*__c); an org without them gets them
from the related records (the account, the contact who signs, the owner, the line item of the
contract's opportunity), so the default mapping reads an API record as it reads a message.

simple-salesforce has no timeout of its own and always speaks https: the requests session it is
given carries both (a transport adapter with a default timeout, and one that speaks plain http to
an http:// instance: a local double)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from chalicelib.crm.base import (
    CONNECT_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    CrmRefused,
    CrmUnavailable,
    TtlCache,
    WriteItem,
    fingerprint,
    json_value,
    quote_body,
)
from chalicelib.crm.http import RETRY, call, unavailable_status
from chalicelib.store.registry import Source

CRM = "salesforce"
API_VERSION = "62.0"  # pinned: fields added after the version called are invisible, and the client defaults to 59.0
DEFAULT_LOGIN = "https://login.salesforce.com"
DEFAULT_OBJECT = "Contract"
SESSION_TTL_SECONDS = 12 * 3600.0  # no expires_in in Salesforce's answer: kept until refused, at most this long
_ID = re.compile(r"[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?")
_OBJECT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
# Codes worth a retry as they are (Salesforce's guide: a row locked by another transaction).
RETRYABLE_CODES = ("UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "REQUEST_RUNNING_TOO_LONG")
NOT_FOUND_CODES = ("NOT_FOUND", "ENTITY_IS_DELETED", "MALFORMED_ID", "INVALID_ID_FIELD", "INVALID_CROSS_REFERENCE_KEY")



@dataclass(frozen=True)
class _Session:
    access_token: str
    instance_url: str | None


_sessions: TtlCache[_Session] = TtlCache()


def clear_caches() -> None:
    _sessions.clear()
    _http_session.cache_clear()  # its pooled connections too


def _key(source: Source, creds: Mapping[str, str]) -> str:
    return fingerprint(source.source_id, creds.get("client_id", ""), creds.get("refresh_token", ""),
                       creds.get("session_id", ""))


def _option(source: Source, name: str) -> str | None:
    value = source.options.get(name)
    return value.rstrip("/") if isinstance(value, str) and value.strip() else None


def _instance(source: Source, session: _Session) -> str:
    instance = _option(source, "api_base") or session.instance_url or _option(source, "instance_url")
    if not instance:
        raise CrmRefused(f"source {source.source_id} names no Salesforce instance (option instance_url)",
                         code="no_instance_url", auth=True)
    return instance


def _login(source: Source, creds: Mapping[str, str]) -> _Session:
    if not creds.get("refresh_token"):
        # A bare session id cannot be renewed by us.
        return _Session(creds["session_id"], None)
    host = _option(source, "login_url") or _option(source, "api_base") or _option(source, "instance_url") \
        or DEFAULT_LOGIN
    form = {"grant_type": "refresh_token", "client_id": creds["client_id"], "refresh_token": creds["refresh_token"]}
    if creds.get("client_secret"):
        form["client_secret"] = creds["client_secret"]
    answer = call(CRM, "POST", host + "/services/oauth2/token", form=form)
    unavailable = unavailable_status(CRM, answer, "the token refresh")
    if unavailable is not None:
        raise unavailable
    body = answer.json()
    if answer.status != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        error = body.get("error") if isinstance(body, dict) else None
        raise CrmRefused(f"salesforce refused the refresh token: {quote_body(answer.data)}",
                         code=str(error or f"http_{answer.status}"), status=answer.status, auth=True)
    instance = body.get("instance_url")
    session = _Session(body["access_token"], instance if isinstance(instance, str) and instance else None)
    _sessions.put(_key(source, creds), session, SESSION_TTL_SECONDS)
    return session


def _with_client[T](source: Source, creds: Mapping[str, str], use: Callable[[Any], T]) -> T:
    """Runs `use(Salesforce client)`; INVALID_SESSION_ID once gets a new session and one retry."""
    key = _key(source, creds)
    session = _sessions.get(key)
    fresh = session is None
    if session is None:
        session = _login(source, creds)
    try:
        return _run(source, session, use)
    except _ExpiredSession as expired:
        if fresh or not creds.get("refresh_token"):
            raise expired.refused from None
    _sessions.drop(key)
    try:
        return _run(source, _login(source, creds), use)
    except _ExpiredSession as expired:
        raise expired.refused from None


class _ExpiredSession(Exception):
    def __init__(self, refused: CrmRefused) -> None:
        super().__init__(refused.message)
        self.refused = refused


def _run[T](source: Source, session: _Session, use: Callable[[Any], T]) -> T:
    import requests
    from simple_salesforce.api import Salesforce
    from simple_salesforce.exceptions import SalesforceError

    instance = _instance(source, session)
    client = Salesforce(instance_url=instance, session_id=session.access_token, version=API_VERSION,
                        session=_http_session(instance))
    try:
        return use(client)
    except SalesforceError as err:
        translated = _translate(err.status, err.content, err.resource_name)
        if isinstance(translated, CrmRefused) and translated.auth and err.status == 401:
            raise _ExpiredSession(translated) from err
        raise translated from err
    except requests.RequestException as err:
        raise CrmUnavailable(f"salesforce did not answer: {type(err).__name__}", code="unreachable") from err


def _translate(status: int, content: Any, resource: str) -> Exception:
    """Salesforce's REST errors (always a JSON array of {message, errorCode, fields})."""
    first = content[0] if isinstance(content, list) and content and isinstance(content[0], dict) else {}
    code = str(first.get("errorCode") or f"http_{status}")
    message = f"salesforce {resource or 'API'}: {status} {code}: {quote_body(first.get('message') or content)}"
    if status >= 500 or code in RETRYABLE_CODES:
        # REQUEST_LIMIT_EXCEEDED is a 403 (not 429): the org's 24-hour allocation, no Retry-After.
        return CrmUnavailable(message, code=code, status=status)
    if status == 401 or (status == 403 and code != "REQUEST_LIMIT_EXCEEDED"):
        return CrmRefused(message, code=code, status=status, auth=True)
    return CrmRefused(message, code=code, status=status, not_found=status == 404 or code in NOT_FOUND_CODES)


@cache
def _http_session(instance_url: str) -> Any:
    """A requests session for simple-salesforce: every call with a timeout, and an http:// instance
    (a local double) spoken over http although the client writes https (it has no scheme option)."""
    import requests
    from requests.adapters import HTTPAdapter

    class TimeoutAdapter(HTTPAdapter):
        plain_http = False

        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)
            if self.plain_http and request.url and request.url.startswith("https://"):
                request.url = "http://" + request.url[len("https://"):]
            return super().send(request, *args, **kwargs)

    class PlainHttpAdapter(TimeoutAdapter):
        plain_http = True

    session = requests.Session()
    session.mount("https://", TimeoutAdapter(max_retries=RETRY))
    session.mount("http://", TimeoutAdapter(max_retries=RETRY))
    parts = urlsplit(instance_url)
    if parts.scheme == "http" and parts.hostname:
        # The client writes the origin as host[:port] (no port when it is 443).
        origin = parts.hostname if parts.port in (None, 443) else f"{parts.hostname}:{parts.port}"
        session.mount(f"https://{origin}/", PlainHttpAdapter(max_retries=RETRY))
    return session


def _names(object_type: str, record_id: str) -> tuple[str, str]:
    if not _OBJECT.fullmatch(object_type):
        raise CrmRefused(f"{object_type!r} is not a Salesforce object name", code="unsupported_object")
    if not _ID.fullmatch(record_id):
        raise CrmRefused(f"{record_id!r} is not a Salesforce id", code="MALFORMED_ID", not_found=True)
    return object_type, record_id


# --- reading -----------------------------------------------------------------------------------------


def read(source: Source, creds: Mapping[str, str], object_type: str, record_id: str,
         context: Mapping[str, Any]) -> dict[str, Any]:
    sobject_type, sid = _names(object_type or DEFAULT_OBJECT, record_id)

    def fetch(sf: Any) -> dict[str, Any]:
        row = dict(getattr(sf, sobject_type).get(sid))
        row.pop("attributes", None)
        if sobject_type == "Contract":
            row.update(_contract_formulas(sf, row))
        return row

    row = _with_client(source, creds, fetch)
    body: dict[str, Any] = {"sObject": {"type": sobject_type, **row}}
    if isinstance(context.get("OrganizationId"), str):
        body["OrganizationId"] = context["OrganizationId"]
    return body


def _contract_formulas(sf: Any, row: Mapping[str, Any]) -> dict[str, Any]:
    """What the outbound message's formula fields would hold, for those the org does not have."""
    derived: dict[str, Any] = {}
    wanted = ("Account_Name__c", "Customer_Signer_Name__c", "Customer_Signer_Email__c", "Customer_Signer_Phone__c",
              "Owner_Name__c", "Owner_Email__c")
    if any(name not in row for name in wanted):
        parents = _first(sf.query(
            "SELECT Account.Name, CustomerSigned.Name, CustomerSigned.Email, CustomerSigned.Phone, Owner.Name, "
            f"Owner.Email FROM Contract WHERE Id = '{row['Id']}'"))
        account, signer, owner = (_dict(parents.get(k)) for k in ("Account", "CustomerSigned", "Owner"))
        for name, value in (("Account_Name__c", account.get("Name")), ("Customer_Signer_Name__c", signer.get("Name")),
                            ("Customer_Signer_Email__c", signer.get("Email")),
                            ("Customer_Signer_Phone__c", signer.get("Phone")), ("Owner_Name__c", owner.get("Name")),
                            ("Owner_Email__c", owner.get("Email"))):
            if name not in row:
                derived[name] = value
    products = ("Product_Name__c", "Product_Specification__c", "Quantity__c", "Unit__c", "Unit_Price__c")
    if any(name not in row for name in products):
        lines = _line_items(sf, str(row["Id"]))
        derived["OpportunityLineItems"] = lines
        first = lines[0] if lines else {}
        product = _dict(first.get("Product2"))
        for name, value in (("Product_Name__c", product.get("Name") or first.get("Name")),
                            ("Product_Specification__c", first.get("Description")),
                            ("Quantity__c", first.get("Quantity")), ("Unit__c", product.get("QuantityUnitOfMeasure")),
                            ("Unit_Price__c", first.get("UnitPrice"))):
            if name not in row:
                derived[name] = value
    return derived


def _line_items(sf: Any, contract_id: str) -> list[dict[str, Any]]:
    """The line items of the contract's opportunity (Opportunity.ContractId), in their sort order."""
    opportunity = _first(sf.query(f"SELECT Id FROM Opportunity WHERE ContractId = '{contract_id}' "
                                  "ORDER BY CreatedDate LIMIT 1"))
    opportunity_id = opportunity.get("Id")
    if not isinstance(opportunity_id, str) or not _ID.fullmatch(opportunity_id):
        return []
    result = sf.query("SELECT Id, Name, Description, Quantity, UnitPrice, TotalPrice, Product2.Name, "
                      "Product2.QuantityUnitOfMeasure FROM OpportunityLineItem "
                      f"WHERE OpportunityId = '{opportunity_id}' ORDER BY SortOrder")
    rows = result.get("records") if isinstance(result, Mapping) else None
    return [_plain(r) for r in rows or [] if isinstance(r, Mapping)]


def _first(result: Any) -> dict[str, Any]:
    rows = result.get("records") if isinstance(result, Mapping) else None
    return _plain(rows[0]) if isinstance(rows, list) and rows and isinstance(rows[0], Mapping) else {}


def _plain(value: Any) -> Any:
    """Query rows without their `attributes`, as plain dicts (the client gives OrderedDicts)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if k != "attributes"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


# --- writing -----------------------------------------------------------------------------------------


def write(source: Source, creds: Mapping[str, str], record_id: str, items: list[WriteItem]) -> None:
    sobject_type, sid = _names(str(source.options.get("writeback_object") or DEFAULT_OBJECT), record_id)
    data = {item.field: json_value(item) for item in items}
    # One unknown or read-only field fails the whole update (400): the refusal names it.
    _with_client(source, creds, lambda sf: getattr(sf, sobject_type).update(sid, data))


