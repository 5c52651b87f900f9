"""Whose DocuSign account a tenant's envelopes go to: the service's (the DOCUSIGN_* settings), or the
tenant's own when it brings one (integration key, user, account and private key, in one secret).

A tenant with its own account has the setting `docusign = {"secret_id": ...}` in the registry; the
secret (`signbridge/<stage>/tenants/<tenant>/docusign`, written by `admin docusign use`) holds

    {"integration_key": "...", "user_id": "...", "private_key": "<PEM>",
     "account_id": "..." (optional: else the user's default account),
     "oauth_base": "https://account.docusign.com" (optional: else the service's),
     "connect_keys": ["<HMAC key>", ...] (the account's Connect keys)}

Budgets (esign/governor.py) and tokens (esign/auth.py) are per account, so one tenant spending its
hour never slows another. Pure lookups: no SDK import.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core.aws import get_secret, get_secret_json
from chalicelib.core.config import settings
from chalicelib.core.secrets import usable_secrets
from chalicelib.store.registry import get_tenant, iter_tenants

# The sender's web app per OAuth host, where `/documents/details/{envelopeId}` shows an envelope.
WEB_APPS = {"account-d.docusign.com": "https://appdemo.docusign.com", "account.docusign.com": "https://app.docusign.com"}
SETTING = "docusign"  # the tenant setting naming the secret: {"secret_id": "..."}
REQUIRED_FIELDS = ("integration_key", "user_id", "private_key")


class AccountUnavailable(Exception):
    """The tenant's own DocuSign account cannot be used (its secret is missing or incomplete)."""


@dataclass(frozen=True)
class DocuSignAccount:
    oauth_base: str
    integration_key: str
    user_id: str
    account_id: str  # wanted account; empty: the user's default one
    tenant_id: str | None = None  # None: the service's own account
    secret_id: str = ""  # the tenant's secret (empty for the service's account)

    @property
    def cache_key(self) -> str:
        """Who the tokens and userinfo belong to: one entry per OAuth host, integration key and user."""
        return f"{self.oauth_base}#{self.integration_key}#{self.user_id}"

    @property
    def label(self) -> str:
        return f"tenant {self.tenant_id}'s DocuSign account" if self.tenant_id else "the service's DocuSign account"

    def private_key_pem(self) -> str:
        if self.tenant_id is None:
            return get_secret(settings().docusign_private_key_secret)
        return str(_tenant_secret(self.secret_id).get("private_key") or "")

    def private_key_where(self) -> str:
        return self.secret_id or settings().docusign_private_key_secret

    def connect_keys(self) -> list[str]:
        if self.tenant_id is None:
            value = get_secret_json(settings().docusign_connect_keys_secret)
            keys = value.get("keys", []) if isinstance(value, dict) else value
            return usable_secrets(list(keys) if isinstance(keys, list) else [], "DocuSign Connect keys")
        keys = _tenant_secret(self.secret_id).get("connect_keys")
        return usable_secrets(list(keys) if isinstance(keys, list) else [],
                              f"DocuSign Connect keys of tenant {self.tenant_id}")


def envelope_web_url(account: DocuSignAccount, envelope_id: str) -> str:
    """Where a sender sees the envelope in DocuSign's web app (the CRM record links to it). Another
    OAuth host (the local sandbox) serves the same path itself."""
    host = account.oauth_base.split("://", 1)[-1].split("/", 1)[0]
    return f"{WEB_APPS.get(host, account.oauth_base)}/documents/details/{envelope_id}"


def service_account() -> DocuSignAccount:
    cfg = settings()
    return DocuSignAccount(cfg.docusign_oauth_base.rstrip("/"), cfg.docusign_integration_key, cfg.docusign_user_id,
                           cfg.docusign_account_id)


def tenant_secret_id(tenant_id: str) -> str:
    return f"signbridge/{settings().stage}/tenants/{tenant_id}/docusign"


def own_account_secret(tenant_id: str) -> str | None:
    """The secret of the tenant's own DocuSign account, or None: it uses the service's."""
    setting = get_tenant(tenant_id).settings.get(SETTING)
    secret_id = setting.get("secret_id") if isinstance(setting, dict) else None
    return str(secret_id) if secret_id else None


def account_for_tenant(tenant_id: str | None) -> DocuSignAccount:
    """The account a tenant's envelopes live in. A tenant whose own account is configured but unusable
    raises AccountUnavailable: never a silent fallback to the service's account (the tenant's
    contracts would be sent from, and billed to, someone else's)."""
    if not tenant_id:
        return service_account()
    secret_id = own_account_secret(tenant_id)
    if secret_id is None:
        return service_account()
    return tenant_account(tenant_id, secret_id)


def tenant_account(tenant_id: str, secret_id: str) -> DocuSignAccount:
    value = _tenant_secret(secret_id)
    missing = [f for f in REQUIRED_FIELDS if not isinstance(value.get(f), str) or not value.get(f)]
    if missing:
        raise AccountUnavailable(f"the DocuSign secret {secret_id} of tenant {tenant_id} lacks {', '.join(missing)}")
    return DocuSignAccount(
        oauth_base=str(value.get("oauth_base") or settings().docusign_oauth_base).rstrip("/"),
        integration_key=str(value["integration_key"]), user_id=str(value["user_id"]),
        account_id=str(value.get("account_id") or ""), tenant_id=tenant_id, secret_id=secret_id)


def _tenant_secret(secret_id: str) -> dict[str, Any]:
    try:
        value = json.loads(get_secret(secret_id))
    except (ClientError, BotoCoreError) as err:
        raise AccountUnavailable(f"cannot read the DocuSign secret {secret_id}: {err}") from err
    except ValueError as err:
        raise AccountUnavailable(f"the DocuSign secret {secret_id} is not JSON") from err
    if not isinstance(value, dict):
        raise AccountUnavailable(f"the DocuSign secret {secret_id} is not a JSON object")
    return value


def own_accounts() -> list[DocuSignAccount | AccountUnavailable]:
    """Every tenant's own account (the daily reconciliation reads each); one that cannot be used is
    its error, so the others are still read."""
    found: list[DocuSignAccount | AccountUnavailable] = []
    for tenant in iter_tenants():
        setting = tenant.settings.get(SETTING)
        secret_id = setting.get("secret_id") if isinstance(setting, dict) else None
        if secret_id:
            try:
                found.append(tenant_account(tenant.tenant_id, str(secret_id)))
            except AccountUnavailable as err:
                found.append(err)
    return found
