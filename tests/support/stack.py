"""An in-process stack for integration tests: moto (mock_aws), the DocuSign sandbox on a thread, the
app behind a real HTTP port, and the jobs queue drained on demand — the same provisioning and
seeding code as the local stack."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack.lambda_runtime import FakeLambdaContext, scheduled_event, sqs_event
from devstack.stack import http_json
from devstack.webhook import signed_headers


@dataclass
class StackHarness:
    app: Any
    client: Any  # chalice.test.Client
    api_url: str
    sandbox_url: str
    api_key: str
    sources: dict[str, dict[str, Any]]
    tenant_id: str
    job_log: list[str] = field(default_factory=list)

    @property
    def source_id(self) -> str:
        return next(iter(self.sources))

    @property
    def secret(self) -> str:
        return self.sources[self.source_id]["secret"]

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def post_webhook(self, body: Any, *, webhook_id: str | None = None, secret: str | None = None,
                     headers: dict[str, str] | None = None, timestamp: int | None = None,
                     source_id: str | None = None) -> Any:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        signed = signed_headers(secret or self.secret, raw, webhook_id, timestamp)
        return self.client.http.post(f"/v1/webhooks/{source_id or self.source_id}",
                                     headers={**signed, **(headers or {})}, body=raw)

    def get_contract(self, contract_id: str) -> dict[str, Any]:
        response = self.client.http.get(f"/v1/contracts/{contract_id}", headers=self.auth())
        assert response.status_code == 200, response.body
        return response.json_body

    # --- jobs -------------------------------------------------------------------------------
    def drain_jobs(self, max_rounds: int = 50) -> int:
        """Runs queued jobs until the queue is empty; returns how many ran."""
        from chalicelib.core.aws import client, queue_url
        from chalicelib.core.config import settings

        sqs = client("sqs")
        url = queue_url(settings().jobs_queue_name)
        ran = 0
        for _ in range(max_rounds):
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0,
                                           AttributeNames=["All"]).get("Messages", [])
            if not messages:
                return ran
            message = messages[0]
            self.job_log.append(message["Body"])
            self.app.process_job(sqs_event("arn:aws:sqs:us-east-1:123456789012:jobs", [message]),
                                 FakeLambdaContext("process_job"))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            ran += 1
        return ran

    def receive_job(self, job: str | None = None) -> dict[str, Any]:
        """Takes the next message off the jobs queue (it stays in flight, as with a Lambda poller)."""
        from chalicelib.core.aws import client, queue_url
        from chalicelib.core.config import settings

        url = queue_url(settings().jobs_queue_name)
        for _ in range(20):
            messages = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0,
                                                     AttributeNames=["All"]).get("Messages", [])
            if not messages:
                break
            message = messages[0]
            if job is None or json.loads(message["Body"]).get("job") == job:
                return message
            self.release_job(message)
        raise AssertionError(f"no {job or ''} job in the queue")

    def run_job(self, message: dict[str, Any]) -> None:
        """Runs one received message through the app's SQS handler, as Lambda would, and deletes it
        once the handler returned (a handler that raises leaves it in flight, like SQS does)."""
        from chalicelib.core.aws import client, queue_url
        from chalicelib.core.config import settings

        self.job_log.append(message["Body"])
        self.app.process_job(sqs_event("arn:aws:sqs:us-east-1:123456789012:jobs", [message]),
                             FakeLambdaContext("process_job"))
        client("sqs").delete_message(QueueUrl=queue_url(settings().jobs_queue_name),
                                     ReceiptHandle=message["ReceiptHandle"])

    def ack_job(self, message: dict[str, Any]) -> None:
        """Deletes a received message (its handler finished)."""
        from chalicelib.core.aws import client, queue_url
        from chalicelib.core.config import settings

        client("sqs").delete_message(QueueUrl=queue_url(settings().jobs_queue_name),
                                     ReceiptHandle=message["ReceiptHandle"])

    def release_job(self, message: dict[str, Any]) -> None:
        """Makes an in-flight message visible again now (its visibility timeout ran out)."""
        from chalicelib.core.aws import client, queue_url
        from chalicelib.core.config import settings

        client("sqs").change_message_visibility(QueueUrl=queue_url(settings().jobs_queue_name),
                                                ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.drain_jobs()
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def wait_status(self, contract_id: str, status: str, timeout: float = 60.0) -> dict[str, Any]:
        self.wait_until(lambda: self.get_contract(contract_id)["status"] == status, timeout,
                        f"{contract_id} to be {status}")
        return self.get_contract(contract_id)

    def fire_schedule(self, name: str, at_iso_utc: str) -> Any:
        return getattr(self.app, name)(scheduled_event(at_iso_utc, name), FakeLambdaContext(name))

    # --- sandbox ----------------------------------------------------------------------------
    def sandbox(self, method: str, path: str, body: Any = None) -> Any:
        status, data = http_json(method, f"{self.sandbox_url}{path}", body)
        assert status < 300, (status, data)
        return data

    def sandbox_envelopes(self, contract_id: str | None = None) -> list[dict[str, Any]]:
        """Every envelope the sandbox holds (optionally only those carrying this contract id)."""
        envelopes = self.sandbox("GET", "/sandbox/envelopes")["envelopes"]
        if contract_id is None:
            return envelopes
        return [e for e in envelopes
                if any(f.get("value") == contract_id for f in e.get("customFields", {}).get("textCustomFields", []))]

    def connect_log(self, **filters: str) -> list[dict[str, Any]]:
        from urllib.parse import urlencode

        query = f"?{urlencode(filters)}" if filters else ""
        return self.sandbox("GET", f"/sandbox/connect-log{query}")["entries"]

    def settle_connect(self, timeout: float = 20.0, strict: bool = True) -> None:
        """Waits until the sandbox has no Connect message queued, held or in flight."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, data = http_json("GET", f"{self.sandbox_url}/sandbox/connect-log")
            if status < 300 and data["pending"] == 0:
                return
            time.sleep(0.05)
        if strict:
            raise AssertionError("Connect deliveries did not settle")

    def timeline(self, contract_id: str) -> list[dict[str, Any]]:
        return self.get_contract(contract_id)["timeline"]

    def timeline_types(self, contract_id: str) -> list[str]:
        return [e["type"] for e in self.timeline(contract_id)]

    def sent_emails(self) -> list[SentEmail]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses import ses_backends

        return [SentEmail.parse(m) for m in ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages]


@dataclass(frozen=True)
class SentEmail:
    subject: str
    to: list[str]
    cc: list[str]
    text: str
    html: str | None
    attachments: list[tuple[str, bytes]]

    @classmethod
    def parse(cls, message: Any) -> SentEmail:
        import email
        from email import policy
        from email.utils import getaddresses

        parsed = email.message_from_string(message.raw_data, policy=policy.default)
        text = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        return cls(
            subject=str(parsed["Subject"]),
            to=[a for _, a in getaddresses([str(parsed["To"] or "")]) if a],
            cc=[a for _, a in getaddresses([str(parsed["Cc"] or "")]) if a],
            text=text.get_content() if text else "",
            html=html.get_content() if html else None,
            attachments=[(p.get_filename() or "", p.get_content()) for p in parsed.iter_attachments()],
        )


def timeline_event_count() -> int:
    """Events of contracts' timelines; the operators' audit log shares their table under `~audit#…`
    (a test's setup runs admin commands, which are recorded there)."""
    from chalicelib.store.models import EventRecord

    return sum(1 for event in EventRecord.scan() if not event.contract_key.startswith("~audit#"))


def form_post(url: str, fields: dict[str, str]) -> tuple[int, str | None]:
    """POSTs a form like a browser's button would; returns (status, Location) without following."""
    import urllib.error
    import urllib.parse
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    data = urllib.parse.urlencode(fields).encode()
    try:
        with opener.open(urllib.request.Request(url, data=data, method="POST"), timeout=30) as response:
            return response.status, response.headers.get("Location")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Location")


def sign_as(stack: StackHarness, contract_id: str, position: int, action: str = "sign",
            reason: str | None = None) -> tuple[int, str | None]:
    """One signer acts on the sandbox's signing page: an embedded signer through our stable signing
    link (which mints a recipient view), an email signer through the link DocuSign would email."""
    contract = stack.get_contract(contract_id)
    signer = contract["signers"][position - 1]
    if signer["delivery"] == "embedded":
        link = stack.client.http.get(f"/v1/contracts/{contract_id}/signing-link?signer={position}",
                                     headers=stack.auth())
        assert link.status_code == 200, link.body
        token_path = link.json_body["url"].split(stack.api_url, 1)[-1]
        opened = stack.client.http.get(token_path)
        assert opened.status_code == 302, opened.body
        url = opened.headers["Location"]
    else:
        envelope = stack.sandbox("GET", f"/sandbox/envelopes/{contract['envelope_id']}")
        recipient = next(r for r in envelope["recipients"] if str(r["recipientId"]) == str(position))
        url = recipient["signing_url"]
        assert url, f"signer {position} has no signing link yet (not their turn?)"
    fields = {"action": action}
    if reason:
        fields["reason"] = reason
    return form_post(url, fields)
