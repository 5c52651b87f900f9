"""Invoking the app's event handlers the way Lambda would: the SQS and schedule triggers that
`chalice local` does not emulate."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass
class FakeLambdaContext:
    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = ""
    invoked_function_arn: str = ""

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        arn = "arn:aws:lambda:us-east-1:123456789012:function:signbridge-local-"
        self.invoked_function_arn = arn + self.function_name

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def sqs_event(queue_arn: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": "us-east-1",
    } for m in messages]}


def scheduled_event(time_iso: str, rule: str) -> dict[str, Any]:
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": time_iso, "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/signbridge-local-{rule}"], "detail": {},
    }


def app_module() -> Any:
    import app  # the Chalice app at the repo root

    return app
