"""纷享销客 through the real app: the APL function's JSON with the source's token (or, for a source
configured that way, a Standard Webhooks signature) becomes the 合同 with its product lines."""

from __future__ import annotations

import time

import pytest

from devstack.crm_samples import OUR_PARTY_ZH, dumps, load, raw
from devstack.webhook import signed_headers
from tests.integration.test_crm_helpers import (
    assert_enrichment_pending,
    assert_stored_nothing,
    post,
    post_fxiaoke,
    stored_document,
)
from tests.support.stack import StackHarness


def test_custom_function_post_creates_the_contract_with_its_lines(stack: StackHarness) -> None:
    response = post_fxiaoke(stack, raw("fxiaoke_contract.json"))
    assert response.status_code == 202, response.body
    contract = stack.get_contract(response.json_body["contract_id"])
    assert (contract["crm_record_id"], contract["number"], contract["title"]) == (
        "6745a1f2e4b0c91d2a3f8e71", "HT-2026-0377", "智能门锁及网关销售合同")
    assert (contract["type"], contract["amount"], contract["effective_date"], contract["end_date"]) == (
        "sales", "86400.00", "2026-12-01", "2027-11-30")
    document = stored_document(stack, contract["contract_id"])
    assert [(i["description"], i["quantity"], i["unit"], i["unit_price"]) for i in document["items"]] == [
        ("Y3 智能门锁", "100", "套", "640.00"), ("G1 智能网关", "80", "台", "280.00")]
    assert document["delivery"] == {"date": "2027-01-15", "place": "南京市江宁区将军大道 9 号仓库"}
    assert document["signing_date"] == "2026-12-01"
    # The same event again (the function retried): a repeat.
    again = post_fxiaoke(stack, raw("fxiaoke_contract.json"))
    assert again.status_code == 200 and again.json_body["contract_id"] == contract["contract_id"]


@pytest.mark.parametrize("headers", [{"X-Signbridge-Token": "guess"}, {}])
def test_bad_token_is_401_and_stores_nothing(stack: StackHarness, headers: dict[str, str]) -> None:
    response = post(stack, "demo-fxiaoke", raw("fxiaoke_contract.json"), {"Content-Type": "application/json",
                                                                         **headers})
    assert response.status_code == 401, response.body
    assert_stored_nothing(stack)


def test_a_source_that_signs_with_standard_webhooks(stack: StackHarness) -> None:
    from chalicelib.admin.sources import add_source

    info = add_source("fx-signed", stack.tenant_id, "fxiaoke",
                      options={"auth": "standard-webhooks", "our_party": OUR_PARTY_ZH})
    assert info.secret.startswith("whsec_")
    body = raw("fxiaoke_contract.json")
    stale = post(stack, "fx-signed", body, signed_headers(info.secret, body, "msg_fx_1", int(time.time()) - 400))
    forged = post(stack, "fx-signed", body, signed_headers("whsec_" + "A" * 32, body, "msg_fx_1"))
    token_only = post(stack, "fx-signed", body, {"Content-Type": "application/json",
                                                 "X-Signbridge-Token": info.secret})
    assert (stale.status_code, forged.status_code, token_only.status_code) == (401, 401, 401)
    assert_stored_nothing(stack)
    ok = post(stack, "fx-signed", body, signed_headers(info.secret, body, "msg_fx_1"))
    assert ok.status_code == 202, ok.body
    replay = post(stack, "fx-signed", body, signed_headers(info.secret, body, "msg_fx_1"))
    assert replay.status_code == 200 and replay.json_body["contract_id"] == ok.json_body["contract_id"]


def test_voided_in_fxiaoke_cancels(stack: StackHarness) -> None:
    created = post_fxiaoke(stack, raw("fxiaoke_contract.json"))
    body = load("fxiaoke_contract.json")
    body["eventId"] = "fx-evt-20261126-000190"
    body["event"] = "updated"
    body["data"]["life_status"] = "invalid"  # 作废
    response = post_fxiaoke(stack, dumps(body))
    assert response.status_code == 202, response.body
    assert response.json_body == {"contract_id": created.json_body["contract_id"], "status": "voided"}


def test_a_callback_with_only_the_object_id_is_accepted_for_enrichment(stack: StackHarness) -> None:
    body = {"objectApiName": "SaleContractObj", "id": "6745a1f2e4b0c91d2a3f8e71", "eventId": "fx-evt-id-only-1"}
    response = post_fxiaoke(stack, dumps(body))
    job = assert_enrichment_pending(stack, response, "demo-fxiaoke", "6745a1f2e4b0c91d2a3f8e71")
    assert (job["object_type"], job["delivery_key"]) == ("SaleContractObj", "fxiaoke:fx-evt-id-only-1")
