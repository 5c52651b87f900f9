"""纷享销客 (Fxiaoke) double: both token calls (legacy corpAccessToken and the OAuth2-style
app_secret grant), get / update / query of preset objects (…Obj) and custom objects (…__c), each on
its own path family. Every answer is HTTP 200; success is errorCode 0.

Fxiaoke publishes no OpenAPI document: the shapes follow its developer manual
(developer.fxiaoke.com/openapi_v2: public parameters, both token calls, object data get / update /
query). It documents no rate-limit signal, so this double has none.
"""

from __future__ import annotations

import copy
import secrets
import time
import uuid
from functools import partial
from typing import Any

from flask import Flask, Response, g, request

from . import seed
from .core import Double, json_response

TOKEN_SECONDS = 7200
SAME_TOKEN_SECONDS = 6600  # within this the token call answers the same token
TOKEN_EXPIRED = 20016  # the documented "fetch a new token and retry" code
# Fxiaoke publishes no list of error codes: every other failure gets this one (any value ≠ 0 is a
# failure; callers must not branch on anything but 0 and 20016).
REQUEST_ERROR = -1
# Operators of search_query_info.filters the double evaluates (the manual lists more).
OPERATORS = ("EQ", "N", "IN", "NIN", "LIKE")


def _trace_id() -> str:
    return f"E-O.{seed.CREDENTIALS['fxiaoke']['ea']}.{uuid.uuid4().hex[:16]}"


def _reply(error_code: int = 0, message: str = "OK", description: str = "success", **payload: Any) -> Response:
    body = {"traceId": _trace_id(), "errorCode": error_code, "errorMessage": message,
            "errorDescription": description, **payload}
    return json_response(body, 200)


def _failure(code: int, message: str) -> Response:
    return _reply(code, message, message)


def _sort_value(field: str, record: dict[str, Any]) -> str:
    return str(record.get(field, ""))


def _token_expired() -> Response:
    return _failure(TOKEN_EXPIRED, "corpAccessToken 已失效, 请重新获取")


class Fxiaoke:
    name = "fxiaoke"
    record_types: tuple[str, ...] = ("SaleContractObj", "SaleContractLineObj", "AccountObj", "ContactObj",
                                     "PersonnelObj")
    rate_limit_variants: tuple[str, ...] = ()

    def seed(self) -> dict[str, dict[str, dict[str, Any]]]:
        return seed.fxiaoke()

    def is_open(self, path: str) -> bool:
        return path in ("/cgi/corpAccessToken/get/V2", "/oauth2.0/token")

    def _issue(self, double: Double, style: str) -> tuple[str, int]:
        """The newest token of a style while it is younger than 6600 s, else a new one (the older
        one stays valid until its 7200 s are up)."""
        now = time.time()
        with double.lock:
            tokens: dict[str, float] = double.scratch.setdefault(f"tokens:{style}", {})  # token -> issued at
            newest = max(tokens.items(), key=lambda item: item[1], default=None)
            if newest is not None and now - newest[1] < SAME_TOKEN_SECONDS:
                return newest[0], int(TOKEN_SECONDS - (now - newest[1]))
            token = secrets.token_hex(16).upper()
            tokens[token] = now
            return token, TOKEN_SECONDS

    @staticmethod
    def _valid(double: Double, style: str, token: Any) -> bool:
        with double.lock:
            issued = double.scratch.get(f"tokens:{style}", {}).get(token) if isinstance(token, str) else None
        return issued is not None and time.time() - issued < TOKEN_SECONDS

    def authenticate(self, double: Double) -> Response | None:
        creds = seed.CREDENTIALS["fxiaoke"]
        body = request.get_json(silent=True, force=True)
        body = body if isinstance(body, dict) else {}
        in_body = any(k in body for k in ("corpAccessToken", "corpId", "currentOpenUserId"))
        header = (request.headers.get("authorization") or "").partition(" ")
        in_headers = bool(header[2]) or "x-fs-ea" in request.headers
        if in_body and in_headers:
            return _failure(REQUEST_ERROR, "请使用一种鉴权方式: 请求体中的 corpAccessToken 或 authorization 请求头")
        if in_headers:
            ok = (header[0].lower() == "bearer" and self._valid(double, "oauth", header[2].strip())
                  and request.headers.get("x-fs-ea") == creds["ea"] and bool(request.headers.get("x-fs-userid")))
        else:
            ok = (self._valid(double, "legacy", body.get("corpAccessToken")) and body.get("corpId") == creds["corp_id"]
                  and bool(body.get("currentOpenUserId")))
        return None if ok else _token_expired()

    def extra_headers(self, double: Double) -> dict[str, str]:
        return {}

    def fault_response(self, double: Double, mode: str, variant: str | None) -> Response:
        if mode == "unauthorized":
            return _token_expired()
        # "down": a gateway error before the API answers (the only non-200 a caller sees).
        g.bare_response = True
        return Response("<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>", status=503,
                        mimetype="text/html")

    # -- helpers ----------------------------------------------------------------------------------

    def _object(self, custom: bool) -> tuple[str | None, dict[str, Any] | Response]:
        """The request's `data` and object api name, refused when it is on the wrong path family."""
        body = request.get_json(silent=True, force=True)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            return None, _failure(REQUEST_ERROR, "参数错误: data 不能为空")
        api_name = data.get("dataObjectApiName") or (data.get("object_data") or {}).get("dataObjectApiName")
        if not isinstance(api_name, str) or not api_name:
            return None, _failure(REQUEST_ERROR, "参数错误: dataObjectApiName 不能为空")
        if api_name.endswith("__c") != custom:
            # Preset objects live under /cgi/crm/v2/data/*, custom ones under /cgi/crm/custom/v2/data/*.
            return None, _failure(REQUEST_ERROR, f"对象 {api_name} 不支持该接口")
        if api_name not in self.record_types:
            return None, _failure(REQUEST_ERROR, f"对象 {api_name} 不存在")
        return api_name, data

    @staticmethod
    def _matches(record: dict[str, Any], flt: dict[str, Any]) -> bool:
        value = record.get(flt.get("field_name", ""))
        values = flt.get("field_values") or []
        operator = flt.get("operator", "EQ")
        if operator == "EQ":
            return bool(values) and value == values[0]
        if operator == "N":
            return bool(values) and value != values[0]
        if operator == "IN":
            return value in values
        if operator == "NIN":
            return value not in values
        return bool(values) and isinstance(value, str) and str(values[0]) in value  # LIKE

    # -- routes -----------------------------------------------------------------------------------

    def register(self, app: Flask, double: Double) -> None:
        creds = seed.CREDENTIALS["fxiaoke"]

        def app_credentials() -> bool:
            body = request.get_json(silent=True, force=True)
            return isinstance(body, dict) and (body.get("appId"), body.get("appSecret"), body.get("permanentCode")) \
                == (creds["app_id"], creds["app_secret"], creds["permanent_code"])

        @app.post("/cgi/corpAccessToken/get/V2")
        def legacy_token() -> Response:
            if not app_credentials():
                return _failure(REQUEST_ERROR, "appId, appSecret 或 permanentCode 不正确")
            token, expires = self._issue(double, "legacy")
            return _reply(0, "success", "success", corpAccessToken=token, corpId=creds["corp_id"], expiresIn=expires)

        @app.post("/oauth2.0/token")
        def oauth_token() -> Response:
            body = request.get_json(silent=True, force=True)
            if not app_credentials() or not isinstance(body, dict) or body.get("grantType") != "app_secret":
                return _failure(REQUEST_ERROR, "appId, appSecret, permanentCode 或 grantType 不正确")
            token, expires = self._issue(double, "oauth")
            return _reply(0, "success", "success", openUserId=creds["open_user_id"], accessToken=token,
                          expiresIn=expires, appId=creds["app_id"], ea=creds["ea"])

        def get(custom: bool) -> Response:
            api_name, data = self._object(custom)
            if isinstance(data, Response):
                return data
            record = double.get(str(api_name), str(data.get("objectDataId", "")))
            if record is None or record.get("is_deleted"):
                return _failure(REQUEST_ERROR, "数据不存在或已被删除")
            return _reply(data=record)

        def update(custom: bool) -> Response:
            api_name, data = self._object(custom)
            if isinstance(data, Response):
                return data
            fields = data.get("object_data")
            if not isinstance(fields, dict) or not fields.get("_id"):
                return _failure(REQUEST_ERROR, "参数错误: object_data._id 不能为空")
            with double.lock:
                record = double.get(str(api_name), str(fields["_id"]))
                if record is None or record.get("is_deleted"):
                    return _failure(REQUEST_ERROR, "数据不存在或已被删除")
                if record.get("lock_status") == "1":
                    return _failure(REQUEST_ERROR, "数据已锁定, 不能编辑")
                changes = {k: v for k, v in fields.items() if k not in ("dataObjectApiName", "_id")}
                record.update(copy.deepcopy(changes))
                record["last_modified_time"] = int(time.time() * 1000)
                record["version"] = str(int(record.get("version") or "0") + 1)
                double.put(str(api_name), record["_id"], record)
            return _reply(dataId=record["_id"])

        def query(custom: bool) -> Response:
            api_name, data = self._object(custom)
            if isinstance(data, Response):
                return data
            info = data.get("search_query_info") or {}
            filters = info.get("filters") or []
            if any(f.get("operator", "EQ") not in OPERATORS for f in filters if isinstance(f, dict)):
                return _failure(REQUEST_ERROR, f"the CRM double evaluates only the operators {', '.join(OPERATORS)}")
            rows = [r for r in double.all(str(api_name))
                    if not r.get("is_deleted") and all(self._matches(r, f) for f in filters)]
            for order in reversed(info.get("orders") or []):
                rows.sort(key=partial(_sort_value, str(order.get("fieldName", ""))), reverse=not order.get("isAsc"))
            offset, limit = int(info.get("offset") or 0), min(100, int(info.get("limit") or 20))
            projection = info.get("fieldProjection")
            page = rows[offset:offset + limit]
            if projection:
                page = [{k: r[k] for k in ("_id", *projection) if k in r} for r in page]
            return _reply(data={"total": len(rows), "offset": offset, "limit": limit, "dataList": page})

        for family, custom in (("/cgi/crm/v2/data", False), ("/cgi/crm/custom/v2/data", True)):
            app.add_url_rule(f"{family}/get", f"get_{custom}", lambda custom=custom: get(custom), methods=["POST"])
            app.add_url_rule(f"{family}/update", f"update_{custom}", lambda custom=custom: update(custom),
                             methods=["POST"])
            app.add_url_rule(f"{family}/query", f"query_{custom}", lambda custom=custom: query(custom),
                             methods=["POST"])


VENDOR = Fxiaoke()
