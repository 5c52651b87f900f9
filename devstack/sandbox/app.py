"""The Flask app: OAuth, the eSignature REST subset, signing pages and the /sandbox control API."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask import Flask, Response, g, redirect, render_template_string, request
from werkzeug.exceptions import HTTPException

from . import pages
from .config import SandboxConfig
from .connect import parse_schedule
from .limits import HOURLY_CODE, HOURLY_MESSAGE
from .oauth import JWT_GRANT, OAuthError, verify_assertion
from .state import Account, ApiError, PageState, Sandbox
from .timeutil import ds_format, parse_datetime

log = logging.getLogger(__name__)

EXTENSION_KEY = "docusign_sandbox"
REST_PREFIX = "/restapi/v2.1/accounts/<account_id>"
SESSION_COOKIE = "sbx_session"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers, mimetype="application/json")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return _json({"errorCode": code, "message": message}, status, headers)


def _with_event(url: str, event: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("event", event)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def create_app(config: SandboxConfig | None = None) -> Flask:
    config = config or SandboxConfig()
    sandbox = Sandbox(config)
    app = Flask(__name__)
    app.extensions[EXTENSION_KEY] = sandbox

    def base_url() -> str:
        return (config.public_url or request.host_url).rstrip("/")

    def body_json() -> dict[str, Any]:
        data = request.get_json(silent=True, force=True)
        if not isinstance(data, dict):
            raise ApiError(400, "INVALID_REQUEST_BODY", "The request body is missing or improperly formatted.")
        return data

    def control_json() -> dict[str, Any]:
        if not request.get_data():
            return {}
        data = request.get_json(silent=True, force=True)
        if not isinstance(data, dict):
            raise ApiError(400, "INVALID_REQUEST_BODY", "expected a JSON object")
        return data

    def pem_refusal(pem: str) -> Response | None:
        """400 for a public key the JWT grant could not be checked with (an integration's keypair)."""
        try:
            load_pem_public_key(pem.encode())
        except ValueError as exc:
            return _error(400, "INVALID_REQUEST_BODY", f"public_key_pem is not a PEM public key: {exc}")
        return None

    def bearer() -> str | None:
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def rest_account() -> str:
        """The account a REST call is for (limits are per account); the sandbox's own if unnamed."""
        return str((request.view_args or {}).get("account_id") or config.account_id)

    # -- cross-cutting ---------------------------------------------------------------------------

    @app.before_request
    def before() -> Response | None:
        g.trace_token = str(uuid.uuid4())
        path = request.path
        sandbox.tick()  # expiry is noticed lazily, on any request
        if not path.startswith("/sandbox/"):
            slow_ms = sandbox.faults.take_slow(request.method, path)
            if slow_ms:
                time.sleep(slow_ms / 1000)
            fault = sandbox.faults.take_error(request.method, path)
            if fault is not None:
                return _fault_reply(fault)
        if path.startswith("/restapi/"):
            user = sandbox.token_user(bearer() or "")
            if user is None:
                return _error(
                    401,
                    "AUTHORIZATION_INVALID_TOKEN",
                    "The access token provided is expired, revoked or malformed.",
                )
            account_id = (request.view_args or {}).get("account_id")
            if account_id is not None and account_id not in {a.account_id for a in sandbox.user_accounts(user)}:
                return _error(
                    400, "USER_LACKS_MEMBERSHIP", "The UserID does not have a valid membership in this Account."
                )
            envelope_id = (request.view_args or {}).get("envelope_id")
            owner = sandbox.envelope_account(envelope_id) if envelope_id else None
            if owner is not None and owner != account_id:  # another account's envelope: as if absent
                return _error(400, "ENVELOPE_DOES_NOT_EXIST",
                              "The envelope specified either does not exist or you have no rights to it.")
            # Counted only once the call reaches an account (DocuSign's limits are per account);
            # over a limit it is answered here, before any handler, so it has no effect.
            verdict = sandbox.limits.admit(rest_account())
            g.rate_headers = verdict.headers
            if verdict.refusal is not None:
                return _error(400, *verdict.refusal, verdict.headers)
        return None

    def _fault_reply(kind: str) -> Response:
        # A spoiled call never reached the account: not counted, the headers show the count so far.
        limits = sandbox.limits.peek(rest_account())
        if kind == "rate_limit_hourly":
            return _error(400, HOURLY_CODE, HOURLY_MESSAGE, {**limits, "X-RateLimit-Remaining": "0"})
        if kind == "rate_limit_burst":
            return _error(
                400,
                "Burst_APIInvocation_Envelope_Limit_Exceeded",
                "The maximum number of burst API invocations for this envelope has been exceeded.",
                {**limits, "X-RateLimit-Remaining": "0", "X-BurstLimit-Remaining": "0"},
            )
        return _error(500, "INTERNAL_SERVER_ERROR", "An internal error occurred (sandbox fault injection).")

    @app.after_request
    def after(response: Response) -> Response:
        response.headers["X-DocuSign-TraceToken"] = getattr(g, "trace_token", None) or str(uuid.uuid4())
        if request.path.startswith("/restapi/") and "X-RateLimit-Remaining" not in response.headers:
            # Every REST reply carries the five headers, errors included (as DocuSign's do).
            headers = getattr(g, "rate_headers", None) or sandbox.limits.peek(rest_account())
            response.headers.update(headers)
        return response

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return _error(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if request.path.startswith(("/restapi/", "/oauth/", "/sandbox/")):
            code = "INVALID_REQUEST_PARAMETER" if (exc.code or 500) < 500 else "INTERNAL_SERVER_ERROR"
            return _error(exc.code or 500, code, f"sandbox: {exc.description} ({request.method} {request.path})")
        return exc.get_response()

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> Response:
        log.exception("sandbox error on %s %s", request.method, request.path)
        return _error(500, "INTERNAL_SERVER_ERROR", f"sandbox bug: {type(exc).__name__}: {exc}")

    # -- OAuth -----------------------------------------------------------------------------------

    @app.post("/oauth/token")
    def oauth_token() -> Response:
        if request.form.get("grant_type") != JWT_GRANT:
            return _json({"error": "unsupported_grant_type"}, 400)
        assertion = request.form.get("assertion")
        if not assertion:
            return _json({"error": "invalid_request", "sandbox_detail": "assertion is missing"}, 400)
        with sandbox.lock:
            integrations = dict(sandbox.integrations)
        try:
            claims = verify_assertion(
                assertion,
                integrations,
                config.oauth_audience or request.host,
                {*sandbox.known_users(), *(config.consented_users or [])},
                config.consented_users,
            )
        except OAuthError as exc:
            return _json(exc.body(), 400)
        token = sandbox.issue_access_token(str(claims["sub"]))
        return _json({"access_token": token, "token_type": "Bearer", "expires_in": config.token_ttl_seconds})

    @app.get("/oauth/userinfo")
    def oauth_userinfo() -> Response:
        user = sandbox.token_user(bearer() or "")
        if user is None:
            return _json({"error": "invalid_token"}, 401)
        return _json(
            {
                "sub": user,
                "name": config.user_name,
                "given_name": config.user_name.split(" ")[0],
                "family_name": config.user_name.split(" ")[-1],
                "created": "2024-01-01T00:00:00.000",
                "email": config.user_email,
                "accounts": [
                    {
                        "account_id": account.account_id,
                        "is_default": n == 0,
                        "account_name": account.name,
                        "base_uri": base_url(),
                    }
                    for n, account in enumerate(sandbox.user_accounts(user))
                ],
            }
        )

    # -- eSignature REST -------------------------------------------------------------------------

    def include_set() -> set[str]:
        return {i.strip() for i in (request.args.get("include") or "").split(",") if i.strip()}

    @app.route(f"{REST_PREFIX}/envelopes", methods=["POST"])
    def create_envelope(account_id: str) -> Response:
        return _json(sandbox.create_envelope(body_json(), account_id), 201)

    @app.route(f"{REST_PREFIX}/envelopes", methods=["GET"])
    def list_status_changes(account_id: str) -> Response:
        return _json(sandbox.list_status_changes(request.args, account_id))

    @app.route(f"{REST_PREFIX}/envelopes/<envelope_id>", methods=["GET"])
    def get_envelope(account_id: str, envelope_id: str) -> Response:
        return _json(sandbox.envelope(envelope_id, include_set()))

    @app.route(f"{REST_PREFIX}/envelopes/<envelope_id>", methods=["PUT"])
    def update_envelope(account_id: str, envelope_id: str) -> Response:
        return _json(sandbox.update_envelope(envelope_id, body_json()))

    @app.route(f"{REST_PREFIX}/envelopes/<envelope_id>/recipients", methods=["GET"])
    def list_recipients(account_id: str, envelope_id: str) -> Response:
        include_tabs = (request.args.get("include_tabs") or "").lower() == "true"
        return _json(sandbox.recipients(envelope_id, include_tabs))

    @app.route(f"{REST_PREFIX}/envelopes/<envelope_id>/custom_fields", methods=["GET"])
    def list_custom_fields(account_id: str, envelope_id: str) -> Response:
        return _json(sandbox.custom_fields(envelope_id))

    @app.route(f"{REST_PREFIX}/envelopes/<envelope_id>/notification", methods=["GET"])
    def get_notification(account_id: str, envelope_id: str) -> Response:
        return _json(sandbox.notification(envelope_id))

    @app.route(f"{REST_PREFIX}/envelopes/<envelope_id>/notification", methods=["PUT"])
    def put_notification(account_id: str, envelope_id: str) -> Response:
        return _json(sandbox.update_notification(envelope_id, body_json()))

    @app.route(f"{REST_PREFIX}/envelopes/<envelope_id>/views/recipient", methods=["POST"])
    def recipient_view(account_id: str, envelope_id: str) -> Response:
        return _json(sandbox.create_view(envelope_id, body_json(), base_url()), 201)

    @app.route(f"{REST_PREFIX}/envelopes/<envelope_id>/documents", methods=["GET"])
    def list_documents(account_id: str, envelope_id: str) -> Response:
        return _json(sandbox.list_documents(envelope_id))

    @app.route(f"{REST_PREFIX}/envelopes/<envelope_id>/documents/<document_id>", methods=["GET"])
    def get_document(account_id: str, envelope_id: str, document_id: str) -> Response:
        certificate = (request.args.get("certificate") or "true").lower() != "false"
        pdf = sandbox.document_pdf(envelope_id, document_id, certificate)
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'file; filename="{envelope_id}-{document_id}.pdf"'},
        )

    # -- signing pages ---------------------------------------------------------------------------

    def render_page(page: PageState) -> Response:
        if page.mode == "redirect" and page.return_url:
            return redirect(_with_event(page.return_url, page.event or "signing_complete"), 302)
        if page.mode == "sign":
            response = Response(render_template_string(pages.SIGNING_PAGE, page=page, action=request.path))
            if page.set_session:
                response.set_cookie(SESSION_COOKIE, page.set_session, path=request.path, httponly=True, samesite="Lax")
            response.headers["Cache-Control"] = "no-store"
            return response
        titles = {
            "done": "Done",
            "closed": "Envelope closed",
            "waiting": "Not your turn yet",
            "expired": "Link expired",
            "invalid": "Unknown link",
        }
        status = {"expired": 410, "invalid": 404}.get(page.mode, 200)
        event = page.event or ("ttl_expired" if page.mode == "expired" else None)
        html = render_template_string(
            pages.MESSAGE_PAGE,
            title=titles.get(page.mode, page.mode),
            message=page.message,
            subject=page.subject,
            event=event,
        )
        return Response(html, status=status, headers={"Cache-Control": "no-store"})

    def signing(kind: str, token: str) -> Response:
        if request.method == "POST":
            page = sandbox.submit(kind, token, request.form.get("action", ""), request.form.get("reason"))
        else:
            page = sandbox.open_page(kind, token, request.cookies.get(SESSION_COOKIE))
        return render_page(page)

    @app.route("/signing/<token>", methods=["GET", "POST"])
    def view_signing(token: str) -> Response:
        return signing("view", token)

    @app.route("/signing/r/<token>", methods=["GET", "POST"])
    def email_signing(token: str) -> Response:
        return signing("email", token)

    def signing_document(kind: str, token: str, document_id: str) -> Response:
        document = sandbox.page_document(kind, token, document_id)
        if document is None:
            return Response("gone", status=410, mimetype="text/plain")
        if document.extension == "pdf":
            return Response(document.content, mimetype="application/pdf")
        # Documents come from API callers: shown sandboxed so their scripts cannot run here.
        return Response(
            document.html_text(),
            mimetype="text/html",
            headers={"Content-Security-Policy": "sandbox", "Cache-Control": "no-store"},
        )

    @app.get("/signing/<token>/documents/<document_id>")
    def view_signing_document(token: str, document_id: str) -> Response:
        return signing_document("view", token, document_id)

    @app.get("/signing/r/<token>/documents/<document_id>")
    def email_signing_document(token: str, document_id: str) -> Response:
        return signing_document("email", token, document_id)

    # -- sandbox control -------------------------------------------------------------------------

    @app.get("/")
    def index() -> Response:
        return redirect("/sandbox/inbox", 302)

    @app.get("/health")
    def health() -> Response:
        return _json({"ok": True})

    @app.get("/sandbox/config")
    def sandbox_config() -> Response:
        with sandbox.lock:
            keys = sorted(sandbox.integrations)
            connect_keys = len(sandbox.connect_keys)
        return _json(
            {
                "base_url": base_url(),
                "rest_host": base_url() + "/restapi",
                "account_id": config.account_id,
                "user_id": config.user_id,
                "user_name": config.user_name,
                "user_email": config.user_email,
                "oauth_audience": config.oauth_audience or request.host,
                "integration_keys": keys,
                "connect_key_count": connect_keys,
                "now": ds_format(sandbox.clock.now()),
            }
        )

    @app.post("/sandbox/integrations")
    def register_integration() -> Response:
        data = control_json()
        key = str(data.get("integration_key") or "").strip()
        pem = str(data.get("public_key_pem") or "")
        if not key or not pem:
            return _error(400, "INVALID_REQUEST_BODY", "integration_key and public_key_pem are required")
        refused = pem_refusal(pem)
        if refused is not None:
            return refused
        with sandbox.lock:
            sandbox.integrations[key] = pem
        return _json(
            {
                "integration_key": key,
                "account_id": config.account_id,
                "user_id": config.user_id,
                "oauth_audience": config.oauth_audience or request.host,
            },
            201,
        )

    @app.post("/sandbox/accounts")
    def add_account() -> Response:
        """Another account, with its own user (and optionally its own integration key and Connect
        keys): a tenant that brings its own DocuSign account. Ids are generated when not given."""
        data = control_json()
        account_id = str(data.get("account_id") or uuid.uuid4())
        user_id = str(data.get("user_id") or uuid.uuid4())
        keys = data.get("connect_keys")
        if keys is not None and (not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys)):
            return _error(400, "INVALID_REQUEST_BODY", "connect_keys must be a list of strings")
        key = str(data.get("integration_key") or "").strip()
        pem = str(data.get("public_key_pem") or "")
        if bool(key) != bool(pem):
            return _error(400, "INVALID_REQUEST_BODY", "integration_key and public_key_pem go together")
        refused = pem_refusal(pem) if pem else None
        if refused is not None:
            return refused
        with sandbox.lock:
            if account_id in sandbox.accounts:
                return _error(409, "ACCOUNT_EXISTS", f"account {account_id} already exists")
            sandbox.add_account(Account(account_id, str(data.get("account_name") or account_id), user_id,
                                        list(keys) if keys is not None else None))
            if key:
                sandbox.integrations[key] = pem
        return _json({"account_id": account_id, "user_id": user_id, "integration_key": key or None,
                      "oauth_audience": config.oauth_audience or request.host}, 201)

    @app.get("/sandbox/accounts")
    def list_accounts() -> Response:
        with sandbox.lock:
            listed = [{"account_id": a.account_id, "account_name": a.name, "user_id": a.user_id,
                       "own_connect_keys": a.connect_keys is not None} for a in sandbox.accounts.values()]
        return _json({"accounts": listed})

    @app.post("/sandbox/token")
    def mint_token() -> Response:
        # Shortcut for curl users: a valid access token without building a JWT.
        user = str(control_json().get("user_id") or config.user_id)
        token = sandbox.issue_access_token(user)
        return _json({"access_token": token, "token_type": "Bearer", "expires_in": config.token_ttl_seconds})

    @app.post("/sandbox/connect-keys")
    def connect_keys() -> Response:
        data = control_json()
        with sandbox.lock:
            if "keys" in data:
                keys = data["keys"]
                if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
                    return _error(400, "INVALID_REQUEST_BODY", "keys must be a list of strings")
                sandbox.connect_keys = list(keys)
            if isinstance(data.get("key"), str) and data["key"]:
                sandbox.connect_keys.append(data["key"])
            return _json({"count": len(sandbox.connect_keys)})

    @app.route("/sandbox/clock", methods=["GET", "POST"])
    def clock() -> Response:
        expired: list[str] = []
        if request.method == "POST":
            data = control_json()
            try:
                if data.get("reset"):
                    sandbox.clock.reset()
                if data.get("now"):
                    sandbox.clock.set_now(parse_datetime(str(data["now"])))
                if data.get("advance_seconds"):
                    sandbox.clock.advance(float(data["advance_seconds"]))
                if data.get("advance_days"):
                    sandbox.clock.advance(float(data["advance_days"]) * 86400)
            except (TypeError, ValueError) as exc:
                return _error(400, "INVALID_REQUEST_BODY", f"bad clock request: {exc}")
            expired = sandbox.tick()
            sandbox.connect.wake()  # retries on a schedule are due by this clock
        return _json(
            {
                "now": ds_format(sandbox.clock.now()),
                "offset_seconds": sandbox.clock.offset_seconds,
                "expired": expired,
            }
        )

    @app.post("/sandbox/tick")
    def tick() -> Response:
        return _json({"now": ds_format(sandbox.clock.now()), "expired": sandbox.tick()})

    @app.route("/sandbox/faults", methods=["GET", "POST", "DELETE"])
    def faults() -> Response:
        if request.method == "POST":
            try:
                sandbox.faults.add(control_json())
            except ValueError as exc:
                return _error(400, "INVALID_REQUEST_BODY", str(exc))
        elif request.method == "DELETE":
            sandbox.faults.clear()
        return _json(sandbox.faults.snapshot())

    @app.route("/sandbox/limits", methods=["GET", "POST", "DELETE"])
    def limits() -> Response:
        if request.method == "POST":
            try:
                sandbox.limits.configure(control_json())
            except ValueError as exc:
                return _error(400, "INVALID_REQUEST_BODY", str(exc))
        elif request.method == "DELETE":
            sandbox.limits.lift()
        return _json(sandbox.limits.snapshot())

    @app.route("/sandbox/connect-retry", methods=["GET", "POST", "DELETE"])
    def connect_retry() -> Response:
        if request.method == "POST":
            data = control_json()
            unknown = sorted(set(data) - {"schedule_seconds", "preset"})
            if unknown or len(data) != 1:
                return _error(400, "INVALID_REQUEST_BODY", "send exactly one of schedule_seconds or preset")
            try:
                sandbox.connect.set_schedule(parse_schedule(data.get("schedule_seconds", data.get("preset"))))
            except ValueError as exc:
                return _error(400, "INVALID_REQUEST_BODY", str(exc))
        elif request.method == "DELETE":
            sandbox.connect.set_schedule(None)
        schedule = sandbox.connect.schedule
        return _json(
            {
                "mode": "fast" if schedule is None else "schedule",
                "schedule_seconds": None if schedule is None else list(schedule),
                "timing": "real-time" if schedule is None else "sandbox-clock",
                "fast": {
                    "initial_seconds": config.connect_retry_initial_seconds,
                    "factor": config.connect_retry_factor,
                    "max_seconds": config.connect_retry_max_seconds,
                    "max_attempts": config.connect_max_attempts,
                },
            }
        )

    @app.post("/sandbox/reset")
    def reset() -> Response:
        sandbox.reset()
        return _json({"ok": True})

    @app.get("/sandbox/connect-log")
    def connect_log() -> Response:
        entries = sandbox.connect.entries()
        for key in ("envelope_id", "event", "outcome"):
            if wanted := request.args.get(key):
                entries = [e for e in entries if e.get(key) == wanted]
        return _json({"pending": sandbox.connect.pending(), "queue": sandbox.connect.queued(), "entries": entries})

    @app.get("/sandbox/envelopes")
    def sandbox_envelopes() -> Response:
        return _json({"envelopes": sandbox.inbox(base_url())})

    @app.get("/sandbox/envelopes/<envelope_id>")
    def sandbox_envelope(envelope_id: str) -> Response:
        for item in sandbox.inbox(base_url()):
            if item["envelopeId"] == envelope_id:
                return _json(item)
        return _error(404, "ENVELOPE_DOES_NOT_EXIST", "no such envelope in the sandbox")

    @app.get("/documents/details/<envelope_id>")
    def web_app_envelope(envelope_id: str) -> Response:
        # DocuSign's web app shows a sender the envelope at this path (app(demo).docusign.com).
        return sandbox_envelope(envelope_id)

    @app.get("/sandbox/inbox")
    def inbox() -> Response:
        return Response(
            render_template_string(
                pages.INBOX_PAGE, envelopes=sandbox.inbox(base_url()), now=ds_format(sandbox.clock.now())
            )
        )

    return app


def sandbox_of(app: Flask) -> Sandbox:
    """The state behind an app made by create_app (for tests and the local stack)."""
    return app.extensions[EXTENSION_KEY]
