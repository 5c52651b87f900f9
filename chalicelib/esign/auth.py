"""DocuSign JWT grant, with the access token and userinfo cached.

We make the JWT assertion ourselves (PyJWT, as the SDK does) and POST it to a configurable OAuth base
URL, because the SDK hard-codes https for OAuth hosts and the local sandbox speaks plain HTTP. The
token is cached per warm Lambda and in DynamoDB across cold starts, until shortly before it expires
(JWT grant has no refresh token). No DocuSign SDK import here: this module is cheap.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from chalicelib.aws import get_secret
from chalicelib.config import settings
from chalicelib.observability import logger

TOKEN_LIFETIME_MARGIN_SECONDS = 300  # renew five minutes before DocuSign's expiry
ASSERTION_LIFETIME_SECONDS = 3600
SCOPES = ("signature", "impersonation")
_HTTP_TIMEOUT = (3.05, 15.0)


class DocuSignAuthError(Exception):
    """An operational problem (consent missing, wrong key): retried, alarmed, never a crash loop."""

    def __init__(self, message: str, *, error: str = "", consent_url: str | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.consent_url = consent_url


@dataclass(frozen=True)
class DocuSignSession:
    access_token: str
    expires_at: float  # epoch seconds
    account_id: str
    base_uri: str  # e.g. https://demo.docusign.net (REST host = base_uri + "/restapi")

    @property
    def rest_host(self) -> str:
        return self.base_uri.rstrip("/") + "/restapi"

    def fresh(self, now: float | None = None) -> bool:
        return (now or time.time()) < self.expires_at - TOKEN_LIFETIME_MARGIN_SECONDS


_lock = threading.Lock()
_session: DocuSignSession | None = None


def get_session(*, force_refresh: bool = False) -> DocuSignSession:
    global _session
    with _lock:
        if not force_refresh and _session is not None and _session.fresh():
            return _session
        cached = None if force_refresh else _load_shared()
        _session = cached if cached is not None else _new_session()
        if cached is None:
            _store_shared(_session)
        return _session


def forget_session() -> None:
    """After a 401 from DocuSign (token revoked), and between tests."""
    global _session
    with _lock:
        _session = None


def _oauth_base() -> str:
    return settings().docusign_oauth_base.rstrip("/")


def _oauth_audience() -> str:
    # DocuSign expects the OAuth host name only (account-d.docusign.com), never the scheme.
    return urlsplit(_oauth_base()).netloc


def consent_url() -> str:
    query = urlencode({
        "response_type": "code",
        "scope": " ".join(SCOPES),
        "client_id": settings().docusign_integration_key,
        "redirect_uri": settings().public_base_url.rstrip("/") + "/health",
    })
    return f"{_oauth_base()}/oauth/auth?{query}"


def _new_session() -> DocuSignSession:
    import jwt  # PyJWT, a docusign-esign dependency

    cfg = settings()
    if not cfg.docusign_integration_key or not cfg.docusign_user_id:
        raise DocuSignAuthError("DOCUSIGN_INTEGRATION_KEY and DOCUSIGN_USER_ID must be set", error="not_configured")
    now = int(time.time())
    assertion = jwt.encode(
        {"iss": cfg.docusign_integration_key, "sub": cfg.docusign_user_id, "aud": _oauth_audience(),
         "iat": now, "exp": now + ASSERTION_LIFETIME_SECONDS, "scope": " ".join(SCOPES)},
        get_secret(cfg.docusign_private_key_secret).encode(),
        algorithm="RS256",
    )
    status, body = _http(
        "POST", f"{_oauth_base()}/oauth/token",
        body=urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 200 or "access_token" not in body:
        error = str(body.get("error", f"http_{status}"))
        description = str(body.get("error_description", ""))
        if error == "consent_required":
            url = consent_url()
            logger.error("DocuSign consent required: open the consent URL once", extra={"consent_url": url})
            raise DocuSignAuthError(f"DocuSign consent required; grant it at {url}", error=error, consent_url=url)
        logger.error("DocuSign JWT grant refused", extra={"error": error, "error_description": description})
        raise DocuSignAuthError(f"DocuSign JWT grant refused: {error} {description}".strip(), error=error)
    token = str(body["access_token"])
    expires_at = now + int(body.get("expires_in", 3600))
    account_id, base_uri = _account(token)
    return DocuSignSession(token, expires_at, account_id, base_uri)


def _account(token: str) -> tuple[str, str]:
    status, body = _http("GET", f"{_oauth_base()}/oauth/userinfo", headers={"Authorization": f"Bearer {token}"})
    if status != 200:
        raise DocuSignAuthError(f"DocuSign userinfo failed with HTTP {status}", error="userinfo_failed")
    accounts = body.get("accounts") or []
    wanted = settings().docusign_account_id
    for account in accounts:
        # Raw JSON on purpose: the SDK's model turns is_default into the truthy string "False".
        if (wanted and account.get("account_id") == wanted) or (not wanted and account.get("is_default") is True):
            return str(account["account_id"]), str(account["base_uri"])
    if accounts and not wanted:
        return str(accounts[0]["account_id"]), str(accounts[0]["base_uri"])
    raise DocuSignAuthError("the DocuSign user has no matching account", error="no_account")


def _http(method: str, url: str, *, body: str | None = None, headers: dict[str, str] | None = None
          ) -> tuple[int, dict[str, object]]:
    import urllib3

    try:
        response = urllib3.request(method, url, body=body, headers=headers,
                                   timeout=urllib3.Timeout(connect=_HTTP_TIMEOUT[0], read=_HTTP_TIMEOUT[1]),
                                   retries=False)
    except urllib3.exceptions.HTTPError as err:
        raise DocuSignAuthError(f"DocuSign OAuth unreachable: {err}", error="unreachable") from err
    try:
        parsed = json.loads(response.data or b"{}")
    except ValueError:
        parsed = {}
    return response.status, parsed if isinstance(parsed, dict) else {}


# Sharing the token across cold starts: one JWT grant per hour instead of one per container.
_SHARED_KEY = "docusign-session"


def _load_shared() -> DocuSignSession | None:
    from pynamodb.exceptions import DoesNotExist

    from chalicelib.store.models import KeyRecord

    try:
        item = KeyRecord.get(f"{_SHARED_KEY}#{settings().docusign_integration_key}#{settings().docusign_user_id}")
    except DoesNotExist:
        return None
    try:
        session = DocuSignSession(**(item.detail or {}))
    except TypeError:
        return None
    return session if session.fresh() else None


def _store_shared(session: DocuSignSession) -> None:
    from chalicelib.store.contracts import now_utc
    from chalicelib.store.models import KeyRecord

    now = now_utc()
    KeyRecord(
        key=f"{_SHARED_KEY}#{settings().docusign_integration_key}#{settings().docusign_user_id}",
        detail=asdict(session), created_at=now, expires_at=now + timedelta(seconds=session.expires_at - time.time()),
    ).save()
