"""`admin tenants|templates|audit` against moto and the app: a tenant made, configured, keyed and
given a source through the CLI alone; invalid settings refused with their path and nothing stored;
a revoked key refused at once; every change in the audit log, secrets redacted."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.admin.__main__ import main
from tests.support.stack import StackHarness

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"
ROOT = Path(__file__).resolve().parents[2]


def admin(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--actor", "ops@acme.example", *argv])
    return code, out.getvalue()


def stored_settings(tenant_id: str) -> dict[str, Any]:
    from chalicelib.store.registry import find_tenant

    record = find_tenant(tenant_id)
    assert record is not None
    return record.tenant.settings


def audit_entries(tenant_id: str) -> list[dict[str, Any]]:
    code, out = admin("audit", "--tenant", tenant_id, "--json")
    assert code == 0, out
    return [json.loads(line) for line in out.splitlines()]


def sample(contract_type: str, crm_record_id: str, **changes: Any) -> dict[str, Any]:
    body = json.loads((SAMPLES / f"{contract_type}.json").read_text(encoding="utf-8"))
    body["contract"].update(crm_record_id=crm_record_id, number=f"N-{crm_record_id}", **changes)
    body["contract"].pop("callback_url", None)
    return body


def test_a_tenant_made_through_the_cli_holds_a_contract_by_its_rules(stack: StackHarness) -> None:
    code, out = admin("tenants", "add", "--id", "acme", "--name", "Acme Inc.", "time_zone=America/New_York",
                      "business_days=[\"mon\",\"tue\",\"wed\",\"thu\",\"fri\"]")
    assert code == 0, out
    code, out = admin("tenants", "set", "--id", "acme", "business_hours.start=08:30", "business_hours.end=17:00",
                      "approval.approvers=[\"legal@acme.example\"]", "approval.amount_over.CNY=100000.00")
    assert code == 0, out
    assert '  business_hours.start: (not set) -> "08:30"' in out
    assert '  approval.amount_over.CNY: (not set) -> "100000.00"' in out
    assert "effect: re-plans reminders of 0 contracts in force" in out
    assert stored_settings("acme")["approval"] == {"approvers": ["legal@acme.example"],
                                                   "amount_over": {"CNY": "100000.00"}}

    code, out = admin("tenants", "keys", "issue", "--tenant", "acme", "--label", "acme CRM", "--json")
    assert code == 0, out
    key = json.loads(out)["api_key"]
    code, out = admin("sources", "add", "--id", "acme-generic", "--tenant", "acme", "--kind", "generic", "--json")
    assert code == 0, out
    secret = json.loads(out)["secret"]

    # 128,000.00 CNY is over the 100,000.00 just set: the send job holds it for the approver.
    answer = stack.post_webhook(sample("sales", "acme-deal-1", amount="128000.00"), secret=secret,
                                source_id="acme-generic")
    assert answer.status_code == 202, answer.body
    contract_id = answer.json_body["contract_id"]
    stack.drain_jobs()
    view = stack.client.http.get(f"/v1/contracts/{contract_id}", headers={"Authorization": f"Bearer {key}"})
    assert view.status_code == 200, view.body
    assert view.json_body["status"] == "pending_approval"
    # The demo tenant's key does not see acme's contract.
    assert stack.client.http.get(f"/v1/contracts/{contract_id}", headers=stack.auth()).status_code == 404

    commands = [e["command"] for e in audit_entries("acme")]
    assert commands == ["tenants.add", "tenants.set", "tenants.keys.issue", "sources.add"]


def test_set_shows_the_diff_and_the_contracts_it_replans_and_dry_run_changes_nothing(stack: StackHarness) -> None:
    from chalicelib.core.aws import client, queue_url
    from chalicelib.core.config import settings
    from chalicelib.intake.events import signer_states
    from chalicelib.store import contracts as store
    from chalicelib.store.models import ContractRecord
    from chalicelib.store.reminders import contract_reminders

    assert admin("tenants", "add", "--id", "beta", "--name", "Beta")[0] == 0
    # Three contracts: two in force (active, expiring) and one not signed yet (received).
    ids = []
    for n, status in enumerate(("active", "expiring", "received")):
        document = sample("sales", f"beta-{n}")["contract"]
        document.pop("time_zone")  # the tenant's zone applies
        created = store.create_contract(tenant_id="beta", source_id="beta-src", delivery_id=f"d-{n}",
                                        document=document, signers=signer_states(document), callback_url=None)
        row = ContractRecord.get("beta", created.contract.contract_id)
        row.update(actions=[ContractRecord.status.set(status)])  # the state under test, set directly
        ids.append(created.contract.contract_id)
    sqs, url = client("sqs"), queue_url(settings().jobs_queue_name)
    sqs.purge_queue(QueueUrl=url)

    code, out = admin("tenants", "set", "--id", "beta", "time_zone=Europe/Berlin", "expiry_ladder_days=[60,14]",
                      "--dry-run")
    assert code == 0, out
    assert '  time_zone: (not set) -> "Europe/Berlin"' in out
    assert "  expiry_ladder_days: (not set) -> [60, 14]" in out
    assert "effect: re-plans reminders of 2 contracts in force" in out
    assert out.rstrip().endswith("dry run: nothing changed")
    assert stored_settings("beta") == {}
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
                                    )["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert [e["command"] for e in audit_entries("beta")] == ["tenants.add"]

    code, out = admin("tenants", "set", "--id", "beta", "time_zone=Europe/Berlin", "expiry_ladder_days=[60,14]")
    assert code == 0, out
    assert "effect: re-plans reminders of 2 contracts in force" in out
    assert stored_settings("beta") == {"time_zone": "Europe/Berlin", "expiry_ladder_days": [60, 14]}
    jobs = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        jobs += [json.loads(m["Body"]) for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(j["contract_id"] for j in jobs) == sorted(ids[:2]) and {j["job"] for j in jobs} == {"replan"}

    # The job plans with the new settings: expiry notices 60 and 14 days before the end date, in Berlin.
    from chalicelib.jobs.replan import run

    assert run(jobs[0]).startswith("re-planned")
    expiry = [r for r in contract_reminders(f"beta#{jobs[0]['contract_id']}") if r.kind == "expiry"]
    assert expiry and {r.detail["time_zone"] for r in expiry} == {"Europe/Berlin"}
    assert sorted(r.detail["offset_days"] for r in expiry) == [-60, -14]  # days relative to the end date

    entry = audit_entries("beta")[-1]
    assert entry["command"] == "tenants.set" and entry["actor"] == "ops@acme.example"
    assert entry["before"] == {} and entry["after"] == {"time_zone": "Europe/Berlin",
                                                         "expiry_ladder_days": [60, 14]}
    assert entry["detail"] == {"replans": 2}

    code, out = admin("tenants", "unset", "--id", "beta", "expiry_ladder_days")
    assert code == 0 and "  expiry_ladder_days: [60, 14] -> (not set)" in out, out
    assert stored_settings("beta") == {"time_zone": "Europe/Berlin"}


@pytest.mark.parametrize(("assignment", "path", "reason"), [
    ("business_hours.start=25:00", "business_hours.start", "should match pattern"),
    ("business_hours.end=07:00", "business_hours.end", "must be after start (09:00)"),
    ("payment.overdue_ladder_days=[1,0]", "payment.overdue_ladder_days[1]", "greater than or equal to 1"),
    ("time_zone=Mars/Olympus", "time_zone", "unknown time zone"),
    ("approval.always=true", "approval.approvers", "nobody is named to approve"),
    ("holidays=[\"2027-02-30\"]", "holidays[0]", "day is out of range"),
    ("reminder_ccc=[\"a@b.example\"]", "reminder_ccc", "not a setting"),
    ("signing.expire_warn_days=40", "signing.expire_warn_days", "less than expire_after_days (30)"),
])
def test_an_invalid_setting_is_refused_with_its_path_and_nothing_is_stored(
        stack: StackHarness, assignment: str, path: str, reason: str) -> None:
    assert admin("tenants", "add", "--id", "gamma", "--name", "Gamma", "time_zone=Asia/Shanghai")[0] == 0
    code, out = admin("tenants", "set", "--id", "gamma", assignment)
    assert code == 2
    assert "invalid settings, nothing stored" in out
    line = next(line for line in out.splitlines() if line.startswith(f"  {path}: "))
    assert reason in line, out
    assert stored_settings("gamma") == {"time_zone": "Asia/Shanghai"}
    assert [e["command"] for e in audit_entries("gamma")] == ["tenants.add"]
    # The same setting refused at creation: no tenant at all.
    code, out = admin("tenants", "add", "--id", "delta", "--name", "Delta", assignment)
    assert code == 2 and path in out
    from chalicelib.store.registry import find_tenant

    assert find_tenant("delta") is None


def test_a_revoked_key_is_refused_at_once_and_the_audit_log_shows_it(stack: StackHarness) -> None:
    assert admin("tenants", "add", "--id", "keyed", "--name", "Keyed")[0] == 0
    code, out = admin("tenants", "keys", "issue", "--tenant", "keyed", "--label", "reporting", "--json")
    assert code == 0, out
    issued = json.loads(out)
    key, key_id = issued["api_key"], issued["key_id"]
    headers = {"Authorization": f"Bearer {key}"}
    assert stack.client.http.get("/v1/contracts", headers=headers).status_code == 200

    code, out = admin("tenants", "keys", "list", "--tenant", "keyed")
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(k["key_id"], k["label"]) for k in listed] == [(key_id, "reporting")]
    assert listed[0]["last_used_at"] is not None and key not in out

    code, out = admin("tenants", "keys", "revoke", "--tenant", "keyed", "--key-id", key_id)
    assert code == 0, out
    refused = stack.client.http.get("/v1/contracts", headers=headers)
    assert refused.status_code == 401, refused.body
    # Revoking again: no such key.
    assert admin("tenants", "keys", "revoke", "--tenant", "keyed", "--key-id", key_id)[0] == 2

    entries = audit_entries("keyed")
    assert [e["command"] for e in entries] == ["tenants.add", "tenants.keys.issue", "tenants.keys.revoke"]
    assert entries[1]["after"] == {"key_id": key_id, "label": "reporting"}
    assert entries[2]["before"] == {"key_id": key_id, "label": "reporting"} and entries[2]["after"] is None
    assert all(e["actor"] == "ops@acme.example" for e in entries)
    assert key not in json.dumps(entries)


def test_a_rotated_key_works_and_the_old_one_is_refused(stack: StackHarness) -> None:
    assert admin("tenants", "add", "--id", "rot", "--name", "Rot")[0] == 0
    old = json.loads(admin("tenants", "keys", "issue", "--tenant", "rot", "--label", "crm", "--json")[1])
    code, out = admin("tenants", "keys", "rotate", "--tenant", "rot", "--key-id", old["key_id"], "--json")
    assert code == 0, out
    new = json.loads(out)
    assert new["label"] == "crm" and new["key_id"] != old["key_id"]
    assert stack.client.http.get("/v1/contracts", headers={"Authorization": f"Bearer {new['api_key']}"}
                                 ).status_code == 200
    assert stack.client.http.get("/v1/contracts", headers={"Authorization": f"Bearer {old['api_key']}"}
                                 ).status_code == 401


def test_a_key_used_while_it_is_revoked_does_not_come_back(stack: StackHarness) -> None:
    """The last-used note is conditional on the key still being there: a request that read the key
    just before the revocation cannot write it back."""
    from chalicelib.store import registry
    from chalicelib.store.models import RegistryRecord

    assert admin("tenants", "add", "--id", "race", "--name", "Race")[0] == 0
    issued = json.loads(admin("tenants", "keys", "issue", "--tenant", "race", "--label", "x", "--json")[1])
    item = RegistryRecord.get(f"apikey#{registry.hash_api_key(issued['api_key'])}", consistent_read=True)
    assert admin("tenants", "keys", "revoke", "--tenant", "race", "--key-id", issued["key_id"])[0] == 0
    registry._note_use(item, registry.now_utc())  # the request's write lands after the revocation
    assert registry.tenant_for_api_key(issued["api_key"]) is None
    assert list(registry.iter_api_keys("race")) == []


def test_sources_add_refuses_a_tenant_that_does_not_exist(stack: StackHarness) -> None:
    code, out = admin("sources", "add", "--id", "ghost-generic", "--tenant", "ghost", "--kind", "generic")
    assert code == 2 and "no tenant 'ghost'" in out
    from chalicelib.store.registry import get_source

    assert get_source("ghost-generic") is None


def test_secrets_are_redacted_in_the_audit_log(stack: StackHarness) -> None:
    assert admin("tenants", "add", "--id", "redact", "--name", "Redact")[0] == 0
    code, out = admin("sources", "add", "--id", "redact-zoho", "--tenant", "redact", "--kind", "zoho", "--json")
    assert code == 0, out
    secret = json.loads(out)["secret"]
    code, out = admin("sources", "set-api", "--id", "redact-zoho", "--json",
                      json.dumps({"client_id": "1000.ABC", "client_secret": "zoho-client-secret-value-1234",
                                  "refresh_token": "1000.refresh-token-value-5678"}))
    assert code == 0, out
    text = json.dumps(audit_entries("redact"))
    for value in (secret, "zoho-client-secret-value-1234", "1000.refresh-token-value-5678"):
        assert value not in text

    from chalicelib.admin.audit import REDACTED, redact

    assert redact({"private_key": "-----BEGIN RSA " + "PRIVATE KEY-----", "secret_id": "signbridge/x",
                   "api_key": "sbk_abc", "nested": [{"value": "whsec_xyz"}], "label": "crm"}) == {
        "private_key": REDACTED, "secret_id": "signbridge/x", "api_key": REDACTED,
        "nested": [{"value": REDACTED}], "label": "crm"}




def test_templates_put_refuses_a_template_that_leaves_out_required_clauses(stack: StackHarness,
                                                                          tmp_path: Path) -> None:
    from chalicelib.store.templates import RegistryTemplateOverrides, clear_cache

    assert admin("tenants", "add", "--id", "tpl", "--name", "Tpl")[0] == 0
    name = "contracts/sales.zh-CN.html.j2"
    broken = tmp_path / "broken.html.j2"
    ours = (ROOT / "templates" / name).read_text(encoding="utf-8")
    payment = '{{ payment_clause("付款方式及期限", with_amount=false) }}\n'
    assert payment in ours
    broken.write_text(ours.replace(payment, ""), encoding="utf-8")  # no payment clause
    code, out = admin("templates", "put", "--tenant", "tpl", "--name", name, "--file", str(broken))
    assert code == 2, out
    assert "refused, nothing stored" in out and "required clause payment.method is left out" in out
    clear_cache()
    assert RegistryTemplateOverrides().get("tpl", name) is None

    # Our own template with a line added passes and is stored; the audit log has its digest.
    good = tmp_path / "good.html.j2"
    good.write_text(ours.replace("{% block clauses %}", "{% block clauses %}\n<p>Acme</p>"), encoding="utf-8")
    code, out = admin("templates", "put", "--tenant", "tpl", "--name", name, "--file", str(good))
    assert code == 0, out
    clear_cache()
    assert RegistryTemplateOverrides().get("tpl", name) == good.read_text(encoding="utf-8")
    assert [e["command"] for e in audit_entries("tpl")][-1] == "templates.put"

    # An endless loop is stopped by the render bounds and refused.
    endless = tmp_path / "endless.html.j2"
    endless.write_text("{% for i in range(10**9) %}x{% endfor %}", encoding="utf-8")
    code, out = admin("templates", "put", "--tenant", "tpl", "--name", name, "--file", str(endless))
    assert code == 2 and "cannot be rendered" in out, out

    html, pdf = tmp_path / "preview.html", tmp_path / "preview.pdf"
    code, out = admin("templates", "preview", "--tenant", "tpl", "--type", "sales", "--locale", "zh-CN",
                      "--out", str(html), "--pdf", str(pdf))
    assert code == 0, out
    assert pdf.read_bytes().startswith(b"%PDF")  # the sandbox's printer
    assert "tenant:tpl/sales.zh-CN@" in out and "/sn1/" in html.read_text(encoding="utf-8")
    assert admin("templates", "remove", "--tenant", "tpl", "--name", name)[0] == 0


def test_two_operators_setting_at_once_never_lose_a_change(stack: StackHarness,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Operator A reads the tenant; operator B's `set` commits; A's write, conditional on what it read,
    is refused (run again), and B's change stands."""
    from chalicelib.admin import tenants

    assert admin("tenants", "add", "--id", "both", "--name", "Both")[0] == 0
    read = tenants.find_tenant
    rival_ran = []

    def read_then_rival(tenant_id: str) -> Any:
        record = read(tenant_id)
        if not rival_ran:
            rival_ran.append(True)
            assert admin("tenants", "set", "--id", "both", "time_zone=Asia/Tokyo")[0] == 0  # operator B
        return record

    monkeypatch.setattr(tenants, "find_tenant", read_then_rival)
    code, out = admin("tenants", "set", "--id", "both", "reminder_cc=[\"a@both.example\"]")  # operator A
    assert code == 2 and "changed meanwhile; run the command again" in out, out
    assert stored_settings("both") == {"time_zone": "Asia/Tokyo"}
    monkeypatch.setattr(tenants, "find_tenant", read)
    assert admin("tenants", "set", "--id", "both", "reminder_cc=[\"a@both.example\"]")[0] == 0  # A again
    assert stored_settings("both") == {"time_zone": "Asia/Tokyo", "reminder_cc": ["a@both.example"]}
    assert [e["command"] for e in audit_entries("both")] == ["tenants.add", "tenants.set", "tenants.set"]


def test_list_show_and_the_audit_window(stack: StackHarness) -> None:
    assert admin("tenants", "add", "--id", "shown", "--name", "Shown Ltd.", "business_hours.start=08:00")[0] == 0
    code, out = admin("tenants", "list")
    listed = {item["tenant_id"]: item for item in map(json.loads, out.splitlines())}
    assert listed["shown"] == {"tenant_id": "shown", "name": "Shown Ltd.", "registered": True,
                               "settings": ["business_hours"], "sources": 0, "api_keys": 0}
    assert listed["demo"]["sources"] >= 1 and listed["demo"]["api_keys"] == 1
    code, out = admin("tenants", "show", "--id", "shown", "--effective")
    shown = json.loads(out)
    assert shown["settings"] == {"business_hours": {"start": "08:00"}}
    # Every setting in force: what was set, and the documented defaults for the rest.
    assert shown["effective"]["business_hours"] == {"start": "08:00", "end": "18:00"}
    assert shown["effective"]["time_zone"] == "Asia/Shanghai"
    assert shown["effective"]["signing"]["expire_after_days"] == 30
    assert admin("tenants", "show", "--id", "nobody")[0] == 2

    code, out = admin("audit", "--tenant", "shown", "--since", "2999-01-01")
    assert code == 0 and out.strip() == "0 entries"
    code, out = admin("audit", "--hours", "1")
    assert "tenants.add" in out and "ops@acme.example" in out
