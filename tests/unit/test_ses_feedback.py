"""Reading SES's bounce and complaint records (the format: "Contents of event data that Amazon SES
publishes to Amazon SNS", https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html;
the samples: the examples page, tests/fixtures/ses/README.md), and hostile SNS messages, which are
logged and dropped with a metric: nothing here reaches the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.notify.ses_feedback import MalformedFeedback, handle_sns_event, parse
from tests.support.ses import record, sample, sns_event

OURS = {"tenant_id": "demo", "contract_id": "ctr_0123456789abcdef0123", "email_kind": "reminder"}


def test_the_documented_bounce_sample_is_a_permanent_bounce() -> None:
    feedback = parse(json.dumps(sample("bounce")))
    assert feedback is not None
    assert (feedback.kind, feedback.recipients, feedback.suppress) == ("bounce", ("recipient@example.com",), True)
    assert feedback.reason == "permanent bounce (General, 5.1.1)"
    assert feedback.detail["diagnostic"] == "smtp; 550 5.1.1 user unknown"
    assert feedback.feedback_id == "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000"
    assert feedback.tenant_id is None  # the sample carries SES's own tags only: not an email of ours


def test_the_documented_complaint_sample_is_a_complaint() -> None:
    feedback = parse(json.dumps(sample("complaint")))
    assert feedback is not None
    assert (feedback.kind, feedback.recipients, feedback.suppress) == ("complaint", ("recipient@example.com",), True)
    assert feedback.reason == "complaint (abuse)"
    assert feedback.event_type == "email_complained"


def test_our_tags_say_whose_email_it_was() -> None:
    feedback = parse(json.dumps(record("bounce", to="Wang.Min@Yunti.example", tags=OURS)))
    assert feedback is not None
    assert (feedback.tenant_id, feedback.contract_id, feedback.email_kind) == (
        "demo", "ctr_0123456789abcdef0123", "reminder")
    assert feedback.recipients == ("wang.min@yunti.example",)  # one spelling per address


def test_identity_notifications_say_notification_type() -> None:
    data = record("bounce", to="a@yunti.example", tags=OURS)
    data["notificationType"] = data.pop("eventType")
    feedback = parse(json.dumps(data))
    assert feedback is not None and feedback.suppress


@pytest.mark.parametrize(("name", "changes", "suppress"), [
    ("bounce", {"bounceType": "Transient", "bounceSubType": "MailboxFull"}, False),  # SES retries those
    ("bounce", {"bounceType": "Undetermined", "bounceSubType": "Undetermined"}, False),
    ("bounce", {"bounceType": "Permanent", "bounceSubType": "Suppressed"}, True),
    ("complaint", {"complaintFeedbackType": "not-spam"}, False),
    ("complaint", {"complaintFeedbackType": None}, True),
])
def test_what_suppresses(name: str, changes: dict[str, Any], suppress: bool) -> None:
    feedback = parse(json.dumps(record(name, to="a@yunti.example", tags=OURS, **changes)))
    assert feedback is not None and feedback.suppress is suppress


@pytest.mark.parametrize("event_type", ["Delivery", "Send", "Open", "DeliveryDelay", "Reject"])
def test_other_events_are_not_feedback(event_type: str) -> None:
    assert parse(json.dumps({"eventType": event_type, "mail": {}})) is None


def _bounce(**changes: Any) -> dict[str, Any]:
    data = record("bounce", to="a@yunti.example", tags=OURS)
    data["bounce"].update(changes)
    return data


HOSTILE: list[tuple[str, Any]] = [
    ("empty", ""),
    ("not JSON", "<html>hello</html>"),
    ("a list", "[]"),
    ("a number", "42"),
    ("no eventType", json.dumps({"mail": {}})),
    ("eventType not text", json.dumps({"eventType": ["Bounce"], "mail": {}})),
    ("too deep", "[" * 5000 + "]" * 5000),
    ("too long", json.dumps({"eventType": "Bounce", "pad": "x" * 300_000})),
    ("a huge number", '{"eventType": "Bounce", "n": ' + "9" * 5000 + "}"),
    ("NaN", '{"eventType": "Bounce", "n": NaN}'),
    ("no mail", json.dumps({"eventType": "Bounce", "bounce": _bounce()["bounce"]})),
    ("mail not an object", json.dumps({**_bounce(), "mail": "x"})),
    ("no bounce", json.dumps({k: v for k, v in _bounce().items() if k != "bounce"})),
    ("no bounceType", json.dumps(_bounce(bounceType=None))),
    ("recipients not a list", json.dumps(_bounce(bouncedRecipients={"emailAddress": "a@yunti.example"}))),
    ("no recipients", json.dumps(_bounce(bouncedRecipients=[]))),
    ("a recipient not an object", json.dumps(_bounce(bouncedRecipients=["a@yunti.example"]))),
    ("an address not text", json.dumps(_bounce(bouncedRecipients=[{"emailAddress": {"$ne": ""}}]))),
    ("not an address", json.dumps(_bounce(bouncedRecipients=[{"emailAddress": "nobody"}]))),
    ("an address with a line break", json.dumps(_bounce(bouncedRecipients=[{"emailAddress": "a@b.cn\nBcc: x@y.cn"}]))),
    ("an address too long", json.dumps(_bounce(bouncedRecipients=[{"emailAddress": "a" * 400 + "@yunti.example"}]))),
    ("tags not an object", json.dumps({**_bounce(), "mail": {**_bounce()["mail"], "tags": ["tenant_id"]}})),
    ("a contract id that is a path", json.dumps(record("bounce", to="a@yunti.example",
                                                       tags={**OURS, "contract_id": "../../ctr_1"}))),
    ("an email kind with markup", json.dumps(record("bounce", to="a@yunti.example",
                                                   tags={**OURS, "email_kind": "<script>"}))),
    ("complaint recipients missing", json.dumps({**record("complaint", to="a@yunti.example", tags=OURS),
                                                 "complaint": {"complaintFeedbackType": "abuse"}})),
]


@pytest.mark.parametrize(("why", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_messages_are_malformed(why: str, message: Any) -> None:
    with pytest.raises(MalformedFeedback):
        parse(message)


def metrics(out: str) -> list[str]:
    names = []
    for line in out.splitlines():
        if line.startswith('{"_aws"'):
            names += [m["Name"] for m in json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    return names


AT = datetime(2030, 1, 8, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize(("why", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_notification_is_dropped_with_a_metric(why: str, message: Any,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert handle_sns_event(sns_event(message), at=AT) == {"suppressed": 0, "ignored": 0, "dropped": 1}
    assert metrics(capsys.readouterr().out) == ["SesFeedbackMalformed"]


@pytest.mark.parametrize("event", [
    {}, {"Records": "x"}, {"Records": []}, {"Records": [42]}, {"Records": [{"Sns": "x"}]}, [1, 2],
    {"Records": [{"Sns": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:signbridge-prod-ses-feedback",
                          "Message": json.dumps(record("bounce", to="a@yunti.example", tags=OURS))}}]},
    {"Records": [{"Sns": {"Message": json.dumps(record("bounce", to="a@yunti.example", tags=OURS))}}]},
    sns_event(record("bounce", to="a@yunti.example", tags={**OURS, "tenant_id": "../demo"})),
], ids=["empty", "records not a list", "no records", "a record not an object", "Sns not an object",
        "not an object", "another stage's topic", "no topic", "a tenant id that is a path"])
def test_an_event_of_the_wrong_shape_or_origin_is_dropped(event: Any, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = handle_sns_event(event, at=AT)
    assert outcome["dropped"] == 1 and outcome["suppressed"] == 0
    assert metrics(capsys.readouterr().out) == ["SesFeedbackMalformed"]


def test_feedback_without_our_tags_is_unattributed(capsys: pytest.CaptureFixture[str]) -> None:
    # A well-formed bounce of an email someone else sent through the configuration set.
    assert handle_sns_event(sns_event(sample("bounce")), at=AT)["dropped"] == 1
    assert metrics(capsys.readouterr().out) == ["SesFeedbackUnattributed"]


def test_other_events_are_ignored_quietly(capsys: pytest.CaptureFixture[str]) -> None:
    delivery = {"eventType": "Delivery", "mail": sample("bounce")["mail"], "delivery": {}}
    assert handle_sns_event(sns_event(delivery), at=AT) == {"suppressed": 0, "ignored": 1, "dropped": 0}
    assert metrics(capsys.readouterr().out) == []
