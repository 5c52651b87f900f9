"""python -m chalicelib.admin audit [--tenant T] [--since ISO | --hours N] [--json]

Every admin command that changes something records it here (`record(...)`): who ran it, when, the
command, what it changed, and the values before and after, secrets redacted. `audit` lists the
entries oldest first (a tenant's; without --tenant, every tenant's and those of no tenant, merged).

Who: `--actor` (before the group: `python -m chalicelib.admin --actor alice tenants ...`), else
$SIGNBRIDGE_ADMIN_ACTOR, else the AWS caller identity (the ARN the commands act as), else the login
name. Stored in chalicelib/store/audit_log.py.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core.aws import client
from chalicelib.store import audit_log
from chalicelib.store.registry import check_tenant_id, tenant_ids

REDACTED = "[redacted]"
# Keys whose values are secrets (a `secret_id` names one and is kept); and values that look like one
# whatever their key (a webhook secret, an API key, a PEM private key).
_SECRET_KEY = re.compile(r"(secret|password|token|private_key|api_key|credential|client_key|^key$|^keys$|"
                         r"^value$|connect_keys|refresh)", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"^(whsec_|sbk_)|-----BEGIN ")
_actor: str | None = None


def set_actor(actor: str | None) -> None:
    global _actor
    _actor = actor.strip() if actor and actor.strip() else None


def actor() -> str:
    """Who is running the command (see the module's docstring); looked up once per process."""
    global _actor
    if _actor:
        return _actor
    found = os.environ.get("SIGNBRIDGE_ADMIN_ACTOR", "").strip()
    if not found:
        try:
            found = str(client("sts").get_caller_identity()["Arn"])
        except (BotoCoreError, ClientError, KeyError):
            found = ""
    if not found:
        try:
            found = f"os:{getpass.getuser()}"
        except (KeyError, OSError):
            found = "unknown"
    _actor = found
    return found


def redact(value: Any) -> Any:
    """`value` with every secret replaced by "[redacted]" (by its key's name or its own look)."""
    if isinstance(value, Mapping):
        return {str(k): REDACTED if _is_secret_key(str(k)) and v is not None else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str) and _SECRET_VALUE.search(value):
        return REDACTED
    return value


def _is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key)) and not key.endswith(("_id", "_ids")) and key != "key_id"


def record(tenant_id: str | None, command: str, target: str, before: Any = None, after: Any = None,
           **detail: Any) -> audit_log.AuditEntry:
    """One audit entry for a change just made; values are redacted here, so callers pass them as
    they are."""
    return audit_log.append(tenant_id, actor(), command, target, redact(before), redact(after), redact(detail))


def entries(tenant_id: str | None, since: datetime | None = None) -> list[audit_log.AuditEntry]:
    if tenant_id is not None:
        return list(audit_log.entries(check_tenant_id(tenant_id), since=since))
    found: list[audit_log.AuditEntry] = list(audit_log.entries(None, since=since))
    for tenant in tenant_ids():
        found.extend(audit_log.entries(tenant, since=since))
    return sorted(found, key=lambda e: e.at)


def entry_json(entry: audit_log.AuditEntry) -> dict[str, Any]:
    return {"at": entry.at.isoformat(), "tenant_id": entry.tenant_id, "actor": entry.actor,
            "command": entry.command, "target": entry.target, "before": entry.before, "after": entry.after,
            **({"detail": entry.detail} if entry.detail else {})}


def add_parser(groups: Any) -> None:
    parser = groups.add_parser("audit", help="who changed what, when (every admin command's changes)")
    parser.add_argument("--tenant", help="one tenant's entries (default: all, and those of no tenant)")
    window = parser.add_mutually_exclusive_group()
    window.add_argument("--since", help="ISO date or time (UTC unless an offset is given)")
    window.add_argument("--hours", type=float, help="the last N hours")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(run=_cmd_audit)


def _since(args: argparse.Namespace) -> datetime | None:
    if args.hours is not None:
        return datetime.now(UTC) - timedelta(hours=args.hours)
    if not args.since:
        return None
    at = datetime.fromisoformat(args.since)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _cmd_audit(args: argparse.Namespace) -> int:
    try:
        found = entries(args.tenant, _since(args))
    except ValueError as err:
        print(f"error: {err}")
        return 2
    for entry in found:
        if args.json:
            print(json.dumps(entry_json(entry), ensure_ascii=False, default=str))
            continue
        change = "" if entry.before == entry.after else \
            f"  {json.dumps(entry.before, ensure_ascii=False, default=str)} -> " \
            f"{json.dumps(entry.after, ensure_ascii=False, default=str)}"
        print(f"{entry.at.isoformat(timespec='seconds')}  {entry.tenant_id or '-'}  {entry.actor}  {entry.command}  "
              f"{entry.target}{change}")
    if not args.json:
        print(f"{len(found)} entr{'y' if len(found) == 1 else 'ies'}")
    return 0
