"""DocuSign JWT grant, with the access token and userinfo cached.

We make the JWT assertion ourselves (PyJWT, as the SDK does) and POST it to a configurable OAuth base
URL, because the SDK hard-codes https for OAuth hosts and the local sandbox speaks plain HTTP. The
token is cached per warm Lambda and in DynamoDB across cold starts, until shortly before it expires
(JWT grant has no refresh token). In DynamoDB it is only ever KMS ciphertext, bound by its encryption
context to the item's key; with no KMS key configured it is not shared at all. No DocuSign SDK import
here: this module is cheap.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from urllib.parse import quote, urlencode, urlsplit

import urllib3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core.aws import client
from chalicelib.core.config import settings
from chalicelib.core.lifecycle_hooks import forget_after_restore
from chalicelib.core.observability import logger
from chalicelib.esign.accounts import AccountUnavailable, DocuSignAccount, service_account
from chalicelib.store import keys
from chalicelib.store.contention import StoreError
from chalicelib.store.contracts import now_utc

TOKEN_LIFETIME_MARGIN_SECONDS = 300  # renew five minutes before DocuSign's expiry
ASSERTION_LIFETIME_SECONDS = 3600
# DocuSign: "response data from [userinfo] should always be cached" (it has hourly limits). The
# account and its base URI change only when DocuSign moves the account: a day is plenty.
USERINFO_TTL_SECONDS = 24 * 3600
SCOPES = ("signature", "impersonation")
# Where DocuSign sends the user back from the consent screen (app.py's page): the redirect URI to
# register on the integration key, since DocuSign refuses a consent URL with any other.
CONSENT_PATH = "/v1/esign/docusign/consent"
_HTTP_TIMEOUT = (3.05, 15.0)


def _clock() -> float:
    """Epoch seconds for the caches' freshness (a seam for the unit tests' time travel)."""
    return time.time()


class DocuSignAuthError(Exception):
    """An operational problem (consent missing, wrong key): retried, alarmed, never a crash loop."""

    def __init__(self, message: str, *, error: str = "", consent_url: str | None = None,
                 description: str = "") -> None:
        super().__init__(message)
        self.error = error
        self.description = description  # DocuSign's error_description (invalid_grant: which check failed)
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
        return (now if now is not None else _clock()) < self.expires_at - TOKEN_LIFETIME_MARGIN_SECONDS


@dataclass(frozen=True)
class _Account:
    account_id: str
    base_uri: str
    fetched_at: float

    def fresh(self) -> bool:
        return _clock() < self.fetched_at + USERINFO_TTL_SECONDS


_lock = threading.Lock()
# Per account (DocuSignAccount.cache_key): the service's, and each tenant's own.
_sessions: dict[str, DocuSignSession] = {}
_account_caches: dict[str, _Account] = {}


def get_session(account: DocuSignAccount | None = None, *, force_refresh: bool = False) -> DocuSignSession:
    """A live token for the account (the service's when None), from this container, the shared cache
    or a new JWT grant."""
    account = account or service_account()
    with _lock:
        session = _sessions.get(account.cache_key)
        if not force_refresh and session is not None and session.fresh():
            return session
        cached = None if force_refresh else _load_shared(account)
        session = cached if cached is not None else _new_session(account)
        _sessions[account.cache_key] = session
        if cached is None:
            _store_shared(account, session)
        return session


@forget_after_restore  # every account's token and userinfo: a restored copy asks again
def forget_session(account: DocuSignAccount | None = None, *, userinfo: bool = True) -> None:
    """After a 401 from DocuSign (token revoked): that account's token. With no account (between
    tests): every account's, userinfo too."""
    with _lock:
        if account is None:
            _sessions.clear()
            if userinfo:
                _account_caches.clear()
            return
        _sessions.pop(account.cache_key, None)
        if userinfo:
            _account_caches.pop(account.cache_key, None)


def _oauth_base(account: DocuSignAccount | None = None) -> str:
    return (account or service_account()).oauth_base.rstrip("/")


def _oauth_audience(account: DocuSignAccount) -> str:
    # DocuSign expects the OAuth host name only (account-d.docusign.com), never the scheme.
    return urlsplit(_oauth_base(account)).netloc


def consent_redirect_uri() -> str:
    """The redirect URI of the consent URL, to register on the integration key."""
    return settings().public_base_url.rstrip("/") + CONSENT_PATH


def consent_url(account: DocuSignAccount | None = None) -> str:
    account = account or service_account()
    query = urlencode({
        "response_type": "code",
        "scope": " ".join(SCOPES),
        "client_id": account.integration_key,
        "redirect_uri": consent_redirect_uri(),
    }, quote_via=quote)  # scope=signature%20impersonation, as DocuSign documents it
    return f"{_oauth_base(account)}/oauth/auth?{query}"


def _new_session(account: DocuSignAccount) -> DocuSignSession:
    import jwt  # PyJWT and its crypto backend: ~70 ms a cold start would pay for a grant made hourly

    if not account.integration_key or not account.user_id:
        raise DocuSignAuthError("DOCUSIGN_INTEGRATION_KEY and DOCUSIGN_USER_ID must be set", error="not_configured")
    now = int(time.time())
    private_key = _private_key(account)
    where = account.private_key_where()
    try:
        assertion = jwt.encode(
            {"iss": account.integration_key, "sub": account.user_id, "aud": _oauth_audience(account),
             "iat": now, "exp": now + ASSERTION_LIFETIME_SECONDS, "scope": " ".join(SCOPES)},
            private_key, algorithm="RS256",
        )
    except (ValueError, TypeError, jwt.PyJWTError) as err:
        logger.error("DocuSign private key unusable", extra={"secret_id": where, "error": type(err).__name__})
        raise DocuSignAuthError(f"the DocuSign private key in {where} is not a usable "
                                f"RSA key ({type(err).__name__})", error="bad_private_key") from err
    issued = _clock()
    status, body = _http(
        "POST", f"{_oauth_base(account)}/oauth/token",
        body=urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 200 or "access_token" not in body:
        error = str(body.get("error", f"http_{status}"))
        description = str(body.get("error_description", ""))
        if error == "consent_required":
            url = consent_url(account)
            logger.error("DocuSign consent required: open the consent URL once", extra={"consent_url": url})
            raise DocuSignAuthError(f"DocuSign consent required; grant it at {url}", error=error, consent_url=url)
        logger.error("DocuSign JWT grant refused", extra={"error": error, "error_description": description})
        raise DocuSignAuthError(f"DocuSign JWT grant refused: {error} {description}".strip(), error=error,
                                description=description)
    token = str(body["access_token"])
    try:
        lifetime = int(body.get("expires_in", 3600))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        lifetime = 3600
    picked = _account(token, account)
    return DocuSignSession(token, issued + lifetime, picked.account_id, picked.base_uri)


def _private_key(account: DocuSignAccount) -> bytes:
    where = account.private_key_where()
    try:
        return account.private_key_pem().encode()
    except (ClientError, BotoCoreError, AccountUnavailable) as err:
        logger.error("DocuSign private key unreadable", extra={"secret_id": where, "error": str(err)})
        raise DocuSignAuthError(f"cannot read the DocuSign private key {where}: {err}",
                                error="private_key_unreadable") from err


def _account(token: str, account: DocuSignAccount) -> _Account:
    """The account to use (id + REST base URI), from userinfo, cached in memory and in DynamoDB."""
    cached = _account_caches.get(account.cache_key)
    if cached is not None and cached.fresh():
        return cached
    shared = _load_shared_account(account)
    if shared is not None:
        _account_caches[account.cache_key] = shared
        return shared
    account_id, base_uri = _userinfo(token, account)
    fetched = _account_caches[account.cache_key] = _Account(account_id, base_uri, _clock())
    _store_shared_account(account, fetched)
    return fetched


def _userinfo(token: str, account: DocuSignAccount) -> tuple[str, str]:
    accounts = user_accounts(token, account)
    picked = pick_account(accounts, account.account_id)
    if picked is not None:
        return picked
    wanted = account.account_id
    logger.error("DocuSign user has no matching account", extra={"wanted_account_id": wanted or None,
                                                                 "tenant_id": account.tenant_id})
    listed = ", ".join(str(a["account_id"]) for a in accounts) or "none"
    setting = "DOCUSIGN_ACCOUNT_ID" if account.tenant_id is None else f"account_id in {account.secret_id}"
    raise DocuSignAuthError(f"the DocuSign user has no matching account ({setting}={wanted or '(empty)'}; "
                            f"the user's accounts: {listed})", error="no_account")


def user_accounts(token: str, account: DocuSignAccount | None = None) -> list[dict[str, object]]:
    """The accounts userinfo lists for the token's user (those with an id and a base URI), asked now:
    no cache (the session's account may come from the shared cache, up to a day old)."""
    status, body = _http("GET", f"{_oauth_base(account)}/oauth/userinfo",
                         headers={"Authorization": f"Bearer {token}"})
    if status != 200:
        logger.error("DocuSign userinfo failed", extra={"status": status})
        raise DocuSignAuthError(f"DocuSign userinfo failed with HTTP {status}", error="userinfo_failed")
    listed = body.get("accounts")
    return [a for a in (listed if isinstance(listed, list) else [])
            if isinstance(a, dict) and a.get("account_id") and a.get("base_uri")]


def pick_account(accounts: list[dict[str, object]], wanted: str) -> tuple[str, str] | None:
    """(account id, base URI) of the wanted account (DOCUSIGN_ACCOUNT_ID, or a tenant's), else of the
    user's default one when none is wanted; None: no match."""
    for account in accounts:
        # Raw JSON on purpose: the SDK's model turns is_default into the truthy string "False".
        if (wanted and account.get("account_id") == wanted) or (not wanted and account.get("is_default") is True):
            return str(account["account_id"]), str(account["base_uri"])
    if accounts and not wanted:
        return str(accounts[0]["account_id"]), str(accounts[0]["base_uri"])
    return None


def _http(method: str, url: str, *, body: str | None = None, headers: dict[str, str] | None = None
          ) -> tuple[int, dict[str, object]]:
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


# Sharing the token (and userinfo) across cold starts: one JWT grant per hour instead of one per
# container. The cache is an optimisation: if DynamoDB or KMS cannot serve it, we go to DocuSign.
_SHARED_KEY = "docusign-session"
_SHARED_ACCOUNT_KEY = "docusign-userinfo"
_TOKEN_PURPOSE = "docusign-access-token"
_told_no_kms_key = False  # the "no shared cache" notice is logged once per container


def _shared_key(prefix: str, account: DocuSignAccount) -> str:
    return f"{prefix}#{account.cache_key}"


def _token_kms_key() -> str | None:
    """The KMS key sealing the shared token, or None: then the token stays in this container only."""
    global _told_no_kms_key
    key_id = settings().token_cache_kms_key
    if key_id:
        return key_id
    if not _told_no_kms_key:
        _told_no_kms_key = True
        logger.warning("DocuSign token not shared across containers: SIGNBRIDGE_TOKEN_CACHE_KMS_KEY is empty")
    return None


def _encryption_context(account: DocuSignAccount) -> dict[str, str]:
    # Binds the ciphertext to its item: copied under another key (another user), it does not decrypt.
    return {"purpose": _TOKEN_PURPOSE, "cache_key": _shared_key(_SHARED_KEY, account)}


def _kms_failed(operation: str, key_id: str, err: Exception) -> None:
    # The error code only: never the token, the ciphertext or KMS's free-text message.
    code = err.response.get("Error", {}).get("Code", "") if isinstance(err, ClientError) else type(err).__name__
    logger.warning("DocuSign token cache skipped: KMS failed",
                   extra={"operation": operation, "kms_key": key_id, "error": code or type(err).__name__})


def _seal(key_id: str, token: str, account: DocuSignAccount) -> str | None:


    try:
        blob = client("kms").encrypt(KeyId=key_id, Plaintext=token.encode(),
                                     EncryptionContext=_encryption_context(account))["CiphertextBlob"]
    except (ClientError, BotoCoreError) as err:
        _kms_failed("Encrypt", key_id, err)
        return None
    return base64.b64encode(blob).decode("ascii")


def _unseal(key_id: str, ciphertext: str, account: DocuSignAccount) -> str | None:


    try:
        blob = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        # KeyId too: KMS then refuses a ciphertext of another key, and IAM can scope by kms:RequestAlias.
        plaintext = client("kms").decrypt(KeyId=key_id, CiphertextBlob=blob,
                                          EncryptionContext=_encryption_context(account))["Plaintext"]
    except (ClientError, BotoCoreError) as err:
        _kms_failed("Decrypt", key_id, err)
        return None
    try:
        return bytes(plaintext).decode()
    except UnicodeDecodeError:
        return None


def _load_detail(prefix: str, account: DocuSignAccount) -> dict[str, object] | None:


    try:
        item = keys.find_key(_shared_key(prefix, account))
    except StoreError as err:
        logger.warning("DocuSign token cache unreadable", extra={"error": str(err)})
        return None
    if item is None:
        return None
    return item.detail if isinstance(item.detail, dict) else None


def _save_detail(prefix: str, account: DocuSignAccount, detail: dict[str, object], lifetime_seconds: float
                 ) -> None:


    now = now_utc()
    try:
        keys.put_key(_shared_key(prefix, account), detail=detail, created_at=now,
                     expires_at=now + timedelta(seconds=max(60.0, lifetime_seconds)))
    except StoreError as err:
        logger.warning("DocuSign token cache not written", extra={"error": str(err)})


def _load_shared(account: DocuSignAccount) -> DocuSignSession | None:
    key_id = _token_kms_key()
    if key_id is None:
        return None
    detail = _load_detail(_SHARED_KEY, account)
    # No ciphertext: absent, or a plaintext item from before encryption, which is never used.
    if not detail or not isinstance(detail.get("ciphertext"), str):
        return None
    try:
        expires_at = float(detail["expires_at"])  # type: ignore[arg-type]
        account_id, base_uri = str(detail["account_id"]), str(detail["base_uri"])
    except (KeyError, TypeError, ValueError):
        return None
    if not DocuSignSession("", expires_at, account_id, base_uri).fresh():
        return None  # stale: no KMS call for it
    token = _unseal(key_id, str(detail["ciphertext"]), account)
    return DocuSignSession(token, expires_at, account_id, base_uri) if token else None


def _store_shared(account: DocuSignAccount, session: DocuSignSession) -> None:
    key_id = _token_kms_key()
    ciphertext = _seal(key_id, session.access_token, account) if key_id is not None else None
    if ciphertext is None:
        return  # not shared: the next cold start makes its own grant
    detail: dict[str, object] = {"ciphertext": ciphertext, "expires_at": session.expires_at,
                                 "account_id": session.account_id, "base_uri": session.base_uri}
    _save_detail(_SHARED_KEY, account, detail, session.expires_at - _clock())


def _load_shared_account(account: DocuSignAccount) -> _Account | None:
    detail = _load_detail(_SHARED_ACCOUNT_KEY, account)
    try:
        found = _Account(**detail) if detail else None  # type: ignore[arg-type]
    except TypeError:
        return None
    return found if found is not None and found.fresh() else None


def _store_shared_account(account: DocuSignAccount, found: _Account) -> None:
    # Account id and REST base URI: no secret, so plaintext.
    _save_detail(_SHARED_ACCOUNT_KEY, account, asdict(found), found.fetched_at + USERINFO_TTL_SECONDS - _clock())
