"""A DocuSign account per tenant (issue 12): a tenant may bring its own integration key, user and
account. Each envelope is created in its tenant's account, Connect messages from that account are
checked with its own HMAC keys and speak for that tenant only, and one tenant spending its account's
hourly budget does not slow the other (budgets are per account, as DocuSign's are: "API rate limits
are applied per account", DocuSign eSignature REST API > Resource limits).

Both tenants are set up as an operator would: `python -m chalicelib.admin docusign use --tenant ...`
with the keypair and Connect key of an account added to the sandbox (`POST /sandbox/accounts`)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from devstack.sandbox.connect import sign_body
from devstack.stack import generate_rsa_key, new_webhook_secret
from tests.reliability.batch import statuses
from tests.support.esign import signer, webhook_body
from tests.support.stack import StackHarness

OTHER_TENANT = "acme"
HOURLY = 3  # calls per window for every account
WINDOW_SECONDS = 8


def _own_account(stack: StackHarness, tenant_id: str, tmp_path: Path) -> dict[str, Any]:
    """A sandbox account of the tenant's own, configured for it through the admin command."""
    from chalicelib.admin.__main__ import main

    private_pem, public_pem = generate_rsa_key()
    integration_key = f"ik-{tenant_id}-{secrets.token_hex(4)}"
    connect_key = base64.b64encode(secrets.token_bytes(32)).decode()
    account = stack.sandbox("POST", "/sandbox/accounts", {
        "account_name": f"{tenant_id}'s account", "integration_key": integration_key, "public_key_pem": public_pem,
        "connect_keys": [connect_key]})
    key_file = tmp_path / f"{tenant_id}.pem"
    key_file.write_text(private_pem)
    assert main(["docusign", "use", "--tenant", tenant_id, "--integration-key", integration_key,
                 "--user-id", account["user_id"], "--private-key-file", str(key_file),
                 "--connect-key", connect_key]) == 0
    return {**account, "connect_key": connect_key}


def _other_tenant_source(stack: StackHarness) -> tuple[str, str]:
    """A generic source and an API key for a second tenant, as the local stack seeds the first."""
    from chalicelib.core.aws import client
    from chalicelib.store.registry import Source, put_api_key, put_source, put_tenant

    put_tenant(OTHER_TENANT, "Acme", {"time_zone": "Europe/Berlin"})
    put_api_key(OTHER_TENANT, "sbk_acme_" + secrets.token_urlsafe(16), "test")
    secret = new_webhook_secret()
    secret_id = f"signbridge/test/sources/acme-generic-{secrets.token_hex(3)}"
    client("secretsmanager").create_secret(Name=secret_id, SecretString=json.dumps({"secrets": [secret]}))
    source_id = secret_id.rsplit("/", 1)[1]
    put_source(Source(source_id=source_id, tenant_id=OTHER_TENANT, kind="generic", secret_id=secret_id))
    return source_id, secret


def _post(stack: StackHarness, count: int, prefix: str, source: tuple[str, str] | None = None) -> list[str]:
    ids = []
    for n in range(count):
        body = webhook_body("sales.en", crm_record_id=f"{prefix}-{n}", signers=[
            signer(f"Signer {n}", f"signer{n}@{prefix}.example", 1)])
        response = stack.post_webhook(body, webhook_id=f"msg_{prefix}_{n}",
                                      source_id=source[0] if source else None, secret=source[1] if source else None)
        assert response.status_code == 202, response.body
        ids.append(str(response.json_body["contract_id"]))
    return ids


def _contract_tenants(ids: list[str], tenant_id: str) -> dict[str, str]:
    return dict.fromkeys(ids, tenant_id)


def _status_of(tenant_of: dict[str, str]) -> dict[str, str]:
    from chalicelib.store import contracts as store

    return {cid: store.get_contract(tenant, cid).status for cid, tenant in tenant_of.items()}


def _envelope_accounts(stack: StackHarness) -> dict[str, tuple[str, str]]:
    """Contract id -> (tenantId field, the account DocuSign holds the envelope in)."""
    found = {}
    for envelope in stack.sandbox_envelopes():
        fields = {f["name"]: f["value"] for f in envelope["customFields"]["textCustomFields"]}
        found[fields["contractId"]] = (fields["tenantId"], envelope["accountId"])
    return found


def test_each_tenant_sends_from_its_own_account_and_one_spent_budget_does_not_slow_the_other(
        stack: StackHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNBRIDGE_DOCUSIGN_HOURLY_RESERVE", "0")  # one worker: nothing held back
    demo_account = _own_account(stack, stack.tenant_id, tmp_path)
    source = _other_tenant_source(stack)
    acme_account = _own_account(stack, OTHER_TENANT, tmp_path)
    # Every account gets HOURLY calls per window; the demo tenant is given three windows' worth.
    stack.sandbox("POST", "/sandbox/limits", {"hourly": HOURLY, "hour_seconds": WINDOW_SECONDS})

    busy = _post(stack, 3 * HOURLY, "busy")
    stack.drain_jobs(max_rounds=1000)  # spends the demo account's window; the rest wait for the reset
    quiet = _post(stack, HOURLY, "quiet", source)
    started = time.monotonic()
    stack.drain_jobs(max_rounds=1000)
    quiet_done = _status_of(_contract_tenants(quiet, OTHER_TENANT))
    quiet_seconds = time.monotonic() - started

    # Acme's contracts went out at once, while the demo tenant's still wait for their account's reset.
    assert set(quiet_done.values()) == {"sent"}, quiet_done
    assert quiet_seconds < WINDOW_SECONDS / 2
    waiting = [s for s in statuses(stack, busy).values() if s != "sent"]
    assert waiting, "the demo tenant's budget never ran out: the test did not test anything"

    deadline = time.monotonic() + 6 * WINDOW_SECONDS
    while set(statuses(stack, busy).values()) != {"sent"} and time.monotonic() < deadline:
        stack.drain_jobs(max_rounds=1000)
        time.sleep(0.2)
    assert set(statuses(stack, busy).values()) == {"sent"}
    # The demo tenant's sends waited for their account's reset; acme's never waited.
    sends = [json.loads(body) for body in stack.job_log if json.loads(body)["job"] == "send"]
    assert not [m for m in sends if m.get("tenant_id") == OTHER_TENANT and m.get("rate_limited")]
    assert [m for m in sends if m.get("tenant_id") == stack.tenant_id and m.get("rate_limited")]

    # Each envelope lives in its tenant's account, and nowhere else.
    where = _envelope_accounts(stack)
    for cid in busy:
        assert where[cid] == (stack.tenant_id, demo_account["account_id"])
    for cid in quiet:
        assert where[cid] == (OTHER_TENANT, acme_account["account_id"])
    usage = stack.sandbox("GET", "/sandbox/limits")["accounts"]
    assert usage[acme_account["account_id"]]["total"] == len(quiet)  # one create each
    assert usage[acme_account["account_id"]]["refused"] == 0

    # Connect: acme's account posts to acme's listener, signed with acme's key, and it is accepted.
    stack.settle_connect()
    acme_log = [e for e in stack.connect_log(event="envelope-sent") if "tenant=acme" in e.get("url", "")]
    assert len(acme_log) == len(quiet) and {e["http_status"] for e in acme_log} == {200}, acme_log


def test_a_tenant_listener_takes_its_own_account_key_and_its_own_envelopes_only(
        stack: StackHarness, tmp_path: Path) -> None:
    from chalicelib.jobs.connect_listener import connect_keys

    _other_tenant_source(stack)
    acme = _own_account(stack, OTHER_TENANT, tmp_path)
    message = {"event": "envelope-sent", "generatedDateTime": "2026-11-30T10:00:00.000Z", "data": {
        "envelopeId": "00000000-0000-0000-0000-000000000001", "envelopeSummary": {"status": "sent", "customFields": {
            "textCustomFields": [{"name": "contractId", "value": "ctr_x"}, {"name": "tenantId", "value": "demo"}]}}}}
    raw = json.dumps(message).encode()

    def post(tenant: str, key: str, body: bytes = raw) -> int:
        response = stack.client.http.post(f"/v1/esign/docusign/connect?tenant={tenant}", body=body, headers={
            "Content-Type": "application/json", "X-DocuSign-Signature-1": sign_body(key, body)})
        return int(response.status_code)

    # Acme's key, about the demo tenant's envelope: refused (its account never speaks for another tenant).
    assert post(OTHER_TENANT, acme["connect_key"]) == 401
    # The service's key on acme's listener: refused (acme's messages come signed by acme's account).
    assert post(OTHER_TENANT, connect_keys()[0]) == 401
    # A tenant id that is not one: no such listener.
    assert post("../etc", acme["connect_key"]) == 404
    # Acme's key about acme's (unknown) envelope: accepted and ignored, as any unknown envelope is.
    mine = raw.replace(b'"value": "demo"', b'"value": "acme"')
    assert post(OTHER_TENANT, acme["connect_key"], mine) == 200


def test_a_tenant_account_that_cannot_be_used_never_falls_back_to_the_service_account(
        stack: StackHarness) -> None:
    """Its secret broken: the send waits (retry, alarm) and is never sent from someone else's account."""
    from chalicelib.core.aws import client
    from chalicelib.esign.accounts import tenant_secret_id
    from chalicelib.store.registry import set_tenant_setting

    secret_id = tenant_secret_id(stack.tenant_id)
    client("secretsmanager").create_secret(Name=secret_id, SecretString=json.dumps({"user_id": "u"}))
    set_tenant_setting(stack.tenant_id, "docusign", {"secret_id": secret_id})
    [contract_id] = _post(stack, 1, "broken")
    stack.drain_jobs(max_rounds=3)
    assert stack.get_contract(contract_id)["status"] != "sent"
    assert stack.sandbox_envelopes(contract_id) == []


def test_docusign_check_for_a_tenant_walks_its_own_account(stack: StackHarness, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`docusign check --tenant`: every step on the tenant's account; a wrong user id in its secret is
    named as the secret's field, not as the service's DOCUSIGN_USER_ID."""
    from chalicelib.admin.__main__ import main as admin
    from chalicelib.core.aws import client, forget_secret
    from chalicelib.esign.accounts import tenant_secret_id

    account = _own_account(stack, stack.tenant_id, tmp_path)
    capsys.readouterr()
    assert admin(["docusign", "check", "--tenant", stack.tenant_id]) == 0
    out = capsys.readouterr().out
    assert f"account {account['account_id']}" in out and "all 6 steps ok" in out, out

    secret_id = tenant_secret_id(stack.tenant_id)
    value = json.loads(client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
    client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString=json.dumps(
        {**value, "user_id": "00000000-0000-0000-0000-00000000dead"}))
    forget_secret(secret_id)
    assert admin(["docusign", "check", "--tenant", stack.tenant_id]) == 1
    out = capsys.readouterr().out
    assert f"`user_id` in the secret {secret_id}" in out and "DOCUSIGN_USER_ID" not in out, out

    # A tenant without an account of its own: the check says so, and how to check the service's.
    assert admin(["docusign", "check", "--tenant", "nobody"]) == 1
    assert "has no DocuSign account of its own" in capsys.readouterr().out
