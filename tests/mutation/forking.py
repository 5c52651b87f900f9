"""Run many mutants cheaply: one process imports pytest, the libraries and the tests once, then forks
a child per mutant (at most `jobs` at a time), as mutmut itself does. A fresh interpreter per mutant
costs ~5 s of imports (pydantic, boto3, moto through the test fixtures); a fork costs nothing.

Two ways to put a mutant in the child:
- mutmut's: the code in mutants/ is already every mutant behind a trampoline that reads
  MUTANT_UNDER_TEST at each call, so the child only sets it (`project_fresh=False`);
- ours (module_level): the child forgets every module of the project (the libraries stay imported),
  puts a finder serving the mutated module first on sys.meta_path, and pytest imports it all again
  (`project_fresh=True`).

    python -m tests.mutation.forking JOBS TIMEOUT RESULTS_JSON KIND TESTS_JSON MUTANT ...
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from mutmut.mutation.trampoline import set_mutant_under_test

from tests.mutation import module_level

PYTEST_ARGS = ["-x", "-q", "--no-header", "-p", "no:cacheprovider", "-p", "tests.mutation.hypothesis_profile"]


def _quiet_pytest(args: list[str]) -> int:
    sink = io.StringIO()
    with redirect_stdout(sink), redirect_stderr(sink):
        return int(pytest.main([*PYTEST_ARGS, *args]))


def _forget_project(root: Path) -> None:
    keep = ("tests.mutation",)
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if file.startswith(str(root)) and not name.startswith(keep):
            del sys.modules[name]


def _child(kind: str, mutant: str, tests: list[str], root: Path) -> int:
    if kind == "mutmut":
        os.environ["MUTANT_UNDER_TEST"] = mutant
        set_mutant_under_test(mutant)
    else:
        path, index = mutant.rsplit("#", 1)
        _forget_project(root)
        source = module_level.mutated_source(module_level.Mutant(path, int(index), 0, ""))
        sys.meta_path.insert(0, module_level.MutatedFinder(module_level.module_name(path), root / path, source))
    return _quiet_pytest(tests)


def serve(kind: str, mutants: list[str], tests_by_mutant: dict[str, list[str]], jobs: int,
          timeout: float) -> dict[str, int]:
    """Exit code per mutant (0: survived; -9: killed for taking too long)."""
    root = Path.cwd()
    sys.path.insert(0, str(root))
    warm = sorted({t for ts in tests_by_mutant.values() for t in ts})
    if kind == "mutmut":
        os.environ["MUTANT_UNDER_TEST"] = ""
    _quiet_pytest(["--collect-only", *warm])  # imports the libraries, the project and the tests once
    codes: dict[str, int] = {}
    running: dict[int, tuple[str, float]] = {}
    todo = list(mutants)
    while todo or running:
        while todo and len(running) < jobs:
            mutant = todo.pop(0)
            pid = os.fork()
            if pid == 0:  # the child
                try:
                    code = _child(kind, mutant, tests_by_mutant[mutant], root)
                except BaseException:  # noqa: BLE001 - any failure to even run the tests is a kill
                    code = 3
                os._exit(code)
            running[pid] = (mutant, time.monotonic() + timeout)
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            for child, (_, deadline) in list(running.items()):
                if time.monotonic() > deadline:
                    os.kill(child, signal.SIGKILL)
            time.sleep(0.02)
            continue
        mutant, _ = running.pop(pid)
        codes[mutant] = os.waitstatus_to_exitcode(status)
    return codes


def main() -> int:
    jobs, timeout, results, kind, tests_json, *mutants = sys.argv[1:]
    tests_by_mutant = json.loads(Path(tests_json).read_text(encoding="utf-8"))
    codes = serve(kind, mutants, tests_by_mutant, int(jobs), float(timeout))
    Path(results).write_text(json.dumps(codes), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
