"""Settings from the environment, read when first needed (the Chalice CLI imports app.py with the
stage's environment already set, and tests set it before each call)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


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
        docusign_oauth_base=_env("DOCUSIGN_OAUTH_BASE", "https://account-d.docusign.com"),
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
    )


def jobs_queue_name() -> str:
    """Needed at import time by the SQS decorator in app.py, hence a plain function."""
    return _env("SIGNBRIDGE_JOBS_QUEUE", f"signbridge-{_env('SIGNBRIDGE_STAGE', 'dev')}-jobs")


def reset_settings() -> None:
    """Tests and the local stack change the environment between runs."""
    settings.cache_clear()
