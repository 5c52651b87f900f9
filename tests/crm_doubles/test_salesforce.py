"""The Salesforce double through simple-salesforce 1.12.10, the official-grade Python client, over
plain HTTP (devstack/crm_apis/salesforce_http.py). Salesforce publishes no org-independent OpenAPI
for sObjects, so the conformance checks here are the REST API guide's rules, each cited:
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/ (sObject Rows, Update a
Record, Status Codes and Error Responses, Query)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from devstack.crm_apis import CREDENTIALS, SEED_IDS
from devstack.crm_apis.salesforce_http import plain_http_session

from .helpers import HTTP, Doubles, call

IDS = SEED_IDS["salesforce"]
CREDS = CREDENTIALS["salesforce"]
VERSION = "62.0"  # pinned in client and double alike (simple-salesforce defaults to 59.0)


def connect(url: str, token: str = CREDS["access_token"]) -> Any:
    # Any: the client resolves sObject names (sf.Contract) dynamically, which a type checker cannot follow.
    return Salesforce(instance_url=url, session_id=token, version=VERSION, session=plain_http_session(url))


def error_code(error: SalesforceError) -> str:
    """The first errorCode of the JSON array the client keeps as the exception's content."""
    return str(cast(list[dict[str, Any]], error.content)[0]["errorCode"])


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {CREDS['access_token']}"}


def test_the_client_reaches_the_http_double_through_its_session(doubles: Doubles) -> None:
    sf = connect(doubles["salesforce"])
    # The client still builds https URLs from the instance; the session's adapter speaks http.
    assert sf.base_url.startswith("https://127.0.0.1:")
    assert sf.Contract.get(IDS["contract"])["Id"] == IDS["contract"]


def test_read_the_contract_and_what_hangs_off_it(doubles: Doubles) -> None:
    sf = connect(doubles["salesforce"])
    contract = sf.Contract.get(IDS["contract"])
    assert (contract["Name"], contract["Status"], contract["StatusCode"]) == ("智能门锁销售合同", "Draft", "Draft")
    assert contract["attributes"] == {"type": "Contract",
                                      "url": f"/services/data/v{VERSION}/sobjects/Contract/{IDS['contract']}"}
    assert contract["Description"] is None  # without ?fields= every field comes, nulls included
    account = sf.Account.get(contract["AccountId"])
    signer = sf.Contact.get(contract["CustomerSignedId"])
    owner = sf.User.get(contract["OwnerId"])
    assert (account["Name"], signer["Email"], owner["Email"]) == (
        "杭州新禾贸易有限公司", "li.qiang@xinhe.example", "wang.min@yunti.example")
    # The related list: the opportunity on this contract, then its line items with product names.
    opportunity = sf.query(f"SELECT Id, Name, Account.Name FROM Opportunity WHERE ContractId = '{IDS['contract']}'")
    assert opportunity["totalSize"] == 1
    assert opportunity["records"][0]["Account"]["Name"] == "杭州新禾贸易有限公司"
    lines = sf.query_all("SELECT Id, Quantity, UnitPrice, TotalPrice, Product2.Name, Product2.ProductCode "
                         f"FROM OpportunityLineItem WHERE OpportunityId = '{opportunity['records'][0]['Id']}' "
                         "ORDER BY SortOrder")
    assert [(r["Product2"]["Name"], r["Quantity"], r["TotalPrice"]) for r in lines["records"]] == [
        ("Y3 智能门锁", 200.0, 128000.0)]
    # A 15-character id names the same record.
    assert sf.Contract.get(IDS["contract"][:15])["Id"] == IDS["contract"]
    assert sf.api_usage["api-usage"].total == 15000  # parsed from Sforce-Limit-Info


def test_write_back_returns_204_and_the_change_reads_back(doubles: Doubles) -> None:
    sf = connect(doubles["salesforce"])
    before = sf.Contract.get(IDS["contract"])
    assert sf.Contract.update(IDS["contract"], {"Envelope_Id__c": "c0ffee00-0000-4000-8000-000000000001",
                                                "Signature_Status__c": "Sent", "Status": "Activated"}) == 204
    after = sf.Contract.get(IDS["contract"], headers=None)
    assert (after["Envelope_Id__c"], after["Status"], after["StatusCode"]) == (
        "c0ffee00-0000-4000-8000-000000000001", "Activated", "Activated")
    assert after["ActivatedDate"] is not None and after["LastModifiedDate"] > before["LastModifiedDate"]
    assert sf.Contract.update(IDS["contract"], {"ContractTerm": 24}) == 204
    assert sf.Contract.get(IDS["contract"])["EndDate"] == "2028-11-30"  # derived by Salesforce, not written
    patches = [c for c in doubles.requests("salesforce") if c["method"] == "PATCH"]
    assert [p["body"] for p in patches][1] == {"ContractTerm": 24}
    assert all(p["status"] == 204 and p["path"].endswith(IDS["contract"]) for p in patches)


def test_refusals_are_salesforces(doubles: Doubles) -> None:
    sf = connect(doubles["salesforce"])
    with pytest.raises(SalesforceMalformedRequest) as read_only:
        sf.Contract.update(IDS["contract"], {"EndDate": "2030-01-01", "Envelope_Id__c": "x"})
    assert error_code(read_only.value) == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as unknown:
        sf.Contract.update(IDS["contract"], {"Envelope__c": "x"})
    assert error_code(unknown.value) == "INVALID_FIELD"
    assert sf.Contract.get(IDS["contract"])["Envelope_Id__c"] is None  # one bad field fails the whole update
    with pytest.raises(SalesforceMalformedRequest) as picklist:
        sf.Contract.update(IDS["contract"], {"Status": "Signed"})
    assert error_code(picklist.value) == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contract.get("8005g00000ZZZZZAAV")
    with pytest.raises(SalesforceMalformedRequest) as soql:
        sf.query("SELECT Id, (SELECT Id FROM OpportunityLineItems) FROM Opportunity")
    assert error_code(soql.value) == "MALFORMED_QUERY"


# -- conformance: the REST API guide's rules ---------------------------------------------------------------


def assert_error_array(body: Any, code: str) -> None:
    # "Status Codes and Error Responses": the body is a JSON array of {message, errorCode[, fields]},
    # even for a single error.
    assert isinstance(body, list) and body, body
    for error in body:
        assert set(error) <= {"message", "errorCode", "fields"} and isinstance(error["message"], str)
    assert body[0]["errorCode"] == code


def test_answers_follow_the_rest_guide(doubles: Doubles) -> None:
    # Source: the REST API developer guide (no description file can be kept: Salesforce publishes none that is
    # not org-specific): https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/
    # resources_sobject_retrieve.htm, dome_update_fields.htm, errorcodes.htm, dome_query.htm.
    base = f"{doubles['salesforce']}/services/data/v{VERSION}"
    # "Update a Record": PATCH answers 204 No Content with an empty body.
    status, headers, body = call("PATCH", f"{base}/sobjects/Contract/{IDS['contract']}", {"Description": "x"},
                                 auth())
    assert (status, body, headers.get("content-length", "0")) == (204, None, "0")
    assert "content-type" not in headers
    # Every answer reports the org's API usage (Sforce-Limit-Info: api-usage=used/max).
    assert headers["sforce-limit-info"].startswith("api-usage=")
    # "sObject Rows": with ?fields= only those fields (and attributes) come back.
    status, _, row = call("GET", f"{base}/sobjects/Contract/{IDS['contract']}?fields=Id,Status,Description",
                          headers=auth())
    assert status == 200 and set(row) == {"attributes", "Id", "Status", "Description"}
    assert row["attributes"]["type"] == "Contract" and row["Description"] == "x"
    # "Query": {totalSize, done, records[]} with attributes per record.
    status, _, result = call("GET", f"{base}/query?q=SELECT+Id+FROM+Contact+WHERE+AccountId+%3D+%27"
                             f"{IDS['account']}%27", headers=auth())
    assert status == 200 and set(result) == {"totalSize", "done", "records"} and result["done"] is True
    # Errors: arrays, with the documented status codes.
    for method, url, payload, expected, code in (
        ("GET", f"{base}/sobjects/Contract/8005g00000ZZZZZAAV", None, 404, "NOT_FOUND"),
        ("PATCH", f"{base}/sobjects/Contract/{IDS['contract']}", {"EndDate": "2030-01-01"}, 400,
         "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ("GET", f"{base}/query?q=SELECT+Nope+FROM+Contract", None, 400, "INVALID_FIELD"),
    ):
        status, _, body = call(method, url, payload, auth())
        assert status == expected
        assert_error_array(body, code)
    status, _, body = call("GET", f"{base}/sobjects/Contract/{IDS['contract']}",
                           headers={"Authorization": "Bearer 00D000000000000!wrong"})
    assert status == 401
    assert_error_array(body, "INVALID_SESSION_ID")


def test_refresh_token_grant_gives_the_instance_url_and_no_expiry(doubles: Doubles) -> None:
    url = doubles["salesforce"]
    form = (f"grant_type=refresh_token&client_id={CREDS['client_id']}&client_secret={CREDS['client_secret']}"
            f"&refresh_token={CREDS['refresh_token']}")
    response = HTTP.request("POST", f"{url}/services/oauth2/token", body=form.encode(),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    token = response.json()
    assert response.status == 200 and token["instance_url"] == url and "expires_in" not in token
    assert connect(token["instance_url"], token["access_token"]).Contract.get(IDS["contract"])["Id"]


# -- faults -----------------------------------------------------------------------------------------------


def test_rate_limited_is_403_request_limit_exceeded(doubles: Doubles) -> None:
    sf = connect(doubles["salesforce"])
    doubles.fault("salesforce", mode="rate_limited", count=1, method="PATCH")
    with pytest.raises(SalesforceRefusedRequest) as caught:  # 403, not 429
        sf.Contract.update(IDS["contract"], {"Description": "y"})
    assert_error_array(cast(Any, caught.value.content), "REQUEST_LIMIT_EXCEEDED")
    status, headers, _ = call("GET", f"{doubles['salesforce']}/_requests")
    assert status == 200 and "retry-after" not in headers
    assert sf.Contract.update(IDS["contract"], {"Description": "y"}) == 204


def test_down_and_expired_session(doubles: Doubles) -> None:
    sf = connect(doubles["salesforce"])
    doubles.fault("salesforce", mode="down", path="/services/data")
    with pytest.raises(SalesforceGeneralError) as down:
        sf.Contract.get(IDS["contract"])
    assert down.value.status == 503
    doubles.fault("salesforce", mode="unauthorized")
    # Given a session id (no login of its own), the client raises instead of logging in again.
    with pytest.raises(SalesforceExpiredSession):
        sf.Contract.get(IDS["contract"])


def test_the_plain_http_session_only_touches_an_http_instance() -> None:
    session = plain_http_session("http://127.0.0.1:8431")
    assert type(session.get_adapter("https://127.0.0.1:8431/services/data/v62.0/")).__name__ == "_PlainHttpAdapter"
    assert type(session.get_adapter("https://login.salesforce.com/services/oauth2/token")).__name__ == "HTTPAdapter"
    # Without a port the client writes the bare host, and that is what is mounted.
    assert type(plain_http_session("http://crm.local").get_adapter("https://crm.local/x")).__name__ == \
        "_PlainHttpAdapter"
    assert type(plain_http_session("https://acme.my.salesforce.com").get_adapter(
        "https://acme.my.salesforce.com/x")).__name__ == "HTTPAdapter"
