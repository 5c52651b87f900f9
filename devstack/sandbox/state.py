"""In-memory DocuSign: envelopes, routing, signing tokens, expiry and the Connect events they raise.

Every public method takes the one lock, so the threaded werkzeug server and the Connect worker
never see half-applied changes. PDF rendering is the only slow step and runs outside the lock.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from .config import SandboxConfig
from .connect import ConnectDispatcher, ConnectMessage
from .documents import (
    SUPPORTED_EXTENSIONS,
    Document,
    anchor_found,
    certificate_html,
    combine,
    document_pdf,
    html_to_pdf,
)
from .faults import Faults
from .limits import RateLimiter
from .timeutil import Clock, ds_format, ms_format, parse_datetime

SIGNER = "signer"
CC = "cc"
IN_PROCESS = ("sent", "delivered")
INCOMPLETE_MESSAGE = (
    "The Envelope is not Complete. A Complete Envelope Requires Documents, Recipients, Tabs, and a Subject Line."
)
EXPIRED_REASON = "Envelope has expired."
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SUPPORTED_RECIPIENT_LISTS = {"signers", "carbonCopies"}
_STATUS_DATE_FIELDS = {
    "changed": "status_changed",
    "created": "created",
    "sent": "sent",
    "delivered": "delivered",
    "completed": "completed",
    "declined": "declined",
    "voided": "voided",
}


class ApiError(Exception):
    """A DocuSign-style error reply: HTTP status plus {"errorCode", "message"}."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _bad(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def _incomplete(detail: str) -> ApiError:
    return _bad("ENVELOPE_IS_INCOMPLETE", f"{INCOMPLETE_MESSAGE} (sandbox: {detail})")


@dataclass
class Recipient:
    kind: str  # SIGNER or CC
    wire: dict[str, Any]  # what the sender sent, plus the status fields DocuSign adds
    email_token: str | None = None

    @property
    def recipient_id(self) -> str:
        return str(self.wire["recipientId"])

    @property
    def routing_order(self) -> int:
        return int(self.wire["routingOrder"])

    @property
    def status(self) -> str:
        return str(self.wire["status"])

    @property
    def embedded(self) -> bool:
        return bool(self.wire.get("clientUserId"))

    def set(self, **values: Any) -> None:
        self.wire.update(values)


@dataclass
class SigningToken:
    token: str
    envelope_id: str
    recipient_id: str
    kind: str  # "view" (single use, 5 min) or "email" (per recipient, long lived)
    return_url: str | None
    created: float  # time.monotonic(): link lifetimes follow real time, not the shifted clock
    opened: float | None = None
    session: str | None = None
    finished: bool = False


@dataclass
class Envelope:
    envelope_id: str
    status: str
    email_subject: str
    email_blurb: str | None
    documents: list[Document]
    recipients: list[Recipient]
    custom_fields: dict[str, Any]
    notification: dict[str, Any] | None
    event_notification: dict[str, Any] | None
    created: datetime
    status_changed: datetime
    last_modified: datetime
    sent: datetime | None = None
    delivered: datetime | None = None
    completed: datetime | None = None
    declined: datetime | None = None
    voided: datetime | None = None
    voided_reason: str | None = None
    last_generated: datetime | None = None
    pdf_cache: dict[str, bytes] = field(default_factory=dict)
    account_id: str = ""  # the account it was created in (set by create_envelope)

    @property
    def signers(self) -> list[Recipient]:
        return [r for r in self.recipients if r.kind == SIGNER]

    def recipient(self, recipient_id: str) -> Recipient:
        for r in self.recipients:
            if r.recipient_id == recipient_id:
                return r
        raise KeyError(recipient_id)


@dataclass
class PageState:
    """What the signing page should show for a token (decided under the lock, rendered outside)."""

    mode: str  # sign | expired | invalid | closed | waiting | done | redirect
    kind: str = "view"
    token: str = ""
    return_url: str | None = None
    event: str | None = None
    set_session: str | None = None
    envelope_id: str = ""
    envelope_status: str = ""
    subject: str = ""
    blurb: str | None = None
    signer_name: str = ""
    signer_email: str = ""
    documents: list[tuple[str, str]] = field(default_factory=list)  # (document id, name)
    message: str = ""


@dataclass
class Account:
    """A DocuSign account of the sandbox, and the one user who may use it (its integration key's)."""

    account_id: str
    name: str
    user_id: str
    connect_keys: list[str] | None = None  # None: the sandbox-wide keys (the default account's)


def _clean(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None}


def _truncate_ms(when: datetime) -> datetime:
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = Clock()
        self.faults = Faults()
        self.limits = RateLimiter(config, self.clock)
        self.lock = threading.RLock()
        self.integrations: dict[str, str] = dict(config.integrations)
        self.connect_keys: list[str] = list(config.connect_hmac_keys)
        # Accounts by id; the config's is the default one. More are added at run time (one per
        # tenant that brings its own DocuSign account), each with its own user, limits and keys.
        self.accounts: dict[str, Account] = {
            config.account_id: Account(config.account_id, config.account_name, config.user_id)}
        self.access_tokens: dict[str, tuple[str, float]] = {}  # token -> (user id, monotonic expiry)
        self.envelopes: dict[str, Envelope] = {}
        self.tokens: dict[str, SigningToken] = {}
        self.connect = ConnectDispatcher(config, self.faults, self._connect_keys, self.clock)

    def _connect_keys(self, account_id: str) -> list[str]:
        with self.lock:
            account = self.accounts.get(account_id)
            own = account.connect_keys if account is not None else None
            return list(own if own is not None else self.connect_keys)

    # -- accounts ----------------------------------------------------------------------------------

    def add_account(self, account: Account) -> None:
        with self.lock:
            self.accounts[account.account_id] = account

    def user_accounts(self, user_id: str) -> list[Account]:
        with self.lock:
            own = [a for a in self.accounts.values() if a.user_id == user_id]
            if not own and user_id in (self.config.consented_users or []):
                # Users named in the config's consent list are members of the default account.
                own = [self.accounts[self.config.account_id]]
            return own

    def known_users(self) -> set[str]:
        with self.lock:
            return {a.user_id for a in self.accounts.values()}

    def envelope_account(self, envelope_id: str) -> str | None:
        with self.lock:
            envelope = self.envelopes.get(envelope_id)
            return envelope.account_id if envelope is not None else None

    def close(self) -> None:
        self.connect.stop()

    def reset(self) -> None:
        """Forget envelopes, links, faults, Connect queue/log, the clock offset and API call counts;
        rate limits and the Connect retry schedule go back to the config's.

        Integrations, Connect keys and access tokens survive: a running app keeps working.
        """
        with self.lock:
            self.envelopes.clear()
            self.tokens.clear()
        self.faults.clear()
        self.clock.reset()
        self.limits.reset()
        self.connect.reset()

    # -- OAuth tokens ------------------------------------------------------------------------------

    def issue_access_token(self, user_id: str) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.access_tokens[token] = (user_id, time.monotonic() + self.config.token_ttl_seconds)
        return token

    def token_user(self, token: str) -> str | None:
        with self.lock:
            entry = self.access_tokens.get(token)
            if entry is None:
                return None
            if entry[1] < time.monotonic():
                del self.access_tokens[token]
                return None
            return entry[0]

    # -- create and send -----------------------------------------------------------------------

    def create_envelope(self, body: dict[str, Any], account_id: str | None = None) -> dict[str, Any]:
        status = str(body.get("status") or "created").lower()
        if status not in ("sent", "created"):
            raise _bad("INVALID_REQUEST_PARAMETER", f"Envelope status '{status}' cannot be used to create.")
        for unsupported in ("templateId", "compositeTemplates", "templateRoles"):
            if body.get(unsupported):
                raise _bad("INVALID_REQUEST_PARAMETER", f"sandbox: '{unsupported}' is not supported")
        documents = self._parse_documents(body.get("documents"))
        recipients = self._parse_recipients(body.get("recipients"))
        notification = body.get("notification")
        if notification is not None:
            self._check_notification(notification)
        event_notification = body.get("eventNotification")
        if event_notification is not None and not isinstance(event_notification, dict):
            raise _bad("INVALID_REQUEST_BODY", "eventNotification must be an object")
        now = self.clock.now()
        envelope = Envelope(
            envelope_id=str(uuid.uuid4()),
            status="created",
            email_subject=str(body.get("emailSubject") or ""),
            email_blurb=body.get("emailBlurb"),
            documents=documents,
            recipients=recipients,
            custom_fields=self._parse_custom_fields(body.get("customFields")),
            notification=copy.deepcopy(notification),
            event_notification=copy.deepcopy(event_notification),
            created=now,
            status_changed=now,
            last_modified=now,
            account_id=account_id or self.config.account_id,
        )
        if status == "sent":
            self._validate_for_send(envelope)
        with self.lock:
            self.envelopes[envelope.envelope_id] = envelope
            if status == "sent":
                self._send(envelope, now)
            return {
                "envelopeId": envelope.envelope_id,
                "status": envelope.status,
                "statusDateTime": ds_format(envelope.status_changed),
                "uri": f"/envelopes/{envelope.envelope_id}",
            }

    def _parse_documents(self, raw: Any) -> list[Document]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise _bad("INVALID_REQUEST_BODY", "documents must be a list")
        documents: list[Document] = []
        seen: set[str] = set()
        for index, doc in enumerate(raw):
            if not isinstance(doc, dict):
                raise _bad("INVALID_REQUEST_BODY", "each document must be an object")
            document_id = str(doc.get("documentId") or "")
            if not document_id:
                raise _incomplete(f"document #{index + 1} has no documentId")
            if document_id in seen:
                raise _bad("INVALID_REQUEST_PARAMETER", f"documentId {document_id} is used twice")
            seen.add(document_id)
            if doc.get("htmlDefinition") or doc.get("remoteUrl"):
                raise _bad("INVALID_REQUEST_PARAMETER", "sandbox: htmlDefinition/remoteUrl are not supported")
            name = str(doc.get("name") or f"Document {document_id}")
            extension = str(doc.get("fileExtension") or "").lower().lstrip(".")
            if not extension and "." in name:
                extension = name.rsplit(".", 1)[1].lower()
            extension = extension or "pdf"
            encoded = doc.get("documentBase64")
            if not encoded:
                raise _incomplete(f"document {document_id} has no documentBase64")
            try:
                content = base64.b64decode(re.sub(r"\s+", "", str(encoded)), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise _bad("INVALID_REQUEST_BODY", f"documentBase64 of document {document_id} is not base64") from exc
            if extension not in SUPPORTED_EXTENSIONS:
                raise _bad(
                    "FORMAT_CONVERSION_ERROR",
                    f"The data could not be converted. (sandbox converts {sorted(SUPPORTED_EXTENSIONS)}, "
                    f"not '{extension}')",
                )
            if not content.strip():
                raise _bad("FORMAT_CONVERSION_ERROR", f"document {document_id} is empty")
            if extension == "pdf" and not content.lstrip()[:5] == b"%PDF-":
                raise _bad("FORMAT_CONVERSION_ERROR", f"document {document_id} is not a PDF")
            try:
                order = int(doc.get("order") or index + 1)
            except ValueError as exc:
                raise _bad("INVALID_REQUEST_PARAMETER", f"order of document {document_id}") from exc
            documents.append(Document(document_id, name, extension, content, order))
        documents.sort(key=lambda d: d.order)
        return documents

    def _parse_recipients(self, raw: Any) -> list[Recipient]:
        if raw is None:
            return []
        if not isinstance(raw, dict):
            raise _bad("INVALID_REQUEST_BODY", "recipients must be an object")
        for key, value in raw.items():
            if isinstance(value, list) and value and key not in _SUPPORTED_RECIPIENT_LISTS:
                raise _bad("INVALID_REQUEST_PARAMETER", f"sandbox: recipient type '{key}' is not supported")
        recipients: list[Recipient] = []
        seen: set[str] = set()
        for key, kind, wire_type in (("signers", SIGNER, "signer"), ("carbonCopies", CC, "carboncopy")):
            entries = raw.get(key) or []
            if not isinstance(entries, list):
                raise _bad("INVALID_REQUEST_BODY", f"recipients.{key} must be a list")
            for entry in entries:
                if not isinstance(entry, dict):
                    raise _bad("INVALID_REQUEST_BODY", f"each of recipients.{key} must be an object")
                wire = copy.deepcopy(entry)
                recipient_id = str(wire.get("recipientId") or "")
                if not recipient_id:
                    raise _incomplete(f"a {wire_type} has no recipientId")
                if recipient_id in seen:
                    raise _bad("INVALID_REQUEST_PARAMETER", f"recipientId {recipient_id} is used twice")
                seen.add(recipient_id)
                routing = str(wire.get("routingOrder") or "1")  # DocuSign's default
                if not routing.isdigit() or int(routing) < 1:
                    raise _bad("INVALID_REQUEST_PARAMETER", f"routingOrder '{routing}' of recipient {recipient_id}")
                client_user_id = wire.get("clientUserId")
                if client_user_id is not None and len(str(client_user_id)) > 100:
                    raise _bad("INVALID_REQUEST_PARAMETER", "clientUserId is longer than 100 characters")
                wire.update(
                    recipientId=recipient_id,
                    routingOrder=str(int(routing)),
                    status="created",
                    recipientIdGuid=str(uuid.uuid4()),
                    recipientType=wire_type,
                    deliveryMethod="email",
                    creationReason="sender",
                )
                recipients.append(Recipient(kind, wire))
        return recipients

    @staticmethod
    def _parse_custom_fields(raw: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {"textCustomFields": [], "listCustomFields": []}
        if raw is None:
            return fields
        if not isinstance(raw, dict):
            raise _bad("INVALID_REQUEST_BODY", "customFields must be an object")
        for key in fields:
            entries = raw.get(key) or []
            if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
                raise _bad("INVALID_REQUEST_BODY", f"customFields.{key} must be a list of objects")
            for entry in entries:
                if not entry.get("name"):
                    raise _bad("INVALID_REQUEST_PARAMETER", f"a custom field in {key} has no name")
                item = copy.deepcopy(entry)
                item.setdefault("fieldId", str(10_000_000 + secrets.randbelow(89_999_999)))
                fields[key].append(item)
        return fields

    @staticmethod
    def _check_notification(notification: Any) -> None:
        if not isinstance(notification, dict):
            raise _bad("INVALID_REQUEST_BODY", "notification must be an object")
        for part, keys in (("reminders", ("reminderDelay", "reminderFrequency")), ("expirations", ("expireAfter",))):
            section = notification.get(part)
            if section is None:
                continue
            if not isinstance(section, dict):
                raise _bad("INVALID_REQUEST_BODY", f"notification.{part} must be an object")
            for key in keys:
                value = section.get(key)
                if value is not None and not str(value).isdigit():
                    raise _bad("INVALID_REQUEST_PARAMETER", f"notification.{part}.{key} must be a number")

    def _validate_for_send(self, envelope: Envelope) -> None:
        if not envelope.email_subject.strip():
            raise _incomplete("emailSubject is missing")
        if not envelope.documents:
            raise _incomplete("no documents")
        if not envelope.signers:
            raise _incomplete("no signers")
        for r in envelope.recipients:
            for key in ("name", "email"):
                if not str(r.wire.get(key) or "").strip():
                    raise _incomplete(f"recipient {r.recipient_id} has no {key}")
            if not _EMAIL.match(str(r.wire["email"])):
                raise _bad(
                    "INVALID_EMAIL_ADDRESS_FOR_RECIPIENT",
                    f"The email address for the recipient is invalid. The recipient Id follows. {r.recipient_id}",
                )
        texts: list[str] | None = None
        for r in envelope.signers:
            tabs = r.wire.get("tabs") or {}
            if not isinstance(tabs, dict):
                raise _bad("INVALID_REQUEST_BODY", f"tabs of recipient {r.recipient_id} must be an object")
            for tab_list in tabs.values():
                if not isinstance(tab_list, list):
                    continue
                for tab in tab_list:
                    anchor = tab.get("anchorString") if isinstance(tab, dict) else None
                    if not anchor or str(tab.get("anchorIgnoreIfNotPresent", "")).lower() == "true":
                        continue
                    if texts is None:
                        texts = [d.plain_text() for d in envelope.documents]
                    case_sensitive = str(tab.get("anchorCaseSensitive", "")).lower() == "true"
                    whole_word = str(tab.get("anchorMatchWholeWord", "")).lower()
                    if whole_word not in ("true", "false"):  # absent (or unreadable): the default
                        whole_word = "true" if self.config.anchor_match_whole_word_default else "false"
                    if not anchor_found(str(anchor), texts, case_sensitive, whole_word == "true"):
                        raise _bad(
                            "ANCHOR_TAG_PROCESSING_FAILURE",
                            f"Anchor Tab Processing failed. Anchor string '{anchor}' of recipient "
                            f"{r.recipient_id} was not found in any document.",
                        )

    def _send(self, envelope: Envelope, now: datetime) -> None:
        envelope.status = "sent"
        envelope.sent = envelope.status_changed = envelope.last_modified = now
        for r in envelope.signers:
            if not r.embedded:
                r.email_token = secrets.token_urlsafe(24)
                self.tokens[r.email_token] = SigningToken(
                    r.email_token, envelope.envelope_id, r.recipient_id, "email", None, time.monotonic()
                )
        self._emit(envelope, "envelope-sent")
        self._route(envelope, now)

    def _route(self, envelope: Envelope, now: datetime) -> None:
        """Send the lowest routing group that still has unfinished signers; complete when none is left."""
        finished = (self.config.signed_recipient_status, "declined")
        pending = [r for r in envelope.signers if r.status not in finished]
        if not pending:
            self._complete(envelope, now)
            return
        current = min(r.routing_order for r in pending)
        for r in sorted(envelope.recipients, key=lambda x: x.routing_order):
            if r.routing_order <= current and r.status == "created":
                r.set(status="sent", sentDateTime=ds_format(now))
                if r.kind == SIGNER:
                    self._emit(envelope, "recipient-sent", r)

    def _complete(self, envelope: Envelope, now: datetime) -> None:
        envelope.status = "completed"
        envelope.completed = envelope.status_changed = envelope.last_modified = now
        for r in envelope.recipients:
            if r.kind == CC:
                r.set(status="completed", sentDateTime=r.wire.get("sentDateTime") or ds_format(now))
        self._emit(envelope, "envelope-completed")

    def _void(self, envelope: Envelope, reason: str, now: datetime) -> None:
        envelope.status = "voided"
        envelope.voided = envelope.status_changed = envelope.last_modified = now
        envelope.voided_reason = reason
        self._emit(envelope, "envelope-voided")

    # -- reading ---------------------------------------------------------------------------------

    def _get(self, envelope_id: str) -> Envelope:
        envelope = self.envelopes.get(envelope_id)
        if envelope is None:
            raise _bad(
                "ENVELOPE_DOES_NOT_EXIST",
                "The envelope specified either does not exist or you have no rights to it.",
            )
        return envelope

    def envelope(self, envelope_id: str, include: set[str]) -> dict[str, Any]:
        with self.lock:
            return self._envelope_json(self._get(envelope_id), include)

    def _effective_notification(self, envelope: Envelope) -> dict[str, Any]:
        defaults = {
            "useAccountDefaults": "true",
            "reminders": {"reminderEnabled": "false", "reminderDelay": "0", "reminderFrequency": "0"},
            "expirations": {
                "expireEnabled": "true",
                "expireAfter": str(self.config.default_expire_days),
                "expireWarn": "0",
            },
        }
        given = envelope.notification
        if given is None or str(given.get("useAccountDefaults", "")).lower() == "true":
            # DocuSign ignores the envelope's own values when told to use the account defaults.
            return defaults
        result = copy.deepcopy(given)
        result.setdefault("useAccountDefaults", "false")
        for part in ("reminders", "expirations"):
            if not isinstance(result.get(part), dict):
                result[part] = defaults[part]
        return result

    def _expire_days(self, envelope: Envelope) -> int:
        expirations = self._effective_notification(envelope).get("expirations") or {}
        if str(expirations.get("expireEnabled", "")).lower() == "true" and expirations.get("expireAfter"):
            return int(expirations["expireAfter"])
        return self.config.default_expire_days

    def _envelope_json(self, envelope: Envelope, include: set[str], tabs: bool = False) -> dict[str, Any]:
        eid = envelope.envelope_id
        when = {
            "createdDateTime": envelope.created,
            "lastModifiedDateTime": envelope.last_modified,
            "initialSentDateTime": envelope.sent,
            "sentDateTime": envelope.sent,
            "deliveredDateTime": envelope.delivered,
            "completedDateTime": envelope.completed,
            "declinedDateTime": envelope.declined,
            "voidedDateTime": envelope.voided,
            "statusChangedDateTime": envelope.status_changed,
        }
        expire_days = self._expire_days(envelope)
        body: dict[str, Any] = {
            "envelopeId": eid,
            "status": envelope.status,
            "emailSubject": envelope.email_subject,
            "emailBlurb": envelope.email_blurb,
            **{k: ds_format(v) for k, v in when.items() if v is not None},
            "voidedReason": envelope.voided_reason,
            "expireEnabled": "true",
            "expireAfter": str(expire_days),
            "expireDateTime": ds_format(envelope.sent + timedelta(days=expire_days)) if envelope.sent else None,
            "envelopeUri": f"/envelopes/{eid}",
            "documentsUri": f"/envelopes/{eid}/documents",
            "documentsCombinedUri": f"/envelopes/{eid}/documents/combined",
            "certificateUri": f"/envelopes/{eid}/documents/certificate",
            "recipientsUri": f"/envelopes/{eid}/recipients",
            "customFieldsUri": f"/envelopes/{eid}/custom_fields",
            "notificationUri": f"/envelopes/{eid}/notification",
            "sender": {
                "userName": self.config.user_name,
                "userId": self.config.user_id,
                "accountId": envelope.account_id or self.config.account_id,
                "email": self.config.user_email,
            },
            "purgeState": "unpurged",
        }
        if "custom_fields" in include:
            body["customFields"] = copy.deepcopy(envelope.custom_fields)
        if "recipients" in include:
            body["recipients"] = self._recipients_json(envelope, tabs)
        if "notifications" in include or "notification" in include:
            body["notification"] = self._effective_notification(envelope)
        return _clean(body)

    def _recipients_json(self, envelope: Envelope, include_tabs: bool) -> dict[str, Any]:
        def render(r: Recipient) -> dict[str, Any]:
            wire = copy.deepcopy(r.wire)
            if not include_tabs:
                wire.pop("tabs", None)
            return wire

        finished = (self.config.signed_recipient_status, "declined")
        pending = [r.routing_order for r in envelope.signers if r.status not in finished]
        return {
            "signers": [render(r) for r in envelope.recipients if r.kind == SIGNER],
            "carbonCopies": [render(r) for r in envelope.recipients if r.kind == CC],
            "recipientCount": str(len(envelope.recipients)),
            "currentRoutingOrder": str(
                min(pending) if pending else max((r.routing_order for r in envelope.recipients), default=1)
            ),
        }

    def recipients(self, envelope_id: str, include_tabs: bool) -> dict[str, Any]:
        with self.lock:
            return self._recipients_json(self._get(envelope_id), include_tabs)

    def custom_fields(self, envelope_id: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._get(envelope_id).custom_fields)

    def notification(self, envelope_id: str) -> dict[str, Any]:
        with self.lock:
            return self._effective_notification(self._get(envelope_id))

    def update_notification(self, envelope_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self._check_notification(body)
        with self.lock:
            envelope = self._get(envelope_id)
            if envelope.status not in ("created", *IN_PROCESS):
                raise _bad("ENVELOPE_INVALID_STATUS", f"Envelope status '{envelope.status}' cannot be updated.")
            merged = copy.deepcopy(envelope.notification or {})
            for key in ("useAccountDefaults", "reminders", "expirations"):
                if key in body:
                    if isinstance(body[key], dict):
                        merged[key] = {**(merged.get(key) or {}), **body[key]}
                    else:
                        merged[key] = body[key]
            envelope.notification = merged
            envelope.last_modified = self.clock.now()
            return self._effective_notification(envelope)

    def list_status_changes(self, args: Mapping[str, str], account_id: str | None = None) -> dict[str, Any]:
        from_raw = args.get("from_date")
        ids_raw = args.get("envelope_ids")
        if not from_raw and not ids_raw and not args.get("transaction_ids"):
            raise _bad(
                "INVALID_REQUEST_PARAMETER",
                "The request contained at least one invalid parameter. Query parameter 'from_date' must be "
                "set to a valid DateTime, or 'envelope_ids' or 'transaction_ids' must be specified.",
            )
        now = self.clock.now()
        try:
            from_date = parse_datetime(from_raw) if from_raw else None
            to_date = parse_datetime(args["to_date"]) if args.get("to_date") else now
        except ValueError as exc:
            raise _bad(
                "INVALID_REQUEST_PARAMETER",
                "The request contained at least one invalid parameter. Query parameter 'from_date' must be "
                "set to a valid DateTime, or 'envelope_ids' or 'transaction_ids' must be specified.",
            ) from exc
        date_field = _STATUS_DATE_FIELDS.get(str(args.get("from_to_status") or "changed").lower())
        if date_field is None:
            raise _bad("INVALID_REQUEST_PARAMETER", "from_to_status is not a known status")
        statuses = {s.strip().lower() for s in str(args.get("status") or "").split(",") if s.strip()}
        statuses.discard("any")
        ids = {i.strip() for i in str(ids_raw or "").split(",") if i.strip()}
        field_filter = self._custom_field_filter(args.get("custom_field"))
        include = {i.strip() for i in str(args.get("include") or "").split(",") if i.strip()}
        try:
            start = int(args.get("start_position") or 0)
            count = min(int(args.get("count") or 1000), 1000)
        except ValueError as exc:
            raise _bad("INVALID_REQUEST_PARAMETER", "start_position and count must be numbers") from exc
        if start < 0 or count < 1:
            raise _bad("INVALID_REQUEST_PARAMETER", "start_position and count must be positive")

        with self.lock:
            matches: list[tuple[datetime, Envelope]] = []
            account = account_id or self.config.account_id
            for envelope in self.envelopes.values():
                if envelope.account_id != account:
                    continue
                stamp = getattr(envelope, date_field)
                if from_date is not None and (stamp is None or not from_date <= stamp <= to_date):
                    continue
                if ids and envelope.envelope_id not in ids:
                    continue
                if statuses and envelope.status not in statuses:
                    continue
                if field_filter and not field_filter(envelope):
                    continue
                matches.append((stamp or envelope.created, envelope))
            matches.sort(key=lambda m: (m[0], m[1].created), reverse=str(args.get("order")).lower() == "desc")
            page = matches[start : start + count]
            result: dict[str, Any] = {
                "resultSetSize": str(len(page)),
                "totalSetSize": str(len(matches)),
                "startPosition": str(start),
                "endPosition": str(start + len(page) - 1),
                "nextUri": self._page_uri(args, start + count) if start + count < len(matches) else "",
                "previousUri": self._page_uri(args, max(0, start - count)) if start > 0 else "",
                "lastQueriedDateTime": ds_format(now),
            }
            if page or not self.config.omit_empty_envelope_list:
                result["envelopes"] = [self._envelope_json(e, include) for _, e in page]
            return result

    @staticmethod
    def _page_uri(args: Mapping[str, str], start: int) -> str:
        query = {k: v for k, v in args.items() if k != "start_position"}
        query["start_position"] = str(start)
        return "/envelopes?" + urlencode(query)

    @staticmethod
    def _custom_field_filter(raw: str | None) -> Any:
        if not raw:
            return None
        name, sep, value = raw.partition("=")
        if not sep:
            raise _bad("INVALID_REQUEST_PARAMETER", "custom_field must look like name=value")
        if "%" in value:  # DocuSign's partial match
            pattern = re.compile("^" + ".*".join(re.escape(p) for p in value.split("%")) + "$", re.S)
        else:
            pattern = None

        def matches(envelope: Envelope) -> bool:
            for key in ("textCustomFields", "listCustomFields"):
                for item in envelope.custom_fields.get(key, []):
                    if str(item.get("name")) != name:
                        continue
                    actual = str(item.get("value") or "")
                    if pattern.match(actual) if pattern else actual == value:
                        return True
            return False

        return matches

    # -- changing ------------------------------------------------------------------------------

    def update_envelope(self, envelope_id: str, body: dict[str, Any]) -> dict[str, Any]:
        status = str(body.get("status") or "").lower()
        with self.lock:
            envelope = self._get(envelope_id)
            now = self.clock.now()
            if status == "voided":
                if envelope.status not in IN_PROCESS:
                    raise _bad(
                        "ENVELOPE_CANNOT_VOID_INVALID_STATE",
                        "Only envelopes in the 'Sent' or 'Delivered' states may be voided.",
                    )
                reason = str(body.get("voidedReason") or "").strip()
                if not reason:
                    raise _bad("INVALID_REQUEST_PARAMETER", "A voidedReason is required to void an envelope.")
                self._void(envelope, reason, now)
            elif status == "sent":
                if envelope.status == "created":
                    if "emailSubject" in body:
                        envelope.email_subject = str(body["emailSubject"] or "")
                    self._validate_for_send(envelope)
                    self._send(envelope, now)
                elif envelope.status not in IN_PROCESS:
                    raise _bad("ENVELOPE_INVALID_STATUS", f"Envelope status '{envelope.status}' cannot be sent.")
            elif status:
                raise _bad("INVALID_REQUEST_PARAMETER", f"sandbox: cannot change status to '{status}'")
            else:
                if envelope.status not in ("created", *IN_PROCESS):
                    raise _bad("ENVELOPE_INVALID_STATUS", f"Envelope status '{envelope.status}' cannot be updated.")
                for key, attr in (("emailSubject", "email_subject"), ("emailBlurb", "email_blurb")):
                    if key in body:
                        setattr(envelope, attr, body[key])
                envelope.last_modified = now
            return {"envelopeId": envelope_id}

    def create_view(self, envelope_id: str, body: dict[str, Any], base_url: str) -> dict[str, Any]:
        with self.lock:
            envelope = self._get(envelope_id)
            if envelope.status not in IN_PROCESS:
                raise _bad(
                    "ENVELOPE_INVALID_STATUS",
                    f"Invalid envelope status for this operation: the envelope is '{envelope.status}'.",
                )
            for key in ("returnUrl", "authenticationMethod", "userName", "email"):
                if not str(body.get(key) or "").strip():
                    raise _bad(
                        "INVALID_REQUEST_PARAMETER",
                        f"The request contained at least one invalid parameter. '{key}' is required.",
                    )
            wanted_id = body.get("recipientId")
            match = None
            for r in envelope.signers:
                if (
                    r.embedded
                    and str(r.wire.get("clientUserId")) == str(body.get("clientUserId") or "")
                    and r.wire.get("name") == body.get("userName")
                    and r.wire.get("email") == body.get("email")
                    and (not wanted_id or str(wanted_id) == r.recipient_id)
                ):
                    match = r
                    break
            if match is None:
                raise _bad(
                    "UNKNOWN_ENVELOPE_RECIPIENT",
                    "The recipient you have identified is not a valid recipient of the specified envelope.",
                )
            if match.status == "created":
                raise _bad(
                    "RECIPIENT_NOT_IN_SEQUENCE", "The token for an out of sequence recipient can not be generated."
                )
            token = secrets.token_urlsafe(24)
            self.tokens[token] = SigningToken(
                token, envelope_id, match.recipient_id, "view", str(body["returnUrl"]), time.monotonic()
            )
            return {"url": f"{base_url}/signing/{token}"}

    # -- signing pages -------------------------------------------------------------------------

    def _token_live(self, tok: SigningToken, session: str | None, submitting: bool) -> bool:
        """Single-use view URLs: unopened for at most the TTL, then one browser session."""
        if tok.kind == "email":
            return True
        if tok.finished:
            return False
        now = time.monotonic()
        if tok.opened is None:
            return now <= tok.created + self.config.view_ttl_seconds
        if now > tok.opened + self.config.view_session_seconds:
            return False
        # A reload needs the session cookie; a form POST is accepted without one (plain HTTP clients).
        return submitting or (session is not None and session == tok.session)

    def _page_base(self, tok: SigningToken, envelope: Envelope, r: Recipient) -> PageState:
        return PageState(
            mode="sign",
            kind=tok.kind,
            token=tok.token,
            return_url=tok.return_url,
            envelope_id=envelope.envelope_id,
            envelope_status=envelope.status,
            subject=envelope.email_subject,
            blurb=envelope.email_blurb,
            signer_name=str(r.wire.get("name")),
            signer_email=str(r.wire.get("email")),
            documents=[(d.document_id, d.name) for d in envelope.documents],
        )

    def open_page(self, kind: str, token: str, session: str | None) -> PageState:
        with self.lock:
            tok = self.tokens.get(token)
            if tok is None or tok.kind != kind:
                return PageState(mode="invalid", kind=kind, message="This signing link is not valid.")
            if not self._token_live(tok, session, submitting=False):
                return self._expired(tok)
            envelope = self.envelopes[tok.envelope_id]
            r = envelope.recipient(tok.recipient_id)
            page = self._page_base(tok, envelope, r)
            if tok.kind == "view" and tok.opened is None:
                tok.opened = time.monotonic()
                tok.session = page.set_session = secrets.token_urlsafe(16)
            blocked = self._blocked(envelope, r, page)
            if blocked is not None:
                return blocked
            self._mark_delivered(envelope, r, self.clock.now())
            return page

    def _expired(self, tok: SigningToken) -> PageState:
        if tok.return_url:
            return PageState(mode="redirect", kind=tok.kind, return_url=tok.return_url, event="ttl_expired")
        return PageState(mode="expired", kind=tok.kind, message="This signing link has expired or was used.")

    def _blocked(self, envelope: Envelope, r: Recipient, page: PageState) -> PageState | None:
        if r.status in (self.config.signed_recipient_status, "declined"):
            if page.return_url:
                page.mode, page.event = "redirect", "viewing_complete"
            else:
                page.mode = "done"
                page.message = f"You have already {'declined' if r.status == 'declined' else 'signed'}."
            return page
        if envelope.status not in IN_PROCESS:
            page.mode = "closed"
            page.message = f"This envelope is {envelope.status}; it can no longer be signed."
            return page
        if r.status == "created":
            page.mode = "waiting"
            page.message = "It is not your turn to sign yet; earlier signers must finish first."
            return page
        return None

    def _mark_delivered(self, envelope: Envelope, r: Recipient, now: datetime) -> None:
        if r.status == "sent":
            r.set(status="delivered", deliveredDateTime=ds_format(now))
            self._emit(envelope, "recipient-delivered", r)
        if envelope.status == "sent":
            envelope.status = "delivered"
            envelope.delivered = envelope.status_changed = envelope.last_modified = now
            self._emit(envelope, "envelope-delivered")

    def submit(self, kind: str, token: str, action: str, reason: str | None) -> PageState:
        if action not in ("sign", "decline"):
            raise _bad("INVALID_REQUEST_PARAMETER", "action must be sign or decline")
        with self.lock:
            tok = self.tokens.get(token)
            if tok is None or tok.kind != kind:
                return PageState(mode="invalid", kind=kind, message="This signing link is not valid.")
            if not self._token_live(tok, None, submitting=True):
                return self._expired(tok)
            envelope = self.envelopes[tok.envelope_id]
            r = envelope.recipient(tok.recipient_id)
            page = self._page_base(tok, envelope, r)
            blocked = self._blocked(envelope, r, page)
            if blocked is not None:
                return blocked
            now = self.clock.now()
            self._mark_delivered(envelope, r, now)
            if action == "sign":
                r.set(status=self.config.signed_recipient_status, signedDateTime=ds_format(now))
                self._emit(envelope, "recipient-completed", r)
                envelope.last_modified = now
                self._route(envelope, now)
                page.event = "signing_complete"
                page.message = "Thank you, you have signed the document."
            else:
                text = (reason or "").strip() or "Declined by the signer."
                r.set(status="declined", declinedDateTime=ds_format(now), declinedReason=text)
                self._emit(envelope, "recipient-declined", r)
                envelope.status = "declined"
                envelope.declined = envelope.status_changed = envelope.last_modified = now
                self._emit(envelope, "envelope-declined")
                page.event = "decline"
                page.message = "You have declined to sign."
            tok.finished = tok.kind == "view"
            page.mode = "redirect" if tok.return_url else "done"
            return page

    def page_document(self, kind: str, token: str, document_id: str) -> Document | None:
        """A document shown inside the signing page, while that page's session is alive."""
        with self.lock:
            tok = self.tokens.get(token)
            if tok is None or tok.kind != kind:
                return None
            if kind == "view":
                if tok.opened is None or tok.finished:
                    return None
                if time.monotonic() > tok.opened + self.config.view_session_seconds:
                    return None
            envelope = self.envelopes.get(tok.envelope_id)
            for d in envelope.documents if envelope else []:
                if d.document_id == document_id:
                    return d
            return None

    def inbox(self, base_url: str) -> list[dict[str, Any]]:
        """Every envelope with its recipients; email signers whose turn it is get their link."""
        with self.lock:
            out = []
            for envelope in sorted(self.envelopes.values(), key=lambda e: e.created, reverse=True):
                recipients = []
                for r in envelope.recipients:
                    item = {
                        "recipientId": r.recipient_id,
                        "type": r.kind,
                        "name": r.wire.get("name"),
                        "email": r.wire.get("email"),
                        "routingOrder": r.wire.get("routingOrder"),
                        "status": r.status,
                        "clientUserId": r.wire.get("clientUserId"),
                        "delivery": "embedded" if r.embedded else "email",
                    }
                    if (
                        r.kind == SIGNER
                        and r.email_token
                        and envelope.status in IN_PROCESS
                        and r.status in ("sent", "delivered")
                    ):
                        item["signing_url"] = f"{base_url}/signing/r/{r.email_token}"
                    recipients.append(_clean(item))
                out.append(
                    {
                        "envelopeId": envelope.envelope_id,
                        "accountId": envelope.account_id,
                        "status": envelope.status,
                        "emailSubject": envelope.email_subject,
                        "createdDateTime": ds_format(envelope.created),
                        "statusChangedDateTime": ds_format(envelope.status_changed),
                        "voidedReason": envelope.voided_reason,
                        "recipients": recipients,
                        "customFields": copy.deepcopy(envelope.custom_fields),
                        "notification": self._effective_notification(envelope),
                        "eventNotification": copy.deepcopy(envelope.event_notification),
                    }
                )
            return out

    # -- documents -------------------------------------------------------------------------------

    def document_pdf(self, envelope_id: str, document_id: str, certificate: bool) -> bytes:
        with self.lock:
            envelope = self._get(envelope_id)
            if document_id == "combined":
                documents = list(envelope.documents)
            elif document_id == "certificate":
                documents, certificate = [], True
            else:
                documents = [d for d in envelope.documents if d.document_id == document_id]
                if not documents:
                    raise _bad("DOCUMENT_DOES_NOT_EXIST", "The document specified was not found.")
                certificate = False
            cached = dict(envelope.pdf_cache)
            cert_data = self._certificate_data(envelope) if certificate else None
        parts: list[bytes] = []
        for d in documents:  # rendering is slow: outside the lock, cached per document
            pdf = cached.get(d.document_id)
            if pdf is None:
                pdf = document_pdf(d)
                with self.lock:
                    envelope.pdf_cache[d.document_id] = pdf
            parts.append(pdf)
        if cert_data is not None:
            parts.append(html_to_pdf(certificate_html(cert_data)))
        return parts[0] if len(parts) == 1 else combine(parts)

    def _certificate_data(self, envelope: Envelope) -> dict[str, Any]:
        def iso(value: Any) -> str | None:
            if isinstance(value, datetime):
                return value.strftime("%Y-%m-%dT%H:%M:%SZ")
            if value:
                return parse_datetime(str(value)).strftime("%Y-%m-%dT%H:%M:%SZ")
            return None

        recipients = []
        for r in sorted(envelope.recipients, key=lambda x: (x.routing_order, x.recipient_id)):
            recipients.append(
                {
                    "name": str(r.wire.get("name") or ""),
                    "email": str(r.wire.get("email") or ""),
                    "type": "Signer" if r.kind == SIGNER else "Carbon copy",
                    "recipientId": r.recipient_id,
                    "routingOrder": str(r.routing_order),
                    "status": r.status,
                    "sentDateTime": iso(r.wire.get("sentDateTime")),
                    "deliveredDateTime": iso(r.wire.get("deliveredDateTime")),
                    "signedDateTime": iso(r.wire.get("signedDateTime")),
                    "declinedDateTime": iso(r.wire.get("declinedDateTime")),
                    "declinedReason": r.wire.get("declinedReason"),
                }
            )
        facts = [
            ("Envelope Id", envelope.envelope_id),
            ("Subject", envelope.email_subject),
            ("Status", envelope.status),
            ("Documents", ", ".join(d.name for d in envelope.documents)),
            ("Sender", f"{self.config.user_name} <{self.config.user_email}>"),
            ("Created", iso(envelope.created)),
            ("Sent", iso(envelope.sent)),
            ("Completed", iso(envelope.completed)),
            ("Declined", iso(envelope.declined)),
            ("Voided", iso(envelope.voided)),
            ("Voided reason", envelope.voided_reason),
        ]
        return {"facts": facts, "recipients": recipients}

    def list_documents(self, envelope_id: str) -> dict[str, Any]:
        with self.lock:
            envelope = self._get(envelope_id)
            docs = [
                {
                    "documentId": d.document_id,
                    "name": d.name,
                    "type": "content",
                    "uri": f"/envelopes/{envelope_id}/documents/{d.document_id}",
                    "order": str(d.order),
                }
                for d in envelope.documents
            ]
            docs.append(
                {
                    "documentId": "certificate",
                    "name": "Summary",
                    "type": "summary",
                    "uri": f"/envelopes/{envelope_id}/documents/certificate",
                }
            )
            return {"envelopeId": envelope_id, "envelopeDocuments": docs}

    # -- time --------------------------------------------------------------------------------------

    def tick(self) -> list[str]:
        """Void every in-process envelope whose expiry has passed; returns their ids."""
        now = self.clock.now()
        expired = []
        with self.lock:
            for envelope in self.envelopes.values():
                if envelope.status in IN_PROCESS and envelope.sent is not None:
                    if now >= envelope.sent + timedelta(days=self._expire_days(envelope)):
                        # Stamped with the time it is noticed, never earlier, so statusChangedDateTime
                        # cannot fall behind a lastQueriedDateTime already handed out.
                        self._void(envelope, EXPIRED_REASON, now)
                        expired.append(envelope.envelope_id)
        return expired

    # -- Connect -----------------------------------------------------------------------------------

    @staticmethod
    def _subscribed(event_notification: dict[str, Any]) -> set[str]:
        events = {str(e).lower() for e in event_notification.get("events") or []}
        # Legacy envelopeEvents/recipientEvents lists name statuses ("Completed") instead of events.
        for key, code_key, prefix in (
            ("envelopeEvents", "envelopeEventStatusCode", "envelope-"),
            ("recipientEvents", "recipientEventStatusCode", "recipient-"),
        ):
            for item in event_notification.get(key) or []:
                if isinstance(item, dict) and item.get(code_key):
                    events.add(prefix + str(item[code_key]).lower())
        return events

    def _emit(self, envelope: Envelope, event: str, recipient: Recipient | None = None) -> None:
        en = envelope.event_notification
        if not en or not en.get("url") or event not in self._subscribed(en):
            return
        now = _truncate_ms(self.clock.now())
        if envelope.last_generated is not None and now <= envelope.last_generated:
            now = envelope.last_generated + timedelta(milliseconds=1)
        envelope.last_generated = now
        event_data = en.get("eventData") or {}
        include_data = {str(i).lower() for i in event_data.get("includeData") or []}
        summary = self._envelope_json(
            envelope,
            {"notifications"}
            | ({"custom_fields"} & include_data)
            | ({"recipients"} if include_data & {"recipients", "tabs"} else set()),
            tabs="tabs" in include_data,
        )
        account = self.accounts.get(envelope.account_id) or self.accounts[self.config.account_id]
        data: dict[str, Any] = {"accountId": account.account_id, "userId": account.user_id}
        if recipient is not None:
            data["recipientId"] = recipient.recipient_id
        data["envelopeId"] = envelope.envelope_id
        data["envelopeSummary"] = summary
        payload = {
            "event": event,
            "uri": f"/restapi/v2.1/accounts/{account.account_id}/envelopes/{envelope.envelope_id}",
            "retryCount": 0,
            "configurationId": self.config.connect_configuration_id,
            "apiVersion": "v2.1",
            "generatedDateTime": ms_format(now),
            "data": data,
        }
        message = ConnectMessage(
            url=str(en["url"]),
            envelope_id=envelope.envelope_id,
            event=event,
            payload=payload,
            account_id=account.account_id,
            include_hmac=str(en.get("includeHMAC", "")).lower() == "true",
            require_ack=str(en.get("requireAcknowledgment", "")).lower() == "true",
        )
        if (
            str(en.get("deliveryMode") or "SIM").upper() != "SIM"
            or str(event_data.get("format") or "").lower() != "json"
        ):
            # Without JSON SIM DocuSign would send legacy XML, which the sandbox does not speak.
            self.connect.skip(message, "sandbox sends only deliveryMode SIM with eventData.format json")
            return
        self.connect.enqueue(message)
