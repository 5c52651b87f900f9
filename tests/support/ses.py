"""SES feedback as it reaches the app: AWS's documented example records (tests/fixtures/ses, see its
README for the source) with our tags and recipient put in, wrapped as an SNS notification delivered
to Lambda (https://docs.aws.amazon.com/lambda/latest/dg/with-sns.html)."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ses"
ACCOUNT = "123456789012"


def sample(name: str) -> dict[str, Any]:
    """`bounce` or `complaint`: the documented example, as a fresh dict."""
    return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))


def record(name: str, *, to: str | list[str], tags: dict[str, str] | None = None,
           **changes: Any) -> dict[str, Any]:
    """The example with our recipients and tags; `changes` replace fields of its bounce/complaint
    object (e.g. bounceType="Transient")."""
    data = sample(name)
    addresses = [to] if isinstance(to, str) else to
    key, recipients = ("bounce", "bouncedRecipients") if name == "bounce" else ("complaint", "complainedRecipients")
    template = data[key][recipients][0]
    data[key][recipients] = [{**template, "emailAddress": a} for a in addresses]
    data[key].update(changes)
    data["mail"]["destination"] = addresses
    data["mail"]["tags"].update({k: [v] for k, v in (tags or {}).items()})
    return data


def sns_event(message: Any, *, topic: str = "signbridge-local-ses-feedback",
              region: str = "us-east-1") -> dict[str, Any]:
    """One SNS notification as Lambda receives it; `message` is the record (a dict, sent as JSON) or
    the Message text itself (anything, for hostile ones)."""
    topic_arn = f"arn:aws:sns:{region}:{ACCOUNT}:{topic}"
    return {"Records": [{
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid4()}",
        "EventSource": "aws:sns",
        "Sns": {
            "SignatureVersion": "1",
            "Timestamp": "2030-01-08T01:05:00.000Z",
            "Signature": "EXAMPLE",
            "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-EXAMPLE.pem",
            "MessageId": str(uuid.uuid4()),
            "Message": json.dumps(message) if isinstance(message, dict) else message,
            "MessageAttributes": {},
            "Type": "Notification",
            "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe",
            "TopicArn": topic_arn,
            "Subject": None,
        },
    }]}
