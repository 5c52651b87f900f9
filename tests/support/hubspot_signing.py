"""HubSpot's request signature v3, computed the way HubSpot's documentation describes it, apart from
the code under test (chalicelib.intake.signatures), so that a test signs like HubSpot and not like us.

Source: "Validate the v3 request signature",
https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/request-validation
— HMAC-SHA256 keyed with the app's client secret over the UTF-8 string
method + URI + body + X-HubSpot-Request-Timestamp, base64-encoded. The URI is the one HubSpot
called, with %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B decoded: callers pass it already in that
form, as HubSpot signs it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


def documented_v3(client_secret: str, method: str, signed_uri: str, body: bytes, timestamp: str) -> str:
    message = method.encode() + signed_uri.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(client_secret.encode(), message, hashlib.sha256).digest()).decode()


def hubspot_v3_headers(client_secret: str, signed_uri: str, body: bytes, *, method: str = "POST",
                       timestamp_ms: int | None = None) -> dict[str, str]:
    """The headers HubSpot adds to a request it signs (v3), for the URI as HubSpot signed it."""
    ts = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    return {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": ts,
            "X-HubSpot-Signature-v3": documented_v3(client_secret, method, signed_uri, body, ts)}
