"""Signing a sample webhook the way a generic CRM source would (Standard Webhooks)."""

from __future__ import annotations

import json
import secrets
import shlex
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent / "samples"


def sample(contract_type: str = "sales") -> dict[str, Any]:
    return json.loads((SAMPLES / f"{contract_type}.json").read_text())


def signed_headers(secret: str, body: bytes, webhook_id: str | None = None,
                   timestamp: int | None = None) -> dict[str, str]:
    from standardwebhooks.webhooks import Webhook

    msg_id = webhook_id or "msg_" + secrets.token_hex(12)
    ts = int(time.time()) if timestamp is None else timestamp
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, tz=UTC), body.decode())
    return {"Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": signature}


def curl_command(api_url: str, source_id: str, secret: str, body: bytes) -> str:
    headers = signed_headers(secret, body)
    parts = ["curl", "-sS", "-X", "POST", f"{api_url}/v1/webhooks/{source_id}"]
    for name, value in headers.items():
        parts += ["-H", f"{name}: {value}"]
    parts += ["--data-binary", body.decode()]
    return " ".join(shlex.quote(p) for p in parts)
