"""What every double shares: the call log, counted faults, adding records, reset; the CLI and the
stack's state file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import urllib3

from devstack.crm_apis import CREDENTIALS, CRMS, SEED_IDS
from devstack.crm_apis.__main__ import parse_args
from devstack.stack import StackState

from .helpers import HTTP, Doubles, call

HUBSPOT_AUTH = {"Authorization": f"Bearer {CREDENTIALS['hubspot']['access_token']}"}
PIPEDRIVE_AUTH = {"x-api-token": CREDENTIALS["pipedrive"]["api_token"]}


def test_the_log_lists_every_call_and_clears(doubles: Doubles) -> None:
    base = doubles["pipedrive"]
    call("GET", f"{base}/api/v2/deals/{SEED_IDS['pipedrive']['deal']}?include_option_labels=true",
         headers=PIPEDRIVE_AUTH)
    call("PATCH", f"{base}/api/v2/deals/{SEED_IDS['pipedrive']['deal']}", {"title": "x"}, PIPEDRIVE_AUTH)
    call("GET", f"{base}/api/v2/deals/1")  # refused (no token): logged all the same
    log = doubles.requests("pipedrive")
    assert [(c["method"], c["path"], c["status"]) for c in log] == [
        ("GET", "/api/v2/deals/4821", 200), ("PATCH", "/api/v2/deals/4821", 200), ("GET", "/api/v2/deals/1", 401)]
    assert log[0]["query"] == {"include_option_labels": "true"} and log[0]["body"] is None
    assert log[1]["body"] == {"title": "x"}
    assert call("DELETE", f"{base}/_requests")[0] == 204
    assert doubles.requests("pipedrive") == []


def test_a_text_body_is_logged_as_text(doubles: Doubles) -> None:
    HTTP.request("PATCH", f"{doubles['hubspot']}/crm/v3/objects/deals/1", body=b"not json",
                 headers={**HUBSPOT_AUTH, "Content-Type": "text/plain"})
    assert doubles.requests("hubspot")[0]["body"] == "not json"


def test_faults_match_method_and_path_prefix_and_count_down(doubles: Doubles) -> None:
    base = doubles["hubspot"]
    deal = f"{base}/crm/v3/objects/deals/{SEED_IDS['hubspot']['deal']}"
    doubles.fault("hubspot", mode="down", count=2, method="PATCH", path="/crm/v3/objects/deals")
    assert call("GET", deal, headers=HUBSPOT_AUTH)[0] == 200  # another method
    assert call("PATCH", f"{base}/crm/v3/objects/contacts/551200301", {"properties": {"jobtitle": "CEO"}},
                HUBSPOT_AUTH)[0] == 200  # another path
    status, _, armed = call("GET", f"{base}/_faults")
    assert armed == [{"mode": "down", "remaining": 2, "method": "PATCH", "path_prefix": "/crm/v3/objects/deals",
                      "variant": None}]
    statuses = [call("PATCH", deal, {"properties": {"dealname": "x"}}, HUBSPOT_AUTH)[0] for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert call("GET", f"{base}/_faults")[2] == []
    doubles.fault("hubspot", mode="down", count=5)
    assert call("DELETE", f"{base}/_faults")[0] == 204
    assert call("GET", deal, headers=HUBSPOT_AUTH)[0] == 200


@pytest.mark.parametrize("spec, message", [
    ({"mode": "slow"}, "mode must be one of"),
    ({"mode": "down", "count": 0}, "count must be a positive integer"),
    ({"mode": "down", "variant": "daily"}, "variant applies to rate_limited only"),
    ({"mode": "rate_limited", "variant": "weekly"}, "variant applies to rate_limited only"),
    ({"mode": "down", "only_path": "/x"}, "unknown keys: only_path"),
])
def test_bad_fault_specs_are_refused(doubles: Doubles, spec: dict[str, object], message: str) -> None:
    status, _, body = call("POST", f"{doubles['hubspot']}/_faults", spec)
    assert status == 400 and message in body["error"]


def test_records_can_be_added_and_replaced(doubles: Doubles) -> None:
    base = doubles["salesforce"]
    auth = {"Authorization": f"Bearer {CREDENTIALS['salesforce']['access_token']}"}
    contract_id = SEED_IDS["salesforce"]["contract"]
    _, _, contract = call("GET", f"{base}/services/data/v62.0/sobjects/Contract/{contract_id}", headers=auth)
    other = {k: v for k, v in contract.items() if k != "attributes"}
    other |= {"Id": "8005g00000SecndAAA", "Name": "第二份合同"}
    assert call("POST", f"{base}/_records", {"type": "Contract", "id": other["Id"], "record": other})[0] == 201
    status, _, row = call("GET", f"{base}/services/data/v62.0/sobjects/Contract/8005g00000SecndAAA", headers=auth)
    assert status == 200 and row["Name"] == "第二份合同"
    replaced = {**other, "Name": "改过的合同"}
    call("POST", f"{base}/_records", {"type": "Contract", "id": other["Id"], "record": replaced})
    _, _, row = call("GET", f"{base}/services/data/v62.0/sobjects/Contract/8005g00000SecndAAA", headers=auth)
    assert row["Name"] == "改过的合同"
    _, _, listed = call("GET", f"{base}/_records?type=Contract")
    assert set(listed) == {contract_id, "8005g00000SecndAAA"}
    status, _, refused = call("POST", f"{base}/_records", {"type": "Lead", "id": "x", "record": {}})
    assert status == 400 and "type must be one of" in refused["error"]
    # Reset: the seeded records only, nothing logged.
    assert call("POST", f"{base}/_reset")[0] == 204
    _, _, listed = call("GET", f"{base}/_records?type=Contract")
    assert set(listed) == {contract_id}
    assert doubles.requests("salesforce") == []


def test_every_double_answers_its_controls(doubles: Doubles) -> None:
    for crm in CRMS:
        status, _, log = call("GET", f"{doubles[crm]}/_requests")
        assert (status, log) == (200, [])
        status, _, records = call("GET", f"{doubles[crm]}/_records")
        assert status == 200 and records


def test_the_cli_takes_a_port_per_crm() -> None:
    args = parse_args(["--hubspot-port", "8431", "--zoho-port=8432", "--quiet"])
    assert (args.hubspot_port, args.zoho_port, args.salesforce_port, args.quiet) == (8431, 8432, 0, True)


def test_the_state_file_keeps_loading_without_and_with_the_doubles(tmp_path: Path) -> None:
    old: dict[str, Any] = {"api_url": "http://127.0.0.1:8000", "sandbox_url": "http://127.0.0.1:8400",
           "aws_endpoint_url": "http://127.0.0.1:5000", "tenant_id": "demo", "api_key": "sbk_x", "sources": {},
           "env": {}, "receiver_url": None, "pids": {}}
    path = tmp_path / "state.json"
    path.write_text(json.dumps(old))
    state = StackState.load(path)
    assert (state.crm_apis, state.crm_apis_seed, state.crm_apis_auth) == ({}, {}, {})
    state.crm_apis = {crm: f"http://127.0.0.1:{9000 + n}" for n, crm in enumerate(CRMS)}
    state.crm_apis_seed = SEED_IDS
    state.crm_apis_auth = CREDENTIALS
    path.write_text(json.dumps(state.to_json()))
    again = StackState.load(path)
    assert again.crm_apis == state.crm_apis and again.crm_apis_seed["pipedrive"]["deal"] == 4821


def test_disconnect_closes_the_connection_without_an_answer(doubles: Doubles) -> None:
    base = doubles["pipedrive"]
    doubles.fault("pipedrive", mode="disconnect", method="GET")
    with pytest.raises(urllib3.exceptions.ProtocolError) as dropped:
        HTTP.request("GET", f"{base}/api/v2/deals/{SEED_IDS['pipedrive']['deal']}", headers=PIPEDRIVE_AUTH)
    assert "without response" in str(dropped.value)
    assert call("GET", f"{base}/api/v2/deals/{SEED_IDS['pipedrive']['deal']}", headers=PIPEDRIVE_AUTH)[0] == 200
    assert [c["status"] for c in doubles.requests("pipedrive")] == [None, 200]  # None: no answer was given
