"""HTTP for the CRMs called without a client of their own (Zoho, Pipedrive, 纷享销客, and the token
calls): urllib3 with timeouts, Mozilla's CA bundle, no redirects (a credential is never sent to
another host) and no retries but one for a connection that could not be opened (nothing was sent:
safe for any method). Every other retry is the job's, with backoff."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import certifi
import urllib3
from urllib3.exceptions import HTTPError

from chalicelib.core.lifecycle_hooks import forget_after_restore
from chalicelib.crm.base import CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS, CrmUnavailable

TIMEOUT = urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS)
RETRY = urllib3.Retry(total=1, connect=1, read=0, status=0, other=0, redirect=0, raise_on_redirect=False)
USER_AGENT = "signbridge-crm/1"

_pool = urllib3.PoolManager(num_pools=8, maxsize=4, timeout=TIMEOUT, retries=RETRY, cert_reqs="CERT_REQUIRED",
                            ca_certs=certifi.where())


@forget_after_restore
def close_connections() -> None:
    """The pooled connections (a snapshot's are stale): opened again on next use."""
    _pool.clear()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # lower-case names
    data: bytes

    def json(self) -> Any:
        """The body as JSON, None when it is empty or not JSON (a gateway's HTML page)."""
        if not self.data:
            return None
        try:
            return json.loads(self.data)
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def call(crm: str, method: str, url: str, *, headers: Mapping[str, str] | None = None, query: Mapping[str, Any] | None
         = None, json_body: Any = None, form: Mapping[str, str] | None = None) -> Answer:
    """One request; a transport failure (refused, reset, timed out, TLS) is CrmUnavailable. The
    status is the caller's to judge."""
    if query:
        url = f"{url}?{urlencode({k: v for k, v in query.items() if v is not None}, doseq=True)}"
    sent_headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
    body: bytes | None = None
    if json_body is not None:
        body = json.dumps(json_body, ensure_ascii=False).encode()
        sent_headers["Content-Type"] = "application/json; charset=utf-8"
    elif form is not None:
        body = urlencode(form).encode()
        sent_headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        response = _pool.request(method, url, body=body, headers=sent_headers, redirect=False)
    except HTTPError as err:
        raise CrmUnavailable(f"{crm} did not answer {method} {_path(url)}: {type(err).__name__}",
                             code="unreachable") from err
    return Answer(int(response.status), {k.lower(): v for k, v in response.headers.items()}, response.data or b"")


def _path(url: str) -> str:
    # Logs and messages name the call, never a query string (some CRMs accept tokens there).
    return url.split("?", 1)[0]


def retry_after(value: str | None) -> float | None:
    """Retry-After (seconds or an HTTP date) in seconds from now; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def unavailable_status(crm: str, answer: Answer, what: str) -> CrmUnavailable | None:
    """The statuses that mean "not now" whatever the CRM: 5xx (down, a gateway), 408, 429."""
    if answer.status >= 500 or answer.status in (408, 425, 429):
        code = "rate_limited" if answer.status == 429 else "unavailable"
        return CrmUnavailable(f"{crm} answered {answer.status} to {what}", code=code, status=answer.status,
                              retry_after_seconds=retry_after(answer.header("retry-after")))
    return None
