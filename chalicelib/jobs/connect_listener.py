"""POST /v1/esign/docusign/connect: verify the HMAC on the raw body, then apply the message.
The work is a few conditional DynamoDB writes, well inside Connect's few-second budget; a message we
cannot apply yet answers 503 so that DocuSign delivers it again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core.aws import get_secret_json
from chalicelib.core.config import settings
from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import logger
from chalicelib.core.secrets import usable_secrets
from chalicelib.esign.connect import parse_message, verify_hmac
from chalicelib.jobs.esign_events import apply_connect


def connect_keys() -> list[str]:
    value = get_secret_json(settings().docusign_connect_keys_secret)
    keys = value.get("keys", []) if isinstance(value, dict) else value
    return usable_secrets(list(keys) if isinstance(keys, list) else [], "DocuSign Connect keys")


def receive_connect(headers: Mapping[str, str], raw_body: bytes) -> tuple[int, dict[str, Any]]:
    verify_hmac(connect_keys(), headers, raw_body)
    message = parse_message(raw_body)

    try:
        outcome = apply_connect(message)
    except RetryableError as err:
        logger.warning("Connect message deferred", extra={"envelope_id": message.envelope_id,
                                                          "event": message.event, "reason": str(err)})
        return 503, {"error": {"code": "retry_later", "message": str(err)}}
    return 200, {"ok": True, "outcome": outcome}
