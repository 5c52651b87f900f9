"""signbridge: Chalice wiring only. Each handler parses its trigger, calls one function in
chalicelib and shapes the response. Heavy libraries (DocuSign SDK, Jinja2, cn2an) load inside the
functions of chalicelib that need them, so importing this module (every cold start) loads none."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from chalice import Chalice, Cron, Rate, Response
from chalice.app import Request

from chalicelib.core import lifecycle_hooks
from chalicelib.core.config import jobs_queue_name, ses_feedback_topic
from chalicelib.core.observability import add_log_keys, logger
from chalicelib.esign import document_links
from chalicelib.intake.base import InboundRequest
from chalicelib.intake.service import receive_webhook
from chalicelib.jobs import reconcile, runner
from chalicelib.jobs.connect_listener import receive_connect
from chalicelib.notify.ses_feedback import handle_sns_event
from chalicelib.reminders import hourly
from chalicelib.reminders import projection as _projection  # noqa: F401 - hands the analytics projection to the store
from chalicelib.web import (
    analytics,
    api,
    approval_pages,
    collections,
    consent,
    contract_actions,
    contract_page,
    evidence,
    execution_log,
    listing,
    openapi,
    preview,
    signing,
)
from chalicelib.web.http import (
    api_route,
    correlation_ids,
    header,
    health_response,
    health_route,
    json_response,
    public_error_shape,
)

app = Chalice(app_name="signbridge")
app.log.setLevel("INFO")
app.register_middleware(public_error_shape, "http")  # Chalice's own 415/405 in the public error shape
app.register_middleware(correlation_ids, "http")  # request ids on every log line of a request
lifecycle_hooks.at_init()  # a deployed stage missing a setting says so now; SnapStart's restore hook

WEBHOOK_CONTENT_TYPES = [
    "application/json", "text/xml", "application/xml", "application/soap+xml",
    "application/x-www-form-urlencoded", "text/plain",
]


def _request_url() -> str:
    """The URL the caller used, without its query string: Host, X-Forwarded-Proto, and the path as
    called (API Gateway's requestContext.path already holds the stage on execute-api hosts)."""
    request = _request()
    host = header(request.headers, "host") or "localhost"
    proto = header(request.headers, "x-forwarded-proto") or "https"
    stage = request.context.get("stage", "")
    path = request.context.get("path", "")
    needs_stage = stage and stage != "api" and "execute-api" in host and not path.startswith(f"/{stage}/")
    return f"{proto}://{host}{f'/{stage}' if needs_stage else ''}{path}"


def _query_items() -> tuple[tuple[str, str], ...]:
    # The decoded parameters in the order API Gateway gives them, repeated names kept (HubSpot signs
    # the query string; REST APIs keep only these).
    params = _request().query_params
    return tuple((name, value) for name in params for value in params.getlist(name)) if params else ()


def _raw_query() -> str | None:
    # Only payloads that carry the query string as received have it (HTTP APIs' rawQueryString).
    raw = _request().to_original_event().get("rawQueryString")
    return raw if isinstance(raw, str) else None


def _request() -> Request:
    request = app.current_request
    if request is None:  # Chalice sets it before a route runs: a route without it is a wiring bug
        raise RuntimeError("no current request")
    return request


def _raw_body() -> bytes:
    body = _request().raw_body
    return body if isinstance(body, bytes) else (body or "").encode()


def _query() -> dict[str, str]:
    return dict(_request().query_params or {})


def _tenant() -> str:
    tenant_id = api.tenant_from_authorization(header(_request().headers, "authorization"))
    add_log_keys(tenant_id=tenant_id)
    return tenant_id


# 503 with the names of the required settings a deployed stage lacks (every other route refuses then).
@app.route("/health", methods=["GET"])
@health_route
def health() -> Response:
    return health_response()


@app.route("/v1/webhooks/{source_id}", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
@api_route
def crm_webhook(source_id: str) -> Response:
    request = _request()
    raw_query, items = _raw_query(), _query_items()
    query = raw_query if raw_query is not None else urlencode(items, quote_via=quote)
    result = receive_webhook(source_id, InboundRequest(
        method=request.method, url=_request_url() + (f"?{query}" if query else ""), headers=dict(request.headers),
        raw_body=_raw_body(), query=_query(), raw_query=raw_query, query_items=items,
    ))
    if result.content_type == "application/json":
        return json_response(result.body, result.status)
    return Response(body=result.body, status_code=result.status, headers={"Content-Type": result.content_type})


@app.route("/v1/esign/docusign/connect", methods=["POST"], content_types=["application/json", "text/plain"])
@api_route
def docusign_connect() -> Response:
    request = _request()
    status, body = receive_connect(dict(request.headers), _raw_body(), _query().get("tenant"))
    return json_response(body, status)


# The consent URL's redirect URI (register it on the integration key): DocuSign's answer, as a page.
@app.route("/v1/esign/docusign/consent", methods=["GET"])
@api_route
def docusign_consent() -> Response:
    return _page(consent.consent_page(_query(), header(_request().headers, "accept-language")))


@app.route("/v1/contracts/{contract_id}", methods=["GET"])
@api_route
def get_contract(contract_id: str) -> dict[str, Any]:
    return api.get_contract(_tenant(), contract_id)


@app.route("/v1/contracts/{contract_id}/approve", methods=["POST"], content_types=["application/json", "text/plain"])
@api_route
def approve_contract(contract_id: str) -> dict[str, Any]:
    request = _request()
    return contract_actions.approve(_tenant(), contract_id, _raw_body(),
                                    header(request.headers, "authorization"))


@app.route("/v1/contracts/{contract_id}/reject", methods=["POST"], content_types=["application/json", "text/plain"])
@api_route
def reject_contract(contract_id: str) -> dict[str, Any]:
    request = _request()
    return contract_actions.reject(_tenant(), contract_id, _raw_body(),
                                   header(request.headers, "authorization"))


@app.route("/v1/contracts/{contract_id}/void", methods=["POST"], content_types=["application/json", "text/plain"])
@api_route
def void_contract(contract_id: str) -> dict[str, Any]:
    request = _request()
    return contract_actions.void(_tenant(), contract_id, _raw_body(),
                                 header(request.headers, "authorization"))


@app.route("/v1/contracts/{contract_id}/document", methods=["GET"])
@api_route
def contract_document(contract_id: str) -> Response:
    tenant_id = _tenant()
    version = document_links.check_version(_query().get("version"))
    url = document_links.document_url(api.load_contract(tenant_id, contract_id), version)
    return _redirect(url)


# The stable link written onto the CRM record (write-back): no API key, the link id is the capability.
@app.route("/v1/signed/{link_id}", methods=["GET"])
@api_route
def signed_document(link_id: str) -> Response:
    return _redirect(document_links.signed_url_by_link(link_id), public=True)


@app.route("/v1/contracts/preview", methods=["POST"], content_types=["application/json"])
@api_route
def preview_contract() -> Response:
    html = preview.preview(_tenant(), _raw_body())
    return Response(body=html, status_code=200, headers={"Content-Type": "text/html; charset=utf-8"})


@app.route("/v1/contracts/{contract_id}/signing-link", methods=["GET", "DELETE"])
@api_route
def signing_link(contract_id: str) -> dict[str, Any]:
    request = _request()
    record = api.load_contract(_tenant(), contract_id)
    signer = _query().get("signer")
    if request.method == "DELETE":
        return signing.revoke_link(record, signer)
    return signing.signing_link(record, signer)


@app.route("/sign/{token}", methods=["GET"])
@api_route
def open_signing_link(token: str) -> Response:
    return _page(signing.open_link(token, header(_request().headers, "accept-language")))


@app.route("/signed", methods=["GET"])
@api_route
def signed() -> Response:
    params = _query()
    return _page(signing.signed_page(params.get("event"), params.get("lang"), params.get("contract")))


# An approver's email link: GET only shows the contract and a confirm form (mail scanners follow links),
# the form's POST (the token in the URL, no cookie) approves or rejects.
@app.route("/approval/{token}", methods=["GET"])
@api_route
def open_approval_link(token: str) -> Response:
    return _page(approval_pages.open_page(token, header(_request().headers, "accept-language")))


@app.route("/approval/{token}", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
@api_route
def submit_approval_link(token: str) -> Response:
    return _page(approval_pages.submit(token, _raw_body(), header(_request().headers, "accept-language")))


# The contract page behind an email's link (the token is the only credential; GET never acts, the
# form's POST records what the link's scope allows), and the files it links to.
@app.route("/c/{token}", methods=["GET"])
@api_route
def open_contract_page(token: str) -> Response:
    return _page(contract_page.open_page(token, header(_request().headers, "accept-language")))


@app.route("/c/{token}", methods=["POST"], content_types=["application/x-www-form-urlencoded"])
@api_route
def submit_contract_page(token: str) -> Response:
    return _page(contract_page.submit(token, _raw_body(), header(_request().headers, "accept-language")))


@app.route("/c/{token}/{kind}", methods=["GET"])
@api_route
def contract_page_file(token: str, kind: str) -> Response:
    url, page = contract_page.file_url(token, kind, header(_request().headers, "accept-language"))
    return _redirect(url, public=True) if url else _page(page)


@app.route("/v1/contracts/{contract_id}/share", methods=["POST", "DELETE"],
           content_types=["application/json", "text/plain"])
@api_route
def share_contract(contract_id: str) -> Any:
    request = _request()
    authorization = header(request.headers, "authorization")
    if request.method == "DELETE":
        return contract_page.revoke(_tenant(), contract_id, None, authorization)
    return json_response(contract_page.share(_tenant(), contract_id, _raw_body(), authorization), 201)


@app.route("/v1/contracts/{contract_id}/share/{link_id}", methods=["DELETE"])
@api_route
def revoke_share_link(contract_id: str, link_id: str) -> dict[str, Any]:
    return contract_page.revoke(_tenant(), contract_id, link_id, header(_request().headers, "authorization"))


# Signing pages carry a token in their URL: no cache keeps it, no Referer gives it away.
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _redirect(url: str, *, public: bool = False) -> Response:
    """302 to a short-lived document URL; a public link's answer gives no Referer away either."""
    headers = PAGE_HEADERS if public else {"Cache-Control": "no-store"}
    return Response(body="", status_code=302, headers={"Location": url, **headers})


def _page(page: Any) -> Response:
    if page.redirect:
        return Response(body="", status_code=302, headers={"Location": page.redirect, **PAGE_HEADERS})
    return Response(body=page.html, status_code=page.status,
                    headers={"Content-Type": "text/html; charset=utf-8", **PAGE_HEADERS})


@app.route("/v1/contracts/{contract_id}/milestones/{milestone_id}", methods=["POST"])
@api_route
def record_milestone(contract_id: str, milestone_id: str) -> dict[str, Any]:
    return contract_actions.record_milestone(_tenant(), contract_id, milestone_id, _raw_body())


@app.route("/v1/contracts/{contract_id}/execution", methods=["POST"], content_types=["application/json"])
@api_route
def record_execution_entry(contract_id: str) -> Response:
    body, status = execution_log.record(_tenant(), contract_id, _raw_body())
    return json_response(body, status)


# One file of an entry: 302 to a 5-minute URL that downloads it (Content-Disposition: attachment).
@app.route("/v1/contracts/{contract_id}/execution/{entry_id}/attachments/{index}", methods=["GET"])
@api_route
def execution_attachment(contract_id: str, entry_id: str, index: str) -> Response:
    return _redirect(execution_log.attachment_url(_tenant(), contract_id, entry_id, index))


@app.route("/v1/contracts/{contract_id}/evidence", methods=["GET"])
@api_route
def contract_evidence(contract_id: str) -> Response:
    return _redirect(evidence.evidence_url(api.load_contract(_tenant(), contract_id)))


# The evidence bundle's stable link (written back with the signed status): the link id is the capability.
@app.route("/v1/evidence/{link_id}", methods=["GET"])
@api_route
def evidence_by_link(link_id: str) -> Response:
    return _redirect(evidence.evidence_url_by_link(link_id), public=True)


@app.route("/v1/contracts", methods=["GET"])
@api_route
def list_contracts() -> dict[str, Any]:
    return listing.list_contracts(_tenant(), _query())


@app.route("/v1/analytics/summary", methods=["GET"])
@api_route
def analytics_summary() -> dict[str, Any]:
    return analytics.analytics_summary(_tenant(), _query())


def _report(kind: str, body: dict[str, Any] | str, name: str) -> Response:
    if kind == "csv":
        return Response(body=body, status_code=200, headers={
            "Content-Type": "text/csv; charset=utf-8", "Content-Disposition": f'attachment; filename="{name}.csv"'})
    return json_response(body)


@app.route("/v1/analytics/receivables", methods=["GET"])
@api_route
def analytics_receivables() -> Response:
    return _report(*collections.receivables_report(_tenant(), _query()), "receivables")


@app.route("/v1/analytics/renewals", methods=["GET"])
@api_route
def analytics_renewals() -> Response:
    return _report(*collections.renewals_report(_tenant(), _query()), "renewals")


@app.route("/openapi.json", methods=["GET"])
@api_route
def openapi_json() -> dict[str, Any]:
    return openapi.openapi_document(app.routes)


@app.on_sqs_message(queue=jobs_queue_name(), batch_size=1)
def process_job(event: Any) -> None:
    for record in event:
        runner.handle(record.body, event.context, message_id=record.to_dict().get("messageId"))


@app.schedule(Rate(1, unit=Rate.HOURS), name="hourly_reminders")
@runner.scheduled("hourly_reminders")
def hourly_reminders(event: Any) -> dict[str, Any]:
    return hourly.run_due(event.to_dict().get("time"), event.context)


@app.schedule(Cron(30, 2, "*", "*", "?", "*"), name="daily_reconcile")
@runner.scheduled("daily_reconcile")
def daily_reconcile(event: Any) -> dict[str, Any]:
    return reconcile.run(event.to_dict().get("time"))


# SES's bounce and complaint reports for this stage (the topic its configuration set publishes to;
# the stage is read at import, as `chalice package` runs with the stage's SIGNBRIDGE_STAGE).
@app.on_sns_message(topic=ses_feedback_topic(), name="ses_feedback")
def ses_feedback(event: Any) -> dict[str, int]:
    return handle_sns_event(event.to_dict(), event.context)


logger.debug("app loaded")
