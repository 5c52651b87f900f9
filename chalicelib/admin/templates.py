"""python -m chalicelib.admin templates {put,list,show,remove,preview}

A tenant may replace any contract template (`contracts/<type>.<locale>.html.j2`, `contracts/_base.html.j2`,
`contracts/_bilingual.html.j2`) with its own; overrides render in the same sandbox as ours, bounded
(output size, loop turns, 5 s).

- `put --tenant T --name contracts/sales.zh-CN.html.j2 --file my.html.j2 [--dry-run]`: checked first,
  then stored. The check renders the example contract of each of the four types (devstack/samples)
  in each locale with the override (and the tenant's other overrides), and refuses it when a render
  fails, or a document leaves out something our template shows of a required clause of its type
  (docs/CONTRACT.md: items, amount, payment method, dates, responsibilities, ...), or a signer's
  DocuSign anchor (the tabs could not be placed).
- `list --tenant T`, `show --tenant T --name N`, `remove --tenant T --name N`.
- `preview --tenant T --name N [--file F] [--type sales] [--locale en] --out doc.html [--pdf doc.pdf]`:
  writes the HTML of an example rendered with the tenant's templates (and F in place of N, before it
  is put); `--pdf` prints it with the local DocuSign sandbox's printer (weasyprint) when this checkout
  has it.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import escape

from chalicelib.admin import audit
from chalicelib.contracts.validation import REQUIRED_CLAUSES
from chalicelib.rendering.anchors import anchors_for
from chalicelib.rendering.environment import TEMPLATES_DIR
from chalicelib.rendering.filters import format_date, money
from chalicelib.rendering.overrides import TemplateOverrides
from chalicelib.rendering.render import CONTRACT_TYPES, LOCALES, RenderError, render_contract
from chalicelib.store.registry import check_tenant_id, find_tenant
from chalicelib.store.templates import (
    RegistryTemplateOverrides,
    delete_template_override,
    list_template_overrides,
    put_template_override,
)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "devstack" / "samples"
MAX_TEMPLATE_CHARS = 200_000


class AdminError(ValueError):
    """A request the operator can fix (unknown template, a template that leaves a clause out, ...)."""


class TemplateRefused(AdminError):
    def __init__(self, name: str, found: list[str]) -> None:
        self.problems = found
        super().__init__(f"{name} refused, nothing stored:\n" + "\n".join(f"  {p}" for p in found))


class _Candidate:
    """The tenant's overrides with one template replaced (or added): what `put` would make."""

    def __init__(self, tenant_id: str, name: str, source: str | None, stored: TemplateOverrides | None) -> None:
        self.tenant_id, self.name, self.source, self.stored = tenant_id, name, source, stored

    def get(self, tenant_id: str, template_name: str) -> str | None:
        if tenant_id == self.tenant_id and template_name == self.name and self.source is not None:
            return self.source
        return self.stored.get(tenant_id, template_name) if self.stored is not None else None


def overridable(name: str) -> str:
    """`name` if it is one of our contract templates (what an override replaces), else AdminError."""
    normal = posixpath.normpath(name or "")
    if normal != name or not name.startswith("contracts/") or not (TEMPLATES_DIR / name).is_file():
        known = sorted(p.relative_to(TEMPLATES_DIR).as_posix() for p in (TEMPLATES_DIR / "contracts").glob("*.j2"))
        raise AdminError(f"{name!r} is not a contract template; one of: {', '.join(known)}")
    return name


def example(contract_type: str, locale: str) -> dict[str, Any]:
    """The example contract of a type (devstack/samples/<type>.json), in `locale`."""
    path = EXAMPLES_DIR / f"{contract_type}.json"
    if not path.is_file():
        raise AdminError(f"the example contracts ({EXAMPLES_DIR}) are not here: run this from a checkout")
    contract = json.loads(path.read_text(encoding="utf-8"))["contract"]
    return {**contract, "locale": locale}


def _leaves(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """The text values under a clause (lists and objects walked)."""
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _leaves(child, f"{path}.{key}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _leaves(child, f"{path}[{i}]")
    elif isinstance(value, str | int) and not isinstance(value, bool) and len(str(value).strip()) >= 2:
        yield path, str(value)


def _clause_values(contract: Mapping[str, Any], clause: str) -> Iterator[tuple[str, str]]:
    head, _, rest = clause.partition(".")
    if head.endswith("[]"):
        for i, item in enumerate(contract.get(head[:-2]) or []):
            if isinstance(item, Mapping):
                yield from _clause_values(item, rest) if rest else _leaves(item, f"{head[:-2]}[{i}]")
        return
    value = contract.get(head)
    if rest:
        if isinstance(value, Mapping):
            yield from ((f"{head}.{p}", v) for p, v in _clause_values(value, rest))
        return
    yield from _leaves(value, head)


def _forms(value: str, contract: Mapping[str, Any]) -> set[str]:
    """How a template may print a value: as it is, or as a date or an amount (escaped as rendered)."""
    forms = {value}
    for locale in ("zh-CN", "en"):
        try:
            forms.add(format_date(value, locale))
        except ValueError:
            pass
    try:
        forms.add(money(value, str(contract.get("currency") or "CNY")))
    except (TypeError, ValueError, ArithmeticError):
        pass
    return {str(escape(f)) for f in forms}


def _left_out(contract: Mapping[str, Any], clause: str, ours: str, theirs: str) -> list[tuple[str, str]]:
    """The clause's values our document shows and theirs does not. A value our template prints as
    something else (a payment method's code as its name) is judged by its section instead: the
    other values of the object it is in (`payment.terms` for `payment.method`)."""
    for scope in (clause, clause.rpartition(".")[0]):
        shown = [(path, value, forms) for path, value in _clause_values(contract, scope) if scope
                 for forms in [_forms(value, contract)] if any(f in ours for f in forms)]
        if shown:
            return [(path, value) for path, value, forms in shown if not any(f in theirs for f in forms)]
    return []


def check_override(tenant_id: str, name: str, source: str) -> int:
    """Renders every example that uses the override; TemplateRefused listing what is wrong. Returns
    how many documents were checked."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateRefused(name, [f"the template is {len(source)} characters; at most {MAX_TEMPLATE_CHARS}"])
    candidate = _Candidate(tenant_id, name, source, RegistryTemplateOverrides())
    problems: list[str] = []
    checked = 0
    for contract_type in CONTRACT_TYPES:
        for locale in LOCALES:
            contract = example(contract_type, locale)
            where = f"the {contract_type} example in {locale}"
            try:
                ours = render_contract(contract)
                theirs = render_contract(contract, overrides=candidate, tenant_id=tenant_id)
            except RenderError as err:
                problems.append(f"{where}: cannot be rendered: {err}")
                continue
            if not theirs.template_version.startswith("tenant:"):
                continue  # the override is not part of this document
            checked += 1
            for clause in REQUIRED_CLAUSES[contract_type]:  # type: ignore[index]
                missing = _left_out(contract, clause, ours.html, theirs.html)
                if missing:
                    path, value = missing[0]
                    more = f", nor {len(missing) - 1} more of its values" if len(missing) > 1 else ""
                    problems.append(f"{where}: required clause {clause} is left out ({path} = {value[:60]!r} is not "
                                    f"in the document{more})")
            for position in range(1, len(contract.get("signers") or []) + 1):
                for tab, anchor in anchors_for(position).items():
                    if anchor in ours.html and anchor not in theirs.html:
                        problems.append(f"{where}: signer {position}'s {tab} anchor {anchor} is missing (DocuSign "
                                        "could not place the tab)")
    if problems:
        raise TemplateRefused(name, problems)
    if not checked:
        raise TemplateRefused(name, ["no example document uses this template"])
    return checked


def _require_tenant(tenant_id: str) -> str:
    try:
        check_tenant_id(tenant_id)
    except ValueError as err:
        raise AdminError(str(err)) from None
    if find_tenant(tenant_id) is None:
        raise AdminError(f"no tenant {tenant_id!r}: create it with `tenants add`")
    return tenant_id


def put(tenant_id: str, name: str, source: str, *, dry_run: bool = False) -> int:
    _require_tenant(tenant_id)
    overridable(name)
    checked = check_override(tenant_id, name, source)
    if dry_run:
        return checked
    before = RegistryTemplateOverrides().get(tenant_id, name)
    put_template_override(tenant_id, name, source)
    audit.record(tenant_id, "templates.put", f"template {name}", _summary(before), _summary(source))
    return checked


def remove(tenant_id: str, name: str) -> bool:
    _require_tenant(tenant_id)
    before = RegistryTemplateOverrides().get(tenant_id, name)
    if before is None:
        return False
    delete_template_override(tenant_id, name)
    audit.record(tenant_id, "templates.remove", f"template {name}", _summary(before), None)
    return True


def _summary(source: str | None) -> dict[str, Any] | None:
    """What the audit log keeps of a template: its size and digest (the source is in the registry)."""
    if source is None:
        return None
    return {"chars": len(source), "sha256": hashlib.sha256(source.encode()).hexdigest()[:16]}


@dataclass(frozen=True)
class Preview:
    html: str
    template_version: str
    pdf: bytes | None


def preview(tenant_id: str, name: str | None, source: str | None, contract_type: str, locale: str, *,
            pdf: bool = False) -> Preview:
    _require_tenant(tenant_id)
    if name is not None:
        overridable(name)
    if contract_type not in CONTRACT_TYPES or locale not in LOCALES:
        raise AdminError(f"--type is one of {', '.join(CONTRACT_TYPES)}; --locale one of {', '.join(LOCALES)}")
    candidate = _Candidate(tenant_id, name or "", source, RegistryTemplateOverrides())
    try:
        rendered = render_contract(example(contract_type, locale), overrides=candidate, tenant_id=tenant_id)
    except RenderError as err:
        raise AdminError(f"cannot be rendered: {err}") from None
    printed = _print_pdf(rendered.html) if pdf else None
    return Preview(rendered.html, rendered.template_version, printed)


def _print_pdf(html: str) -> bytes:
    # The local DocuSign sandbox's printer (weasyprint), present in a development checkout only: looked
    # up by name, so the deployed package does not depend on it.
    try:
        documents = importlib.import_module("devstack.sandbox.documents")
        return bytes(documents.html_to_pdf(html))
    except ImportError as err:
        raise AdminError(f"--pdf needs the sandbox's printer (weasyprint) of a development checkout: {err}") from None


# --- the command line ---------------------------------------------------------------------------


def add_parser(groups: Any) -> None:
    parser = groups.add_parser("templates", help="a tenant's contract template overrides")
    commands = parser.add_subparsers(dest="command", required=True)
    put_cmd = commands.add_parser("put", help="check an override against the examples, then store it")
    put_cmd.add_argument("--tenant", required=True)
    put_cmd.add_argument("--name", required=True, help="e.g. contracts/sales.zh-CN.html.j2")
    put_cmd.add_argument("--file", type=Path, required=True)
    put_cmd.add_argument("--dry-run", action="store_true", help="check only")
    put_cmd.set_defaults(run=_cmd_put)
    listed = commands.add_parser("list", help="the tenant's overrides")
    listed.add_argument("--tenant", required=True)
    listed.set_defaults(run=_cmd_list)
    show = commands.add_parser("show", help="print an override's source")
    show.add_argument("--tenant", required=True)
    show.add_argument("--name", required=True)
    show.set_defaults(run=_cmd_show)
    removed = commands.add_parser("remove", help="back to the built-in template")
    removed.add_argument("--tenant", required=True)
    removed.add_argument("--name", required=True)
    removed.set_defaults(run=_cmd_remove)
    shown = commands.add_parser("preview", help="write an example rendered with the tenant's templates")
    shown.add_argument("--tenant", required=True)
    shown.add_argument("--name", help="the template --file stands in for")
    shown.add_argument("--file", type=Path, help="a template not put yet")
    shown.add_argument("--type", default="sales", choices=CONTRACT_TYPES)
    shown.add_argument("--locale", default="zh-CN", choices=LOCALES)
    shown.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    shown.add_argument("--pdf", type=Path, help="also print it to this PDF (development checkout)")
    shown.set_defaults(run=_cmd_preview)


def _failed(err: Exception) -> int:
    print(f"error: {err}")
    return 2


def _cmd_put(args: argparse.Namespace) -> int:
    try:
        checked = put(args.tenant, args.name, args.file.read_text(encoding="utf-8"), dry_run=args.dry_run)
    except (AdminError, OSError, UnicodeDecodeError) as err:
        return _failed(err)
    print(f"{args.name}: {checked} example document(s) render with every required clause and anchor; "
          + ("dry run: nothing stored" if args.dry_run else f"stored for tenant {args.tenant}"))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    try:
        _require_tenant(args.tenant)
    except AdminError as err:
        return _failed(err)
    for name, source in sorted(list_template_overrides(args.tenant).items()):
        print(json.dumps({"name": name, **(_summary(source) or {})}))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    source = RegistryTemplateOverrides().get(args.tenant, args.name)
    if source is None:
        print(f"tenant {args.tenant} has no override of {args.name}")
        return 1
    print(source, end="" if source.endswith("\n") else "\n")
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    try:
        removed = remove(args.tenant, args.name)
    except AdminError as err:
        return _failed(err)
    print(f"removed {args.name} of tenant {args.tenant}" if removed else f"tenant {args.tenant} has no {args.name}")
    return 0 if removed else 1


def _cmd_preview(args: argparse.Namespace) -> int:
    try:
        if args.file is not None and args.name is None:
            raise AdminError("--file needs --name (the template it stands in for)")
        source = args.file.read_text(encoding="utf-8") if args.file is not None else None
        shown = preview(args.tenant, args.name, source, args.type, args.locale, pdf=args.pdf is not None)
        args.out.write_text(shown.html, encoding="utf-8")
        if args.pdf is not None and shown.pdf is not None:
            args.pdf.write_bytes(shown.pdf)
    except (AdminError, OSError, UnicodeDecodeError) as err:
        return _failed(err)
    print(f"wrote {args.out} ({shown.template_version})" + (f" and {args.pdf}" if args.pdf else ""))
    return 0
