"""python -m chalicelib.admin sources {add,list,show,rotate,set-api}

- `add --id ID --tenant T --kind KIND [--secret S] [--option k=v ...] [--options-json JSON]
  [--mapping-file FILE] [--base-url URL] [--replace]`: registers a CRM source, stores its secret in
  Secrets Manager and prints its webhook URL, its secret and what to set in the CRM. The secret is
  generated unless given; HubSpot's is the app's client secret, so it must be given.
- `list [--tenant T]`: one JSON line per source (no secrets).
- `show --id ID [--reveal]`: the source, its webhook URL and its secrets' expiries (values with --reveal).
- `rotate --id ID [--secret S] [--overlap-hours 24]`: adds a new secret and lets the old ones expire
  after the overlap window, so the CRM can be switched over without a window of refused webhooks.
- `set-api --id ID [--json JSON | --json-file FILE|-] [--option k=v ...] [--options-json JSON]`: stores the
  CRM API credential (enrichment, write-back) as "api" in the source's secret, and options such as
  `api_base`, `instance_url`, `writeback_fields`; prints what is stored, never the values.

Secrets live in Secrets Manager at signbridge/{stage}/sources/{id} as
`{"secrets": [{"value": "...", "expires_at": ISO | null}, ...], "api": {...}}`; verification ignores
expired ones; "api" is the CRM API credential (chalicelib/crm).
Everything talks to whatever AWS the environment points at (AWS_ENDPOINT_URL for the local stack).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import secrets as random
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chalicelib.admin import audit
from chalicelib.core.aws import _secret_cache, get_secret_json, put_secret_json
from chalicelib.core.config import settings
from chalicelib.core.secrets import secret_problem
from chalicelib.crm.base import LOGICAL_FIELDS, credentials_problem
from chalicelib.intake.mapping import MappingError, mapping_for
from chalicelib.intake.service import KINDS
from chalicelib.store.registry import (
    SOURCE_ID_PATTERN,
    Source,
    active_secrets,
    check_tenant_id,
    clear_cache,
    find_tenant,
    get_source,
    iter_sources,
    put_source,
)

DEFAULT_OVERLAP = timedelta(hours=24)
_SOURCE_ID = re.compile(SOURCE_ID_PATTERN)


class AdminError(ValueError):
    """A request the operator can fix (unknown source, bad option, ...)."""


@dataclass(frozen=True)
class SourceInfo:
    source: Source
    secret: str  # the newest secret (what the CRM must be given)
    webhook_url: str
    setup: dict[str, str]  # what to enter in the CRM, by name

    def to_json(self) -> dict[str, Any]:
        return {"source_id": self.source.source_id, "tenant_id": self.source.tenant_id, "kind": self.source.kind,
                "webhook_url": self.webhook_url, "secret": self.secret, "setup": self.setup,
                "options": self.source.options}


def _checked_secret(secret: str) -> str:
    problem = secret_problem(secret)
    if problem:
        raise AdminError(f"--secret refused: {problem}")
    return secret


def secret_name(source_id: str) -> str:
    return f"signbridge/{settings().stage}/sources/{source_id}"


def new_secret(kind: str, options: Mapping[str, Any]) -> str:
    """A fresh secret in the form the kind's scheme uses: a Standard Webhooks key (whsec_ + base64)
    where requests are signed that way, else a random token."""
    if kind == "hubspot":
        raise AdminError("a HubSpot source uses the HubSpot app's client secret: pass it with --secret")
    if kind == "generic" or (kind == "fxiaoke" and options.get("auth") == "standard-webhooks"):
        return "whsec_" + base64.b64encode(random.token_bytes(24)).decode()
    return random.token_urlsafe(32)


def webhook_url(source: Source, secret: str, base_url: str | None = None) -> str:
    base = (base_url or settings().public_base_url).rstrip("/")
    url = f"{base}/v1/webhooks/{source.source_id}"
    if source.kind == "salesforce":
        url += f"?token={quote(secret, safe='')}"  # Outbound Messaging cannot send headers
    return url


def setup_hints(source: Source, secret: str, url: str) -> dict[str, str]:
    kind, options = source.kind, source.options
    if kind == "generic" or (kind == "fxiaoke" and options.get("auth") == "standard-webhooks"):
        return {"signing secret (Standard Webhooks)": secret}
    if kind == "hubspot":
        return {"URL for the app card's hubspot.fetch and the webhook target": options.get("public_url") or url,
                "signing secret": "the HubSpot app's client secret (HubSpot signs with it)"}
    if kind == "salesforce":
        return {"Outbound Message endpoint URL": url, "organization id checked": str(options.get("organization_id"))}
    if kind == "pipedrive":
        return {"HTTP auth username": str(options.get("username")), "HTTP auth password": secret}
    return {"header X-Signbridge-Token": secret}


def validate(kind: str, options: Mapping[str, Any], mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    """Checks what a request would otherwise trip over, and fills the options' defaults."""
    if kind not in KINDS:
        raise AdminError(f"kind must be one of {', '.join(KINDS)}")
    options = dict(options)
    if kind == "salesforce" and not options.get("organization_id"):
        raise AdminError("a Salesforce source needs --option organization_id=00D... (the org id it accepts)")
    if kind == "pipedrive":
        options.setdefault("username", "signbridge")
    if kind == "fxiaoke" and options.setdefault("auth", "token") not in ("token", "standard-webhooks"):
        raise AdminError("fxiaoke option auth must be 'token' or 'standard-webhooks'")
    if mapping is not None:
        if kind == "generic":
            raise AdminError("a generic source takes the canonical contract as it is: no mapping")
        try:
            mapping_for(kind, mapping)
        except MappingError as err:
            raise AdminError(f"the mapping is invalid: {err}") from err
    return options


def add_source(
    source_id: str,
    tenant_id: str,
    kind: str,
    *,
    secret: str | None = None,
    options: Mapping[str, Any] | None = None,
    mapping: Mapping[str, Any] | None = None,
    base_url: str | None = None,
    replace_existing: bool = False,
) -> SourceInfo:
    if not _SOURCE_ID.fullmatch(source_id):
        raise AdminError("a source id is 3-64 characters: lower-case letters, digits, '-' and '_'")
    try:
        check_tenant_id(tenant_id)
    except ValueError as err:
        raise AdminError(str(err)) from None
    if find_tenant(tenant_id) is None:
        raise AdminError(f"no tenant {tenant_id!r}: create it first with `tenants add --id {tenant_id} --name ...`")
    checked = validate(kind, options or {}, mapping)
    previous = get_source_fresh(source_id)
    if not replace_existing and previous is not None:
        raise AdminError(f"source {source_id!r} exists; pass --replace to overwrite it")
    value = _checked_secret(secret) if secret is not None else new_secret(kind, checked)
    name = secret_name(source_id)
    _write_secret(name, {"secrets": [{"value": value, "expires_at": None}]}, create=True)
    source = Source(source_id=source_id, tenant_id=tenant_id, kind=kind, secret_id=name, options=checked,
                    mapping=dict(mapping) if mapping is not None else None)
    put_source(source)
    _forget_caches()
    audit.record(tenant_id, "sources.add", f"source {source_id}", _audited(previous), _audited(source),
                 secret="generated" if secret is None else "given")
    url = webhook_url(source, value, base_url)
    return SourceInfo(source, value, url, setup_hints(source, value, url))


def _audited(source: Source | None) -> dict[str, Any] | None:
    """A source as the audit log keeps it (the secrets themselves live in Secrets Manager, not here)."""
    if source is None:
        return None
    return {"tenant_id": source.tenant_id, "kind": source.kind, "options": source.options,
            "mapping_override": source.mapping is not None}


def rotate_secret(
    source_id: str,
    *,
    secret: str | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
    now: datetime | None = None,
    base_url: str | None = None,
) -> SourceInfo:
    """Appends a new secret; every secret still valid expires at now + overlap (sooner if it was
    already due), expired ones are dropped. Both work during the overlap window."""
    source = _require(source_id)
    if not source.secret_id:
        raise AdminError(f"source {source_id!r} has no secret to rotate")
    now = now or datetime.now(UTC)
    value = _checked_secret(secret) if secret is not None else new_secret(source.kind, source.options)
    cutoff = now + overlap
    kept: list[dict[str, Any]] = []
    for entry in _entries(source.secret_id):
        if not active_secrets({"secrets": [entry]}, now):
            continue  # expired already: nothing verifies with it any more
        expires = entry.get("expires_at")
        due = datetime.fromisoformat(expires.replace("Z", "+00:00")) if expires else None
        kept.append({"value": entry["value"], "expires_at": (min(due, cutoff) if due else cutoff).isoformat()})
    kept.append({"value": value, "expires_at": None})
    # Only the webhook secrets rotate: the CRM API credential ("api") stays as it is.
    _write_secret(source.secret_id, {**_secret_value(source.secret_id), "secrets": kept}, create=False)
    _forget_caches()
    audit.record(source.tenant_id, "sources.rotate", f"source {source_id}", None, None,
                 overlap_until=cutoff.isoformat(), secrets_kept=len(kept) - 1)
    url = webhook_url(source, value, base_url)
    return SourceInfo(source, value, url, setup_hints(source, value, url))


def describe(source_id: str, *, reveal: bool = False, base_url: str | None = None) -> dict[str, Any]:
    source = _require(source_id)
    entries = _entries(source.secret_id) if source.secret_id else []
    now = datetime.now(UTC)
    shown = []
    for entry in entries:
        item: dict[str, Any] = {"expires_at": entry.get("expires_at"),
                                "active": bool(active_secrets({"secrets": [entry]}, now))}
        if reveal:
            item["value"] = entry["value"]
        shown.append(item)
    newest = entries[-1]["value"] if entries else ""
    url = webhook_url(source, newest if reveal else "<token>", base_url)
    api = _secret_value(source.secret_id).get("api") if source.secret_id else None
    return {"source_id": source.source_id, "tenant_id": source.tenant_id, "kind": source.kind,
            "webhook_url": url, "options": source.options, "mapping": source.mapping,
            "secret_id": source.secret_id, "secrets": shown,
            "api_credential": sorted(api) if isinstance(api, dict) else None}  # its keys, never the values


def set_api(source_id: str, api: Mapping[str, Any] | None, options: Mapping[str, Any]) -> dict[str, Any]:
    """Stores the source's CRM API credential as "api" in its secret (the webhook secrets are kept)
    and merges `options` into its options (a null removes one). Returns what is stored, no values."""
    source = _require(source_id)
    if api is None and not options:
        raise AdminError("nothing to set: give the credential (--json or --json-file) and/or options")
    if api is not None:
        problem = credentials_problem(source.kind, api)
        if problem:
            raise AdminError(problem)
    fields = options.get("writeback_fields")
    if fields is not None:
        if not isinstance(fields, dict) or not all(v is None or isinstance(v, str) for v in fields.values()):
            raise AdminError("writeback_fields is an object: {logical name: CRM field name or null}")
        unknown = sorted(set(fields) - set(LOGICAL_FIELDS))
        if unknown:
            raise AdminError(f"writeback_fields: unknown {', '.join(unknown)}; known: {', '.join(LOGICAL_FIELDS)}")
    if api is not None:
        if not source.secret_id:
            raise AdminError(f"source {source_id!r} has no secret to hold the credential")
        _write_secret(source.secret_id, {**_secret_value(source.secret_id), "api": dict(api)}, create=False)
    merged = {k: v for k, v in {**source.options, **options}.items() if v is not None}
    if merged != source.options:
        put_source(Source(source_id=source.source_id, tenant_id=source.tenant_id, kind=source.kind,
                          secret_id=source.secret_id, options=merged, mapping=source.mapping))
    _forget_caches()
    audit.record(source.tenant_id, "sources.set-api", f"source {source_id}", {"options": source.options},
                 {"options": merged}, api_credential="replaced" if api is not None else "unchanged")
    stored = _secret_value(source.secret_id).get("api") if source.secret_id else None
    return {"source_id": source.source_id, "kind": source.kind,
            "api_credential": sorted(stored) if isinstance(stored, dict) else None, "options": merged}


def list_sources(tenant_id: str | None = None) -> list[dict[str, Any]]:
    return sorted(({"source_id": s.source_id, "tenant_id": s.tenant_id, "kind": s.kind,
                    "has_mapping_override": bool(s.mapping)} for s in iter_sources(tenant_id)),
                  key=lambda s: (s["tenant_id"], s["source_id"]))


def get_source_fresh(source_id: str) -> Source | None:
    _forget_caches()
    return get_source(source_id)


def _require(source_id: str) -> Source:
    source = get_source_fresh(source_id)
    if source is None:
        raise AdminError(f"no source {source_id!r}")
    return source


def _entries(secret_id: str) -> list[dict[str, Any]]:
    _forget_caches()
    value = get_secret_json(secret_id)
    entries = []
    for entry in value.get("secrets", []) or []:
        if isinstance(entry, str):
            entries.append({"value": entry, "expires_at": None})
        elif isinstance(entry, dict) and entry.get("value"):
            entries.append({"value": str(entry["value"]), "expires_at": entry.get("expires_at")})
    return entries


def _secret_value(secret_id: str) -> dict[str, Any]:
    _forget_caches()
    value = get_secret_json(secret_id)
    return dict(value) if isinstance(value, dict) else {}


def _write_secret(name: str, value: Mapping[str, Any], *, create: bool) -> None:
    put_secret_json(name, dict(value), create=create)


def _forget_caches() -> None:
    # This process may be the app itself (tests, the local stack's seed): its 60 s caches of
    # sources and secrets must not hide what was just written.

    _secret_cache.clear()
    clear_cache()


# --- the command line ----------------------------------------------------------------------------


def add_parser(groups: Any) -> None:
    parser = groups.add_parser("sources", help="CRM sources: add, list, show, rotate a secret, set the API credential")
    commands = parser.add_subparsers(dest="command", required=True)

    add = commands.add_parser("add", help="register a CRM source and print its webhook URL and secret")
    add.add_argument("--id", required=True, dest="source_id")
    add.add_argument("--tenant", required=True)
    add.add_argument("--kind", required=True, choices=KINDS)
    add.add_argument("--secret", help="the secret to use (HubSpot: the app's client secret); else generated")
    add.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                     help="a source option; VALUE is JSON if it parses, else a string (repeatable)")
    add.add_argument("--options-json", help="all options as one JSON object (merged under --option)")
    add.add_argument("--mapping-file", type=Path, help="a JSON field mapping overriding the kind's default")
    add.add_argument("--base-url", help="the API's public base URL (default: SIGNBRIDGE_PUBLIC_BASE_URL)")
    add.add_argument("--replace", action="store_true", help="overwrite an existing source of that id")
    add.add_argument("--json", action="store_true", help="print JSON")
    add.set_defaults(run=_cmd_add)

    listing = commands.add_parser("list", help="list sources (no secrets)")
    listing.add_argument("--tenant")
    listing.set_defaults(run=_cmd_list)

    show = commands.add_parser("show", help="a source, its webhook URL and its secrets' expiries")
    show.add_argument("--id", required=True, dest="source_id")
    show.add_argument("--reveal", action="store_true", help="include the secret values")
    show.add_argument("--base-url")
    show.set_defaults(run=_cmd_show)

    rotate = commands.add_parser("rotate", help="add a new secret; the old one expires after the overlap")
    rotate.add_argument("--id", required=True, dest="source_id")
    rotate.add_argument("--secret", help="the new secret (HubSpot: the app's new client secret); else generated")
    rotate.add_argument("--overlap-hours", type=float, default=DEFAULT_OVERLAP.total_seconds() / 3600)
    rotate.add_argument("--base-url")
    rotate.add_argument("--json", action="store_true", help="print JSON")
    rotate.set_defaults(run=_cmd_rotate)

    set_api_parser = commands.add_parser("set-api", help="store the CRM API credential (enrichment, write-back) "
                                         "and API options; prints the keys stored, never the values")
    set_api_parser.add_argument("--id", required=True, dest="source_id")
    credential = set_api_parser.add_mutually_exclusive_group()
    credential.add_argument("--json", dest="api_json", help="the credential as a JSON object (docs/crm-setup.md)")
    credential.add_argument("--json-file", type=Path, help="the same from a file ('-': standard input), which "
                            "keeps it out of the shell's history")
    set_api_parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                                help="a source option (api_base, instance_url, login_url, accounts_url, "
                                "writeback_fields, writeback_object); null removes it (repeatable)")
    set_api_parser.add_argument("--options-json", help="options as one JSON object (merged under --option)")
    set_api_parser.set_defaults(run=_cmd_set_api)


def parse_options(pairs: list[str], options_json: str | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if options_json:
        loaded = json.loads(options_json)
        if not isinstance(loaded, dict):
            raise AdminError("--options-json must be a JSON object")
        options.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise AdminError(f"--option {pair!r}: expected KEY=VALUE")
        try:
            options[key] = json.loads(raw)
        except ValueError:
            options[key] = raw
    return options


def _print_info(info: SourceInfo, as_json: bool, heading: str) -> None:
    if as_json:
        print(json.dumps(info.to_json(), ensure_ascii=False, indent=2))
        return
    print(f"{heading}: {info.source.source_id} ({info.source.kind}, tenant {info.source.tenant_id})")
    print(f"  webhook URL: {info.webhook_url}")
    print(f"  secret:      {info.secret}")
    for name, value in info.setup.items():
        print(f"  {name}: {value}")


def _cmd_add(args: argparse.Namespace) -> int:
    try:
        mapping = json.loads(args.mapping_file.read_text(encoding="utf-8")) if args.mapping_file else None
        info = add_source(args.source_id, args.tenant, args.kind, secret=args.secret,
                          options=parse_options(args.option, args.options_json), mapping=mapping,
                          base_url=args.base_url, replace_existing=args.replace)
    except (AdminError, ValueError, OSError) as err:
        print(f"error: {err}")
        return 2
    _print_info(info, args.json, "added source")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    for item in list_sources(args.tenant):
        print(json.dumps(item, ensure_ascii=False))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    try:
        print(json.dumps(describe(args.source_id, reveal=args.reveal, base_url=args.base_url), ensure_ascii=False,
                         indent=2))
    except AdminError as err:
        print(f"error: {err}")
        return 2
    return 0


def _cmd_set_api(args: argparse.Namespace) -> int:
    try:
        text = args.api_json
        if args.json_file is not None:
            text = sys.stdin.read() if str(args.json_file) == "-" else args.json_file.read_text(encoding="utf-8")
        api = json.loads(text) if text is not None else None
        if api is not None and not isinstance(api, dict):
            raise AdminError("the credential must be a JSON object")
        result = set_api(args.source_id, api, parse_options(args.option, args.options_json))
    except (AdminError, ValueError, OSError) as err:
        print(f"error: {err}")
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _cmd_rotate(args: argparse.Namespace) -> int:
    try:
        info = rotate_secret(args.source_id, secret=args.secret, overlap=timedelta(hours=args.overlap_hours),
                             base_url=args.base_url)
    except AdminError as err:
        print(f"error: {err}")
        return 2
    _print_info(info, args.json, "rotated the secret of")
    expires = (datetime.now(UTC) + timedelta(hours=args.overlap_hours)).isoformat(timespec="seconds")
    if not args.json:
        print(f"  the previous secret keeps working until {expires}: switch the CRM over before then")
    return 0
