"""The 纷享销客 (Fxiaoke) double over urllib3 (Fxiaoke has no official SDK). Fxiaoke publishes no
OpenAPI document, so the conformance checks are the developer manual's rules, each cited
(https://developer.fxiaoke.com/openapi_v2/en/ : "Public parameters", "Legacy parameter passing",
"Client credentials grant", object data get / update / query)."""

from __future__ import annotations

from typing import Any

from devstack.crm_apis import CREDENTIALS, SEED_IDS

from .helpers import Doubles, call

IDS = SEED_IDS["fxiaoke"]
CREDS = CREDENTIALS["fxiaoke"]
APP = {"appId": CREDS["app_id"], "appSecret": CREDS["app_secret"], "permanentCode": CREDS["permanent_code"]}
TRACE = "thirdTraceId=5e1f0c2a-7d43-4b8e-9a61-0d0ab1e00001"


def post(doubles: Doubles, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
         ) -> tuple[int, dict[str, Any]]:
    status, _, answer = call("POST", f"{doubles['fxiaoke']}{path}?{TRACE}", body, headers)
    assert isinstance(answer, dict), answer
    return status, answer


def legacy(doubles: Doubles) -> dict[str, str]:
    """The legacy style: corpAccessToken, corpId and currentOpenUserId travel in every body."""
    status, token = post(doubles, "/cgi/corpAccessToken/get/V2", APP)
    assert status == 200 and token["errorCode"] == 0, token
    return {"corpAccessToken": token["corpAccessToken"], "corpId": token["corpId"],
            "currentOpenUserId": CREDS["open_user_id"]}


def bearer(doubles: Doubles) -> dict[str, str]:
    """The OAuth2-style grant: then authorization, x-fs-ea and x-fs-userid headers."""
    status, token = post(doubles, "/oauth2.0/token", {**APP, "grantType": "app_secret"})
    assert status == 200 and token["errorCode"] == 0, token
    return {"authorization": f"Bearer {token['accessToken']}", "x-fs-ea": token["ea"], "x-fs-userid": CREDS["user_id"]}


def test_read_the_contract_its_lines_account_contact_and_owner(doubles: Doubles) -> None:
    creds = legacy(doubles)
    status, answer = post(doubles, "/cgi/crm/v2/data/get",
                          {**creds, "data": {"dataObjectApiName": "SaleContractObj", "objectDataId": IDS["contract"]}})
    assert status == 200 and answer["errorCode"] == 0
    contract = answer["data"]
    assert (contract["name"], contract["title__c"], contract["account_id__r"]) == (
        "HT-2026-0377", "智能门锁及网关销售合同", "南京同创贸易有限公司")
    assert contract["contract_amount"] == "86400.00"  # money is a decimal string
    assert contract["sign_date"] == 1796054400000  # times are epoch milliseconds
    assert contract["owner"] == [IDS["owner"]]  # person fields are arrays
    query = {"dataObjectApiName": "SaleContractLineObj", "search_query_info": {
        "limit": 100, "offset": 0, "orders": [{"fieldName": "name", "isAsc": True}],
        "filters": [{"field_name": "sale_contract_id", "field_values": [IDS["contract"]], "operator": "EQ"}]}}
    status, lines = post(doubles, "/cgi/crm/v2/data/query", {**creds, "data": query})
    assert lines["errorCode"] == 0 and lines["data"]["total"] == 2
    assert [(r["product_id__r"], r["quantity"], r["subtotal"]) for r in lines["data"]["dataList"]] == [
        ("Y3 智能门锁", "100", "64000.00"), ("G1 智能网关", "80", "22400.00")]
    for api_name, record_id, name in (("AccountObj", contract["account_id"], "南京同创贸易有限公司"),
                                      ("ContactObj", IDS["contact"], "赵磊"), ("PersonnelObj", IDS["owner"], "王敏")):
        _, answer = post(doubles, "/cgi/crm/v2/data/get",
                         {**creds, "data": {"dataObjectApiName": api_name, "objectDataId": record_id}})
        assert answer["data"]["name"] == name


def test_write_back_with_the_header_style_reads_back(doubles: Doubles) -> None:
    headers = bearer(doubles)
    update = {"triggerWorkFlow": False, "triggerApprovalFlow": False, "data": {"object_data": {
        "dataObjectApiName": "SaleContractObj", "_id": IDS["contract"],
        "field_Envelope_Id__c": "c0ffee00-0000-4000-8000-000000000001", "field_Sign_Status__c": "option2"}}}
    status, answer = post(doubles, "/cgi/crm/v2/data/update", update, headers)
    assert (status, answer["errorCode"], answer["dataId"]) == (200, 0, IDS["contract"])
    _, again = post(doubles, "/cgi/crm/v2/data/get",
                    {"data": {"dataObjectApiName": "SaleContractObj", "objectDataId": IDS["contract"]}}, headers)
    record = again["data"]
    assert (record["field_Sign_Status__c"], record["field_Envelope_Id__c"]) == (
        "option2", "c0ffee00-0000-4000-8000-000000000001")
    assert record["version"] == "4" and record["last_modified_time"] > 1795659307531
    [logged] = [c for c in doubles.requests("fxiaoke") if c["path"] == "/cgi/crm/v2/data/update"]
    assert logged["body"] == update and logged["query"]["thirdTraceId"]
    assert logged["headers"]["x-fs-ea"] == CREDS["ea"]


# -- conformance: the developer manual's rules -------------------------------------------------------------


def assert_envelope(answer: dict[str, Any], error_code: int) -> None:
    # "Public parameters": every answer carries errorCode (0 = success), errorMessage, errorDescription
    # and traceId, whatever happened.
    assert {"errorCode", "errorMessage", "errorDescription", "traceId"} <= set(answer)
    assert isinstance(answer["errorMessage"], str) and isinstance(answer["traceId"], str)
    assert answer["errorCode"] == error_code


def test_every_answer_is_http_200_with_an_error_code(doubles: Doubles) -> None:
    # Source: Fxiaoke's developer manual (it publishes no description file):
    # https://developer.fxiaoke.com/openapi_v2/en/start/example/public.html (envelope, HTTP 200),
    # …/start/example/old.html (corpAccessToken in the body), …/start/auth/app-info.html (app_secret grant).
    creds = legacy(doubles)
    get = {"dataObjectApiName": "SaleContractObj", "objectDataId": IDS["contract"]}
    for path, body, code in (
        ("/cgi/crm/v2/data/get", {**creds, "data": get}, 0),
        ("/cgi/crm/v2/data/get", {**creds, "data": {**get, "objectDataId": "0" * 24}}, -1),  # no such record
        ("/cgi/crm/custom/v2/data/get", {**creds, "data": get}, -1),  # a preset object on the custom path
        ("/cgi/crm/v2/data/get", {**creds, "corpAccessToken": "EXPIRED", "data": get}, 20016),
        ("/cgi/crm/v2/data/get", {"data": get}, 20016),  # no credentials at all
        ("/cgi/corpAccessToken/get/V2", {**APP, "appSecret": "wrong"}, -1),
    ):
        status, answer = post(doubles, path, body)
        assert status == 200, path
        assert_envelope(answer, code)
    # Only one auth style at a time: body credentials and headers together are refused.
    status, answer = post(doubles, "/cgi/crm/v2/data/get", {**creds, "data": get}, bearer(doubles))
    assert status == 200 and answer["errorCode"] != 0
    # Token answers: the legacy one has corpAccessToken/corpId/expiresIn, the OAuth2 one accessToken/ea.
    _, token = post(doubles, "/cgi/corpAccessToken/get/V2", APP)
    assert_envelope(token, 0)
    assert {"corpAccessToken", "corpId", "expiresIn"} <= set(token) and token["expiresIn"] <= 7200
    _, token = post(doubles, "/oauth2.0/token", {**APP, "grantType": "app_secret"})
    assert {"accessToken", "expiresIn", "ea", "openUserId", "appId"} <= set(token)


def test_a_token_call_within_6600_seconds_gives_the_same_token(doubles: Doubles) -> None:
    first = legacy(doubles)["corpAccessToken"]
    assert legacy(doubles)["corpAccessToken"] == first


def test_a_locked_record_refuses_updates(doubles: Doubles) -> None:
    contract = post(doubles, "/cgi/crm/v2/data/get", {**legacy(doubles), "data": {
        "dataObjectApiName": "SaleContractObj", "objectDataId": IDS["contract"]}})[1]["data"]
    status, _, _ = call("POST", f"{doubles['fxiaoke']}/_records", {
        "type": "SaleContractObj", "id": IDS["contract"], "record": {**contract, "lock_status": "1"}})
    assert status == 201
    _, answer = post(doubles, "/cgi/crm/v2/data/update", {**legacy(doubles), "data": {"object_data": {
        "dataObjectApiName": "SaleContractObj", "_id": IDS["contract"], "field_Sign_Status__c": "option3"}}})
    assert_envelope(answer, -1)


# -- faults -----------------------------------------------------------------------------------------------


def test_down_expired_and_no_rate_limit_signal(doubles: Doubles) -> None:
    creds = legacy(doubles)
    get = {**creds, "data": {"dataObjectApiName": "SaleContractObj", "objectDataId": IDS["contract"]}}
    doubles.fault("fxiaoke", mode="down")
    status, _, body = call("POST", f"{doubles['fxiaoke']}/cgi/crm/v2/data/get?{TRACE}", get)
    assert status == 503 and isinstance(body, str)  # a gateway page, not the API's envelope
    doubles.fault("fxiaoke", mode="unauthorized")
    assert_envelope(post(doubles, "/cgi/crm/v2/data/get", get)[1], 20016)
    # Fxiaoke documents no rate-limit signal, so the double offers none rather than invent one.
    status, _, refused = call("POST", f"{doubles['fxiaoke']}/_faults", {"mode": "rate_limited"})
    assert status == 400 and "no rate-limit signal" in refused["error"]
