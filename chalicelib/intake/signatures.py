"""Signature schemes checked on the raw body before anything is parsed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from chalicelib.errors import Unauthorized

STANDARD_WEBHOOKS_TOLERANCE_SECONDS = 300  # the standardwebhooks library's window (5 minutes)


def verify_standard_webhooks(secrets: Sequence[str], headers: Mapping[str, str], raw_body: bytes) -> str:
    """Verifies a Standard Webhooks signature against any of the source's active secrets (rotation)
    and returns the delivery id (`webhook-id`)."""
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    lowered = {k.lower(): v for k, v in headers.items()}
    delivery_id = lowered.get("webhook-id")
    if not (delivery_id and lowered.get("webhook-timestamp") and lowered.get("webhook-signature")):
        raise Unauthorized("missing signature: webhook-id, webhook-timestamp and webhook-signature are required")
    try:
        body = raw_body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise Unauthorized("signature does not match the body") from err
    last_reason = "no secret is configured for this source"
    for secret in secrets:
        try:
            Webhook(secret).verify(body, lowered, json_parse=False)
            return delivery_id
        except WebhookVerificationError as err:
            last_reason = _reason(str(err))
        except (ValueError, TypeError):  # a malformed signature list or secret
            last_reason = "malformed webhook-signature header"
    raise Unauthorized(last_reason)


def _reason(message: str) -> str:
    if "too old" in message or "too new" in message:
        return f"stale signature: webhook-timestamp is outside the {STANDARD_WEBHOOKS_TOLERANCE_SECONDS} s window"
    if "Invalid Signature Headers" in message:
        return "malformed webhook-timestamp header"
    return "signature does not match the body"
