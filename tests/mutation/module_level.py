"""The mutants mutmut does not make: module- and class-level constants.

mutmut 3 mutates inside functions only, but much of the pure domain is data: the lifecycle table,
the named status sets, ISO 4217's exceptions, required clauses, tolerances. Each mutant here is one
change to such a constant — one member dropped from a set, tuple, list or dict literal, or a number
plus one — run against the unit tests that import its module, in a fresh interpreter whose import
system serves the mutated module (nothing is written to the source tree, so others may work on it;
tests/mutation/forking.py runs them, tests/mutation/score.py counts them).
"""

from __future__ import annotations

import ast
import copy
import importlib.abc
import importlib.machinery
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "tests" / "unit"
# Structure, not behaviour (see [tool.mutmut] in pyproject.toml).
IGNORED_TESTS = {"test_layers.py", "test_cold_start.py", "test_rendering_limits.py"}


@dataclass(frozen=True)
class Mutant:
    path: str  # relative to the repository, e.g. chalicelib/contracts/lifecycle.py
    index: int  # position among the file's mutants, stable while the file does not change
    line: int
    description: str


def _walk_data(node: ast.AST) -> Iterator[ast.AST]:
    """Every node outside function bodies and lambdas (what mutmut never reaches) and annotations."""
    for field, value in ast.iter_fields(node):
        if field in ("annotation", "returns", "type_params"):
            continue
        for child in value if isinstance(value, list) else [value]:
            if not isinstance(child, ast.AST):
                continue
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.TypeAlias):
                continue
            if isinstance(child, ast.Assign | ast.AnnAssign) and _assigns_dunder(child):
                continue
            yield child
            yield from _walk_data(child)


def _assigns_dunder(node: ast.Assign | ast.AnnAssign) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return any(isinstance(t, ast.Name) and t.id.startswith("__") for t in targets)


def _candidates(tree: ast.Module) -> Iterator[tuple[ast.AST, str, int]]:
    """(node, operator, position) for each mutant, in source order."""
    for node in _walk_data(tree):
        if isinstance(node, ast.Set | ast.List | ast.Tuple) and len(node.elts) >= 2:
            if not any(isinstance(e, ast.Starred) for e in node.elts):
                for i in range(len(node.elts)):
                    yield node, "drop", i
        elif isinstance(node, ast.Dict) and len(node.keys) >= 2:
            for i, key in enumerate(node.keys):
                if key is not None:  # not a ** spread
                    yield node, "drop", i
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            yield node, "plus_one", 0


def _same(a: ast.AST, b: ast.AST) -> bool:
    return (type(a) is type(b) and getattr(a, "lineno", None) == getattr(b, "lineno", None)
            and getattr(a, "col_offset", None) == getattr(b, "col_offset", None)
            and getattr(a, "end_col_offset", None) == getattr(b, "end_col_offset", None))


def mutants_of(path: str) -> list[Mutant]:
    source = (ROOT / path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    out = []
    for n, (node, op, i) in enumerate(_candidates(tree)):
        if op == "plus_one":
            assert isinstance(node, ast.Constant)
            what = f"{node.value!r} → {node.value + 1!r}"
        else:
            elt = node.keys[i] if isinstance(node, ast.Dict) else node.elts[i]  # type: ignore[attr-defined]
            assert elt is not None
            what = f"drop {ast.get_source_segment(source, elt)} from the {type(node).__name__.lower()}"
        out.append(Mutant(path, n, getattr(node, "lineno", 0), what))
    return out


def mutated_source(mutant: Mutant) -> str:
    tree = ast.parse((ROOT / mutant.path).read_text(encoding="utf-8"))
    node, op, i = list(_candidates(tree))[mutant.index]
    if op == "plus_one":
        assert isinstance(node, ast.Constant)
        node.value = node.value + 1
    elif isinstance(node, ast.Dict):
        del node.keys[i]
        del node.values[i]
    else:
        assert isinstance(node, ast.Set | ast.List | ast.Tuple)
        del node.elts[i]
    return ast.unparse(copy.deepcopy(tree))


def module_name(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def tests_for(path: str) -> list[str]:
    """The unit test files that import the module, directly or through its package's re-exports."""
    name = module_name(path)
    package, _, leaf = name.rpartition(".")
    init = ROOT / package.replace(".", "/") / "__init__.py"
    reexported = init.exists() and re.search(rf"from \.{leaf} import|from {re.escape(name)} import",
                                              init.read_text(encoding="utf-8"))
    pattern = re.compile(rf"\b{re.escape(name)}\b" + (rf"|from {re.escape(package)} import" if reexported else ""))
    return sorted(str(p.relative_to(ROOT)) for p in UNIT.glob("test_*.py")
                  if p.name not in IGNORED_TESTS and pattern.search(p.read_text(encoding="utf-8")))


# --- serving the mutated module --------------------------------------------------------------------


class MutatedFinder(importlib.abc.MetaPathFinder):
    def __init__(self, name: str, path: Path, source: str) -> None:
        self.name, self.path, self.source = name, path, source

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None,
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        loader = _MutatedLoader(fullname, str(self.path), self.source)
        is_package = self.path.name == "__init__.py"
        spec = importlib.machinery.ModuleSpec(fullname, loader, origin=str(self.path), is_package=is_package)
        if is_package:
            spec.submodule_search_locations = [str(self.path.parent)]
        spec.has_location = True
        return spec


class _MutatedLoader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname: str, path: str, source: str) -> None:
        super().__init__(fullname, path)
        self.source = source

    def get_code(self, fullname: str) -> CodeType:
        return compile(self.source, self.path, "exec", dont_inherit=True)
