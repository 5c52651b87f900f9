"""Settings from the environment, read when first needed (the Chalice CLI imports app.py with the
stage's environment already set, and tests set it before each call)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

DEFAULT_OAUTH_BASE = "https://account-d.docusign.com"


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_prefix: str
    jobs_queue_name: str
    archive_bucket: str
    mail_from: str
    public_base_url: str  # where signers and DocuSign Connect reach the API
    docusign_oauth_base: str  # https://account-d.docusign.com in dev; the sandbox locally
    docusign_integration_key: str
    docusign_user_id: str
    docusign_private_key_secret: str  # Secrets Manager id of the RSA private key (PEM)
    docusign_connect_keys_secret: str  # Secrets Manager id of the Connect HMAC keys (JSON list)
    docusign_account_id: str  # optional: pick this account from userinfo (default account otherwise)
    signing_link_secret: str  # Secrets Manager id of the key that signs signing-link tokens
    token_cache_kms_key: str  # KMS key (alias) sealing the shared DocuSign token; "" = no shared cache
    allow_private_callbacks: bool  # only the local stack sets this (its own receiver is on loopback)
    ses_configuration_set: str  # SES configuration set publishing bounces and complaints; "" = none (local)

    @property
    def connect_url(self) -> str:
        return f"{self.public_base_url.rstrip('/')}/v1/esign/docusign/connect"

    def table(self, name: str) -> str:
        return f"{self.table_prefix}{name}"


@lru_cache(maxsize=1)
def settings() -> Settings:
    stage = _env("SIGNBRIDGE_STAGE", "dev")
    return Settings(
        stage=stage,
        region=_env("AWS_DEFAULT_REGION", _env("AWS_REGION", "us-east-1")),
        table_prefix=_env("SIGNBRIDGE_TABLE_PREFIX", f"signbridge-{stage}-"),
        jobs_queue_name=jobs_queue_name(),
        archive_bucket=_env("SIGNBRIDGE_ARCHIVE_BUCKET", f"signbridge-{stage}-archive"),
        mail_from=_env("SIGNBRIDGE_MAIL_FROM", "signbridge@example.com"),
        public_base_url=_env("SIGNBRIDGE_PUBLIC_BASE_URL", "http://127.0.0.1:8000"),
        docusign_oauth_base=_env("DOCUSIGN_OAUTH_BASE", DEFAULT_OAUTH_BASE),
        docusign_integration_key=_env("DOCUSIGN_INTEGRATION_KEY"),
        docusign_user_id=_env("DOCUSIGN_USER_ID"),
        docusign_private_key_secret=_env("DOCUSIGN_PRIVATE_KEY_SECRET", f"signbridge/{stage}/docusign-private-key"),
        docusign_connect_keys_secret=_env(
            "DOCUSIGN_CONNECT_KEYS_SECRET", f"signbridge/{stage}/docusign-connect-keys"
        ),
        docusign_account_id=_env("DOCUSIGN_ACCOUNT_ID"),
        signing_link_secret=_env("SIGNBRIDGE_SIGNING_LINK_SECRET", f"signbridge/{stage}/signing-link-key"),
        token_cache_kms_key=_env("SIGNBRIDGE_TOKEN_CACHE_KMS_KEY", f"alias/signbridge-{stage}-token-cache"),
        allow_private_callbacks=_env("SIGNBRIDGE_ALLOW_PRIVATE_CALLBACKS") == "1",
        ses_configuration_set=_env("SIGNBRIDGE_SES_CONFIGURATION_SET"),
    )


def jobs_queue_name() -> str:
    """Needed at import time by the SQS decorator in app.py, hence a plain function."""
    return _env("SIGNBRIDGE_JOBS_QUEUE", f"signbridge-{_env('SIGNBRIDGE_STAGE', 'dev')}-jobs")


def ses_feedback_topic() -> str:
    """The SNS topic the stage's SES configuration set publishes bounces and complaints to. Needed at
    import time by the SNS decorator in app.py (Chalice packages the subscription from it)."""
    return f"signbridge-{_env('SIGNBRIDGE_STAGE', 'dev')}-ses-feedback"


def reset_settings() -> None:
    """Tests and the local stack change the environment between runs."""
    settings.cache_clear()


# --- failing closed in a deployed stage ------------------------------------------------------------

# The stages that never run in AWS: the local stack's and the tests'. Everything else (dev, prod, a
# stage someone adds) is deployed, and so is anything running inside Lambda whatever its stage says.
LOCAL_STAGES = frozenset({"local", "test"})
# Domains that can never be a real sender (RFC 2606 / RFC 6761): a default or a copied example.
_PLACEHOLDER_DOMAINS = ("example.com", "example.net", "example.org")
_PLACEHOLDER_SUFFIXES = (".example", ".test", ".invalid", ".localhost", ".local")


def is_deployed() -> bool:
    return _env("SIGNBRIDGE_STAGE", "dev") not in LOCAL_STAGES or bool(_env("AWS_LAMBDA_FUNCTION_NAME"))


def configuration_problems() -> dict[str, str]:
    """In a deployed stage, each required setting that is missing or still a placeholder, by its
    environment variable, with why (never its value: /health shows the names). Empty elsewhere: the
    local stack and the tests set what they use, and the defaults are theirs."""
    if not is_deployed():
        return {}
    # Read from the environment, not settings(): a refusal must not cache a stage's settings (the
    # test client swaps the environment per call), and it is a few lookups per request.
    problems: dict[str, str] = {}
    why = _public_url_problem(_env("SIGNBRIDGE_PUBLIC_BASE_URL"))
    if why:  # signers' links and DocuSign Connect's listener URL are built from it
        problems["SIGNBRIDGE_PUBLIC_BASE_URL"] = why
    why = _sender_problem(_env("SIGNBRIDGE_MAIL_FROM"))
    if why:
        problems["SIGNBRIDGE_MAIL_FROM"] = why
    for name in ("DOCUSIGN_INTEGRATION_KEY", "DOCUSIGN_USER_ID"):
        if not _env(name).strip():
            problems[name] = "missing"
    if urlsplit(_env("DOCUSIGN_OAUTH_BASE", DEFAULT_OAUTH_BASE)).scheme != "https":
        problems["DOCUSIGN_OAUTH_BASE"] = "not an https URL (the local sandbox's?)"
    if not _env("SIGNBRIDGE_SES_CONFIGURATION_SET").strip():  # without it no bounce or complaint reaches us
        problems["SIGNBRIDGE_SES_CONFIGURATION_SET"] = "missing"
    if not _env("SIGNBRIDGE_ARCHIVE_BUCKET").strip():  # CloudFormation names it: the stage's default is not it
        problems["SIGNBRIDGE_ARCHIVE_BUCKET"] = "missing"
    if _env("SIGNBRIDGE_ALLOW_PRIVATE_CALLBACKS") == "1":  # the callbacks' SSRF guard off: the local stack's
        problems["SIGNBRIDGE_ALLOW_PRIVATE_CALLBACKS"] = "must not be set in a deployed stage"
    return problems


def _public_url_problem(value: str) -> str | None:
    if not value.strip():
        return "missing"
    try:
        parts = urlsplit(value.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return "not a URL"
    if parts.scheme != "https" or not host:
        return "not an https URL"
    if _placeholder_host(host):
        return "a placeholder (loopback, private or example host)"
    return None


def _sender_problem(value: str) -> str | None:
    address = value.strip()
    if not address:
        return "missing"
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain:
        return "not an email address"
    if _placeholder_host(domain.lower()):
        return "a placeholder (example domain)"
    return None


def _placeholder_host(host: str) -> bool:
    if host == "localhost" or host in _PLACEHOLDER_DOMAINS or host.endswith(_PLACEHOLDER_SUFFIXES):
        return True
    if any(host.endswith("." + domain) for domain in _PLACEHOLDER_DOMAINS):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return not address.is_global
