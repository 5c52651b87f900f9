"""boto3 clients, created on first use and kept for the warm Lambda. The endpoint follows botocore's
AWS_ENDPOINT_URL, so the local stack (moto's server) needs no special code path.

Retries are botocore's, configured here and nowhere else: standard mode retries throttling and
transient errors (5xx, timeouts, connection errors) with exponential backoff and jitter, within a
client-wide retry quota. Our code does not loop around these clients' calls; once botocore gives
up, the caller turns the error into a RetryableError and the job (or the next run) tries again
later."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Sequence
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.core.config import settings
from chalicelib.core.lifecycle_hooks import forget_after_restore

# `max_attempts` counts retries after the first call (botocore's meaning), so 4 = five calls in all.
RETRIES: dict[str, Any] = {"mode": "standard", "max_attempts": 4}
SERVICE_RETRIES: dict[str, dict[str, Any]] = {
    # SES throttles by sending rate ("Maximum sending rate exceeded"): a short backoff is worth two
    # more tries; beyond that the reminder page is retried through the jobs queue with a longer one,
    # instead of holding the Lambda (and its budget) in botocore's sleeps.
    "sesv2": {"mode": "standard", "max_attempts": 2},
}


@cache
def client(service: str) -> Any:
    config = Config(connect_timeout=3, read_timeout=10, retries=SERVICE_RETRIES.get(service, RETRIES))
    if service == "s3":
        # Presigned document links must be SigV4: newer regions (China included) refuse SigV2.
        config = config.merge(Config(signature_version="s3v4"))
    return boto3.session.Session().client(service, region_name=settings().region, config=config)


@forget_after_restore  # new clients (new connections), secrets (signing-link key ring included) read again
def reset_clients() -> None:
    client.cache_clear()
    _secret_cache.clear()
    _queue_urls.clear()


# Secrets are read at most once a minute per warm Lambda: rotation takes effect within that.
_SECRET_TTL_SECONDS = 60.0
_secret_cache: dict[str, tuple[float, str]] = {}


def get_secret(secret_id: str) -> str:
    hit = _secret_cache.get(secret_id)
    if hit and time.monotonic() - hit[0] < _SECRET_TTL_SECONDS:
        return hit[1]
    value = str(client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
    _secret_cache[secret_id] = (time.monotonic(), value)
    return value


def forget_secret(secret_id: str) -> None:
    """After writing a secret: this process reads the new value at once (others within the minute)."""
    _secret_cache.pop(secret_id, None)


def get_secret_json(secret_id: str) -> Any:
    return json.loads(get_secret(secret_id))


def put_secret_json(secret_id: str, value: Any, *, create: bool = True) -> None:
    """Writes a secret's new value (creating the secret when `create` and it does not exist yet);
    this process reads the new value at once."""
    sm = client("secretsmanager")
    text = json.dumps(value)
    forget_secret(secret_id)
    if create:
        try:
            sm.create_secret(Name=secret_id, SecretString=text)
            return
        except sm.exceptions.ResourceExistsException:
            pass
    sm.put_secret_value(SecretId=secret_id, SecretString=text)


_queue_urls: dict[str, str] = {}


def queue_url(name: str) -> str:
    if name not in _queue_urls:
        _queue_urls[name] = client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return _queue_urls[name]


def enqueue(message: dict[str, Any], *, queue: str | None = None, delay_seconds: int = 0) -> None:
    client("sqs").send_message(
        QueueUrl=queue_url(queue or settings().jobs_queue_name),
        MessageBody=json.dumps(message, ensure_ascii=False),
        DelaySeconds=_delay(delay_seconds),
    )


# SendMessageBatch takes at most 10 entries and 256 KiB in all (a little is kept for the envelope).
_BATCH_ENTRIES = 10
_BATCH_BYTES = 250_000


def enqueue_batch(messages: Sequence[tuple[dict[str, Any], int]], *, queue: str | None = None) -> int:
    """Enqueues (message, delay_seconds) pairs through SendMessageBatch, as few calls as SQS's limits
    allow; returns how many calls it made. An entry SQS fails (its side) is sent again on its own;
    if that fails too, the error propagates and the caller's retry enqueues the lot again, which the
    jobs tolerate (each is idempotent)."""
    sqs = client("sqs")
    url = queue_url(queue or settings().jobs_queue_name)
    calls = 0
    for chunk in _chunks([(json.dumps(m, ensure_ascii=False), d) for m, d in messages]):
        entries = [{"Id": str(i), "MessageBody": body, "DelaySeconds": _delay(delay)}
                   for i, (body, delay) in enumerate(chunk)]
        failed = sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed", [])
        calls += 1
        for failure in failed:
            if failure.get("SenderFault"):
                raise ValueError(f"SQS refused a message: {failure.get('Code')}: {failure.get('Message')}")
            entry = entries[int(failure["Id"])]
            sqs.send_message(QueueUrl=url, MessageBody=entry["MessageBody"], DelaySeconds=entry["DelaySeconds"])
    return calls


def _chunks(bodies: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    chunks: list[list[tuple[str, int]]] = []
    size = 0
    for body, delay in bodies:
        length = len(body.encode())
        if not chunks or len(chunks[-1]) == _BATCH_ENTRIES or size + length > _BATCH_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append((body, delay))
        size += length
    return chunks


SQS_MAX_DELAY_SECONDS = 900  # SQS's longest message delay: 15 minutes


def _delay(seconds: int) -> int:
    return max(0, min(int(seconds), SQS_MAX_DELAY_SECONDS))


def backoff_seconds(attempt: int) -> int:
    """How long a job that failed its attempt-th time waits before the next (exponential, jittered,
    at most SQS's longest delay)."""
    base = float(os.environ.get("SIGNBRIDGE_RETRY_BASE_SECONDS", "10"))
    delay = base * (2 ** (attempt - 1))
    return int(min(SQS_MAX_DELAY_SECONDS, delay * random.uniform(0.8, 1.2)))
