"""python -m chalicelib.admin tenants {add,list,show,set,unset,schema,keys}

- `add --id T --name NAME [--settings-file F | --settings-json JSON] [PATH=VALUE ...] [--dry-run]`: a new
  tenant, its settings validated first (nothing is stored when one is wrong).
- `list`: one JSON line per tenant (id, name, the sections it sets, how many sources and API keys).
- `show --id T [--effective]`: the stored settings (with --effective: every setting, defaults filled in).
- `set --id T [--name NAME] [PATH=VALUE ...] [--merge-file F | --merge-json JSON] [--dry-run]`: changes
  settings (`business_hours.start=08:30`, `approval.approvers='["legal@acme.example"]'`; a value is read
  as JSON, else as text); prints the diff and the effect ("re-plans reminders of 42 contracts": a
  `replan` job per contract in force when a setting reminder planning reads changed). `--dry-run`
  prints the same and changes nothing.
- `unset --id T PATH ... [--dry-run]`: removes settings (they take their defaults again).
- `schema`: the settings' JSON Schema (docs/tenant-settings.md).
- `keys issue --tenant T --label L`: a new API key, shown once (stored as its sha256);
  `keys list --tenant T`: id, label, created, last used; `keys revoke --tenant T --key-id K`: refused
  from the next request on; `keys rotate --tenant T --key-id K [--overlap-hours H]`: a new key with the
  same label, the old one revoked at once (or expiring after H hours, so the CRM can switch over).

Every change is validated against chalicelib/reminders/settings_schema.py, written conditionally on
the record being as read (two operators never lose each other's change) and recorded in the audit log
(`admin audit`).
"""

from __future__ import annotations

import argparse
import json
import secrets as random
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib.admin import audit
from chalicelib.core.aws import enqueue_batch
from chalicelib.jobs.replan import REPLANNED_STATUSES
from chalicelib.jobs.replan import message as replan_message
from chalicelib.reminders.settings import TenantSettings
from chalicelib.reminders.settings_schema import MANAGED_ELSEWHERE, TenantSettingsDocument, problems, schema_text
from chalicelib.store.contracts import tenant_contracts
from chalicelib.store.registry import (
    NoSuchKey,
    TenantChanged,
    TenantExists,
    TenantRecord,
    api_key_id,
    check_tenant_id,
    create_tenant,
    expire_api_key,
    find_tenant,
    iter_api_keys,
    iter_sources,
    put_api_key,
    revoke_api_key,
    tenant_ids,
    update_tenant,
)

# Settings reminder planning reads: changing one re-plans the tenant's contracts in force.
PLANNING_KEYS = frozenset(TenantSettings.__dataclass_fields__)
API_KEY_PREFIX = "sbk_"
_UNSET = object()


class AdminError(ValueError):
    """A request the operator can fix (unknown tenant, invalid setting, ...)."""


class InvalidSettings(AdminError):
    def __init__(self, found: list[tuple[str, str]]) -> None:
        self.problems = found
        super().__init__("invalid settings, nothing stored:\n" + "\n".join(f"  {p or '(document)'}: {m}"
                                                                          for p, m in found))


@dataclass(frozen=True)
class Change:
    path: str
    before: Any  # _UNSET: not set
    after: Any

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, **({} if self.before is _UNSET else {"before": self.before}),
                **({} if self.after is _UNSET else {"after": self.after})}

    def line(self) -> str:
        def shown(value: Any) -> str:
            return "(not set)" if value is _UNSET else json.dumps(value, ensure_ascii=False)
        return f"  {self.path}: {shown(self.before)} -> {shown(self.after)}"


@dataclass
class Outcome:
    tenant_id: str
    changes: list[Change]
    replans: int = 0  # contracts whose reminders are (or, in a dry run, would be) re-planned
    effects: list[str] = field(default_factory=list)
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "changes": [c.to_json() for c in self.changes],
                "replans": self.replans, "effects": self.effects, "dry_run": self.dry_run}


# --- settings documents -------------------------------------------------------------------------


def parse_value(path: str, raw: str) -> Any:
    """A PATH=VALUE's value: JSON where it parses, else the text. An amount stays text (decimal
    amounts are strings: `approval.amount_over.CNY=100000.00`)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if path.startswith("approval.amount_over.") and isinstance(value, int | float) and not isinstance(value, bool):
        return raw
    return value


def parse_assignments(pairs: Iterable[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs:
        path, sep, raw = pair.partition("=")
        if not sep or not path.strip():
            raise AdminError(f"{pair!r}: expected PATH=VALUE, e.g. time_zone=America/New_York")
        found[path.strip()] = parse_value(path.strip(), raw)
    return found


def _check_path(path: str) -> list[str]:
    parts = path.split(".")
    if any(not p for p in parts):
        raise AdminError(f"{path!r} is not a settings path (dotted names, e.g. business_hours.start)")
    if parts[0] in MANAGED_ELSEWHERE:
        raise AdminError(f"{parts[0]} is set by `{MANAGED_ELSEWHERE[parts[0]]}`, not here")
    return parts


def _copy(document: Mapping[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(document))
    return copied


def assign(document: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `document` with `path` set to `value` (objects on the way made as needed)."""
    parts = _check_path(path)
    result = _copy(document)
    node = result
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise AdminError(f"{'.'.join(parts[:i + 1])} is not an object, so {path} cannot be set in it")
        node = child
    node[parts[-1]] = value
    return result


def remove(document: Mapping[str, Any], path: str) -> dict[str, Any]:
    parts = _check_path(path)
    result = _copy(document)
    node: Any = result
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return result
    if isinstance(node, dict):
        node.pop(parts[-1], None)
    return result


def merge(document: Mapping[str, Any], patch: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Deep merge: objects merge key by key, anything else (lists included) replaces."""
    result = _copy(document)
    for key, value in patch.items():
        path = f"{prefix}{key}"
        if not prefix:
            _check_path(path)
        if isinstance(value, Mapping) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value, f"{path}.")
        else:
            result[key] = json.loads(json.dumps(value))
    return result


def flatten(document: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf paths and values (lists are leaves), for the diff."""
    if isinstance(document, Mapping) and document:
        leaves: dict[str, Any] = {}
        for key, value in document.items():
            leaves.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return leaves
    return {prefix: document} if prefix else {}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    old, new = flatten(before), flatten(after)
    return [Change(path, old.get(path, _UNSET), new.get(path, _UNSET))
            for path in sorted(set(old) | set(new)) if old.get(path, _UNSET) != new.get(path, _UNSET)]


def validated(document: Mapping[str, Any]) -> dict[str, Any]:
    found = problems(document)
    if found:
        raise InvalidSettings(found)
    return dict(document)


def effective(document: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting with its value in force (defaults filled in)."""
    shown: dict[str, Any] = TenantSettingsDocument.model_validate_json(json.dumps(document)).model_dump(mode="json")
    return shown


# --- commands as functions (the tests call these) ----------------------------------------------


def _require(tenant_id: str) -> TenantRecord:
    try:
        check_tenant_id(tenant_id)
    except ValueError as err:
        raise AdminError(str(err)) from None
    record = find_tenant(tenant_id)
    if record is None:
        raise AdminError(f"no tenant {tenant_id!r}: create it with `tenants add --id {tenant_id} --name ...`")
    return record


def add_tenant(tenant_id: str, name: str, settings: Mapping[str, Any] | None = None, *,
               dry_run: bool = False) -> Outcome:
    try:
        check_tenant_id(tenant_id)
    except ValueError as err:
        raise AdminError(str(err)) from None
    if not name.strip():
        raise AdminError("--name must not be empty")
    document = validated(settings or {})
    if find_tenant(tenant_id) is not None:
        raise AdminError(f"tenant {tenant_id!r} exists: change it with `tenants set`")
    outcome = Outcome(tenant_id, diff({}, {"name": name, "settings": document}), dry_run=dry_run)
    if dry_run:
        return outcome
    try:
        create_tenant(tenant_id, name.strip(), document)
    except TenantExists as err:
        raise AdminError(str(err)) from None
    audit.record(tenant_id, "tenants.add", f"tenant {tenant_id}", None, {"name": name, "settings": document})
    return outcome


def contracts_to_replan(tenant_id: str) -> list[str]:
    return [c.contract_id for c in tenant_contracts(tenant_id, statuses=REPLANNED_STATUSES)]


def change_settings(tenant_id: str, *, assignments: Mapping[str, Any] | None = None,
                    patch: Mapping[str, Any] | None = None, unset: Iterable[str] = (), name: str | None = None,
                    dry_run: bool = False) -> Outcome:
    """`set` and `unset`: the new document validated whole, written conditionally, audited, and the
    contracts in force queued for a re-plan when a planning setting changed."""
    record = _require(tenant_id)
    before = record.tenant.settings
    after: dict[str, Any] = merge(before, patch) if patch else _copy(before)
    for path, value in (assignments or {}).items():
        after = assign(after, path, value)
    for path in unset:
        after = remove(after, path)
    validated(after)
    changes = diff(before, after)
    if name is not None and name.strip() and name.strip() != record.tenant.name:
        changes.insert(0, Change("name", record.tenant.name, name.strip()))
    outcome = Outcome(tenant_id, changes, dry_run=dry_run)
    if not changes:
        return outcome
    touched = {c.path.split(".")[0].split("[")[0] for c in changes}
    contracts = contracts_to_replan(tenant_id) if touched & PLANNING_KEYS else []
    outcome.replans = len(contracts)
    if touched & PLANNING_KEYS:
        outcome.effects.append(f"re-plans reminders of {len(contracts)} contract{'s' if len(contracts) != 1 else ''} "
                               "in force")
    if "approval" in touched:
        outcome.effects.append("the approval rules apply to contracts sent from now on (and to CRM updates of "
                               "contracts not sent yet)")
    if "signing" in touched:
        outcome.effects.append("envelopes created from now on get the new DocuSign reminders and expiry")
    if dry_run:
        return outcome
    try:
        update_tenant(record, name=name.strip() if name and name.strip() else None,
                      settings=after if after != before else None)
    except TenantChanged as err:
        raise AdminError(str(err)) from None
    audit.record(tenant_id, "tenants.set" if not unset else "tenants.unset", f"tenant {tenant_id}",
                 {c.path: c.before for c in changes if c.before is not _UNSET},
                 {c.path: c.after for c in changes if c.after is not _UNSET},
                 replans=len(contracts))
    if contracts:
        enqueue_batch([(replan_message(tenant_id, contract_id), 0) for contract_id in contracts])
    return outcome


def list_tenants() -> list[dict[str, Any]]:
    sources: dict[str, int] = {}
    for source in iter_sources():
        sources[source.tenant_id] = sources.get(source.tenant_id, 0) + 1
    keys: dict[str, int] = {}
    for key in iter_api_keys():
        keys[key.tenant_id] = keys.get(key.tenant_id, 0) + 1
    out = []
    for tenant_id in tenant_ids():
        record = find_tenant(tenant_id)
        out.append({"tenant_id": tenant_id, "name": record.tenant.name if record else None,
                    "registered": record is not None,
                    "settings": sorted(record.tenant.settings) if record else [],
                    "sources": sources.get(tenant_id, 0), "api_keys": keys.get(tenant_id, 0)})
    return out


def describe(tenant_id: str, *, with_effective: bool = False) -> dict[str, Any]:
    record = _require(tenant_id)
    shown: dict[str, Any] = {"tenant_id": tenant_id, "name": record.tenant.name,
                             "created_at": record.created_at.isoformat(),
                             "settings": audit.redact(record.tenant.settings)}
    if with_effective:
        found = problems(record.tenant.settings)
        shown["problems"] = [{"path": p, "message": m} for p, m in found]
        if not found:
            shown["effective"] = effective(record.tenant.settings)
    return shown


@dataclass(frozen=True)
class IssuedKey:
    api_key: str  # shown once, never stored
    key_id: str
    tenant_id: str
    label: str


def issue_key(tenant_id: str, label: str, *, action: str = "tenants.keys.issue") -> IssuedKey:
    _require(tenant_id)
    if not label.strip():
        raise AdminError("--label must say what the key is for (e.g. 'acme CRM', 'reporting')")
    api_key = API_KEY_PREFIX + random.token_urlsafe(32)
    put_api_key(tenant_id, api_key, label.strip())
    issued = IssuedKey(api_key, api_key_id(api_key), tenant_id, label.strip())
    audit.record(tenant_id, action, f"api key {issued.key_id}", None, {"key_id": issued.key_id, "label": issued.label})
    return issued


def list_keys(tenant_id: str) -> list[dict[str, Any]]:
    _require(tenant_id)
    return sorted(({"key_id": k.key_id, "label": k.label, "created_at": k.created_at.isoformat(),
                    "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                    **({"expires_at": k.expires_at} if k.expires_at else {})}
                   for k in iter_api_keys(tenant_id)), key=lambda k: str(k["created_at"]))


def revoke_key(tenant_id: str, key_id: str) -> dict[str, Any]:
    _require(tenant_id)
    try:
        info = revoke_api_key(tenant_id, key_id.strip().lower())
    except NoSuchKey as err:
        raise AdminError(str(err)) from None
    audit.record(tenant_id, "tenants.keys.revoke", f"api key {info.key_id}", {"key_id": info.key_id,
                 "label": info.label}, None)
    return {"key_id": info.key_id, "label": info.label, "revoked": True}


def rotate_key(tenant_id: str, key_id: str, *, overlap: timedelta = timedelta(0)) -> tuple[IssuedKey, str | None]:
    """A new key with the old one's label; the old one revoked now, or expiring after `overlap`."""
    _require(tenant_id)
    old = next((k for k in iter_api_keys(tenant_id) if k.key_id.startswith(key_id.strip().lower())), None)
    if old is None or not key_id.strip():
        raise AdminError(f"tenant {tenant_id!r} has no API key {key_id!r}")
    issued = issue_key(tenant_id, old.label, action="tenants.keys.rotate")
    try:
        if overlap > timedelta(0):
            until = datetime.now(UTC) + overlap
            expire_api_key(tenant_id, old.key_id, until)
            audit.record(tenant_id, "tenants.keys.rotate", f"api key {old.key_id}", {"key_id": old.key_id},
                         {"key_id": old.key_id, "expires_at": until.isoformat()})
            return issued, until.isoformat()
        revoke_api_key(tenant_id, old.key_id)
    except NoSuchKey as err:
        raise AdminError(str(err)) from None
    audit.record(tenant_id, "tenants.keys.revoke", f"api key {old.key_id}", {"key_id": old.key_id,
                 "label": old.label}, None, reason=f"rotated to {issued.key_id}")
    return issued, None


# --- the command line ---------------------------------------------------------------------------


def add_parser(groups: Any) -> None:
    parser = groups.add_parser("tenants", help="tenants, their settings and API keys")
    commands = parser.add_subparsers(dest="command", required=True)

    add = commands.add_parser("add", help="a new tenant (settings validated first)")
    add.add_argument("--id", required=True, dest="tenant_id")
    add.add_argument("--name", required=True)
    _document_args(add, "settings")
    add.add_argument("assignments", nargs="*", metavar="PATH=VALUE")
    add.add_argument("--dry-run", action="store_true")
    add.add_argument("--json", action="store_true", help="print JSON")
    add.set_defaults(run=_cmd_add)

    listed = commands.add_parser("list", help="one JSON line per tenant")
    listed.set_defaults(run=_cmd_list)

    show = commands.add_parser("show", help="a tenant and its settings")
    show.add_argument("--id", required=True, dest="tenant_id")
    show.add_argument("--effective", action="store_true", help="every setting, defaults filled in")
    show.set_defaults(run=_cmd_show)

    changed = commands.add_parser("set", help="change settings: prints the diff and the effect")
    changed.add_argument("--id", required=True, dest="tenant_id")
    changed.add_argument("--name", help="a new display name")
    _document_args(changed, "merge")
    changed.add_argument("assignments", nargs="*", metavar="PATH=VALUE")
    changed.add_argument("--dry-run", action="store_true", help="show the diff and the effect, change nothing")
    changed.add_argument("--json", action="store_true", help="print JSON")
    changed.set_defaults(run=_cmd_set)

    unset = commands.add_parser("unset", help="remove settings (back to their defaults)")
    unset.add_argument("--id", required=True, dest="tenant_id")
    unset.add_argument("paths", nargs="+", metavar="PATH")
    unset.add_argument("--dry-run", action="store_true")
    unset.add_argument("--json", action="store_true", help="print JSON")
    unset.set_defaults(run=_cmd_unset)

    commands.add_parser("schema", help="the settings' JSON Schema").set_defaults(run=_cmd_schema)

    keys = commands.add_parser("keys", help="the tenant's API keys").add_subparsers(dest="keys_command",
                                                                                    required=True)
    issue = keys.add_parser("issue", help="a new API key, shown once")
    issue.add_argument("--tenant", required=True)
    issue.add_argument("--label", required=True, help="what the key is for")
    issue.add_argument("--json", action="store_true")
    issue.set_defaults(run=_cmd_keys_issue)
    key_list = keys.add_parser("list", help="id, label, created and last used (never the key)")
    key_list.add_argument("--tenant", required=True)
    key_list.set_defaults(run=_cmd_keys_list)
    revoke = keys.add_parser("revoke", help="refused from the next request on")
    revoke.add_argument("--tenant", required=True)
    revoke.add_argument("--key-id", required=True)
    revoke.set_defaults(run=_cmd_keys_revoke)
    rotate = keys.add_parser("rotate", help="a new key with the same label; the old one revoked")
    rotate.add_argument("--tenant", required=True)
    rotate.add_argument("--key-id", required=True)
    rotate.add_argument("--overlap-hours", type=float, default=0.0,
                        help="keep the old key working this long (default 0: revoked now)")
    rotate.add_argument("--json", action="store_true")
    rotate.set_defaults(run=_cmd_keys_rotate)


def _document_args(parser: argparse.ArgumentParser, what: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(f"--{what}-file", type=Path, dest="document_file",
                       help="a settings document (JSON) from a file ('-': standard input)")
    group.add_argument(f"--{what}-json", dest="document_json", help="a settings document as JSON")


def _document(args: argparse.Namespace) -> dict[str, Any] | None:
    text = args.document_json
    if args.document_file is not None:
        text = sys.stdin.read() if str(args.document_file) == "-" else args.document_file.read_text(encoding="utf-8")
    if text is None:
        return None
    value = json.loads(text)
    if not isinstance(value, dict):
        raise AdminError("the settings document must be a JSON object")
    return value


def _print_outcome(outcome: Outcome, as_json: bool, verb: str) -> None:
    if as_json:
        print(json.dumps(outcome.to_json(), ensure_ascii=False, indent=2))
        return
    if not outcome.changes:
        print(f"tenant {outcome.tenant_id}: nothing to change")
        return
    print(f"tenant {outcome.tenant_id}: {len(outcome.changes)} change{'s' if len(outcome.changes) != 1 else ''}")
    for change in outcome.changes:
        print(change.line())
    for effect in outcome.effects:
        print(f"effect: {effect}")
    print("dry run: nothing changed" if outcome.dry_run else verb)


def _failed(err: Exception) -> int:
    print(f"error: {err}")
    return 2


def _cmd_add(args: argparse.Namespace) -> int:
    try:
        document = _document(args) or {}
        for path, value in parse_assignments(args.assignments).items():
            document = assign(document, path, value)
        outcome = add_tenant(args.tenant_id, args.name, document, dry_run=args.dry_run)
    except (AdminError, ValueError, OSError) as err:
        return _failed(err)
    _print_outcome(outcome, args.json, f"added tenant {args.tenant_id}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    for item in list_tenants():
        print(json.dumps(item, ensure_ascii=False))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    try:
        print(json.dumps(describe(args.tenant_id, with_effective=args.effective), ensure_ascii=False, indent=2))
    except AdminError as err:
        return _failed(err)
    return 0


def _cmd_set(args: argparse.Namespace) -> int:
    try:
        patch = _document(args)
        assignments = parse_assignments(args.assignments)
        if not patch and not assignments and not args.name:
            raise AdminError("nothing to set: give PATH=VALUE pairs, --merge-json/--merge-file or --name")
        outcome = change_settings(args.tenant_id, assignments=assignments, patch=patch, name=args.name,
                                  dry_run=args.dry_run)
    except (AdminError, ValueError, OSError) as err:
        return _failed(err)
    _print_outcome(outcome, args.json, "stored")
    return 0


def _cmd_unset(args: argparse.Namespace) -> int:
    try:
        outcome = change_settings(args.tenant_id, unset=args.paths, dry_run=args.dry_run)
    except (AdminError, ValueError) as err:
        return _failed(err)
    _print_outcome(outcome, args.json, "stored")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(schema_text())
    return 0


def _cmd_keys_issue(args: argparse.Namespace) -> int:
    try:
        issued = issue_key(args.tenant, args.label)
    except AdminError as err:
        return _failed(err)
    _print_key(issued, args.json)
    return 0


def _print_key(issued: IssuedKey, as_json: bool, expires: str | None = None) -> None:
    if as_json:
        print(json.dumps({"tenant_id": issued.tenant_id, "key_id": issued.key_id, "label": issued.label,
                          "api_key": issued.api_key, "previous_key_expires_at": expires}))
        return
    print(f"API key for tenant {issued.tenant_id} ({issued.label}), id {issued.key_id}:")
    print(f"  {issued.api_key}")
    print("  shown this once: only its sha256 is stored. Send it as 'Authorization: Bearer <key>'.")
    if expires:
        print(f"  the previous key keeps working until {expires}")


def _cmd_keys_list(args: argparse.Namespace) -> int:
    try:
        for item in list_keys(args.tenant):
            print(json.dumps(item, ensure_ascii=False))
    except AdminError as err:
        return _failed(err)
    return 0


def _cmd_keys_revoke(args: argparse.Namespace) -> int:
    try:
        result = revoke_key(args.tenant, args.key_id)
    except AdminError as err:
        return _failed(err)
    print(f"revoked API key {result['key_id']} ({result['label']}) of tenant {args.tenant}: refused from now on")
    return 0


def _cmd_keys_rotate(args: argparse.Namespace) -> int:
    try:
        issued, expires = rotate_key(args.tenant, args.key_id, overlap=timedelta(hours=args.overlap_hours))
    except AdminError as err:
        return _failed(err)
    _print_key(issued, args.json, expires)
    if not expires and not args.json:
        print(f"  the previous key {args.key_id} is revoked")
    return 0
