"""The Zoho CRM v8 double over urllib3 (signbridge calls Zoho without its SDK), checked against
devstack/crm_apis/vendor/zoho/json_details.record.json: the structure file of Zoho's own Apache-2.0
Python SDK for API v8 (vendor docs: https://www.zoho.com/crm/developer/docs/api/v8/get-records.html,
…/v8/update-records.html, …/v8/refresh.html, …/v8/api-limits.html)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from devstack.crm_apis import CREDENTIALS, SEED_IDS

from .conformance import zoho_errors
from .helpers import Doubles, call

IDS = SEED_IDS["zoho"]
CREDS = CREDENTIALS["zoho"]


def refresh(doubles: Doubles, **overrides: str) -> tuple[int, Any]:
    params = {"refresh_token": CREDS["refresh_token"], "client_id": CREDS["client_id"],
              "client_secret": CREDS["client_secret"], "grant_type": "refresh_token", **overrides}
    status, _, body = call("POST", f"{doubles['zoho']}/oauth/v2/token?{urlencode(params)}")
    return status, body


def token(doubles: Doubles) -> dict[str, str]:
    status, body = refresh(doubles)
    assert status == 200 and "access_token" in body, body
    return {"Authorization": f"Zoho-oauthtoken {body['access_token']}"}


def test_refresh_then_read_the_deal_and_its_related_records(doubles: Doubles) -> None:
    status, minted = refresh(doubles)
    assert (status, minted["token_type"], minted["expires_in"]) == (200, "Bearer", 3600)
    assert minted["api_domain"] == doubles["zoho"]  # call the API where the token answer says
    headers = {"Authorization": f"Zoho-oauthtoken {minted['access_token']}"}
    api = minted["api_domain"]
    status, _, body = call("GET", f"{api}/crm/v8/Deals/{IDS['deal']}?fields=Deal_Name,Stage,Amount,Account_Name,"
                           "Contact_Name,Owner,Contract_Number", headers=headers)
    assert status == 200 and len(body["data"]) == 1  # an array, even for one record
    deal = body["data"][0]
    assert (deal["Deal_Name"], deal["Amount"]) == ("年度门锁系统运维服务", 96000.0)
    assert deal["Contract_Number"] == "FW-2026-0042"
    assert set(deal) == {"id", "Deal_Name", "Stage", "Amount", "Account_Name", "Contact_Name", "Owner",
                         "Contract_Number"}
    _, _, account = call("GET", f"{api}/crm/v8/Accounts/{deal['Account_Name']['id']}", headers=headers)
    _, _, contact = call("GET", f"{api}/crm/v8/Contacts/{deal['Contact_Name']['id']}", headers=headers)
    _, _, owner = call("GET", f"{api}/crm/v8/users/{deal['Owner']['id']}", headers=headers)
    assert account["data"][0]["Billing_City"] == "苏州市"
    assert contact["data"][0]["Email"] == "chen.jing@hengtai.example"
    assert owner["users"][0]["email"] == "wang.min@yunti.example"
    status, _, products = call("GET", f"{api}/crm/v8/Deals/{IDS['deal']}/Products?fields=Product_Name,Unit_Price",
                               headers=headers)
    assert status == 200 and products["info"]["more_records"] is False
    assert [(p["Product_Name"], p["Unit_Price"]) for p in products["data"]] == [
        ("智能门锁年度巡检维护服务", 72000.0), ("网关运维服务", 24000.0)]


def test_write_back_one_record_and_many(doubles: Doubles) -> None:
    headers = token(doubles)
    base = f"{doubles['zoho']}/crm/v8/Deals"
    status, _, answer = call("PUT", f"{base}/{IDS['deal']}",
                             {"data": [{"Signature_Status": "已发送", "Envelope_Id": "c0ffee00-1"}], "trigger": []},
                             headers)
    assert status == 200
    [item] = answer["data"]
    assert (item["code"], item["status"], item["message"], item["details"]["id"]) == (
        "SUCCESS", "success", "record updated", IDS["deal"])
    _, _, again = call("GET", f"{base}/{IDS['deal']}?fields=Signature_Status,Envelope_Id,Modified_Time",
                       headers=headers)
    assert again["data"][0]["Signature_Status"] == "已发送"
    assert again["data"][0]["Modified_Time"] == item["details"]["Modified_Time"]
    # The bulk form: one status per item, and an item can fail while the others are written.
    status, _, bulk = call("PUT", base, {"data": [{"id": IDS["deal"], "Stage": "Closed Won"},
                                                  {"id": "5725767000009999999", "Stage": "Closed Won"},
                                                  {"Stage": "Closed Won"}]}, headers)
    assert status == 200
    assert [(r["status"], r["code"]) for r in bulk["data"]] == [
        ("success", "SUCCESS"), ("error", "INVALID_DATA"), ("error", "MANDATORY_NOT_FOUND")]
    assert bulk["data"][2]["details"] == {"api_name": "id", "json_path": "$.data[2].id"}
    puts = [c for c in doubles.requests("zoho") if c["method"] == "PUT"]
    assert [p["path"] for p in puts] == [f"/crm/v8/Deals/{IDS['deal']}", "/crm/v8/Deals"]
    assert puts[0]["body"]["trigger"] == [] and puts[0]["headers"]["authorization"].startswith("Zoho-oauthtoken ")


def test_zoho_refusals(doubles: Doubles) -> None:
    headers = token(doubles)
    base = f"{doubles['zoho']}/crm/v8/Deals/{IDS['deal']}"
    status, _, bad = call("PUT", base, {"data": [{"Stage": "Signed"}]}, headers)  # not a picklist value
    assert status == 400 and bad["data"][0]["code"] == "INVALID_DATA"
    assert bad["data"][0]["details"]["api_name"] == "Stage"
    status, _, typed = call("PUT", base, {"data": [{"Amount": "96000"}]}, headers)
    assert status == 400 and typed["data"][0]["details"]["expected_data_type"] == "double"
    status, _, body = call("GET", f"{doubles['zoho']}/crm/v8/Deals/5725767000009999999", headers=headers)
    assert (status, body) == (204, None)  # no such record: 204 and no body
    status, _, body = call("GET", base, headers={"Authorization": f"Bearer {CREDS['access_token']}"})
    assert status == 401 and body["code"] == "INVALID_TOKEN"  # the scheme is Zoho-oauthtoken, not Bearer
    status, body = refresh(doubles, refresh_token="1000.revoked")
    assert (status, body) == (200, {"error": "invalid_code"})  # token errors can come with HTTP 200


def test_ten_refreshes_in_ten_minutes_then_access_denied(doubles: Doubles) -> None:
    for _ in range(10):
        assert refresh(doubles)[0] == 200
    status, body = refresh(doubles)
    assert body["error"] == "Access Denied"


# -- conformance: vendor/zoho/json_details.record.json (structures of Zoho's SDK) -------------------------


def test_answers_match_the_sdk_structures(doubles: Doubles) -> None:
    # Source: devstack/crm_apis/vendor/zoho/json_details.record.json (Zoho's Python SDK for API v8);
    # vendor reference: https://www.zoho.com/crm/developer/docs/api/v8/get-records.html, …/update-records.html.
    headers = token(doubles)
    api = f"{doubles['zoho']}/crm/v8"
    for path in (f"Deals/{IDS['deal']}", f"Deals/{IDS['deal']}?fields=Deal_Name,Stage", f"Accounts/{IDS['account']}",
                 f"Contacts/{IDS['contact']}", f"Products/{IDS['products'][0]}", f"Deals/{IDS['deal']}/Products"):
        status, _, body = call("GET", f"{api}/{path}", headers=headers)
        assert status == 200 and zoho_errors("record.ResponseWrapper", body) == [], path
    status, _, users = call("GET", f"{api}/users/{IDS['owner']}", headers=headers)
    assert status == 200 and zoho_errors("users.ResponseWrapper", users) == []
    put = {"data": [{"Signature_Status": "已签署"}], "trigger": ["workflow"]}
    assert zoho_errors("record.BodyWrapper", put) == []
    status, _, action = call("PUT", f"{api}/Deals/{IDS['deal']}", put, headers)
    assert status == 200 and zoho_errors("record.ActionWrapper", action) == []
    status, _, failed = call("PUT", f"{api}/Deals", {"data": [{"id": "1", "Stage": "x"}]}, headers)
    assert status == 400 and zoho_errors("record.ActionWrapper", failed) == []
    # Refusals: each code and message is one the SDK's APIException lists.
    for method, path, body, auth, expected in (
        ("GET", f"Deals/{IDS['deal']}", None, {"Authorization": "Zoho-oauthtoken x"}, 401),
        ("GET", f"Deals/{IDS['deal']}", None, {}, 401),
        ("GET", "Deal/1", None, headers, 400),
        ("GET", "Deals/not-a-number", None, headers, 400),
        ("PUT", "Deals", {"data": [{"id": str(n)} for n in range(101)]}, headers, 400),
    ):
        status, _, refused = call(method, f"{api}/{path}", body, auth)
        assert status == expected and zoho_errors("record.APIException", refused) == [], (path, refused)
    status, _, read_only = call("PUT", f"{api}/Deals/{IDS['deal']}", {"data": [{"Created_Time": "x"}]}, headers)
    assert status == 400 and zoho_errors("record.ActionWrapper", read_only) == []
    doubles.fault("zoho", mode="down")
    status, _, down = call("GET", f"{api}/Deals/{IDS['deal']}", headers=headers)
    assert status == 503 and zoho_errors("record.APIException", down) == []


def test_the_checks_catch_inventions(doubles: Doubles) -> None:
    headers = token(doubles)
    _, _, body = call("GET", f"{doubles['zoho']}/crm/v8/Deals/{IDS['deal']}", headers=headers)
    assert zoho_errors("record.ResponseWrapper", {**body, "record": body["data"][0]}) != []
    wrong_id = {"data": [{**body["data"][0], "id": 5725767000002894011}]}  # ids are strings, never numbers
    assert zoho_errors("record.ResponseWrapper", wrong_id) != []


# -- faults -----------------------------------------------------------------------------------------------


def test_rate_limited_is_429_too_many_requests(doubles: Doubles) -> None:
    headers = token(doubles)
    doubles.fault("zoho", mode="rate_limited", count=2, path="/crm/v8/Deals")
    for _ in range(2):
        status, response_headers, body = call("GET", f"{doubles['zoho']}/crm/v8/Deals/{IDS['deal']}",
                                              headers=headers)
        assert status == 429 and body["code"] == "TOO_MANY_REQUESTS"
        assert "retry-after" not in response_headers  # Zoho documents no rate-limit headers
        # The SDK's APIException lists every code it knows but not this one (vendor/zoho/SOURCE.md).
        assert zoho_errors("record.APIException", body) != []
        lenient = ("record.APIException.code", "record.APIException.message")
        assert zoho_errors("record.APIException", body, lenient_enums=lenient) == []
    assert call("GET", f"{doubles['zoho']}/crm/v8/Deals/{IDS['deal']}", headers=headers)[0] == 200


def test_down_and_expired_token(doubles: Doubles) -> None:
    headers = token(doubles)
    doubles.fault("zoho", mode="down")
    assert call("GET", f"{doubles['zoho']}/crm/v8/Deals/{IDS['deal']}", headers=headers)[0] == 503
    doubles.fault("zoho", mode="unauthorized")
    status, _, body = call("GET", f"{doubles['zoho']}/crm/v8/Deals/{IDS['deal']}", headers=headers)
    assert (status, body["code"]) == (401, "INVALID_TOKEN")
