"""python -m chalicelib.admin docusign check

Checks, with this environment's settings (the app's: run it with the stage's variables and AWS
credentials), everything sending through DocuSign needs, one step after another:

1. configuration: DOCUSIGN_INTEGRATION_KEY, DOCUSIGN_USER_ID, DOCUSIGN_OAUTH_BASE and
   SIGNBRIDGE_PUBLIC_BASE_URL set (DOCUSIGN_ACCOUNT_ID is optional); prints the consent redirect URI
   to register on the integration key;
2. private key: the secret readable from Secrets Manager, and a usable RSA private key;
3. JWT grant: DocuSign gives an access token (consent missing: the consent URL to open; a key, user
   or integration key DocuSign does not know: which one);
4. userinfo and account: DOCUSIGN_ACCOUNT_ID (or the user's default account) among the user's
   accounts, its base URI, and the app's cached userinfo agreeing;
5. account access: one authenticated REST call (envelopes changed in the last day, one asked for);
6. Connect keys: the secret holds at least one usable HMAC key (chalicelib/core/secrets.py rules).

Each step prints `ok`, `FAILED` (what is wrong and how to fix it) or `skipped` (an earlier step it
needs failed). Exit status 0 when every step passed, 1 otherwise. Nothing is changed, except that the
grant's token lands in the app's shared token cache, as any grant of the app's would.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from urllib3.exceptions import HTTPError

from chalicelib.admin import audit
from chalicelib.core.aws import forget_secret, get_secret, put_secret_json
from chalicelib.core.config import settings
from chalicelib.core.secrets import secret_problem
from chalicelib.esign import governor
from chalicelib.esign.accounts import (
    SETTING,
    AccountUnavailable,
    DocuSignAccount,
    own_account_secret,
    service_account,
    tenant_account,
    tenant_secret_id,
)
from chalicelib.esign.auth import (
    DocuSignAuthError,
    DocuSignSession,
    consent_redirect_uri,
    consent_url,
    forget_session,
    get_session,
    pick_account,
    user_accounts,
)
from chalicelib.esign.envelopes import request_timeout
from chalicelib.store.registry import check_tenant_id, set_tenant_setting

T = TypeVar("T")
MIN_RSA_BITS = 2048  # DocuSign's own keypairs are 2048 bits
INDENT = " " * 9
APPS_AND_KEYS = "DocuSign eSignature Admin > Apps and Keys"


class Failed(Exception):
    """A step that did not pass: what is wrong, then how to fix it (one line each)."""

    def __init__(self, summary: str, *fix: str) -> None:
        super().__init__(summary)
        self.summary = summary
        self.fix = fix


@dataclass
class Step:
    name: str
    outcome: str  # ok, FAILED or skipped
    summary: str
    lines: tuple[str, ...] = field(default_factory=tuple)

    def show(self) -> None:
        print(f"{self.outcome:<8} {self.name}: {self.summary}")
        for line in self.lines:
            print(f"{INDENT}{line}")


class Report:
    def __init__(self) -> None:
        self.steps: list[Step] = []

    def run(self, name: str, check: Callable[[], tuple[str, tuple[str, ...], T]]) -> T | None:
        """Runs one step and prints it; its value when it passed, None otherwise."""
        try:
            summary, lines, value = check()
        except Failed as failed:
            self._add(Step(name, "FAILED", failed.summary, failed.fix))
            return None
        self._add(Step(name, "ok", summary, lines))
        return value

    def skip(self, name: str, needs: str) -> None:
        self._add(Step(name, "skipped", f"needs {needs}"))

    def _add(self, step: Step) -> None:
        self.steps.append(step)
        step.show()

    @property
    def passed(self) -> bool:
        return all(s.outcome == "ok" for s in self.steps)


@dataclass(frozen=True)
class Target:
    """The account checked, and how to name where each of its settings lives in a fix."""

    account: DocuSignAccount
    secret: dict[str, Any] | None = None  # a tenant's secret, as read (None: the service's settings)

    @property
    def tenant(self) -> str | None:
        return self.account.tenant_id

    def name(self, setting: str) -> str:
        """DOCUSIGN_USER_ID for the service's account; `user_id` in the tenant's secret otherwise."""
        if self.tenant is None:
            return setting
        field_name = setting.removeprefix("DOCUSIGN_").lower()
        return f"`{field_name}` in the secret {self.account.secret_id}"


def run_checks(tenant_id: str | None = None) -> Report:
    report = Report()
    configured = report.run("configuration", lambda: _configuration(tenant_id))
    # The service's settings are checked step by step even when one is missing; a tenant's come
    # from its secret, which the configuration step has to read first.
    target = configured or (Target(service_account()) if tenant_id is None else None)
    key = report.run("private key", lambda: _private_key(target)) if target else None
    if target is None:
        report.skip("private key", "the configuration")
    grant: DocuSignSession | DocuSignAuthError | None = None
    if target and configured and key:
        grant = report.run("JWT grant", lambda: _grant(target))
    else:
        report.skip("JWT grant", "the configuration and the private key")
    session = None
    if target and grant is not None:
        session = report.run("userinfo and account", lambda: _account(target, grant))
    else:
        report.skip("userinfo and account", "the JWT grant")
    if target and session is not None:
        report.run("account access", lambda: _account_access(target, session))
    else:
        report.skip("account access", "the account")
    if target:
        report.run("Connect keys", lambda: _connect_keys(target))
    else:
        report.skip("Connect keys", "the configuration")
    return report


# --- the steps: each returns (summary, more lines, value) or raises Failed ---------------------------


def _tenant_target(tenant_id: str) -> Target:
    secret_id = own_account_secret(tenant_id)
    if secret_id is None:
        raise Failed(f"tenant {tenant_id} has no DocuSign account of its own: it sends through the service's",
                     "check the service's account with `docusign check` (no --tenant), or give the tenant its own "
                     f"with `docusign use --tenant {tenant_id} ...`")
    example = '\'{"integration_key": "...", "user_id": "...", "private_key": "<PEM>", "connect_keys": ["..."]}\''
    raw = _read_secret(secret_id, "the tenant's DocuSign account", example)
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise Failed(f"the secret {secret_id} is not JSON", f"store it as {example}") from err
    if not isinstance(value, dict):
        raise Failed(f"the secret {secret_id} is not a JSON object", f"store it as {example}")
    try:
        account = tenant_account(tenant_id, secret_id)
    except AccountUnavailable as err:
        raise Failed(str(err), f"write it again with `docusign use --tenant {tenant_id} ...`") from err
    return Target(account, value)


def _configuration(tenant_id: str | None = None) -> tuple[str, tuple[str, ...], Target]:
    target = Target(service_account()) if tenant_id is None else _tenant_target(tenant_id)
    account = target.account
    problems: list[str] = []
    if not account.integration_key:
        problems.append(f"{target.name('DOCUSIGN_INTEGRATION_KEY')} is not set: the integration key (a GUID) of the "
                        f"app in {APPS_AND_KEYS}")
    if not account.user_id:
        problems.append(f"{target.name('DOCUSIGN_USER_ID')} is not set: the API Username (a GUID) of the DocuSign "
                        f"user signbridge acts as ({APPS_AND_KEYS}, 'My Account Information')")
    elif "@" in account.user_id:
        problems.append(f"{target.name('DOCUSIGN_USER_ID')} is {account.user_id!r}, an email: use the user's API "
                        f"Username (a GUID, {APPS_AND_KEYS})")
    oauth = urlsplit(account.oauth_base)
    if oauth.scheme not in ("http", "https") or not oauth.netloc:
        problems.append(f"{target.name('DOCUSIGN_OAUTH_BASE')} is {account.oauth_base!r}: use "
                        "https://account-d.docusign.com (developer accounts) or https://account.docusign.com "
                        "(production)")
    # The settings fall back to a local address: a consent URL built from it would send DocuSign there.
    if not os.environ.get("SIGNBRIDGE_PUBLIC_BASE_URL"):
        problems.append("SIGNBRIDGE_PUBLIC_BASE_URL is not set: the API's public address (the consent redirect "
                        "URI and the Connect URL are built from it); set it as for the app's stage")
    if problems:
        raise Failed(f"{len(problems)} setting(s) missing or wrong", *problems)
    wanted = account.account_id or f"({target.name('DOCUSIGN_ACCOUNT_ID')} not set: the user's default account)"
    whose = f"tenant {target.tenant}: " if target.tenant else ""
    return (f"{whose}integration key {account.integration_key}, user {account.user_id}, OAuth "
            f"{account.oauth_base}, account {wanted}",
            (f"redirect URI to register on the integration key: {consent_redirect_uri()}",), target)


def _private_key(target: Target) -> tuple[str, tuple[str, ...], bool]:
    secret_id = target.account.private_key_where()
    if target.secret is not None:
        pem = str(target.secret.get("private_key") or "")
        if not pem:
            raise Failed(f"the secret {secret_id} has no `private_key`",
                         f"write it again with `docusign use --tenant {target.tenant} --private-key-file ...`")
    else:
        pem = _read_secret(secret_id, "the RSA private key DocuSign generated for the integration key (PEM text)",
                           "file://private.key")
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except TypeError as err:  # cryptography: a passphrase is needed
        raise Failed(f"the private key in {secret_id} is encrypted with a passphrase",
                     "store it unencrypted (openssl pkey -in encrypted.pem -out private.key), as the app reads it "
                     "without one") from err
    except (ValueError, UnsupportedAlgorithm) as err:
        what = "a public key" if "PUBLIC KEY" in pem else "not a PEM private key"
        raise Failed(f"the secret {secret_id} holds {what}",
                     "store the private key of an RSA keypair of the integration key, whole: the PEM block "
                     "with its BEGIN and END lines",
                     f"(DocuSign shows it once, when the keypair is added in {APPS_AND_KEYS}; if it is lost, add "
                     "a new keypair)") from err
    if not isinstance(key, rsa.RSAPrivateKey):
        raise Failed(f"the private key in {secret_id} is a {type(key).__name__.lstrip('_')}, not an RSA key",
                     f"DocuSign's JWT grant is RS256: store the private key of an RSA keypair from {APPS_AND_KEYS}")
    if key.key_size < MIN_RSA_BITS:
        raise Failed(f"the RSA key in {secret_id} has {key.key_size} bits",
                     f"use a keypair of at least {MIN_RSA_BITS} bits ({APPS_AND_KEYS} makes 2048-bit ones)")
    return f"{secret_id}: an RSA private key of {key.key_size} bits", (), True


def _grant(target: Target) -> tuple[str, tuple[str, ...], DocuSignSession | DocuSignAuthError]:
    forget_session(target.account)  # this process's cache only: the check asks DocuSign, whatever was cached
    try:
        session = get_session(target.account, force_refresh=True)
    except DocuSignAuthError as err:
        if err.error in ("userinfo_failed", "no_account"):
            # The token was granted; userinfo, asked next by get_session, is the next step's to report.
            return "DocuSign granted an access token", (), err
        raise _grant_failure(target, err) from err
    return "DocuSign granted an access token", (), session


def _grant_failure(target: Target, err: DocuSignAuthError) -> Failed:
    account = target.account
    user, key, secret = account.user_id, account.integration_key, account.private_key_where()
    oauth_base, name = account.oauth_base, target.name
    said = f"({err.error}{': ' + err.description if err.description else ''})"
    if err.error == "consent_required":
        return Failed(
            f"consent missing: DocuSign user {user} has not allowed integration key {key} to act for them {said}",
            f"1. register this redirect URI on the integration key ({APPS_AND_KEYS} > the app > Additional "
            f"settings > Redirect URIs), or DocuSign refuses the consent URL: {consent_redirect_uri()}",
            "2. open this consent URL once, signed in to DocuSign as that user, and accept:",
            f"   {err.consent_url or consent_url(account)}",
            "3. run this check again")
    if err.description == "no_valid_keys_or_signatures":
        return Failed(
            f"DocuSign refuses the private key in {secret}: it matches no RSA keypair of integration key {key} "
            f"{said}",
            f"put the private key of one of the integration key's RSA keypairs in {secret}, or add this key's "
            f"public key to the integration key ({APPS_AND_KEYS} > the app > Service Integration)",
            "(DocuSign answers the same when this machine's clock is off by minutes: check it too)")
    if err.description == "issuer_not_found":
        return Failed(
            f"DocuSign at {oauth_base} knows no integration key {key} {said}",
            f"check {name('DOCUSIGN_INTEGRATION_KEY')}, and {name('DOCUSIGN_OAUTH_BASE')}: "
            "https://account-d.docusign.com for "
            "developer accounts, https://account.docusign.com for production (a key goes live there only once "
            "promoted)")
    if err.description in ("user_not_found", "no_such_user") or err.error == "no_such_user":
        return Failed(
            f"DocuSign at {oauth_base} knows no user {user} {said}",
            f"set {name('DOCUSIGN_USER_ID')} to the user's API Username (a GUID, {APPS_AND_KEYS}) in the same "
            f"environment (developer or production) as {name('DOCUSIGN_OAUTH_BASE')}")
    if err.error in ("bad_private_key", "private_key_unreadable"):
        return Failed(str(err), f"store the RSA private key of the integration key in {secret}")
    if err.error == "unreachable":
        return Failed(f"DocuSign's OAuth at {oauth_base} is unreachable: {err}",
                      f"check {name('DOCUSIGN_OAUTH_BASE')} and this machine's network, then run the check again")
    if err.error.startswith("http_5"):
        return Failed(f"DocuSign's OAuth answered {err.error}", "DocuSign is having trouble: try again in a while")
    return Failed(f"DocuSign refused the JWT grant {said}",
                  f"check {name('DOCUSIGN_INTEGRATION_KEY')}, {name('DOCUSIGN_USER_ID')} and the private key "
                  f"against the integration key in {APPS_AND_KEYS}")


def _account(target: Target, grant: DocuSignSession | DocuSignAuthError | None
             ) -> tuple[str, tuple[str, ...], DocuSignSession]:
    wanted, setting = target.account.account_id, target.name("DOCUSIGN_ACCOUNT_ID")
    if isinstance(grant, DocuSignAuthError):
        if grant.error == "no_account":
            raise Failed(str(grant), f"set {setting} to one of the user's accounts, or leave it empty for "
                                     "the user's default account")
        raise Failed(str(grant), "userinfo is DocuSign's: run the check again in a while")
    assert grant is not None  # run_checks passes a session or the error
    try:
        accounts = user_accounts(grant.access_token, target.account)
    except DocuSignAuthError as err:
        raise Failed(str(err), "userinfo is DocuSign's: run the check again in a while") from err
    picked = pick_account(accounts, wanted)
    listed = ", ".join(f"{a['account_id']} ({a.get('account_name') or 'no name'})" for a in accounts) or "none"
    if picked is None:
        raise Failed(f"{setting} {wanted or '(empty)'} is not an account of user "
                     f"{target.account.user_id}; the user's accounts: {listed}",
                     f"set {setting} to one of them, or leave it empty for the user's default account")
    account_id, base_uri = picked
    if (grant.account_id, grant.base_uri) != picked:
        # The app keeps userinfo a day (chalicelib/esign/auth.py): until then it uses what it cached.
        raise Failed(f"the app's cached userinfo names account {grant.account_id} at {grant.base_uri}, DocuSign "
                     f"now {account_id} at {base_uri}",
                     "the app keeps userinfo for up to a day and then follows DocuSign by itself; until then it "
                     "sends to the cached account")
    how = setting if wanted else f"the user's default account (set {setting} to pin it)"
    return f"account {account_id} at {base_uri}, {how}", (f"the user's accounts: {listed}",), grant


def _account_access(target: Target, session: DocuSignSession) -> tuple[str, tuple[str, ...], bool]:
    from docusign_esign import ApiClient, EnvelopesApi  # heavy: loaded only for this step
    from docusign_esign.client.api_exception import ApiException

    client = ApiClient(host=session.rest_host)
    client.set_default_header("Authorization", f"Bearer {session.access_token}")
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        # The app's budget for the account, as every other call: a spent one is not spent further.
        governor.check(session.account_id)
    except governor.RateLimited as err:
        raise Failed(f"the account's API budget is spent for now ({err})",
                     "run the check again after the reset; the app's jobs wait for it by themselves") from err
    try:
        # One envelope asked for: the cheapest call that proves the token opens this account.
        page = EnvelopesApi(client).list_status_changes(session.account_id, from_date=since, count="1",
                                                        _request_timeout=request_timeout())
        last = client.last_response
        governor.observe(session.account_id, last.getheaders() if last is not None else None)
    except ApiException as err:
        governor.observe(session.account_id, getattr(err, "headers", None))
        status = int(getattr(err, "status", 0) or 0)
        code, message = _rest_error(err)
        raise Failed(f"DocuSign refused listing envelopes of account {session.account_id} at {session.rest_host}: "
                     f"HTTP {status} {code} {message}".rstrip(), *_access_fix(target, status, code)) from err
    except HTTPError as err:
        raise Failed(f"the REST API at {session.rest_host} is unreachable: {type(err).__name__}: {err}",
                     "run the check again in a while; if it persists, check this machine's network") from err
    total = getattr(page, "total_set_size", None) or "0"
    return (f"the REST API at {session.rest_host} answers for account {session.account_id} ({total} envelope(s) "
            "changed in the last day)", (), True)


def _rest_error(err: Any) -> tuple[str, str]:
    try:
        body = json.loads(getattr(err, "body", None) or b"{}")
    except (TypeError, ValueError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    return str(body.get("errorCode") or ""), str(body.get("message") or getattr(err, "reason", "") or "")


def _access_fix(target: Target, status: int, code: str) -> tuple[str, ...]:
    user = target.account.user_id
    if code in ("USER_LACKS_MEMBERSHIP", "USER_LACKS_PERMISSIONS", "ACCOUNT_LACKS_PERMISSIONS"):
        return (f"user {user} needs to be an active member of the account, allowed to send envelopes "
                "(DocuSign eSignature Admin > Users)",)
    if status == 401:
        return ("DocuSign refused the new token: run the check again; if it persists, grant consent again",)
    if status == 429 or "LIMIT_EXCEEDED" in code.upper():
        return ("the account's API limit is spent for now: run the check again within the hour",)
    return ("run the check again in a while; if it persists, quote the error to DocuSign support",)


def _connect_keys(target: Target) -> tuple[str, tuple[str, ...], bool]:
    if target.secret is not None:
        secret_id = target.account.secret_id
        add_key = ("in the tenant's DocuSign eSignature Admin > Connect > Connect Keys, add a key (HMAC), then "
                   f"store it: docusign use --tenant {target.tenant} --connect-key <key> (with the other options)")
        keys = target.secret.get("connect_keys", [])
    else:
        secret_id = settings().docusign_connect_keys_secret
        example = '\'{"keys": ["<key>"]}\''
        add_key = ("in DocuSign eSignature Admin > Connect > Connect Keys, add a key (HMAC), then store it: aws "
                   f"secretsmanager put-secret-value --secret-id {secret_id} --secret-string {example}")
        raw = _read_secret(secret_id, 'the Connect HMAC keys, as {"keys": ["<key>", ...]}', example)
        try:
            value = json.loads(raw)
        except ValueError as err:
            raise Failed(f"the secret {secret_id} is not JSON", add_key) from err
        # The shape chalicelib/esign/accounts.py reads: {"keys": [...]}, or a bare list.
        keys = value.get("keys", []) if isinstance(value, dict) else value
    if not isinstance(keys, list):
        raise Failed(f"the secret {secret_id} has no list of keys", add_key)
    problems = [p for p in (secret_problem(k) for k in keys) if p is not None]
    usable = len(keys) - len(problems)
    if not usable:
        why = f" ({len(problems)} unusable: {problems[0]})" if problems else ""
        raise Failed(f"no usable Connect HMAC key in {secret_id}{why}", add_key,
                     "without one, every Connect message is refused (401) and contracts move only with the daily "
                     "reconciliation")
    ignored = (f"{len(problems)} key(s) ignored ({problems[0]}): remove them",) if problems else ()
    return f"{secret_id}: {usable} usable HMAC key(s)", ignored, True


def _read_secret(secret_id: str, holds: str, example: str) -> str:
    forget_secret(secret_id)  # read it now, not a value cached a minute ago
    try:
        return get_secret(secret_id)
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code == "ResourceNotFoundException":
            raise Failed(f"the secret {secret_id} does not exist",
                         f"create it with {holds}: aws secretsmanager create-secret --name {secret_id} "
                         f"--secret-string {example}") from err
        if code.startswith("AccessDenied"):
            raise Failed(f"not allowed to read the secret {secret_id} ({code})",
                         "run the check with credentials allowed secretsmanager:GetSecretValue on it (and KMS "
                         "Decrypt on its key)") from err
        raise Failed(f"cannot read the secret {secret_id} ({code or type(err).__name__})",
                     "check the secret in Secrets Manager and these credentials") from err
    except KeyError as err:  # a SecretBinary secret: no SecretString
        raise Failed(f"the secret {secret_id} holds binary data, not text", f"store {holds} as SecretString") from err
    except BotoCoreError as err:
        raise Failed(f"cannot reach Secrets Manager: {err}",
                     "check the AWS credentials and region (AWS_DEFAULT_REGION) of this shell") from err


# --- the command ----------------------------------------------------------------------------------


def add_parser(groups: Any) -> None:
    parser = groups.add_parser("docusign", help="DocuSign: check the configuration, key, consent and account")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="every step from the settings to an authenticated call, ok or FAILED "
                                              "with how to fix it")
    check.add_argument("--tenant", help="check this tenant's own DocuSign account (default: the service's)")
    check.set_defaults(run=_cmd_check)
    use = commands.add_parser("use", help="give a tenant its own DocuSign account (integration key, user, "
                                          "private key), or --service to send through the service's again")
    use.add_argument("--tenant", required=True)
    use.add_argument("--service", action="store_true", help="the tenant goes back to the service's account")
    use.add_argument("--integration-key")
    use.add_argument("--user-id", help="the API Username (a GUID) of the user signbridge acts as")
    use.add_argument("--account-id", default="", help="optional: else the user's default account")
    use.add_argument("--oauth-base", default="", help="optional: else the service's DOCUSIGN_OAUTH_BASE")
    use.add_argument("--private-key-file", help="the RSA private key of the integration key (PEM file)")
    use.add_argument("--connect-key", action="append", default=[],
                     help="a Connect HMAC key of the account (repeat during a rotation)")
    use.set_defaults(run=_cmd_use)


def _cmd_use(args: argparse.Namespace) -> int:
    try:
        tenant_id = check_tenant_id(args.tenant)
    except ValueError as err:
        print(f"error: {err}")
        return 2
    if args.service:
        set_tenant_setting(tenant_id, SETTING, None)
        audit.record(tenant_id, "docusign.use", f"tenant {tenant_id} docusign", None, {"account": "service"})
        print(f"tenant {tenant_id} sends through the service's DocuSign account again "
              "(envelopes already sent stay in the tenant's account: let them finish first)")
        return 0
    missing = [flag for flag, value in (("--integration-key", args.integration_key), ("--user-id", args.user_id),
                                        ("--private-key-file", args.private_key_file)) if not value]
    if missing:
        print(f"error: {', '.join(missing)} required (or --service)")
        return 2
    try:
        with open(args.private_key_file, encoding="utf-8") as handle:
            pem = handle.read()
    except OSError as err:
        print(f"error: cannot read {args.private_key_file}: {err.strerror}")
        return 2
    problems = [p for p in (secret_problem(k) for k in args.connect_key) if p is not None]
    if problems:
        print(f"error: a Connect key is unusable: {problems[0]}")
        return 2
    secret_id = tenant_secret_id(tenant_id)
    value: dict[str, Any] = {"integration_key": args.integration_key, "user_id": args.user_id, "private_key": pem,
                             "connect_keys": list(args.connect_key)}
    if args.account_id:
        value["account_id"] = args.account_id
    if args.oauth_base:
        value["oauth_base"] = args.oauth_base
    put_secret_json(secret_id, value)
    set_tenant_setting(tenant_id, SETTING, {"secret_id": secret_id})
    audit.record(tenant_id, "docusign.use", f"tenant {tenant_id} docusign", None,
                 {"account": "own", "secret_id": secret_id, "integration_key": args.integration_key,
                  "user_id": args.user_id, "private_key": pem, "connect_keys": list(args.connect_key)})
    print(f"tenant {tenant_id} sends through its own DocuSign account (secret {secret_id}); "
          f"check it: python -m chalicelib.admin docusign check --tenant {tenant_id}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    report = run_checks(args.tenant)
    if report.passed:
        print(f"DocuSign check: all {len(report.steps)} steps ok")
        return 0
    failed = [s for s in report.steps if s.outcome != "ok"]
    skipped = sum(s.outcome == "skipped" for s in failed)
    print(f"DocuSign check: {len(failed) - skipped} step(s) FAILED"
          + (f", {skipped} skipped" if skipped else "") + f" of {len(report.steps)}")
    return 1
