"""Feeds the jobs queue to the app's SQS handler, as Lambda's event source mapping would: a message
is deleted when the handler returns, and left for redelivery (then the dead-letter queue, through the
queue's redrive policy) when it raises."""

from __future__ import annotations

import signal
import sys
import time
import traceback
from typing import Any

from devstack.lambda_runtime import FakeLambdaContext, app_module, sqs_event

RETRY_VISIBILITY_SECONDS = 2  # locally, retry a failed message quickly instead of after 30 s


def run_forever() -> None:
    from chalicelib.core.aws import client, queue_url
    from chalicelib.core.config import settings

    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    app = app_module()
    sqs = client("sqs")
    url = queue_url(settings().jobs_queue_name)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    print(f"dispatcher: polling {url}", flush=True)
    while not stopping:
        try:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1,
                                           AttributeNames=["All"]).get("Messages", [])
        except Exception as err:  # noqa: BLE001 - moto going away at shutdown
            print(f"dispatcher: receive failed: {err}", flush=True)
            time.sleep(0.5)
            continue
        for message in messages:
            try:
                app.process_job(sqs_event(arn, [message]), FakeLambdaContext("process_job"))
            except Exception:  # noqa: BLE001 - Lambda semantics: the message comes back
                traceback.print_exc()
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=RETRY_VISIBILITY_SECONDS)
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    print("dispatcher: stopped", flush=True)
    sys.exit(0)
