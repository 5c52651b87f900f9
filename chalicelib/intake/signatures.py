"""Signature schemes checked on the raw body before anything is parsed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.core.constant_time import equal, matches_any
from chalicelib.core.errors import Unauthorized

STANDARD_WEBHOOKS_TOLERANCE_SECONDS = 300  # the standardwebhooks library's window (5 minutes)


def verify_standard_webhooks(secrets: Sequence[str], headers: Mapping[str, str], raw_body: bytes) -> str:
    """Verifies a Standard Webhooks signature against any of the source's active secrets (rotation)
    and returns the delivery id (`webhook-id`)."""

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


# --- HubSpot v3 -----------------------------------------------------------------------------------

HUBSPOT_TOLERANCE_MS = 5 * 60 * 1000  # HubSpot: reject requests older than 5 minutes

# HubSpot signs the URI with these characters decoded ("Validate the v3 request signature",
# developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation),
# so the URL we rebuild is normalized the same way before it is signed again here.
_HUBSPOT_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(",
    "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}


def hubspot_uri(url: str) -> str:
    for encoded, plain in _HUBSPOT_DECODED.items():
        url = url.replace(encoded, plain).replace(encoded.lower(), plain)
    return url


def hubspot_v3_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode() + hubspot_uri(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def verify_hubspot_v3(
    secrets: Sequence[str], headers: Mapping[str, str], method: str, uris: Sequence[str], raw_body: bytes,
    now_ms: int | None = None,
) -> None:
    """X-HubSpot-Signature-v3 = base64(HMAC-SHA256(client secret, method + URI + body + timestamp)),
    with X-HubSpot-Request-Timestamp (ms) at most 5 minutes away. `uris` are the URLs HubSpot may
    have called (the rebuilt request URL and the source's configured public URL)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    signature = lowered.get("x-hubspot-signature-v3")
    timestamp = lowered.get("x-hubspot-request-timestamp")
    if not signature or not timestamp:
        raise Unauthorized("missing signature: X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required")
    # ASCII digits only: str.isdigit() also accepts "²" or "١", which int() then refuses.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 16):
        raise Unauthorized("malformed X-HubSpot-Request-Timestamp header")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - int(timestamp)) > HUBSPOT_TOLERANCE_MS:
        raise Unauthorized("stale signature: X-HubSpot-Request-Timestamp is outside the 5 minute window")
    if not secrets:
        raise Unauthorized("no secret is configured for this source")
    # Base64 has no spaces: a space is a "+" that a proxy form-decoded on the way (HubSpot's community
    # reports it), so putting it back accepts nothing that was not signed.
    received = signature.strip().replace(" ", "+")
    for secret in secrets:
        for uri in dict.fromkeys(uris):
            expected = hubspot_v3_signature(secret, method, uri, raw_body, timestamp)
            if equal(received, expected):
                return
    raise Unauthorized("signature does not match the request (method, URL, body and timestamp)")


# --- shared tokens and basic auth (schemes without a signature over the body) ---------------------


def verify_token(secrets: Sequence[str], candidates: Sequence[str | None], where: str) -> None:
    if not any(candidates):
        raise Unauthorized(f"missing token: send it as {where}")
    if not secrets:
        raise Unauthorized("no secret is configured for this source")
    if not any(matches_any(c, secrets) for c in candidates if c):
        raise Unauthorized("the token does not match")


def verify_basic_auth(username: str | None, secrets: Sequence[str], authorization: str | None) -> None:
    """HTTP basic auth (Pipedrive's webhook http_auth_user / http_auth_password): the password is the
    source's secret, the user name a source option."""
    if not authorization or not authorization[:6].lower() == "basic ":
        raise Unauthorized("missing credentials: send HTTP basic auth (Authorization: Basic ...)")
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as err:
        raise Unauthorized("malformed Authorization header") from err
    user, sep, password = decoded.partition(":")
    if not sep:
        raise Unauthorized("malformed Authorization header")
    if not username or not secrets:
        raise Unauthorized("no credentials are configured for this source")
    user_ok = equal(user, str(username))
    if not (matches_any(password, secrets) and user_ok):
        raise Unauthorized("user name or password does not match")
