"""纷享销客 (Fxiaoke / ShareCRM): a custom function (APL) bound to the 合同 object posts the record as
JSON. The source's `auth` option picks the scheme, fixed per source so that a request cannot choose
the weaker one:
- "token" (default): `X-Signbridge-Token: <token>` (or Authorization: Bearer), the source's secret;
- "standard-webhooks": webhook-id / webhook-timestamp / webhook-signature, 300 s window, as the
  generic source (the APL function signs with HMAC-SHA256).
Delivery id: webhook-id, else the body's `eventId`, else synthesized from the record id, its
last_modified_time and the body.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.errors import ApiError
from chalicelib.intake.base import InboundRequest, parse_json_object
from chalicelib.intake.crm import CrmRecord, MappedAdapter, synthesized_key
from chalicelib.intake.signatures import verify_standard_webhooks, verify_token
from chalicelib.intake.zoho import token_candidates
from chalicelib.store.registry import Source

AUTH_SCHEMES = ("token", "standard-webhooks")
DEFAULT_OBJECT = "SaleContractObj"  # 合同: the object the default mapping reads


class FxiaokeAdapter(MappedAdapter):
    kind = "fxiaoke"
    content_types = ("application/json",)

    def verify(self, source: Source, request: InboundRequest) -> str | None:
        scheme = source.options.get("auth", "token")
        if scheme == "standard-webhooks":
            return verify_standard_webhooks(source.secrets(), request.headers, request.raw_body)
        if scheme != "token":
            raise ApiError(f"source option auth={scheme!r} is not one of {', '.join(AUTH_SCHEMES)}", status=422,
                           code="source_misconfigured")
        verify_token(source.secrets(), token_candidates(request)[:2],
                     "an X-Signbridge-Token header or Authorization: Bearer")
        return None

    def records(self, source: Source, request: InboundRequest, delivery_id: str | None) -> list[CrmRecord]:
        body = parse_json_object(request.raw_body)
        given = body.get("data")
        data: dict[str, Any] = given if isinstance(given, dict) else _id_only_data(body)
        key = delivery_id or body.get("eventId") or synthesized_key(
            "fxiaoke", data.get("_id"), data.get("last_modified_time"), request.raw_body)
        object_type = next((body[k] for k in ("objectApiName", "object") if isinstance(body.get(k), str)),
                           DEFAULT_OBJECT)
        return [CrmRecord(f"fxiaoke:{key}", {**body, "data": data}, object_type=object_type)]


def _id_only_data(body: dict[str, Any]) -> dict[str, Any]:
    """A function that posts only the object's id ({"objectApiName", "id"|"dataId"|"_id", "status"?})
    instead of the record: the id (and 作废 as life_status) where the mapping reads them, so the
    record is read from the API (crm.py) or, when invalidated, cancelled."""
    record_id = next((body[k] for k in ("_id", "dataId", "objectId", "id") if isinstance(body.get(k), str | int)
                      and not isinstance(body.get(k), bool)), None)
    if record_id is None:
        return {}
    data: dict[str, Any] = {"_id": str(record_id)}
    status = body.get("life_status", body.get("status"))
    if isinstance(status, str):
        data["life_status"] = status
    return data
