"""纷享销客 (Fxiaoke) through its OpenAPI v2, legacy credentials in the body (corpAccessToken,
corpId, currentOpenUserId): read a 合同 as the APL function's body (`data` and its 合同产品 lines in
`details`), and write fields back with data/update (`triggerWorkFlow: false`, so our write does not
fire the workflow whose function calls our webhook).

Every answer is HTTP 200 with `errorCode` (0 = success); 20016 is the one documented code ("get a new
token"): the token, cached until shortly before it expires, is fetched again once. Fxiaoke documents
no other code, so "no such record" is told from other refusals by a query on `_id` (no rows: the
record does not exist), never by an error's text. It documents no rate-limit signal either."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.crm.base import (
    BOOLEAN,
    DATE,
    DECIMAL,
    LOGICAL_FIELDS,
    CrmRefused,
    CrmUnavailable,
    TtlCache,
    WriteItem,
    api_base,
    fingerprint,
    quote_body,
)
from chalicelib.crm.http import Answer, call, unavailable_status
from chalicelib.store.registry import Source

CRM = "fxiaoke"
DEFAULT_BASE = "https://open.fxiaoke.com"
DEFAULT_OBJECT = "SaleContractObj"
LINE_OBJECT, LINE_LINK = "SaleContractLineObj", "sale_contract_id"  # 合同产品 and its link to the 合同
TOKEN_EXPIRED = 20016
TOKEN_MARGIN_SECONDS = 300.0
PAGE = 100  # the query's largest page
DATE_ZONE = ZoneInfo("Asia/Shanghai")  # date fields are epoch ms at the day's start in China
_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")
_OBJECT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")


@dataclass(frozen=True)
class _Token:
    corp_access_token: str
    corp_id: str


_tokens: TtlCache[_Token] = TtlCache()


def clear_caches() -> None:
    _tokens.clear()


def _key(source: Source, creds: Mapping[str, str]) -> str:
    return fingerprint(source.source_id, creds["app_id"], creds["permanent_code"])


def _base(source: Source) -> str:
    return api_base(source, DEFAULT_BASE)


def _post(source: Source, path: str, body: Mapping[str, Any], what: str) -> dict[str, Any]:
    """One call; the envelope as a dict (its errorCode is the caller's), or CrmUnavailable."""
    answer = call(CRM, "POST", _base(source) + path, query={"thirdTraceId": str(uuid.uuid4())}, json_body=body)
    envelope = answer.json()
    if answer.status != 200 or not isinstance(envelope, dict) or not isinstance(envelope.get("errorCode"), int):
        raise _http_failure(answer, what)
    return envelope


def _http_failure(answer: Answer, what: str) -> Exception:
    # A non-200 is a gateway in front of the API (Fxiaoke itself answers 200): not now.
    unavailable = unavailable_status(CRM, answer, what)
    if unavailable is not None or answer.status != 200:
        return unavailable or CrmUnavailable(f"fxiaoke answered {answer.status} to {what}", status=answer.status)
    return CrmUnavailable(f"fxiaoke answered {what} with no errorCode: {quote_body(answer.data)}", code="bad_answer",
                          status=answer.status)


def _token(source: Source, creds: Mapping[str, str]) -> _Token:
    envelope = _post(source, "/cgi/corpAccessToken/get/V2", {
        "appId": creds["app_id"], "appSecret": creds["app_secret"], "permanentCode": creds["permanent_code"]},
        "the token call")
    token = envelope.get("corpAccessToken")
    if envelope["errorCode"] != 0 or not isinstance(token, str) or not token:
        raise CrmRefused(f"fxiaoke refused the app credentials: {envelope['errorCode']} "
                         f"{quote_body(envelope.get('errorMessage') or '')}", code=str(envelope["errorCode"]),
                         auth=True)
    corp_id = creds.get("corp_id") or str(envelope.get("corpId") or "")
    expires = envelope.get("expiresIn")
    lifetime = float(expires) if isinstance(expires, int | float) else 7200.0
    result = _Token(token, corp_id)
    _tokens.put(_key(source, creds), result, lifetime - TOKEN_MARGIN_SECONDS)
    return result


def _api(source: Source, creds: Mapping[str, str], path: str, payload: Mapping[str, Any], what: str,
         **top: Any) -> dict[str, Any]:
    """An API call with the cached token; errorCode 20016 gets a new token and one retry."""

    def send(token: _Token) -> dict[str, Any]:
        return _post(source, path, {"corpAccessToken": token.corp_access_token, "corpId": token.corp_id,
                                    "currentOpenUserId": creds["open_user_id"], **top, "data": payload}, what)

    cached = _tokens.get(_key(source, creds))
    envelope = send(cached or _token(source, creds))
    if envelope["errorCode"] == TOKEN_EXPIRED and cached is not None:
        _tokens.drop(_key(source, creds))
        envelope = send(_token(source, creds))
    if envelope["errorCode"] == TOKEN_EXPIRED:
        raise CrmRefused(f"fxiaoke refused the token on {what} (errorCode 20016) right after issuing it",
                         code=str(TOKEN_EXPIRED), auth=True)
    return envelope


def _family(object_type: str) -> str:
    # Preset objects (…Obj) and custom ones (…__c) live under different paths.
    return "/cgi/crm/custom/v2/data" if object_type.endswith("__c") else "/cgi/crm/v2/data"


def _names(object_type: str, record_id: str) -> tuple[str, str]:
    if not _OBJECT.fullmatch(object_type):
        raise CrmRefused(f"{object_type!r} is not a Fxiaoke object api name", code="unsupported_object")
    if not _ID.fullmatch(record_id):
        raise CrmRefused(f"{record_id!r} is not a Fxiaoke record id", code="invalid_id", not_found=True)
    return object_type, record_id


def _refused(source: Source, creds: Mapping[str, str], envelope: Mapping[str, Any], object_type: str,
             record_id: str, what: str) -> CrmRefused:
    """A failure other than the token's: not_found only when a query on `_id` finds nothing."""
    code = str(envelope.get("errorCode"))
    message = f"fxiaoke refused {what}: {code} {quote_body(envelope.get('errorMessage') or '')}"
    found = _query(source, creds, object_type, [{"field_name": "_id", "field_values": [record_id], "operator": "EQ"}],
                   limit=1, projection=["_id"])
    return CrmRefused(message, code=code, not_found=not found)


def _query(source: Source, creds: Mapping[str, str], object_type: str, filters: list[dict[str, Any]], *,
           limit: int = PAGE, projection: list[str] | None = None,
           orders: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        info: dict[str, Any] = {"limit": min(limit, PAGE), "offset": offset, "filters": filters,
                                "orders": orders or [{"fieldName": "create_time", "isAsc": True}]}
        if projection:
            info["fieldProjection"] = projection
        envelope = _api(source, creds, f"{_family(object_type)}/query",
                        {"dataObjectApiName": object_type, "search_query_info": info}, f"query {object_type}")
        if envelope["errorCode"] != 0:
            raise CrmRefused(f"fxiaoke refused a query on {object_type}: {envelope['errorCode']} "
                             f"{quote_body(envelope.get('errorMessage') or '')}", code=str(envelope["errorCode"]))
        given = envelope.get("data")
        data: dict[str, Any] = given if isinstance(given, dict) else {}
        page = [r for r in data.get("dataList") or [] if isinstance(r, dict)]
        rows += page
        total = data.get("total")
        offset += len(page)
        if not page or len(rows) >= limit or (isinstance(total, int) and offset >= total):
            return rows[:limit]


# --- reading -----------------------------------------------------------------------------------------


def read(source: Source, creds: Mapping[str, str], object_type: str, record_id: str,
         context: Mapping[str, Any]) -> dict[str, Any]:
    api_name, rid = _names(object_type or DEFAULT_OBJECT, record_id)
    what = f"get {api_name} {rid}"
    envelope = _api(source, creds, f"{_family(api_name)}/get", {"dataObjectApiName": api_name, "objectDataId": rid},
                    what)
    if envelope["errorCode"] != 0:
        raise _refused(source, creds, envelope, api_name, rid, what)
    record = envelope.get("data")
    if not isinstance(record, dict):
        raise CrmUnavailable(f"fxiaoke answered {what} without the record", code="bad_answer")
    body: dict[str, Any] = {"objectApiName": api_name, "data": record}
    if api_name == DEFAULT_OBJECT:
        # The function's body carries the 合同产品 lines beside the 合同: so does this one.
        lines = _query(source, creds, LINE_OBJECT, [{"field_name": LINE_LINK, "field_values": [rid], "operator": "EQ"}],
                       limit=1000, orders=[{"fieldName": "create_time", "isAsc": True},
                                           {"fieldName": "name", "isAsc": True}])
        body["details"] = {LINE_OBJECT: lines}
    return body


# --- writing -----------------------------------------------------------------------------------------


def write(source: Source, creds: Mapping[str, str], record_id: str, items: list[WriteItem]) -> None:
    api_name, rid = _names(str(source.options.get("writeback_object") or DEFAULT_OBJECT), record_id)
    fields = {item.field: _typed(item) for item in items}
    what = f"update {api_name} {rid}"
    # Workflows and approvals fire on API writes unless told not to: an APL function on the
    # workflow would post the contract back to us.
    envelope = _api(source, creds, f"{_family(api_name)}/update",
                    {"object_data": {"dataObjectApiName": api_name, "_id": rid, **fields}}, what,
                    triggerWorkFlow=False, triggerApprovalFlow=False)
    if envelope["errorCode"] != 0:
        raise _refused(source, creds, envelope, api_name, rid, what)


def _typed(item: WriteItem) -> Any:
    """纷享销客's conventions: money as a decimal string, dates as epoch milliseconds (the day's
    start in China), booleans, text."""
    value = item.value
    if value is None:
        return None
    kind = LOGICAL_FIELDS[item.logical]
    if kind == DECIMAL:
        try:
            return str(Decimal(str(value)))
        except InvalidOperation:
            return str(value)
    if kind == BOOLEAN:
        return bool(value)
    if kind == DATE:
        try:
            day = date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
        return int(datetime(day.year, day.month, day.day, tzinfo=DATE_ZONE).timestamp() * 1000)
    return str(value)

