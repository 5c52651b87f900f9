"""The settings a deployed stage cannot work without, checked when it is packaged: a package is never
built with one missing or still a placeholder.

Where they come from: the stage's `environment_variables` in `.chalice/config.json` (on top of the
top-level ones), then, if given, a settings file for that stage (`--settings FILE`, `make package
SETTINGS=FILE`) whose values win:

    {"stage": "prod", "environment_variables": {"SIGNBRIDGE_PUBLIC_BASE_URL": "https://sign.acme.com", ...}}

config.json ships placeholders (example.com, the all-zero GUID) that fail the check on purpose: an
operator either writes the installation's values there (reviewed with the code) or keeps them in a
settings file outside the repository (CI). A settings file names its stage, so one meant for dev
never builds prod; the process environment is not read, for the same reason (a shell that ran the
local stack exports loopback URLs).

None of these is a secret: the private key, the Connect HMAC keys and the signing-link key ring are
in Secrets Manager under `signbridge/<stage>/…`, read at run time.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Every setting a deployed stage needs, and why (what the message says when it is missing).
REQUIRED: dict[str, str] = {
    "SIGNBRIDGE_PUBLIC_BASE_URL": "where signers and DocuSign Connect reach the API (https://…)",
    "SIGNBRIDGE_MAIL_FROM": "the SES sender, a verified identity (name@your-domain)",
    "DOCUSIGN_OAUTH_BASE": "DocuSign's OAuth host for the stage",
    "DOCUSIGN_INTEGRATION_KEY": "the integration key (a GUID) of the DocuSign app",
    "DOCUSIGN_USER_ID": "the GUID of the DocuSign user the JWT grant acts as",
}
# Checked when set, fine when absent.
OPTIONAL: dict[str, str] = {
    "DOCUSIGN_ACCOUNT_ID": "the DocuSign account (a GUID); the user's default account when empty",
}
SETTINGS = (*REQUIRED, *OPTIONAL)

OAUTH_HOSTS = {"prod": {"account.docusign.com"}}
OAUTH_HOSTS_DEFAULT = {"account.docusign.com", "account-d.docusign.com"}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# RFC 2606 / RFC 6761 names: nothing real lives there.
_PLACEHOLDER_DOMAINS = ("example.com", "example.net", "example.org")
_PLACEHOLDER_TLDS = ("example", "test", "invalid", "localhost", "local")


class SettingsError(Exception):
    """The stage cannot be packaged: each problem by setting name."""

    def __init__(self, stage: str, problems: Mapping[str, str]) -> None:
        self.stage = stage
        self.problems = dict(problems)
        lines = [f"  {name}: {why}" for name, why in sorted(self.problems.items())]
        super().__init__(
            f"refusing to package stage {stage!r}: {len(lines)} required setting(s) missing or placeholders\n"
            + "\n".join(lines)
            + f"\nSet them in .chalice/config.json (stages.{stage}.environment_variables) or in a settings file "
            f"passed with --settings (make package STAGE={stage} SETTINGS=FILE), see docs/runbook.md#packaging.")


def configured_environment(config: Mapping[str, Any], stage: str) -> dict[str, str]:
    """The environment Chalice gives the stage's functions: top level, then the stage's."""
    stages = config.get("stages", {})
    if stage not in stages:
        raise SettingsError(stage, {"stage": f"no stage {stage!r} in .chalice/config.json"})
    return {**config.get("environment_variables", {}), **stages[stage].get("environment_variables", {})}


def read_settings_file(path: Path, stage: str) -> dict[str, str]:
    """A settings file's values, refused whole when it names another stage, holds a value that is
    not a string or a name that is not a setting."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise SettingsError(stage, {"--settings": f"{path}: unreadable ({err})"}) from err
    if not isinstance(data, dict) or data.get("stage") != stage:
        found = data.get("stage") if isinstance(data, dict) else None
        raise SettingsError(stage, {"--settings": f"{path} is for stage {found!r}, not {stage!r}"})
    values = data.get("environment_variables")
    if not isinstance(values, dict):
        raise SettingsError(stage, {"--settings": f"{path} has no environment_variables object"})
    wrong = {name: "not a string" for name, value in values.items() if not isinstance(value, str)}
    wrong |= {name: "not a setting this file may set (one of: " + ", ".join(SETTINGS) + ")"
              for name in values if name not in SETTINGS}
    if wrong:
        raise SettingsError(stage, wrong)
    return dict(values)


def resolve(config: Mapping[str, Any], stage: str, settings_file: Path | None = None) -> dict[str, str]:
    """The settings the stage's package gets (config.json, then the settings file), or SettingsError
    naming every one that is missing or a placeholder."""
    values = {name: value for name, value in configured_environment(config, stage).items() if name in SETTINGS}
    if settings_file is not None:
        values |= read_settings_file(settings_file, stage)
    found = problems(stage, values)
    if found:
        raise SettingsError(stage, found)
    return values


def problems(stage: str, values: Mapping[str, str]) -> dict[str, str]:
    """Each required setting that is missing or a placeholder, and each optional one set wrong."""
    found: dict[str, str] = {}
    for name, meaning in REQUIRED.items():
        value = values.get(name, "").strip()
        why = "missing" if not value else _CHECKS[name](value, stage)
        if why:
            found[name] = f"{why}; {meaning}"
    for name, meaning in OPTIONAL.items():
        value = values.get(name, "").strip()
        why = _CHECKS[name](value, stage) if value else None
        if why:
            found[name] = f"{why}; {meaning}"
    return found


def _public_url(value: str, stage: str) -> str | None:
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "not a URL"
    if parts.scheme != "https" or not host:
        return f"not an https URL: {value!r}"
    if parts.query or parts.fragment:
        return "has a query or a fragment"
    if placeholder_host(host):
        return f"a placeholder: {value!r}"
    return None


def _sender(value: str, stage: str) -> str | None:
    address = parseaddr(value)[1]
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain:
        return f"not an email address: {value!r}"
    if placeholder_host(domain.lower()):
        return f"a placeholder: {value!r}"
    return None


def _oauth_base(value: str, stage: str) -> str | None:
    parts = urlsplit(value)
    allowed = OAUTH_HOSTS.get(stage, OAUTH_HOSTS_DEFAULT)
    if parts.scheme != "https" or (parts.hostname or "").lower() not in allowed:
        return f"{value!r} is not one of " + ", ".join(f"https://{host}" for host in sorted(allowed))
    return None


def _guid(value: str, stage: str) -> str | None:
    if not _GUID.match(value):
        return f"not a GUID: {value!r}"
    if set(value) <= {"0", "-"}:
        return "a placeholder (the all-zero GUID)"
    return None


_CHECKS = {
    "SIGNBRIDGE_PUBLIC_BASE_URL": _public_url,
    "SIGNBRIDGE_MAIL_FROM": _sender,
    "DOCUSIGN_OAUTH_BASE": _oauth_base,
    "DOCUSIGN_INTEGRATION_KEY": _guid,
    "DOCUSIGN_USER_ID": _guid,
    "DOCUSIGN_ACCOUNT_ID": _guid,
}


def placeholder_host(host: str) -> bool:
    """An example, test or loopback name, or an address that is not public."""
    host = host.strip("[]").rstrip(".")
    if host in _PLACEHOLDER_DOMAINS or any(host.endswith("." + d) for d in _PLACEHOLDER_DOMAINS):
        return True
    if host.rsplit(".", 1)[-1] in _PLACEHOLDER_TLDS:
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False


def mail_from_identities(mail_from: str) -> tuple[str, str]:
    """The SES identities a sender may be verified as: its address and its domain."""
    address = parseaddr(mail_from)[1]
    return address, address.rpartition("@")[2]
