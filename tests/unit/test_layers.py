"""The import rules of the house (docs/architecture.md, "Layers"): every import points down or
sideways, never up; no two packages import each other, however indirectly; imports are at the top
of the module except the three heavy libraries, which load only where used (cold start).

Read from the source (ast), function-level imports included, so a lazy import cannot hide an
upward arrow."""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Loaded only where used, for cold start (docs/architecture.md, "Cold start"): the three heavy
# libraries, PyJWT (~70 ms with its crypto backend) for the DocuSign JWT grant, made hourly, and the
# CRMs' clients (HubSpot's generated client; simple-salesforce, which brings requests, zeep and lxml),
# loaded by the jobs that read a CRM record or write back, never on the webhook path; and `holidays`
# (~0.1 s), loaded only for a working calendar of a country other than CN; and `puremagic` (~45 ms,
# its signature table), loaded only when an execution-log entry carries attachments.
HEAVY = ("docusign_esign", "jinja2", "cn2an", "jwt", "hubspot", "simple_salesforce", "requests", "holidays",
         "puremagic")

# Lowest first. A module belongs to the longest prefix listed; it may import its own layer and
# below. Same-layer imports between packages are allowed as long as no package cycle appears.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("chalicelib.core",)),
    ("domain", ("chalicelib.contracts", "chalicelib.reminders.planning", "chalicelib.reminders.terms",
                "chalicelib.reminders.settings", "chalicelib.reminders.milestones", "chalicelib.reminders.ics",
                "chalicelib.reminders.budget")),
    ("store", ("chalicelib.store",)),
    ("adapters", ("chalicelib.rendering", "chalicelib.esign", "chalicelib.notify", "chalicelib.crm")),
    ("lifecycle", ("chalicelib.lifecycle",)),
    ("services", ("chalicelib.reminders",)),
    ("edges", ("chalicelib.intake", "chalicelib.jobs", "chalicelib.web")),
    ("operator", ("chalicelib.admin",)),
    ("wiring", ("app",)),
]
# A function-level import kept on purpose, with its reason.
LAZY_ALLOWED = {
    ("chalicelib.contracts.model", "chalicelib.contracts.validation"):
        "Contract.from_canonical_dict: validation builds on the model module",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    found = {module_name(p): p for p in (ROOT / "chalicelib").rglob("*.py")}
    found["app"] = ROOT / "app.py"
    return found


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for index, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"{module} is in no layer: add it to LAYERS (and to docs/architecture.md)"
    return rank


def imports(module: str, path: Path) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, inside a function) for every import of the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_function.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        lazy = id(node) in in_function
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, lazy
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield (candidate if candidate in modules() else base), node.lineno, lazy


def ours(name: str) -> bool:
    return name == "app" or name.startswith("chalicelib.")


def package_of(module: str) -> str:
    return "app" if module == "app" else ".".join(module.split(".")[:2])


def test_every_import_points_down_or_sideways() -> None:
    upward = []
    for module, path in modules().items():
        for target, line, _lazy in imports(module, path):
            if ours(target) and target in modules() and layer_of(target) > layer_of(module):
                upward.append(f"{path.relative_to(ROOT)}:{line}: {LAYERS[layer_of(module)][0]} {module} imports "
                              f"{LAYERS[layer_of(target)][0]} {target}")
    assert not upward, "\n".join(upward)


def test_no_cycle_between_packages() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules().items():
        for target, _line, _lazy in imports(module, path):
            if ours(target) and package_of(target) != package_of(module):
                graph[package_of(module)].add(package_of(target))
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in trail:
                cycles.append(" -> ".join([*trail[trail.index(nxt):], nxt]))
            elif len(trail) < len(graph) + 1:
                visit(nxt, [*trail, nxt])

    for start in sorted(graph):
        visit(start, [start])
    assert not cycles, "\n".join(sorted(set(cycles)))


def test_imports_are_at_the_top_except_the_heavy_ones() -> None:
    lazy = []
    for module, path in modules().items():
        for target, line, inside in imports(module, path):
            heavy = any(target == h or target.startswith(h + ".") for h in HEAVY)
            if inside and not heavy and (module, target) not in LAZY_ALLOWED:
                lazy.append(f"{path.relative_to(ROOT)}:{line}: {target}")
    assert not lazy, "\n".join(lazy)


# The CRM API clients are for jobs (enrichment, write-back) and the operator, never for the webhook
# path: what may import chalicelib.crm, by module prefix.
CRM_IMPORTERS = ("chalicelib.crm", "chalicelib.jobs", "chalicelib.admin", "chalicelib.notify.crm_writeback")


def test_only_jobs_and_the_operator_import_the_crm_clients() -> None:
    found = []
    for module, path in modules().items():
        if any(module == p or module.startswith(p + ".") for p in CRM_IMPORTERS):
            continue
        for target, line, _lazy in imports(module, path):
            if target == "chalicelib.crm" or target.startswith("chalicelib.crm."):
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {target}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize(("importer", "target", "expected"), [
    ("chalicelib.store.contracts", "chalicelib.web.api", False),
    ("chalicelib.web.api", "chalicelib.store.contracts", True),
    ("chalicelib.reminders.planning", "chalicelib.reminders.sending", False),
    ("chalicelib.reminders.sending", "chalicelib.reminders.planning", True),
    ("chalicelib.lifecycle.transitions", "chalicelib.jobs.send", False),
])
def test_the_rule_itself(importer: str, target: str, expected: bool) -> None:
    # Guards the guard: the layer table says what the docs say.
    assert (layer_of(target) <= layer_of(importer)) is expected


STORE_MODELS = ("ContractRecord", "EventRecord", "KeyRecord", "ReminderRecord", "RegistryRecord", "SignerState",
                "DocumentRef")


def test_only_the_store_knows_pynamodb() -> None:
    """PynamoDB (its models, expressions and exceptions) stays in chalicelib/store/: every other
    module works with domain values from the store's named operations."""
    leaks = []
    for module, path in modules().items():
        if module.startswith("chalicelib.store"):
            continue
        for target, line, _lazy in imports(module, path):
            if target == "pynamodb" or target.startswith("pynamodb."):
                leaks.append(f"{path.relative_to(ROOT)}:{line}: imports {target}")
        for node in ast.walk(ast.parse(path.read_text())):
            name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
            if name in STORE_MODELS:
                leaks.append(f"{path.relative_to(ROOT)}:{node.lineno}: uses {name}")
            if isinstance(node, ast.alias) and node.name in STORE_MODELS:
                leaks.append(f"{path.relative_to(ROOT)}: imports {node.name}")
    assert not leaks, "\n".join(leaks)
