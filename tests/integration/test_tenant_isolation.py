"""Tenants can't collide. An adversarial review found that keys built as `crm#{tenant}#{record}`
without escaping let a source of tenant `demo#x` cancel tenant `demo`'s contract for record
`x#victim` (envelope included). Now tenant ids, source ids, CRM record ids and milestone ids keep to
documented character sets without the separator, and every lookup checks the tenant it found."""

from __future__ import annotations

import json

import pytest

from chalicelib.admin.sources import AdminError, add_source
from chalicelib.store import contracts as store
from chalicelib.store.registry import put_tenant
from tests.support.esign import signer, webhook_body
from tests.support.stack import StackHarness


@pytest.mark.parametrize("tenant_id", ["demo#x", "Demo", "d", "a b", "x" * 65, "", "演示"])
def test_a_tenant_id_that_could_forge_a_key_is_refused(stack: StackHarness, tenant_id: str) -> None:
    with pytest.raises(ValueError, match="tenant id"):
        put_tenant(tenant_id, "Evil")
    with pytest.raises(AdminError, match="tenant id"):
        add_source("evil-source", tenant_id, "generic")


def test_a_record_id_with_the_separator_is_refused_at_intake(stack: StackHarness) -> None:
    answer = stack.post_webhook(webhook_body("sales.en", crm_record_id="x#victim"))
    assert answer.status_code == 422
    assert any(d["path"] == "contract.crm_record_id" for d in answer.json_body["error"]["details"])


def test_another_tenants_source_cannot_cancel_a_contract(stack: StackHarness) -> None:
    from devstack.webhook import signed_headers

    created = stack.post_webhook(webhook_body("sales.en", crm_record_id="victim", signers=[
        signer("Rachel Tan", "rachel.tan@harbourline.example", 1)]))
    assert created.status_code == 202
    contract_id = created.json_body["contract_id"]
    put_tenant("other", "Other Co.")
    info = add_source("other-generic", "other", "generic")
    raw = json.dumps({"event": "contract.cancelled", "contract": {"crm_record_id": "victim"}}).encode()
    answer = stack.client.http.post("/v1/webhooks/other-generic", body=raw, headers=signed_headers(info.secret, raw))
    # The other tenant has no such record: acknowledged and ignored, nothing of tenant demo touched.
    assert answer.status_code == 200 and answer.json_body["status"] == "ignored", answer.body
    assert stack.get_contract(contract_id)["status"] != "voided"


def test_a_claim_found_under_another_tenant_is_not_followed(stack: StackHarness) -> None:
    """Defence in depth: were a claim ever to point across tenants, the lookup would not follow it."""
    from chalicelib.store.models import KeyRecord

    created = stack.post_webhook(webhook_body("sales.en", crm_record_id="owned"))
    contract_id = created.json_body["contract_id"]
    KeyRecord(key="crm#other#owned", tenant_id="demo", contract_id=contract_id,
              created_at=store.now_utc()).save()
    assert store.find_by_crm_record("other", "owned") is None
    assert store.find_by_crm_record("demo", "owned").contract_id == contract_id
    KeyRecord(key="delivery#other-generic#d-1", tenant_id="demo", contract_id=contract_id,
              created_at=store.now_utc()).save()
    assert store.find_by_delivery("other-generic", "d-1", "other") is None
