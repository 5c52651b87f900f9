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


def pipedrive_writeback_fields() -> dict[str, str]:
    """The demo Pipedrive account's write-back fields: Pipedrive keys custom fields by a hash per
    account, so a source names them (the double's deal fields)."""
    from devstack.crm_apis.seed import PIPEDRIVE_FIELDS

    code = {f["field_name"]: f["field_code"] for f in PIPEDRIVE_FIELDS}
    return {"status": code["Signature status"], "envelope_id": code["Envelope id"],
            "signed_document_url": code["Signed document"], "signed_at": code["Signed on"]}


def connect_crm_apis(crm_apis: dict[str, str]) -> None:
    """Gives each demo CRM source the credential of its API double and points it there, as an admin
    does with `python -m chalicelib.admin sources set-api` (docs/crm-setup.md): enrichment reads and
    write-back writes then go to the doubles."""
    from chalicelib.admin.sources import set_api
    from devstack.crm_apis import CREDENTIALS
    from devstack.crm_apis.seed import PIPEDRIVE_FIELDS

    creds = CREDENTIALS
    code = {f["field_name"]: f["field_code"] for f in PIPEDRIVE_FIELDS}
    setups: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
        "demo-hubspot": ({"access_token": creds["hubspot"]["access_token"]}, {"api_base": crm_apis["hubspot"]}),
        "demo-pipedrive": ({"api_token": creds["pipedrive"]["api_token"]}, {
            "api_base": crm_apis["pipedrive"], "writeback_fields": pipedrive_writeback_fields(),
            "custom_fields": {**load("pipedrive_custom_fields.json"), "contract_type": code["Contract type"],
                              "delivery_regions": code["Delivery regions"]}}),
        "demo-zoho": ({k: creds["zoho"][k] for k in ("client_id", "client_secret", "refresh_token")}
                      | {"accounts_url": crm_apis["zoho"]}, {"api_base": crm_apis["zoho"]}),
        "demo-salesforce": ({k: creds["salesforce"][k] for k in ("client_id", "client_secret", "refresh_token")},
                            {"instance_url": crm_apis["salesforce"]}),
        "demo-fxiaoke": ({k: creds["fxiaoke"][k] for k in ("app_id", "app_secret", "permanent_code", "open_user_id")},
                         {"api_base": crm_apis["fxiaoke"]}),
    }
    for source_id, (api, options) in setups.items():
        set_api(source_id, api, options)
    create_writeback_fields(crm_apis)


def create_writeback_fields(crm_apis: dict[str, str]) -> None:
    """What the setup guide has an admin do in each CRM (docs/crm-setup.md, "Write-back fields to
    create"), done on the doubles' seeded records: HubSpot and Salesforce refuse a write to a
    property or field that does not exist, as the real ones do."""
    import urllib3

    from chalicelib.crm.base import DEFAULT_WRITEBACK_FIELDS
    from devstack.crm_apis import SEED_IDS

    http = urllib3.PoolManager()

    def records(url: str, kind: str) -> dict[str, Any]:
        return dict(json.loads(http.request("GET", f"{url}/_records?type={kind}").data))

    def put(url: str, kind: str, record_id: str, record: dict[str, Any]) -> None:
        response = http.request("POST", f"{url}/_records", body=json.dumps(
            {"type": kind, "id": record_id, "record": record}), headers={"Content-Type": "application/json"})
        if response.status >= 300:
            raise RuntimeError(f"the {kind} double refused the write-back fields: HTTP {response.status}")

    deal_id = str(SEED_IDS["hubspot"]["deal"])
    deal = records(crm_apis["hubspot"], "deals")[deal_id]
    deal["properties"].update(dict.fromkeys(DEFAULT_WRITEBACK_FIELDS["hubspot"].values(), ""))
    put(crm_apis["hubspot"], "deals", deal_id, deal)
    contract_id = str(SEED_IDS["salesforce"]["contract"])
    contract = records(crm_apis["salesforce"], "Contract")[contract_id]
    contract.update(dict.fromkeys(DEFAULT_WRITEBACK_FIELDS["salesforce"].values()))
    put(crm_apis["salesforce"], "Contract", contract_id, contract)
