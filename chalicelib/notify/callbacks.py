"""Signed status callbacks to the CRM (Standard Webhooks), retried for three days through SQS.

Every status change of a contract that has a callback target (the contract's `callback_url`, else its
source's option `callback_url`) becomes one *delivery*: a JSON event with a delivery id (`cb_…`) that
is the `webhook-id` of every attempt, so the CRM can dedupe retries. `status_changed` only enqueues a
`callback` job; the job (`run`) makes one attempt and schedules the next one itself. The same goes for
`email_suppressed` (type `contract.email_suppressed`: an address of the contract's emails bounced for
good or complained, notify/ses_feedback.py), the one callback that is not a status change:

- 2xx: delivered. The contract's timeline gets one `callback_delivered` (delivery id, attempts).
- 410 Gone: the endpoint is disabled for the tenant (an item of the keys table); later callbacks to that URL are
  dropped with a log line until `python -m chalicelib.admin callbacks enable --url … --tenant …`.
  The timeline gets `callback_endpoint_disabled`.
- 429: the next attempt waits at least `Retry-After` (seconds or an HTTP date, capped at 24 h).
- anything else (other status codes, redirects — never followed —, timeouts, DNS or connection
  errors): retried on the schedule below. After the last attempt the job goes to the dead-letter
  queue (`<jobs queue>-dlq`, replayable with `callbacks replay`) and the timeline gets
  `callback_failed`. A refused URL (see `check_callback_url`) or a source without a secret fails at
  once: retrying would not change the answer.
Attempts in between only log (one line each, with the status code), to keep timelines readable.

Retry schedule (`RETRY_DELAYS_SECONDS`, after Standard Webhooks' guidance): immediately, 5 s, 5 min,
30 min, 2 h, 5 h, 10 h, 10 h, 10 h, 10 h, 10 h, 10 h, 4 h 25 min: 13 attempts, the last one 72 h after
the first, each delay jittered by ±10 %. SQS delays a message by at most 900 s, so a longer wait
carries a `not_before` timestamp and the job re-delays itself until then without calling the CRM.
`SIGNBRIDGE_CALLBACK_DELAY_SCALE` (a local/test knob, default 1) multiplies every delay, `not_before`
wait and Retry-After: tests set 0 so that all attempts run back to back.

Signing: `webhook-id` (the delivery id), `webhook-timestamp` (new at each attempt) and
`webhook-signature` over `{id}.{timestamp}.{body}` with the source's secret — the same shared secret
the CRM signs its webhooks to us with (Secrets Manager, `Source.secrets()`), so the CRM verifies with
what it already has. A `whsec_…` secret is used as Standard Webhooks defines it (base64 key); any other
secret string (a HubSpot client secret, a Zoho token) is used as its UTF-8 bytes. During a rotation
(several secrets) the request carries one `v1,` signature per secret, as the spec allows.

SSRF: at delivery time (DNS can change) the URL must be https (http only with the local stack's
SIGNBRIDGE_ALLOW_PRIVATE_CALLBACKS=1) and every address its host resolves to must be public; the
request then connects to the checked address (Host header and TLS server name = the URL's host), so a
DNS answer that changes between check and connect cannot redirect it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import os
import random
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import certifi
import urllib3
from standardwebhooks.webhooks import Webhook
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError

from chalicelib.contracts.stored import StoredContract
from chalicelib.core.aws import SQS_MAX_DELAY_SECONDS, enqueue
from chalicelib.core.config import settings
from chalicelib.core.observability import count, logger
from chalicelib.store import contracts as store
from chalicelib.store import keys
from chalicelib.store.registry import get_source

JOB = "callback"
EVENT_TYPE = "contract.status_changed"
# An address of the contract's emails stopped receiving them (a permanent bounce, or its owner marked
# one as spam): signbridge sends it nothing more until an operator lifts the suppression.
EMAIL_SUPPRESSED_TYPE = "contract.email_suppressed"
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0
RETRY_WINDOW_SECONDS = 72 * 3600
RETRY_AFTER_CAP_SECONDS = 24 * 3600
JITTER = 0.10
MAX_ADDRESSES_TRIED = 3  # a host with an unreachable first address (IPv6 without a route) still works
DELIVERED_KEY_TTL = timedelta(days=4)
USER_AGENT = "signbridge-callbacks/1"


def _schedule() -> tuple[int, ...]:
    """Standard Webhooks' example schedule, then every 10 h until the window is used up."""
    delays = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]
    total = sum(delays)
    while total < RETRY_WINDOW_SECONDS:
        delays.append(min(10 * 3600, RETRY_WINDOW_SECONDS - total))
        total += delays[-1]
    return tuple(delays)


# RETRY_DELAYS_SECONDS[n - 1] is the wait after attempt n failed.
RETRY_DELAYS_SECONDS: tuple[int, ...] = _schedule()
MAX_ATTEMPTS = len(RETRY_DELAYS_SECONDS) + 1


class CallbackUrlRefused(ValueError):
    """The callback URL may not be called (scheme or address): permanent, retrying will not help."""


class _Transient(Exception):
    """DNS or connection trouble: the attempt failed but a later one may succeed."""


# --- the event ------------------------------------------------------------------------------------


def callback_target(record: StoredContract) -> str | None:
    """The contract's callback URL, else its source's option `callback_url`."""
    if record.callback_url:
        return str(record.callback_url)

    source = get_source(record.source_id)
    url = (source.options or {}).get("callback_url") if source else None
    return str(url) if url else None


def new_delivery_id() -> str:
    return "cb_" + secrets.token_hex(12)


def build_payload(record: StoredContract, event_type: str, status: str, detail: Mapping[str, Any] | None,
                  at: datetime, delivery_id: str) -> dict[str, Any]:
    detail = detail or {}
    data: dict[str, Any] = {
        "contract_id": record.contract_id,
        "crm_record_id": record.crm_record_id,
        "number": record.number,
        "contract_type": record.contract_type,
        "status": str(status),
    }
    if detail.get("previous_status"):
        data["previous_status"] = str(detail["previous_status"])
    data["event"] = event_type
    data["envelope_id"] = record.envelope_id
    data["signers"] = [
        {"position": int(s.position), "name": s.name, "email": s.email, "status": s.status,
         "signed_at": s.signed_at, "declined_reason": s.declined_reason}
        for s in record.signers or []
    ]
    if record.signed is not None:
        data["documents"] = {"signed": {"sha256": record.signed.sha256}}
    data["reason"] = detail.get("reason") or record.status_reason
    return {"type": EVENT_TYPE, "id": delivery_id, "created_at": _iso(at), "data": data}


def status_changed(record: StoredContract, event_type: str, status: str, detail: dict[str, Any] | None,
                   at: datetime) -> None:
    """Enqueues the signed callback of one status change, if the contract has a callback target."""
    _queue(record, lambda delivery_id: build_payload(record, event_type, status, detail, at, delivery_id),
           event=str(status))


def email_suppressed(record: StoredContract, event_type: str, detail: Mapping[str, Any], at: datetime) -> None:
    """Enqueues the signed `contract.email_suppressed` callback: `event_type` is email_bounced or
    email_complained, `detail` the address, the email's kind and SES's reason. The contract's status
    does not change; `data.status` is the current one."""

    def payload(delivery_id: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "contract_id": record.contract_id, "crm_record_id": record.crm_record_id, "number": record.number,
            "contract_type": record.contract_type, "status": str(record.status), "event": event_type,
            "email": detail.get("email"), "email_kind": detail.get("email_kind"), "reason": detail.get("reason"),
        }
        return {"type": EMAIL_SUPPRESSED_TYPE, "id": delivery_id, "created_at": _iso(at), "data": data}

    _queue(record, payload, event=event_type)


def _queue(record: StoredContract, payload: Callable[[str], dict[str, Any]], *, event: str) -> None:
    url = callback_target(record)
    if url is None:
        return
    if is_disabled(record.tenant_id, url):
        logger.warning("callback dropped: endpoint disabled", extra={
            "tenant_id": record.tenant_id, "contract_id": record.contract_id, "url": redact(url), "event": event})
        return
    delivery_id = new_delivery_id()
    enqueue({
        "job": JOB,
        "tenant_id": record.tenant_id,
        "contract_id": record.contract_id,
        "source_id": record.source_id,
        "url": url,
        "delivery_id": delivery_id,
        "attempt": 1,
        "payload": payload(delivery_id),
    })
    logger.info("callback queued", extra={"delivery_id": delivery_id, "contract_id": record.contract_id,
                                          "event": event, "url": redact(url)})


# --- signing --------------------------------------------------------------------------------------


def _webhook(secret: str) -> Any:
    return Webhook(secret) if secret.startswith("whsec_") else Webhook(secret.encode())


def signature_headers(signing_secrets: Sequence[str], msg_id: str, body: str, at: datetime) -> dict[str, str]:
    """Standard Webhooks headers for `body` (the exact string sent, UTF-8): one `v1,` signature per
    secret, space-separated."""
    if not signing_secrets:
        raise ValueError("no signing secret")
    signatures = list(dict.fromkeys(_webhook(s).sign(msg_id, at, body) for s in signing_secrets))
    return {"webhook-id": msg_id, "webhook-timestamp": str(math.floor(at.timestamp())),
            "webhook-signature": " ".join(signatures)}


def _signing_secrets(source_id: str | None) -> list[str]:
    source = get_source(source_id) if source_id else None
    return source.secrets() if source else []


# --- the SSRF guard -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # as in the URL (no brackets), for the Host header and TLS
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]  # checked, in resolver order
    basic_auth: str | None

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _why_refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip.teredo:
            embedded = ip.teredo[1]
        if embedded is None and ip in _NAT64[0]:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            why = _why_refused(embedded)
            if why:
                return f"{why} (embedded in {ip})"
        if ip.is_site_local:
            return "site-local"
    for name in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    if not ip.is_global:
        return "not globally routable"
    return None


def _resolve(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise CallbackUrlRefused(f"callback URL {redact(url)!r} is not a valid URL: {err}") from err
    scheme = parts.scheme.lower()
    allow_private = settings().allow_private_callbacks
    if scheme != "https" and not (scheme == "http" and allow_private):
        raise CallbackUrlRefused(f"callback URL {redact(url)!r} must be https")
    host = parts.hostname
    if not host:
        raise CallbackUrlRefused(f"callback URL {redact(url)!r} has no host")
    port = port or (443 if scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise _Transient(f"cannot resolve {host!r}: {err}") from err
    addresses = tuple(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))
    if not addresses:
        raise _Transient(f"{host!r} resolves to no address")
    if not allow_private:
        for address in addresses:
            why = _why_refused(ipaddress.ip_address(address))
            if why:
                raise CallbackUrlRefused(
                    f"callback URL {redact(url)!r} resolves to {address} ({why}): private, loopback, "
                    "link-local, multicast and reserved addresses are refused")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    auth = None
    if parts.username is not None:
        auth = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return _Target(scheme, host, port, path, addresses, auth)


def check_callback_url(url: str) -> None:
    """Raises CallbackUrlRefused unless `url` may be called now: https (http only when the local stack
    allows private callbacks) and a host whose every address is public (unless allowed). A host that
    does not resolve raises CallbackUrlRefused too (here; deliveries treat it as transient)."""
    try:
        _resolve(url)
    except _Transient as err:
        raise CallbackUrlRefused(str(err)) from err


def redact(url: str) -> str:
    """scheme://host[:port]/path — no credentials, no query (either may carry a token)."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{netloc}{parts.path}"


# --- disabled endpoints (410) ---------------------------------------------------------------------


def _disabled_key(tenant_id: str, url: str) -> str:
    return f"callback-disabled#{tenant_id}#{hashlib.sha256(url.encode()).hexdigest()}"


def is_disabled(tenant_id: str, url: str) -> bool:
    return keys.key_exists(_disabled_key(tenant_id, url))


def disable_endpoint(tenant_id: str, url: str, *, contract_id: str | None = None,
                     delivery_id: str | None = None) -> None:
    keys.put_key(_disabled_key(tenant_id, url), tenant_id=tenant_id, contract_id=contract_id,
                 detail={"url": redact(url), "reason": "410 Gone", "delivery_id": delivery_id},
                 created_at=store.now_utc())


def enable_endpoint(tenant_id: str, url: str) -> bool:
    """Re-enables an endpoint a 410 disabled; False if it was not disabled."""
    if not is_disabled(tenant_id, url):
        return False
    keys.delete_key(_disabled_key(tenant_id, url))
    logger.info("callback endpoint enabled", extra={"tenant_id": tenant_id, "url": redact(url)})
    return True


# --- schedule -------------------------------------------------------------------------------------


def delay_scale() -> float:
    """SIGNBRIDGE_CALLBACK_DELAY_SCALE: local/test knob multiplying every callback delay (default 1)."""
    try:
        return max(0.0, float(os.environ.get("SIGNBRIDGE_CALLBACK_DELAY_SCALE", "1")))
    except ValueError:
        return 1.0


def retry_delay_seconds(attempt: int, retry_after: float | None = None) -> float:
    """The wait after failed attempt `attempt` (1-based): the schedule's delay ±10 %, at least the
    receiver's Retry-After (capped at 24 h), times the delay scale."""
    base = RETRY_DELAYS_SECONDS[min(attempt, len(RETRY_DELAYS_SECONDS)) - 1]
    delay = base * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP_SECONDS))
    return delay * delay_scale()


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def next_message(message: Mapping[str, Any], delay: float, now: float | None = None) -> tuple[dict[str, Any], int]:
    """The message of the next attempt and its SQS delay: waits beyond SQS's 900 s carry `not_before`."""
    now = time.time() if now is None else now
    following = {k: v for k, v in message.items() if k != "not_before"}
    following["attempt"] = int(message.get("attempt", 1)) + 1
    if delay > SQS_MAX_DELAY_SECONDS:
        following["not_before"] = now + delay
    return following, min(SQS_MAX_DELAY_SECONDS, math.ceil(delay))


# --- the job --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def run(message: dict[str, Any]) -> str:
    """The `callback` job: one attempt, then success, disable, the next attempt, or the DLQ."""
    not_before = message.get("not_before")
    if not_before is not None:
        wait = float(not_before) - time.time()
        if wait > 0:
            enqueue(message, delay_seconds=min(SQS_MAX_DELAY_SECONDS, math.ceil(wait)))
            return f"waiting {wait:.0f}s"
    delivery_id, tenant_id, url = message["delivery_id"], message["tenant_id"], message["url"]
    contract_id = message.get("contract_id")
    attempt = int(message.get("attempt", 1))
    if _already_delivered(delivery_id):
        return "already delivered"
    if is_disabled(tenant_id, url):
        logger.warning("callback dropped: endpoint disabled", extra={
            "delivery_id": delivery_id, "contract_id": contract_id, "url": redact(url)})
        return "dropped: endpoint disabled"
    if attempt == 1 and "first_attempt_at" not in message:
        message = {**message, "first_attempt_at": _iso(store.now_utc())}

    result = attempt_delivery(message)
    log = logger.info if result.ok else logger.warning
    log("callback attempt", extra={
        "delivery_id": delivery_id, "contract_id": contract_id, "tenant_id": tenant_id, "attempt": attempt,
        "status_code": result.status_code, "error": result.error, "url": redact(url)})

    if result.ok:
        if store.claim_once(f"callback-delivered#{delivery_id}", DELIVERED_KEY_TTL, tenant_id=tenant_id,
                            contract_id=contract_id):
            _timeline(message, "callback_delivered", {
                "delivery_id": delivery_id, "attempts": attempt, "status_code": result.status_code,
                "url": redact(url)})
        return "delivered"
    if result.status_code == 410:
        disable_endpoint(tenant_id, url, contract_id=contract_id, delivery_id=delivery_id)
        logger.warning("callback endpoint disabled (410 Gone)", extra={
            "delivery_id": delivery_id, "tenant_id": tenant_id, "url": redact(url)})
        _timeline(message, "callback_endpoint_disabled", {
            "delivery_id": delivery_id, "attempts": attempt, "status_code": 410, "url": redact(url)})
        return "endpoint disabled"
    reason = result.error or f"HTTP {result.status_code}"
    count("CallbacksFailed")  # one failed attempt (the receiver down, refusing or too slow)
    if result.permanent or attempt >= MAX_ATTEMPTS:
        _give_up(message, attempt, reason, result.status_code)
        return "dead-lettered"
    delay = retry_delay_seconds(attempt, result.retry_after if result.status_code == 429 else None)
    following, sqs_delay = next_message({**message, "last_error": reason[:500],
                                         "last_status_code": result.status_code}, delay)
    enqueue(following, delay_seconds=sqs_delay)
    return f"retry {attempt + 1} in {delay:.0f}s"


def attempt_delivery(message: Mapping[str, Any]) -> AttemptResult:
    """One signed POST of the message's payload; never raises for the receiver's or the network's
    failures."""
    try:
        target = _resolve(message["url"])
    except CallbackUrlRefused as err:
        return AttemptResult(error=str(err), permanent=True)
    except _Transient as err:
        return AttemptResult(error=str(err))
    signing_secrets = _signing_secrets(message.get("source_id"))
    if not signing_secrets:
        return AttemptResult(error=f"source {message.get('source_id')!r} has no signing secret", permanent=True)
    body = json.dumps(message["payload"], ensure_ascii=False, separators=(",", ":"))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        **signature_headers(signing_secrets, message["delivery_id"], body, store.now_utc()),
    }
    try:
        status, retry_after = _post(target, body.encode(), headers)
    except _Transient as err:
        return AttemptResult(error=str(err))
    return AttemptResult(status_code=status, retry_after=parse_retry_after(retry_after))


def _post(target: _Target, body: bytes, headers: dict[str, str]) -> tuple[int, str | None]:
    """POSTs to the checked addresses (first one that accepts a connection); redirects not followed."""

    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS)
    request_headers = {**headers, "Host": target.host_header}
    if target.basic_auth:
        request_headers.update(urllib3.util.make_headers(basic_auth=target.basic_auth))
    last_error: Exception | None = None
    for address in target.addresses[:MAX_ADDRESSES_TRIED]:
        pool: Any
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address, target.port, timeout=timeout, retries=False, cert_reqs="CERT_REQUIRED",
                ca_certs=_ca_bundle(), server_hostname=target.host, assert_hostname=target.host)
        else:
            pool = urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, retries=False)
        try:
            response = pool.urlopen("POST", target.path, body=body, headers=request_headers, redirect=False,
                                    retries=False, assert_same_host=False, preload_content=False)
            try:
                response.read(4096)  # a polite peek; the body is not needed
            except HTTPError:
                pass
            finally:
                response.release_conn()
            return int(response.status), response.headers.get("Retry-After")
        except (NewConnectionError, ConnectTimeoutError) as err:
            last_error = err
            continue
        except HTTPError as err:
            raise _Transient(f"{type(err).__name__}: {err}") from err
        finally:
            pool.close()
    raise _Transient(f"cannot connect to {target.host}:{target.port}: {last_error}")


def _ca_bundle() -> str:
    """Mozilla's CA bundle (certifi, a dependency of the DocuSign SDK): the same trust everywhere,
    whatever the Lambda image carries."""
    return str(certifi.where())


def _already_delivered(delivery_id: str) -> bool:
    return keys.key_exists(f"callback-delivered#{delivery_id}")


def _give_up(message: Mapping[str, Any], attempts: int, reason: str, status_code: int | None) -> None:
    """The dead-letter queue (same message shape as the runner's, so `callbacks replay` and the DLQ
    alarm treat it alike) and one `callback_failed` on the timeline (instead of the runner's generic
    `job_dead_lettered`: one event per failure)."""
    logger.error("job dead-lettered", extra={"job": JOB, "reason": reason[:500], "delivery_id": message["delivery_id"],
                                             "contract_id": message.get("contract_id"), "attempts": attempts})
    enqueue({**message, "dead_letter_reason": reason[:1000]}, queue=settings().jobs_queue_name + "-dlq")
    count("JobsDeadLettered", job=JOB)
    _timeline(message, "callback_failed", {
        "delivery_id": message["delivery_id"], "attempts": attempts, "reason": reason[:500],
        "status_code": status_code, "url": redact(str(message["url"]))})


def _timeline(message: Mapping[str, Any], event_type: str, detail: dict[str, Any]) -> None:
    tenant_id, contract_id = message.get("tenant_id"), message.get("contract_id")
    if not tenant_id or not contract_id:
        return
    record = store.find_contract(str(tenant_id), str(contract_id))
    if record is not None:
        store.append_event(record, event_type, detail)


def _iso(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
