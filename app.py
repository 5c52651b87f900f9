"""signbridge: Chalice wiring only. Each handler parses its trigger, calls one function in
chalicelib and shapes the response. Heavy libraries (DocuSign SDK, Jinja2, cn2an) load inside the
functions that need them, never here."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Cron, Rate, Response

from chalicelib.core.config import jobs_queue_name
from chalicelib.core.observability import logger
from chalicelib.web.http import api_route, header, json_response, public_error_shape

app = Chalice(app_name="signbridge")
app.log.setLevel("INFO")
app.register_middleware(public_error_shape, "http")  # Chalice's own 415/405 in the public error shape

WEBHOOK_CONTENT_TYPES = [
    "application/json", "text/xml", "application/xml", "application/soap+xml",
    "application/x-www-form-urlencoded", "text/plain",
]


def _request_url() -> str:
    request = app.current_request
    host = header(request.headers, "host") or "localhost"
    proto = header(request.headers, "x-forwarded-proto") or "https"
    stage = request.context.get("stage", "")
    prefix = f"/{stage}" if stage and stage != "api" and "execute-api" in host else ""
    query = "&".join(f"{k}={v}" for k, v in (request.query_params or {}).items())
    return f"{proto}://{host}{prefix}{request.context.get('path', '')}" + (f"?{query}" if query else "")


def _tenant() -> str:
    from chalicelib.web.api import tenant_from_authorization

    return tenant_from_authorization(header(app.current_request.headers, "authorization"))


@app.route("/health", methods=["GET"])
@api_route
def health() -> dict[str, Any]:
    return {"status": "ok"}


@app.route("/v1/webhooks/{source_id}", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
@api_route
def crm_webhook(source_id: str) -> Response:
    from chalicelib.intake.base import InboundRequest
    from chalicelib.intake.service import receive_webhook

    request = app.current_request
    result = receive_webhook(source_id, InboundRequest(
        method=request.method, url=_request_url(), headers=dict(request.headers),
        raw_body=request.raw_body or b"", query=dict(request.query_params or {}),
    ))
    if result.content_type == "application/json":
        return json_response(result.body, result.status)
    return Response(body=result.body, status_code=result.status, headers={"Content-Type": result.content_type})


@app.route("/v1/esign/docusign/connect", methods=["POST"], content_types=["application/json", "text/plain"])
@api_route
def docusign_connect() -> Response:
    from chalicelib.jobs.connect_listener import receive_connect

    request = app.current_request
    status, body = receive_connect(dict(request.headers), request.raw_body or b"")
    return json_response(body, status)


@app.route("/v1/contracts/{contract_id}", methods=["GET"])
@api_route
def get_contract(contract_id: str) -> dict[str, Any]:
    from chalicelib.web.api import get_contract as contract_detail

    return contract_detail(_tenant(), contract_id)


@app.route("/v1/contracts/{contract_id}/approve", methods=["POST"], content_types=["application/json", "text/plain"])
@api_route
def approve_contract(contract_id: str) -> dict[str, Any]:
    from chalicelib.web.contract_actions import approve

    request = app.current_request
    return approve(_tenant(), contract_id, request.raw_body or b"", header(request.headers, "authorization"))


@app.route("/v1/contracts/{contract_id}/reject", methods=["POST"], content_types=["application/json", "text/plain"])
@api_route
def reject_contract(contract_id: str) -> dict[str, Any]:
    from chalicelib.web.contract_actions import reject

    request = app.current_request
    return reject(_tenant(), contract_id, request.raw_body or b"", header(request.headers, "authorization"))


@app.route("/v1/contracts/{contract_id}/void", methods=["POST"], content_types=["application/json", "text/plain"])
@api_route
def void_contract(contract_id: str) -> dict[str, Any]:
    from chalicelib.web.contract_actions import void

    request = app.current_request
    return void(_tenant(), contract_id, request.raw_body or b"", header(request.headers, "authorization"))


@app.route("/v1/contracts/{contract_id}/document", methods=["GET"])
@api_route
def contract_document(contract_id: str) -> Response:
    from chalicelib.esign.document_links import check_version, document_url
    from chalicelib.web.api import load_contract

    tenant_id = _tenant()
    version = check_version((app.current_request.query_params or {}).get("version"))
    url = document_url(load_contract(tenant_id, contract_id), version)
    return Response(body="", status_code=302, headers={"Location": url, "Cache-Control": "no-store"})


@app.route("/v1/contracts/preview", methods=["POST"], content_types=["application/json"])
@api_route
def preview_contract() -> Response:
    from chalicelib.web.preview import preview

    html = preview(_tenant(), app.current_request.raw_body or b"")
    return Response(body=html, status_code=200, headers={"Content-Type": "text/html; charset=utf-8"})


@app.route("/v1/contracts/{contract_id}/signing-link", methods=["GET", "DELETE"])
@api_route
def signing_link(contract_id: str) -> dict[str, Any]:
    from chalicelib.web.api import load_contract
    from chalicelib.web.signing import revoke_link
    from chalicelib.web.signing import signing_link as make_link

    request = app.current_request
    record = load_contract(_tenant(), contract_id)
    signer = (request.query_params or {}).get("signer")
    return revoke_link(record, signer) if request.method == "DELETE" else make_link(record, signer)


@app.route("/sign/{token}", methods=["GET"])
@api_route
def open_signing_link(token: str) -> Response:
    from chalicelib.web.signing import open_link

    return _page(open_link(token, header(app.current_request.headers, "accept-language")))


@app.route("/signed", methods=["GET"])
@api_route
def signed() -> Response:
    from chalicelib.web.signing import signed_page

    params = app.current_request.query_params or {}
    return _page(signed_page(params.get("event"), params.get("lang"), params.get("contract")))


# Signing pages carry a token in their URL: no cache keeps it, no Referer gives it away.
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _page(page: Any) -> Response:
    if page.redirect:
        return Response(body="", status_code=302, headers={"Location": page.redirect, **PAGE_HEADERS})
    return Response(body=page.html, status_code=page.status,
                    headers={"Content-Type": "text/html; charset=utf-8", **PAGE_HEADERS})


@app.route("/v1/contracts/{contract_id}/milestones/{milestone_id}", methods=["POST"])
@api_route
def record_milestone(contract_id: str, milestone_id: str) -> dict[str, Any]:
    from chalicelib.web.contract_actions import record_milestone as record

    return record(_tenant(), contract_id, milestone_id, app.current_request.raw_body or b"")


@app.route("/v1/contracts", methods=["GET"])
@api_route
def list_contracts() -> dict[str, Any]:
    from chalicelib.web.listing import list_contracts as list_page

    return list_page(_tenant(), dict(app.current_request.query_params or {}))


@app.route("/v1/analytics/summary", methods=["GET"])
@api_route
def analytics_summary() -> dict[str, Any]:
    from chalicelib.web.analytics import analytics_summary as summary

    return summary(_tenant(), dict(app.current_request.query_params or {}))


@app.route("/openapi.json", methods=["GET"])
@api_route
def openapi_json() -> dict[str, Any]:
    from chalicelib.web.openapi import openapi_document

    return openapi_document(app.routes)


@app.on_sqs_message(queue=jobs_queue_name(), batch_size=1)
def process_job(event: Any) -> None:
    from chalicelib.jobs.runner import handle

    for record in event:
        handle(record.body, event.context)


@app.schedule(Rate(1, unit=Rate.HOURS), name="hourly_reminders")
def hourly_reminders(event: Any) -> dict[str, Any]:
    from chalicelib.reminders.hourly import run_due

    return run_due(event.to_dict().get("time"), event.context)


@app.schedule(Cron(30, 2, "*", "*", "?", "*"), name="daily_reconcile")
def daily_reconcile(event: Any) -> dict[str, Any]:
    from chalicelib.jobs.reconcile import run as reconcile

    return reconcile(event.to_dict().get("time"))


logger.debug("app loaded")
