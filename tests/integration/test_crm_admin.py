"""The admin CLI against the (moto) AWS the environment points at: add a source and post to it with
the printed secret, list and show sources, rotate a secret with an overlap window."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.admin.__main__ import main
from devstack.crm_samples import OUR_PARTY_ZH, raw, token_headers
from tests.integration.test_crm_helpers import post
from tests.support.stack import StackHarness


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()  # drop what the app printed before (its EMF metric lines): only the CLI's output counts
    code = main(["sources", *argv])
    return code, capsys.readouterr().out


def add_zoho(capsys: pytest.CaptureFixture[str], source_id: str = "acme-zoho") -> dict:
    code, out = run(capsys, "add", "--id", source_id, "--tenant", "demo", "--kind", "zoho",
                    "--options-json", json.dumps({"our_party": OUR_PARTY_ZH}), "--base-url", "https://api.yunti.example",
                    "--json")
    assert code == 0, out
    return json.loads(out)


def test_add_prints_url_and_secret_that_work(stack: StackHarness, capsys: pytest.CaptureFixture[str]) -> None:
    info = add_zoho(capsys)
    assert info["webhook_url"] == "https://api.yunti.example/v1/webhooks/acme-zoho"
    assert info["setup"] == {"header X-Signbridge-Token": info["secret"]}
    response = post(stack, "acme-zoho", raw("zoho_deal.json"), token_headers(info["secret"]))
    assert response.status_code == 202, response.body

    code, out = run(capsys, "add", "--id", "acme-zoho", "--tenant", "demo", "--kind", "zoho")
    assert code == 2 and "exists" in out


def test_add_prints_readable_text_for_salesforce(stack: StackHarness, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "add", "--id", "acme-sf", "--tenant", "demo", "--kind", "salesforce",
                    "--option", "organization_id=00D5g000004XyZ1EAK", "--base-url", "https://api.yunti.example")
    assert code == 0, out
    assert "webhook URL: https://api.yunti.example/v1/webhooks/acme-sf?token=" in out
    assert "organization id checked: 00D5g000004XyZ1EAK" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--kind", "hubspot"], "client secret"),
    (["--kind", "salesforce"], "organization_id"),
    (["--kind", "fxiaoke", "--option", "auth=md5"], "auth must be"),
    (["--kind", "zoho", "--option", "novalue"], "KEY=VALUE"),
])
def test_add_refuses_what_would_fail_later(stack: StackHarness, capsys: pytest.CaptureFixture[str],
                                           argv: list[str], message: str) -> None:
    code, out = run(capsys, "add", "--id", "bad-source", "--tenant", "demo", *argv)
    assert code == 2 and message in out


def test_add_validates_a_mapping_file(stack: StackHarness, capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"fields": {"contract.number": "Deal_No[["}}))
    code, out = run(capsys, "add", "--id", "mapped", "--tenant", "demo", "--kind", "zoho", "--mapping-file", str(bad))
    assert code == 2 and "mapping is invalid" in out
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"fields": {"contract.number": "Deal_No"}}))
    code, out = run(capsys, "add", "--id", "mapped", "--tenant", "demo", "--kind", "zoho", "--mapping-file",
                    str(good), "--option", 'our_party={"name": "x"}')
    assert code == 0, out


def test_list_and_show(stack: StackHarness, capsys: pytest.CaptureFixture[str]) -> None:
    add_zoho(capsys)
    code, out = run(capsys, "list", "--tenant", "demo")
    assert code == 0
    listed = [json.loads(line) for line in out.splitlines()]
    assert {s["source_id"]: s["kind"] for s in listed} == {
        "acme-zoho": "zoho", "demo-fxiaoke": "fxiaoke", "demo-generic": "generic", "demo-hubspot": "hubspot",
        "demo-pipedrive": "pipedrive", "demo-salesforce": "salesforce", "demo-zoho": "zoho"}
    assert all("secret" not in json.dumps(s) for s in listed)
    code, out = run(capsys, "show", "--id", "demo-salesforce")
    shown = json.loads(out)
    assert shown["kind"] == "salesforce" and shown["secrets"] == [{"expires_at": None, "active": True}]
    assert shown["webhook_url"].endswith("/v1/webhooks/demo-salesforce?token=%3Ctoken%3E")
    code, out = run(capsys, "show", "--id", "demo-salesforce", "--reveal")
    assert json.loads(out)["secrets"][0]["value"] == stack.sources["demo-salesforce"]["token"]
    code, out = run(capsys, "show", "--id", "nope")
    assert code == 2 and "no source" in out


def test_rotation_keeps_the_old_secret_during_the_overlap_only(stack: StackHarness,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    old = add_zoho(capsys)["secret"]
    code, out = run(capsys, "rotate", "--id", "acme-zoho", "--json")
    assert code == 0, out
    new = json.loads(out)["secret"]
    assert new != old
    body = raw("zoho_deal.json")
    assert post(stack, "acme-zoho", body, token_headers(old)).status_code == 202
    assert post(stack, "acme-zoho", body, token_headers(new)).status_code == 200  # a repeat, accepted
    code, out = run(capsys, "show", "--id", "acme-zoho")
    secrets = json.loads(out)["secrets"]
    assert [s["active"] for s in secrets] == [True, True]
    assert secrets[0]["expires_at"] and secrets[1]["expires_at"] is None

    # A second rotation with no overlap: only the newest works from now on.
    code, out = run(capsys, "rotate", "--id", "acme-zoho", "--overlap-hours", "0", "--json")
    newest = json.loads(out)["secret"]
    for stale in (old, new):
        response = post(stack, "acme-zoho", body, token_headers(stale))
        assert response.status_code == 401, response.body
    assert post(stack, "acme-zoho", body, token_headers(newest)).status_code == 200
    code, out = run(capsys, "show", "--id", "acme-zoho")
    assert [s["active"] for s in json.loads(out)["secrets"]] == [False, False, True]


def test_rotating_a_hubspot_secret_needs_the_new_client_secret(stack: StackHarness,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "rotate", "--id", "demo-hubspot")
    assert code == 2 and "client secret" in out
    code, out = run(capsys, "rotate", "--id", "demo-hubspot", "--secret", "new-client-secret", "--json")
    assert code == 0 and json.loads(out)["secret"] == "new-client-secret"
