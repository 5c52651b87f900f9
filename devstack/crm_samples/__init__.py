"""Realistic native payloads of each CRM kind, how each CRM authenticates them, and the demo
sources the local stack seeds for them (one per kind).

Files here: hubspot_card.json (the signbridge HubSpot app card's request), hubspot_events.json
(HubSpot webhook subscription events), salesforce_outbound.xml (an Outbound Message with three
Contract notifications), zoho_deal.json / zoho_deal.form (a Zoho CRM workflow webhook on Deals, as
raw JSON and as form parameters), fxiaoke_contract.json (the 纷享销客 APL function's body),
pipedrive_deal.json (a Pipedrive webhooks v2 deal change) and pipedrive_custom_fields.json (the
names the Pipedrive source gives that account's custom field keys).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parent

SALESFORCE_ORG_ID = "00D5g000004XyZ1EAK"
PIPEDRIVE_CONTRACT_STAGE_ID = 5

OUR_PARTY_ZH = {
    "name": "上海云梯科技有限公司",
    "address": "上海市浦东新区张江路 88 号",
    "contact": {"name": "王敏", "email": "wang.min@yunti.example", "phone": "+86 21 5555 0101"},
}
OUR_PARTY_EN = {
    "name": "Shanghai Yunti Technology Co., Ltd.",
    "address": "88 Zhangjiang Road, Pudong New Area, Shanghai, China",
    "contact": {"name": "Min Wang", "email": "wang.min@yunti.example", "phone": "+86 21 5555 0101"},
}


def raw(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def load(name: str) -> Any:
    return json.loads(raw(name))


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


# --- how each CRM authenticates a request --------------------------------------------------------


def hubspot_headers(client_secret: str, url: str, body: bytes, *, method: str = "POST",
                    timestamp_ms: int | None = None) -> dict[str, str]:
    """What HubSpot adds to a request from the app: X-HubSpot-Signature-v3 over method + URL +
    body + timestamp (ms), with the app's client secret."""
    from chalicelib.intake.signatures import hubspot_v3_signature

    ts = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    return {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": ts,
            "X-HubSpot-Signature-v3": hubspot_v3_signature(client_secret, method, url, body, ts)}


def token_headers(token: str, content_type: str = "application/json") -> dict[str, str]:
    """Zoho CRM's webhook header (and the 纷享销客 function's)."""
    return {"Content-Type": content_type, "X-Signbridge-Token": token}


def basic_auth_headers(username: str, password: str) -> dict[str, str]:
    """Pipedrive's webhook http_auth_user / http_auth_password."""
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Content-Type": "application/json", "Authorization": f"Basic {credentials}"}


def salesforce_headers() -> dict[str, str]:
    return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""', "User-Agent": "Salesforce"}


# --- the demo sources of the local stack --------------------------------------------------------


def seed_crm_sources(tenant_id: str, api_url: str) -> dict[str, dict[str, Any]]:
    """Adds one source per CRM kind through the admin code and returns, per source id, what a script
    needs to post to it: kind, secret, webhook URL, and the kind's extra credentials."""
    from chalicelib.admin.sources import add_source

    hubspot_url = f"{api_url.rstrip('/')}/v1/webhooks/demo-hubspot"
    definitions: list[tuple[str, str, str | None, dict[str, Any]]] = [
        # HubSpot signs with the app's client secret (a UUID); the URL it signs is pinned.
        ("demo-hubspot", "hubspot", str(uuid.uuid4()),
         {"public_url": hubspot_url, "our_party": OUR_PARTY_EN, "cancel_stages": ["closedlost"]}),
        ("demo-salesforce", "salesforce", None, {"organization_id": SALESFORCE_ORG_ID, "our_party": OUR_PARTY_ZH}),
        ("demo-zoho", "zoho", None, {"our_party": OUR_PARTY_ZH}),
        ("demo-fxiaoke", "fxiaoke", None, {"auth": "token", "our_party": OUR_PARTY_ZH}),
        ("demo-pipedrive", "pipedrive", None,
         {"username": "signbridge", "our_party": OUR_PARTY_EN, "contract_stage_id": PIPEDRIVE_CONTRACT_STAGE_ID,
          "custom_fields": load("pipedrive_custom_fields.json")}),
    ]
    sources: dict[str, dict[str, Any]] = {}
    for source_id, kind, secret, options in definitions:
        info = add_source(source_id, tenant_id, kind, secret=secret, options=options, base_url=api_url,
                          replace_existing=True)
        entry: dict[str, Any] = {"kind": kind, "secret": info.secret, "webhook_url": info.webhook_url}
        if kind == "salesforce":
            entry.update(token=info.secret, organization_id=SALESFORCE_ORG_ID)
        elif kind in ("zoho", "fxiaoke"):
            entry["token"] = info.secret
        elif kind == "pipedrive":
            entry.update(username=info.source.options["username"], password=info.secret)
        sources[source_id] = entry
    return sources
