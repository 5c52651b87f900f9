"""The Pipedrive double over urllib3 (Pipedrive has no official Python client), checked against
devstack/crm_apis/vendor/pipedrive/pipedrive-shapes.openapi.json: Pipedrive's API v2/v1 operations
as its official MIT clients describe them (vendor docs: https://developers.pipedrive.com/docs/api/v1,
"API v2" sections; OpenAPI https://developers.pipedrive.com/docs/api/v1/openapi-v2.yaml)."""

from __future__ import annotations

from typing import Any

from devstack.crm_apis import CREDENTIALS, SEED_IDS

from .conformance import pipedrive_errors, pipedrive_request_errors
from .helpers import Doubles, call

IDS = SEED_IDS["pipedrive"]
TOKEN = CREDENTIALS["pipedrive"]["api_token"]
CONTRACT_TYPE = "ed0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e"  # single option field
SIGNATURE_STATUS = "fd0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e"  # single option field
REGIONS = "0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f"  # multiple options field
ENVELOPE_ID = "1e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f"
UNIT_PRICE = "6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b"  # monetary
# Pipedrive sends null for these, which its published description types as plain strings (see
# vendor/pipedrive/SOURCE.md): on an open deal, and on the last page.
DEAL_NULLS = ("data.won_time", "data.lost_time")
PAGE_NULLS = ("additional_data.next_cursor",)


def get(doubles: Doubles, path: str) -> tuple[int, dict[str, str], Any]:
    return call("GET", f"{doubles['pipedrive']}{path}", headers={"x-api-token": TOKEN})


def test_read_the_deal_products_people_and_owner(doubles: Doubles) -> None:
    status, _, deal = get(doubles, f"/api/v2/deals/{IDS['deal']}")
    assert status == 200 and deal["success"] is True
    data = deal["data"]
    assert (data["title"], data["value"], data["currency"]) == ("Smart locks for Acme Facilities, Berlin office",
                                                               51200, "USD")
    # REST v2 custom fields: option id (single), list of ids (multiple), {value, currency} (monetary).
    assert data["custom_fields"][CONTRACT_TYPE] == 31
    assert data["custom_fields"][REGIONS] == [51, 52]
    assert data["custom_fields"][UNIT_PRICE] == {"value": 640, "currency": "USD"}
    status, _, fields = get(doubles, "/api/v1/dealFields")
    options = {f["key"]: {o["id"]: o["label"] for o in f.get("options") or []} for f in fields["data"]}
    assert options[CONTRACT_TYPE][31] == "Sales" and options[REGIONS] == {51: "Berlin", 52: "Hamburg", 53: "Munich"}
    status, _, labelled = get(doubles, f"/api/v2/deals/{IDS['deal']}?include_option_labels=true"
                                       f"&custom_fields={CONTRACT_TYPE},{REGIONS}")
    assert labelled["data"]["custom_fields"] == {CONTRACT_TYPE: {"id": 31, "label": "Sales"},
                                                 REGIONS: [{"id": 51, "label": "Berlin"},
                                                           {"id": 52, "label": "Hamburg"}]}
    status, _, products = get(doubles, f"/api/v2/deals/{IDS['deal']}/products")
    assert [(p["name"], p["quantity"], p["item_price"], p["sum"]) for p in products["data"]] == [
        ("Y3 smart lock", 80, 640, 51200)]
    assert products["additional_data"]["next_cursor"] is None
    _, _, person = get(doubles, f"/api/v2/persons/{data['person_id']}")
    _, _, org = get(doubles, f"/api/v2/organizations/{data['org_id']}")
    _, _, user = get(doubles, f"/api/v1/users/{data['owner_id']}")
    assert person["data"]["emails"][0]["value"] == "jonas.weber@acme-facilities.example"
    assert org["data"]["address"]["locality"] == "Berlin"
    assert user["data"]["email"] == "wang.min@yunti.example"


def test_write_back_with_option_ids_reads_back(doubles: Doubles) -> None:
    url = f"{doubles['pipedrive']}/api/v2/deals/{IDS['deal']}"
    change = {"stage_id": 6, "custom_fields": {SIGNATURE_STATUS: 42, ENVELOPE_ID: "c0ffee00-0000-4000-8000-1",
                                               REGIONS: [53]}}
    assert pipedrive_request_errors("/api/v2/deals/{id}", "patch", change) == []
    status, _, updated = call("PATCH", url, change, {"x-api-token": TOKEN})
    assert status == 200 and updated["data"]["stage_id"] == 6
    _, _, again = get(doubles, f"/api/v2/deals/{IDS['deal']}")
    custom = again["data"]["custom_fields"]
    assert (custom[SIGNATURE_STATUS], custom[ENVELOPE_ID], custom[REGIONS]) == (42, "c0ffee00-0000-4000-8000-1", [53])
    assert custom[CONTRACT_TYPE] == 31  # untouched fields stay
    assert again["data"]["stage_change_time"] >= "2026-11-30"
    [patch] = [c for c in doubles.requests("pipedrive") if c["method"] == "PATCH"]
    assert (patch["path"], patch["body"], patch["status"]) == (f"/api/v2/deals/{IDS['deal']}", change, 200)


def test_strict_v2_types_and_option_rules(doubles: Doubles) -> None:
    url = f"{doubles['pipedrive']}/api/v2/deals/{IDS['deal']}"
    refused: list[dict[str, Any]] = [
                 {"stage_id": "6"},  # v2 takes no numbers as strings
                 {"custom_fields": {SIGNATURE_STATUS: 99}},  # not an option of the field
                 {"custom_fields": {SIGNATURE_STATUS: "Sent"}},  # labels are not option ids
                 {"custom_fields": {REGIONS: []}},  # clearing a multiple-options field takes null, not []
                 {"custom_fields": {"ffffffffffffffffffffffffffffffffffffffff": "x"}}]
    for body in refused:
        status, _, error = call("PATCH", url, body, {"x-api-token": TOKEN})
        assert status == 400 and error["success"] is False and error["error"], body
    status, _, cleared = call("PATCH", url, {"custom_fields": {REGIONS: None}}, {"x-api-token": TOKEN})
    assert status == 200 and cleared["data"]["custom_fields"][REGIONS] is None


# -- conformance: vendor/pipedrive/pipedrive-shapes.openapi.json (x-client-method names the operation) ----


def test_answers_match_the_transcribed_description(doubles: Doubles) -> None:
    # Source: devstack/crm_apis/vendor/pipedrive/pipedrive-shapes.openapi.json (from Pipedrive's MIT clients);
    # vendor reference: https://developers.pipedrive.com/docs/api/v1/Deals (API v2 operations), …/Users.
    deal_id = IDS["deal"]
    checks = [
        (f"/api/v2/deals/{deal_id}", "/api/v2/deals/{id}", DEAL_NULLS),
        (f"/api/v2/deals/{deal_id}?include_option_labels=true", "/api/v2/deals/{id}", DEAL_NULLS),
        (f"/api/v2/deals/{deal_id}/products", "/api/v2/deals/{id}/products", PAGE_NULLS),
        (f"/api/v2/persons/{IDS['person']}", "/api/v2/persons/{id}", ()),
        (f"/api/v2/organizations/{IDS['organization']}", "/api/v2/organizations/{id}", ()),
        ("/api/v2/dealFields", "/api/v2/dealFields", PAGE_NULLS),
        ("/api/v1/dealFields", "/api/v1/dealFields", ()),
        (f"/api/v1/users/{IDS['user']}", "/api/v1/users/{id}", ()),
    ]
    for path, operation, nulls in checks:
        status, _, body = get(doubles, path)
        assert status == 200, path
        assert pipedrive_errors(operation, "get", "200", body, nulls) == [], path
    status, _, patched = call("PATCH", f"{doubles['pipedrive']}/api/v2/deals/{deal_id}", {"title": "Renamed"},
                              {"x-api-token": TOKEN})
    assert status == 200 and pipedrive_errors("/api/v2/deals/{id}", "patch", "200", patched, DEAL_NULLS) == []
    status, _, refused = call("GET", f"{doubles['pipedrive']}/api/v1/users/{IDS['user']}",
                              headers={"x-api-token": "nope"})
    assert status == 401 and pipedrive_errors("/api/v1/users/{id}", "get", "401", refused) == []
    status, _, missing = get(doubles, "/api/v1/users/1")
    assert status == 404 and pipedrive_errors("/api/v1/users/{id}", "get", "404", missing) == []


def test_the_checks_catch_inventions(doubles: Doubles) -> None:
    _, _, deal = get(doubles, f"/api/v2/deals/{IDS['deal']}")
    invented = {**deal, "data": {**deal["data"], "contract_status": "sent"}}
    assert pipedrive_errors("/api/v2/deals/{id}", "get", "200", invented, DEAL_NULLS) != []
    stringly = {**deal, "data": {**deal["data"], "stage_id": "5"}}
    assert pipedrive_errors("/api/v2/deals/{id}", "get", "200", stringly, DEAL_NULLS) != []
    # Without the documented allowance the description itself refuses an open deal's won_time: null.
    assert pipedrive_errors("/api/v2/deals/{id}", "get", "200", deal) != []


def test_auth_forms(doubles: Doubles) -> None:
    base = f"{doubles['pipedrive']}/api/v2/deals/{IDS['deal']}"
    assert call("GET", f"{base}?api_token={TOKEN}")[0] == 200
    assert call("GET", base, headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
    status, _, body = call("GET", base)
    assert (status, body) == (401, {"success": False, "error": "unauthorized access", "errorCode": 401})


# -- faults -----------------------------------------------------------------------------------------------


def test_rate_limited_burst_and_daily(doubles: Doubles) -> None:
    doubles.fault("pipedrive", mode="rate_limited", path="/api/v2/deals")
    status, headers, body = get(doubles, f"/api/v2/deals/{IDS['deal']}")
    assert (status, body["error"], body["errorCode"]) == (429, "Request over limit", 429)
    assert (headers["x-ratelimit-remaining"], headers["x-ratelimit-reset"]) == ("0", "2")
    assert "retry-after" not in headers  # Pipedrive defines none
    doubles.fault("pipedrive", mode="rate_limited", variant="daily")
    status, headers, _ = get(doubles, f"/api/v2/persons/{IDS['person']}")
    assert status == 429 and headers["x-daily-ratelimit-token-remaining"] == "0"
    status, headers, _ = get(doubles, f"/api/v2/persons/{IDS['person']}")
    assert status == 200 and int(headers["x-ratelimit-remaining"]) < int(headers["x-ratelimit-limit"])


def test_down(doubles: Doubles) -> None:
    doubles.fault("pipedrive", mode="down", count=1, method="PATCH")
    assert get(doubles, f"/api/v2/deals/{IDS['deal']}")[0] == 200  # only PATCH is spoiled
    status, _, body = call("PATCH", f"{doubles['pipedrive']}/api/v2/deals/{IDS['deal']}", {"title": "x"},
                           {"x-api-token": TOKEN})
    assert status == 503 and body["success"] is False
