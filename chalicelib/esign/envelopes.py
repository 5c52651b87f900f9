"""Envelopes through the official docusign-esign SDK. The SDK is imported inside functions only:
it costs ~0.6 s to import (2-3 s without bytecode) and the webhook handler never needs it."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

from urllib3.exceptions import HTTPError

from chalicelib.core.config import settings
from chalicelib.core.errors import RetryableError
from chalicelib.core.lifecycle_hooks import forget_after_restore
from chalicelib.core.observability import logger
from chalicelib.esign import governor
from chalicelib.esign.accounts import AccountUnavailable, DocuSignAccount, account_for_tenant
from chalicelib.esign.auth import DocuSignAuthError, DocuSignSession, forget_session, get_session
from chalicelib.rendering.anchors import date_signed_anchor, full_name_anchor, sign_here_anchor
from chalicelib.store.contention import StoreError

REQUEST_TIMEOUT = (3.05, 20.0)  # the SDK has no default timeout: always pass one
DOCUMENT_TIMEOUT = (3.05, 60.0)  # the combined PDF can be large
CONTRACT_ID_FIELD = "contractId"
TENANT_ID_FIELD = "tenantId"
CONNECT_EVENTS = (
    "envelope-sent", "envelope-delivered", "envelope-completed", "envelope-declined", "envelope-voided",
    "recipient-sent", "recipient-delivered", "recipient-completed", "recipient-declined",
)
# Errors DocuSign answers with 400 that are about load, not about our data: retry them.
RATE_LIMIT_CODES = frozenset({
    "HOURLY_APIINVOCATION_LIMIT_EXCEEDED",
    "HOURLY_APIINVOCATION_ENVELOPE_LIMIT_EXCEEDED",
    "BURST_APIINVOCATION_ENVELOPE_LIMIT_EXCEEDED",
    "BURST_APIINVOCATION_LIMIT_EXCEEDED",
    "HOURLY_ENVELOPE_POLLING_LIMIT_EXCEEDED",
})

T = TypeVar("T")


class EnvelopeRejected(Exception):
    """DocuSign refused the envelope because of the contract's data: not worth retrying."""

    def __init__(self, code: str, message: str, trace_token: str | None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.trace_token = trace_token


@dataclass(frozen=True)
class SignerSpec:
    position: int  # 1-based index in the contract's signers[]: names the document anchors
    name: str
    email: str
    routing_order: int
    embedded: bool
    client_user_id: str | None  # set for embedded signers


class SignerLike(Protocol):
    # Read-only: the store's signers (SignerProgress) are frozen.
    @property
    def position(self) -> Any: ...
    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def routing_order(self) -> Any: ...
    @property
    def delivery(self) -> str: ...


def signer_specs(contract_id: str, signers: Iterable[SignerLike]) -> list[SignerSpec]:
    """A contract's signers as DocuSign recipients; an embedded one signs through our link, as the
    clientUserId `{contract_id}-{position}`."""
    return [
        SignerSpec(
            position=int(s.position), name=s.name, email=s.email, routing_order=int(s.routing_order),
            embedded=s.delivery == "embedded",
            client_user_id=f"{contract_id}-{int(s.position)}" if s.delivery == "embedded" else None,
        )
        for s in signers
    ]


@dataclass(frozen=True)
class EnvelopeRequest:
    tenant_id: str
    contract_id: str
    subject: str
    document_name: str
    document_html: str
    signers: Sequence[SignerSpec]
    cc: Sequence[tuple[str, str]]  # (name, email)
    reminder_delay_days: int = 2
    reminder_frequency_days: int = 2
    expire_after_days: int = 30
    expire_warn_days: int = 5
    reminders_enabled: bool = True


def request_timeout(default: tuple[float, float] = REQUEST_TIMEOUT) -> tuple[float, float]:
    """(connect, read) seconds for one SDK call. A tuple on purpose: the SDK silently ignores a float.
    DOCUSIGN_READ_TIMEOUT_SECONDS overrides the read part (the fault tests use a short one)."""
    override = os.environ.get("DOCUSIGN_READ_TIMEOUT_SECONDS")
    if override:
        try:
            return (default[0], float(override))
        except ValueError:
            pass
    return default


# One ApiClient per container and token: its urllib3 pool keeps the connection to DocuSign open
# from call to call (a TLS handshake saved per call). A new token (hourly) or host gets a new one;
# the header is set once per client, so concurrent calls never see another token.
_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


@forget_after_restore
def forget_api_clients() -> None:
    """Their token and their pooled connections (a snapshot's are stale)."""
    with _clients_lock:
        _clients.clear()


def _api(session: DocuSignSession) -> Any:
    from docusign_esign import ApiClient, EnvelopesApi

    key = (session.rest_host, session.access_token)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            _clients.clear()
            client = ApiClient(host=session.rest_host)
            # Not set_access_token(): it stores the token without "Bearer ".
            client.set_default_header("Authorization", f"Bearer {session.access_token}")
            _clients[key] = client
    return EnvelopesApi(client)


def account_of(tenant_id: str | None) -> DocuSignAccount:
    """The tenant's DocuSign account; one configured but unusable is retried (and alarmed), never
    swapped for the service's."""
    try:
        return account_for_tenant(tenant_id)
    except AccountUnavailable as err:
        logger.error("tenant's DocuSign account unusable", extra={"tenant_id": tenant_id, "error": str(err)})
        raise RetryableError(f"DocuSign account of tenant {tenant_id}: {err}") from err
    except StoreError as err:  # the registry unreadable for now
        raise RetryableError(f"DocuSign account of tenant {tenant_id}: {err}") from err


def _call[T](operation: str, fn: Callable[[Any, DocuSignSession], T], account: DocuSignAccount) -> T:
    """Runs one SDK call in the account, classifying failures: load and outages retry, data problems
    don't."""
    from docusign_esign.client.api_exception import ApiException

    for attempt in (1, 2):
        try:
            session = get_session(account, force_refresh=attempt > 1)
        except DocuSignAuthError as err:  # consent missing, bad key...: logged by auth, alarmed, retried
            raise RetryableError(f"DocuSign auth ({err.error}): {err}") from err
        api = _api(session)
        governor.check(session.account_id)  # the account's budget spent: RateLimited, run again after the reset
        try:
            result = fn(api, session)
            governor.observe(session.account_id, _last_headers(api))
            return result
        except ApiException as err:
            status = int(getattr(err, "status", 0) or 0)
            trace = _trace_token(err)
            code, message = _error_code(err)
            headers = getattr(err, "headers", None)
            if code.upper() in RATE_LIMIT_CODES:
                burst = "BURST" in code.upper()
                governor.observe(session.account_id, headers, spent=not burst)
                logger.warning("DocuSign rate limit", extra={"operation": operation, "error_code": code,
                                                             "trace_token": trace})
                wait = governor.burst_window_seconds() if burst else governor.retry_after(headers)
                raise governor.RateLimited(f"DocuSign {operation}: HTTP {status} {code} (trace {trace})",
                                           wait) from err
            governor.observe(session.account_id, headers)
            if status == 401 and attempt == 1:  # token revoked or expired early: one fresh try
                logger.warning("DocuSign token refused; getting a new one", extra={
                    "operation": operation, "trace_token": trace})
                forget_session(account, userinfo=False)
                continue
            retryable = (status == 0 or status >= 500 or status in (401, 408, 429)
                         or code.upper() in RATE_LIMIT_CODES)
            log = logger.warning if retryable else logger.error
            log("DocuSign call failed", extra={
                "operation": operation, "status": status, "error_code": code or None, "error_message": message,
                "trace_token": trace, "retryable": retryable})
            if retryable:  # status 0: no HTTP answer at all (the SDK's SSL error path)
                raise RetryableError(f"DocuSign {operation}: HTTP {status} {code} (trace {trace})") from err
            raise EnvelopeRejected(code or f"HTTP_{status}", message, trace) from err
        except HTTPError as err:  # timeouts and connection errors: no trace token, DocuSign never answered
            logger.warning("DocuSign unreachable", extra={
                "operation": operation, "error": f"{type(err).__name__}: {err}", "trace_token": None})
            raise RetryableError(f"DocuSign {operation}: {type(err).__name__}: {err}") from err
    raise RetryableError(f"DocuSign {operation}: unauthorized twice")


def _last_headers(api: Any) -> Any:
    """The headers of the SDK's last answer (its ApiClient keeps the response)."""
    response = getattr(getattr(api, "api_client", None), "last_response", None)
    getheaders = getattr(response, "getheaders", None)
    return getheaders() if callable(getheaders) else None


def _trace_token(err: Any) -> str | None:
    token = getattr(err, "trace_token", None)
    if token:
        return str(token)
    headers = getattr(err, "headers", None) or {}
    try:
        value = headers.get("X-DocuSign-TraceToken")
    except AttributeError:
        return None
    return str(value) if value else None


def _error_code(err: Any) -> tuple[str, str]:
    try:
        body = json.loads(getattr(err, "body", None) or b"{}")
    except (TypeError, ValueError):
        return "", str(getattr(err, "reason", "") or "")
    if not isinstance(body, dict):
        return "", str(getattr(err, "reason", "") or "")
    return str(body.get("errorCode") or ""), str(body.get("message") or getattr(err, "reason", "") or "")


def connect_url(account: DocuSignAccount) -> str:
    """Where Connect posts an envelope's events. A tenant's own account signs them with its own
    HMAC keys: the URL names the tenant, so the listener knows which keys to check (and then accepts
    only that tenant's envelopes)."""
    base = settings().connect_url
    return f"{base}?{urlencode({'tenant': account.tenant_id})}" if account.tenant_id else base


def envelope_definition(request: EnvelopeRequest, notify_url: str | None = None) -> Any:
    from docusign_esign import (
        CarbonCopy,
        ConnectEventData,
        CustomFields,
        DateSigned,
        Document,
        EnvelopeDefinition,
        EventNotification,
        Expirations,
        FullName,
        Notification,
        Recipients,
        Reminders,
        Signer,
        SignHere,
        Tabs,
        TextCustomField,
    )


    def anchored(cls: Any, anchor: str, y_offset: str) -> Any:
        return cls(anchor_string=anchor, anchor_units="pixels", anchor_x_offset="0", anchor_y_offset=y_offset,
                   anchor_ignore_if_not_present="false", anchor_match_whole_word="true")

    signers = [
        Signer(
            email=s.email, name=s.name, recipient_id=str(s.position), routing_order=str(s.routing_order),
            client_user_id=s.client_user_id if s.embedded else None,
            tabs=Tabs(
                sign_here_tabs=[anchored(SignHere, sign_here_anchor(s.position), "-6")],
                date_signed_tabs=[anchored(DateSigned, date_signed_anchor(s.position), "0")],
                full_name_tabs=[anchored(FullName, full_name_anchor(s.position), "0")],
            ),
        )
        for s in request.signers
    ]
    last_order = max((s.routing_order for s in request.signers), default=1)
    carbon_copies = [
        CarbonCopy(email=email, name=name, recipient_id=str(len(signers) + i), routing_order=str(last_order))
        for i, (name, email) in enumerate(request.cc, start=1)
    ]
    return EnvelopeDefinition(
        email_subject=request.subject[:100],
        documents=[Document(
            document_base64=base64.b64encode(request.document_html.encode("utf-8")).decode("ascii"),
            name=request.document_name, file_extension="html", document_id="1",
        )],
        recipients=Recipients(signers=signers, carbon_copies=carbon_copies or None),
        custom_fields=CustomFields(text_custom_fields=[
            TextCustomField(name=CONTRACT_ID_FIELD, value=request.contract_id, show="false", required="false"),
            TextCustomField(name=TENANT_ID_FIELD, value=request.tenant_id, show="false", required="false"),
        ]),
        notification=Notification(
            use_account_defaults="false",
            reminders=Reminders(reminder_enabled="true" if request.reminders_enabled else "false",
                                reminder_delay=str(request.reminder_delay_days),
                                reminder_frequency=str(request.reminder_frequency_days)),
            expirations=Expirations(expire_enabled="true", expire_after=str(request.expire_after_days),
                                    expire_warn=str(request.expire_warn_days)),
        ),
        event_notification=EventNotification(
            url=notify_url or settings().connect_url, delivery_mode="SIM", events=list(CONNECT_EVENTS),
            event_data=ConnectEventData(version="restv2.1", format="json",
                                        include_data=["custom_fields", "recipients"]),
            include_hmac="true", require_acknowledgment="true", logging_enabled="true",
            include_envelope_void_reason="true",
        ),
        status="sent",
    )


@dataclass(frozen=True)
class EnvelopeRef:
    envelope_id: str
    status: str


def create_envelope(request: EnvelopeRequest) -> EnvelopeRef:
    account = account_of(request.tenant_id)
    definition = envelope_definition(request, connect_url(account))

    def call(api: Any, session: DocuSignSession) -> EnvelopeRef:
        summary = api.create_envelope(session.account_id, envelope_definition=definition,
                                      _request_timeout=request_timeout())
        return EnvelopeRef(summary.envelope_id, summary.status or "sent")

    return _call("create_envelope", call, account)


def find_envelopes(tenant_id: str, contract_id: str, since: datetime) -> list[EnvelopeRef]:
    """The live envelopes DocuSign already holds for this contract, oldest first, found by the hidden
    contractId field: covers a send job that died after DocuSign accepted the envelope and before we
    recorded its id (and a create that timed out although DocuSign went on to make it)."""

    def call(api: Any, session: DocuSignSession) -> list[EnvelopeRef]:
        result = api.list_status_changes(
            session.account_id,
            from_date=(since - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            custom_field=f"{CONTRACT_ID_FIELD}={contract_id}",
            _request_timeout=request_timeout(),
        )
        found = [env for env in result.envelopes or []
                 if (env.status or "").lower() not in ("voided", "deleted") and env.envelope_id]
        found.sort(key=lambda env: (env.created_date_time or "", env.envelope_id))
        return [EnvelopeRef(env.envelope_id, (env.status or "sent").lower()) for env in found]

    return _call("list_status_changes", call, account_of(tenant_id))


def find_envelope(tenant_id: str, contract_id: str, since: datetime) -> EnvelopeRef | None:
    """The oldest live envelope for this contract, if any."""
    found = find_envelopes(tenant_id, contract_id, since)
    return found[0] if found else None


@dataclass(frozen=True)
class EnvelopeChange:
    envelope_id: str
    status: str
    status_changed_at: str | None
    contract_id: str | None
    tenant_id: str | None
    voided_reason: str | None
    recipients: tuple[Mapping[str, Any], ...]


def list_changes(since: datetime, until: datetime | None = None, account: DocuSignAccount | None = None
                 ) -> list[EnvelopeChange]:
    """Envelope status changes in one account (the service's when None) since a checkpoint
    (reconciliation): one paged call, no polling."""

    def call(api: Any, session: DocuSignSession) -> list[EnvelopeChange]:
        changes: list[EnvelopeChange] = []
        start = 0
        while True:
            kwargs: dict[str, Any] = {
                "from_date": since.strftime("%Y-%m-%dT%H:%M:%SZ"), "include": "custom_fields,recipients",
                "start_position": str(start), "count": "100", "_request_timeout": request_timeout(),
            }
            if until is not None:
                kwargs["to_date"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
            page = api.list_status_changes(session.account_id, **kwargs)
            envelopes = page.envelopes or []
            for env in envelopes:
                fields = {f.name: f.value for f in ((env.custom_fields and env.custom_fields.text_custom_fields) or [])}
                signers = (env.recipients and env.recipients.signers) or []
                changes.append(EnvelopeChange(
                    envelope_id=env.envelope_id, status=(env.status or "").lower(),
                    status_changed_at=env.status_changed_date_time,
                    contract_id=fields.get(CONTRACT_ID_FIELD), tenant_id=fields.get(TENANT_ID_FIELD),
                    voided_reason=env.voided_reason,
                    recipients=tuple(
                        {"recipientId": s.recipient_id, "status": s.status, "signedDateTime": s.signed_date_time,
                         "declinedReason": s.declined_reason} for s in signers),
                ))
            start += len(envelopes)
            if not envelopes or not page.next_uri:
                return changes

    return _call("list_status_changes", call, account or account_of(None))


def combined_pdf(tenant_id: str, envelope_id: str) -> bytes:
    def call(api: Any, session: DocuSignSession) -> bytes:
        # Note the SDK's argument order: document_id before envelope_id.
        data = api.get_document(session.account_id, "combined", envelope_id, certificate="true",
                                _request_timeout=request_timeout(DOCUMENT_TIMEOUT))
        return data if isinstance(data, bytes) else bytes(data)

    return _call("get_document", call, account_of(tenant_id))


def certificate_pdf(tenant_id: str, envelope_id: str) -> bytes:
    """DocuSign's certificate of completion of the envelope, alone (documentId `certificate`): the
    evidence bundle's `certificate.pdf`, kept as a file of its own with its sha256."""
    def call(api: Any, session: DocuSignSession) -> bytes:
        data = api.get_document(session.account_id, "certificate", envelope_id,
                                _request_timeout=request_timeout(DOCUMENT_TIMEOUT))
        return data if isinstance(data, bytes) else bytes(data)

    return _call("get_document", call, account_of(tenant_id))


def recipient_view(tenant_id: str, envelope_id: str, signer: SignerSpec, return_url: str) -> str:
    from docusign_esign import RecipientViewRequest

    view = RecipientViewRequest(
        authentication_method="none", client_user_id=signer.client_user_id, recipient_id=str(signer.position),
        return_url=return_url, user_name=signer.name, email=signer.email,
    )

    def call(api: Any, session: DocuSignSession) -> str:
        return str(api.create_recipient_view(session.account_id, envelope_id, recipient_view_request=view,
                                             _request_timeout=request_timeout()).url)

    return _call("create_recipient_view", call, account_of(tenant_id))


def void_envelope(tenant_id: str, envelope_id: str, reason: str) -> None:
    from docusign_esign import Envelope

    def call(api: Any, session: DocuSignSession) -> None:
        api.update(session.account_id, envelope_id, envelope=Envelope(status="voided", voided_reason=reason[:200]),
                   _request_timeout=request_timeout())

    _call("void_envelope", call, account_of(tenant_id))
