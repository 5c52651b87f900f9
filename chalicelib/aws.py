"""boto3 clients, created on first use and kept for the warm Lambda. The endpoint follows botocore's
AWS_ENDPOINT_URL, so the local stack (moto's server) needs no special code path."""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any

from chalicelib.config import settings


@cache
def client(service: str) -> Any:
    import boto3  # lazily: not every handler needs every client
    from botocore.config import Config

    config = Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 4, "mode": "standard"})
    if service == "s3":
        # Presigned document links must be SigV4: newer regions (China included) refuse SigV2.
        config = config.merge(Config(signature_version="s3v4"))
    return boto3.session.Session().client(service, region_name=settings().region, config=config)


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
    value = client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    _secret_cache[secret_id] = (time.monotonic(), value)
    return value


def get_secret_json(secret_id: str) -> Any:
    return json.loads(get_secret(secret_id))


_queue_urls: dict[str, str] = {}


def queue_url(name: str) -> str:
    if name not in _queue_urls:
        _queue_urls[name] = client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return _queue_urls[name]


def enqueue(message: dict[str, Any], *, queue: str | None = None, delay_seconds: int = 0) -> None:
    client("sqs").send_message(
        QueueUrl=queue_url(queue or settings().jobs_queue_name),
        MessageBody=json.dumps(message, ensure_ascii=False),
        DelaySeconds=max(0, min(delay_seconds, 900)),
    )
