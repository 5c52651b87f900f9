"""SES feedback end to end, against moto's SES v2 and the documented event records: every email
goes out through the stage's configuration set with tags saying whose it is; a permanent bounce or a
complaint, arriving as an SNS notification, suppresses the address for that tenant, puts an event
on the contract's timeline and sends its CRM the signed callback `contract.email_suppressed`; the
mailer then leaves the address out (a reminder with no one left is done: `skipped`); an operator can
list and lift suppressions. Hostile notifications are dropped, never a crash.

The record format is "Contents of event data that Amazon SES publishes to Amazon SNS"
(https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html); the
records themselves are that guide's examples (tests/fixtures/ses, see its README)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.core.config import reset_settings
from devstack.lambda_runtime import FakeLambdaContext
from tests.integration.test_approval import sales_body, set_rules
from tests.integration.test_reminders_support import (
    ANNA,
    OWNER,
    active_contract,
    emails_since,
    fire,
    sales_2030,
    stored,
)
from tests.support.ses import record, sns_event
from tests.support.stack import StackHarness

CONFIGURATION_SET = "signbridge-local-feedback"
BEFORE_PAY_1, PAY_1_DUE, PAY_1_OVERDUE = "2030-01-08T01:00", "2030-01-15T01:00", "2030-01-16T01:00"


class SentThroughSes:
    """The parameters of each SendEmail call, as botocore hands them to SES (moto answers)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        self.calls.append(params)


@pytest.fixture
def ses(stack: StackHarness, monkeypatch: pytest.MonkeyPatch) -> Iterator[SentThroughSes]:
    from chalicelib.core.aws import client

    monkeypatch.setenv("SIGNBRIDGE_SES_CONFIGURATION_SET", CONFIGURATION_SET)
    reset_settings()
    sesv2 = client("sesv2")
    sesv2.create_configuration_set(ConfigurationSetName=CONFIGURATION_SET)
    seen = SentThroughSes()
    sesv2.meta.events.register("provide-client-params.sesv2.SendEmail", seen)
    yield seen
    sesv2.meta.events.unregister("provide-client-params.sesv2.SendEmail", seen)
    monkeypatch.delenv("SIGNBRIDGE_SES_CONFIGURATION_SET")
    reset_settings()


def tags_of(call: dict[str, Any]) -> dict[str, str]:
    return {t["Name"]: t["Value"] for t in call.get("EmailTags", [])}


def deliver(stack: StackHarness, message: Any, **options: Any) -> dict[str, int]:
    """SNS invoking the app's `ses_feedback` function with one notification."""
    result: dict[str, int] = stack.app.ses_feedback(sns_event(message, **options), FakeLambdaContext("ses_feedback"))
    return result


def metric_names(out: str) -> list[str]:
    return [m["Name"] for line in out.splitlines() if line.startswith('{"_aws"')
            for m in json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]]


def admin(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    from chalicelib.admin.__main__ import main

    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().out.splitlines()


def test_every_email_goes_through_the_configuration_set_with_our_tags(stack: StackHarness,
                                                                      ses: SentThroughSes) -> None:
    contract = active_contract(stack, sales_2030())
    assert fire(stack, BEFORE_PAY_1)["sent"] == 1
    (call,) = ses.calls
    assert call["ConfigurationSetName"] == CONFIGURATION_SET
    assert tags_of(call) == {"tenant_id": stack.tenant_id, "contract_id": contract.contract_id,
                             "email_kind": "reminder"}


def test_a_permanent_bounce_suppresses_the_address_and_the_owner_hears_of_it(
        stack: StackHarness, crm: tuple[str, Any], ses: SentThroughSes, capsys: pytest.CaptureFixture[str]) -> None:
    _hook, receiver = crm
    contract = active_contract(stack, sales_2030())
    cid = contract.contract_id
    assert fire(stack, BEFORE_PAY_1)["sent"] == 1
    stack.drain_jobs()
    receiver.callbacks.clear()

    # SES reports the reminder bounced for good: the documented record, about our email.
    bounce = record("bounce", to=OWNER.upper(), tags=tags_of(ses.calls[0]))
    assert deliver(stack, bounce) == {"suppressed": 1, "ignored": 0, "dropped": 0}
    events = [e for e in stack.timeline(cid) if e["type"] == "email_bounced"]
    assert len(events) == 1
    assert events[0]["detail"]["email"] == OWNER
    assert events[0]["detail"]["email_kind"] == "reminder"
    assert events[0]["detail"]["reason"] == "permanent bounce (General, 5.1.1)"
    stack.drain_jobs()
    (callback,) = receiver.callbacks
    assert callback["verified"] is True and callback["type"] == "contract.email_suppressed"
    data = callback["payload"]["data"]
    assert {k: data[k] for k in ("contract_id", "event", "email", "email_kind", "status")} == {
        "contract_id": cid, "event": "email_bounced", "email": OWNER, "email_kind": "reminder", "status": "active"}

    # SNS delivers at least once: the same report again changes nothing.
    assert deliver(stack, bounce)["suppressed"] == 0
    stack.drain_jobs()
    assert [e["type"] for e in stack.timeline(cid)].count("email_bounced") == 1
    assert len(receiver.callbacks) == 1

    # The next reminder to that address is not sent, and not tried again: it is done, as skipped.
    before = len(stack.sent_emails())
    capsys.readouterr()
    result = fire(stack, PAY_1_DUE)
    assert (result["sent"], result["suppressed"], result["failed"]) == (0, 1, 0)
    assert emails_since(stack, before) == []
    assert "EmailsSuppressed" in metric_names(capsys.readouterr().out)
    item = stored(cid)[f"{cid}:payment:pay-1:2030-01-15:due"]
    assert item.state == "skipped" and item.pending_shard is None
    assert "reminder_suppressed" in stack.timeline_types(cid)

    # The operator sees it, and lifts it: the address gets the next reminder.
    code, lines = admin("emails", "suppressed", "--tenant", stack.tenant_id, capsys=capsys)
    listed = [json.loads(line) for line in lines if line.startswith("{")]
    assert code == 0 and [(s["email"], s["reason"], s["contract_id"]) for s in listed] == [(OWNER, "bounce", cid)]
    assert listed[0]["bounce_type"] == "Permanent" and listed[0]["status"] == "5.1.1"
    code, _ = admin("emails", "unsuppress", "--tenant", stack.tenant_id, "--email", OWNER, capsys=capsys)
    assert code == 0
    assert admin("emails", "unsuppress", "--tenant", stack.tenant_id, "--email", OWNER, capsys=capsys)[0] == 1
    assert fire(stack, PAY_1_OVERDUE)["sent"] == 1
    assert [e.to for e in emails_since(stack, before)] == [[OWNER]]


@pytest.mark.parametrize(("name", "changes", "suppressed"), [
    ("complaint", {}, "complaint"),  # the documented complaint: abuse
    ("complaint", {"complaintFeedbackType": "not-spam"}, None),
    ("bounce", {"bounceType": "Transient", "bounceSubType": "MailboxFull"}, None),  # SES retries those itself
])
def test_what_suppresses_an_address(stack: StackHarness, name: str, changes: dict[str, Any],
                                    suppressed: str | None) -> None:
    from chalicelib.store import suppressions

    contract = active_contract(stack, sales_2030())
    tags = {"tenant_id": stack.tenant_id, "contract_id": contract.contract_id, "email_kind": "reminder"}
    deliver(stack, record(name, to=OWNER, tags=tags, **changes))
    found = suppressions.find(stack.tenant_id, OWNER)
    assert (found.reason if found else None) == suppressed
    timeline = stack.timeline_types(contract.contract_id)
    assert ("email_complained" in timeline) is (suppressed == "complaint")
    assert "email_bounced" not in timeline


def test_only_the_suppressed_recipient_is_left_out(stack: StackHarness, ses: SentThroughSes,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.notify import mailer
    from chalicelib.store import suppressions
    from chalicelib.store.contracts import now_utc

    suppressions.suppress(stack.tenant_id, ANNA, "complaint", at=now_utc())
    before = len(stack.sent_emails())
    capsys.readouterr()
    mailer.send(mailer.Email(to=[OWNER], cc=[ANNA.title()], subject="s", text="t", kind="reminder",
                             tenant_id=stack.tenant_id, contract_id="ctr_00"))
    (sent,) = emails_since(stack, before)
    assert (sent.to, sent.cc) == ([OWNER], [])
    assert ses.calls[-1]["Destination"] == {"ToAddresses": [OWNER], "CcAddresses": []}
    assert metric_names(capsys.readouterr().out) == ["EmailsSuppressed"]
    # Another tenant's emails to that address are not affected: suppressions are per tenant.
    mailer.send(mailer.Email(to=[ANNA], subject="s", text="t", tenant_id="other-tenant"))
    assert emails_since(stack, before)[-1].to == [ANNA]


def test_an_approver_whose_address_bounced_is_not_asked_again(stack: StackHarness) -> None:
    from chalicelib.store import suppressions
    from chalicelib.store.contracts import now_utc

    approver = "legal@yunti.example"
    set_rules(stack, {"approvers": [approver], "amount_over": {"CNY": "100000.00"}, "always": False})
    suppressions.suppress(stack.tenant_id, approver, "bounce", at=now_utc())
    before = len(stack.sent_emails())
    accepted = stack.post_webhook(sales_body("deal-approval-bounced"))
    stack.drain_jobs()
    contract = stack.get_contract(accepted.json_body["contract_id"])
    assert contract["status"] == "pending_approval"
    assert emails_since(stack, before) == []
    event = [e for e in contract["timeline"] if e["type"] == "approval_request_suppressed"][0]
    assert event["detail"]["suppressed"] == [approver]


HOSTILE = [
    "not json at all",
    json.dumps({"eventType": "Bounce", "bounce": {"bounceType": "Permanent", "bouncedRecipients": "everyone"},
                "mail": {"tags": {"tenant_id": ["demo"]}}}),
    json.dumps(record("bounce", to="wang.min@yunti.example\r\nBcc: all@yunti.example", tags={"tenant_id": "demo"})),
    json.dumps(record("complaint", to=OWNER, tags={"tenant_id": "demo#x", "contract_id": "ctr_00"})),
    "[" * 100_000,
]


@pytest.mark.parametrize("message", HOSTILE, ids=["not json", "wrong shapes", "header injection",
                                                  "a tenant id that is a key", "deep nesting"])
def test_a_hostile_notification_is_dropped_and_nothing_is_suppressed(
        stack: StackHarness, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.store import suppressions

    capsys.readouterr()
    assert deliver(stack, message) == {"suppressed": 0, "ignored": 0, "dropped": 1}
    assert metric_names(capsys.readouterr().out) == ["SesFeedbackMalformed"]
    assert suppressions.list_for_tenant(stack.tenant_id) == []


def test_a_report_naming_another_tenants_contract_touches_neither_tenant(stack: StackHarness) -> None:
    # Tags are ours, but a message could carry any: the contract is looked up under the report's own
    # tenant only, and the suppression is that tenant's.
    from chalicelib.store import suppressions

    contract = active_contract(stack, sales_2030())
    deliver(stack, record("bounce", to=OWNER, tags={"tenant_id": "other-tenant", "contract_id": contract.contract_id}))
    assert suppressions.find(stack.tenant_id, OWNER) is None
    assert suppressions.find("other-tenant", OWNER) is not None
    assert "email_bounced" not in stack.timeline_types(contract.contract_id)


def test_a_notification_from_another_stages_topic_is_dropped(stack: StackHarness) -> None:
    from chalicelib.store import suppressions

    contract = active_contract(stack, sales_2030())
    tags = {"tenant_id": stack.tenant_id, "contract_id": contract.contract_id}
    assert deliver(stack, record("bounce", to=OWNER, tags=tags), topic="signbridge-prod-ses-feedback")["dropped"] == 1
    assert suppressions.find(stack.tenant_id, OWNER) is None
