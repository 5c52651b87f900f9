"""Configuration of the DocuSign sandbox (every knob has a working default)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SandboxConfig:
    # Identity the sandbox pretends to be. Fixed defaults so a local stack can rely on them.
    account_id: str = "6b3c2a10-5d1e-4f0a-9c1b-0000000000a1"
    account_name: str = "signbridge sandbox"
    user_id: str = "0f5e8d2c-7a41-4b6e-8d0c-0000000000u1"
    user_name: str = "Sandbox Sender"
    user_email: str = "sender@sandbox.invalid"

    # OAuth: integration key -> RSA public key (PEM). More can be added at run time.
    integrations: dict[str, str] = field(default_factory=dict)
    # None means every user has consented; a list limits consent to those user ids.
    consented_users: list[str] | None = None
    # Expected JWT `aud`; None means "the host:port the token request was sent to".
    oauth_audience: str | None = None
    token_ttl_seconds: int = 3600

    # Base URL put into signing links and userinfo `base_uri`; None means the request's own host.
    public_url: str | None = None

    # Connect (envelope-level eventNotification, JSON SIM).
    connect_hmac_keys: list[str] = field(default_factory=list)
    connect_configuration_id: int = 10001
    connect_timeout_seconds: float = 5.0
    connect_retry_initial_seconds: float = 0.5
    connect_retry_factor: float = 2.0
    connect_retry_max_seconds: float = 10.0
    connect_max_attempts: int = 50
    # None: the quick schedule above, in real time (keeps tests fast). A list: retry n waits the
    # n-th delay on the sandbox clock and the message is given up after the last one (DocuSign
    # retries over hours and days; see connect.REALISTIC_SCHEDULE and --connect-retry realistic).
    connect_retry_schedule_seconds: list[float] | None = None
    # A message held by the `connect_reorder` fault is released after this long if nothing follows.
    connect_reorder_hold_seconds: float = 5.0
    connect_log_limit: int = 5000

    # Recipient views: DocuSign's URL is single use and expires after 5 minutes.
    view_ttl_seconds: int = 300
    # Once opened, the page may be reloaded (same browser) and submitted for this long.
    view_session_seconds: int = 1200

    # DocuSign voids envelopes after the account default (120 days) unless the envelope says otherwise.
    default_expire_days: int = 120
    # Real DocuSign reports a signer who finished as "completed"; some code expects "signed".
    signed_recipient_status: str = "completed"
    # DocuSign omits `envelopes` from list_status_changes when nothing matches; code must cope.
    omit_empty_envelope_list: bool = True

    # X-RateLimit-Limit / X-BurstLimit-Limit while a limit is not enforced (DocuSign's defaults).
    hourly_rate_limit: int = 3000
    burst_rate_limit: int = 500
    # Enforced limits per account (None: counted and reported, never refused). Off by default so
    # the suites are unaffected; POST /sandbox/limits changes them at run time.
    enforced_hourly_limit: int | None = None
    enforced_burst_limit: int | None = None
    burst_window_seconds: float = 30.0

    # Whether an anchor tab without anchorMatchWholeWord matches whole words only. DocuSign's REST
    # reference says false (substring); the OpenAPI text in the SDK says true. See README.
    anchor_match_whole_word_default: bool = False

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SandboxConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown sandbox config keys: {', '.join(unknown)}")
        return cls(**data)
