"""Mutation scores per module, their floors, and the sample `make test` runs (docs/testing.md).

    python -m tests.mutation.score full     # after `mutmut run`: adds the module-level mutants,
                                            # prints the per-module table, fails below a floor
    python -m tests.mutation.score sample   # a fixed sample in about a minute, fails below a floor

A module's score is killed / (mutants - equivalent): a mutant with no test reaching it counts as a
survivor, and an equivalent mutant (one no test can tell from the original, listed with its reason
in EQUIVALENT) counts neither way. The sample is every n-th mutant of each floored module, known
equivalents left out, so it is the same list for the same tree and any survivor in it is news.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

from mutmut.__main__ import copy_also_copy_files, copy_src_dir, create_file_mutants, setup_source_paths
from mutmut.stats import status_by_exit_code

from tests.mutation import module_level

ROOT = module_level.ROOT
MUTANTS = ROOT / "mutants"

# The modules issue 17 names, and the floor each must keep (percent).
FLOORS: dict[str, float] = {
    "chalicelib/contracts/lifecycle.py": 95.0,
    "chalicelib/contracts/validation.py": 90.0,
    "chalicelib/contracts/money.py": 90.0,
    "chalicelib/reminders/planning.py": 90.0,
    "chalicelib/intake/signatures.py": 90.0,
}

# Mutants no test can kill because they do not change behaviour: id -> why (docs/testing.md).
# Names are mutmut's (function and position): re-check them when a function changes.
_UNREACHABLE_KIND = (
    "pydantic never reports this error kind for this model: every int and bool field is Strict (int_type, "
    "bool_type instead), no field is a plain dict, nothing validates from attributes, no validator asserts"
)
EQUIVALENT: dict[str, str] = {
    'chalicelib.contracts.validation.x__message__mutmut_27': _UNREACHABLE_KIND,
    'chalicelib.contracts.validation.x__message__mutmut_28': _UNREACHABLE_KIND,
    'chalicelib.contracts.validation.x__message__mutmut_48': _UNREACHABLE_KIND,
    'chalicelib.contracts.validation.x__message__mutmut_49': _UNREACHABLE_KIND,
    'chalicelib.contracts.validation.x__message__mutmut_50': _UNREACHABLE_KIND,
    'chalicelib.contracts.validation.x__message__mutmut_51': _UNREACHABLE_KIND,
    'chalicelib.contracts.validation.x__message__mutmut_64': _UNREACHABLE_KIND,
    'chalicelib.contracts.validation.x__message__mutmut_65': _UNREACHABLE_KIND,
    'chalicelib.contracts.validation.x__message__mutmut_66': _UNREACHABLE_KIND,
    'chalicelib.contracts.validation.x__message__mutmut_67': _UNREACHABLE_KIND,
    'chalicelib.contracts.validation.x__message__mutmut_72': _UNREACHABLE_KIND,
    'chalicelib.contracts.validation.x__message__mutmut_73': _UNREACHABLE_KIND,
    'chalicelib.contracts.validation.x__message__mutmut_31':
        "pydantic's value_error always carries ctx['error']: the default is never used",
    'chalicelib.contracts.validation.x__message__mutmut_33':
        "pydantic's value_error always carries ctx['error']: the default is never used",
    'chalicelib.contracts.validation.x__missing_paths__mutmut_21':
        "a generated path holds 'contract.' once: replacing 1, 2 or every occurrence is the same",
    'chalicelib.contracts.validation.x__missing_paths__mutmut_26':
        "a generated path holds 'contract.' once: replacing 1, 2 or every occurrence is the same",
    'chalicelib.contracts.validation.x__missing_paths__mutmut_41':
        "a generated path holds 'contract.' once: replacing 1, 2 or every occurrence is the same",
    'chalicelib.contracts.validation.x__missing_paths__mutmut_44':
        "a generated path holds 'contract.' once: replacing 1, 2 or every occurrence is the same",
    'chalicelib.contracts.validation.x__path_key__mutmut_6':
        'the same constant for every element of its kind: the sort order does not change',
    'chalicelib.contracts.validation.x__path_key__mutmut_7':
        'the same constant for every element of its kind: the sort order does not change',
    'chalicelib.contracts.validation.x__path_key__mutmut_9':
        'the same constant for every element of its kind: the sort order does not change',
    'chalicelib.contracts.validation.x__path_key__mutmut_8':
        'names (0) still sort before positions (2 instead of 1): the order does not change',
    'chalicelib.contracts.validation.x__path_key__mutmut_18':
        'envelope paths (0) still sort before contract paths (2 instead of 1)',
    'chalicelib.contracts.validation.x__milestone_sum_rule__mutmut_34':
        'sum of Decimals from int 0 is the same Decimal as from Decimal(0)',
    'chalicelib.contracts.validation.x__dicts_with__mutmut_6':
        'resolving due rules where there are none returns an equal copy of the body',
    'chalicelib.contracts.validation.x_parse_webhook_body__mutmut_93':
        'model_construct derives the same fields_set from the keyword arguments',
    'chalicelib.contracts.validation.x_parse_webhook_body__mutmut_94':
        'model_construct derives the same fields_set from the keyword arguments',
    'chalicelib.reminders.planning.x_in_business_hours__mutmut_8':
        'aware datetimes compare by instant: the zone of the right-hand side does not matter',
    'chalicelib.reminders.planning.xǁ_Calendarǁnext_business_moment__mutmut_5':
        'at exactly business start both branches return the same instant',
    'chalicelib.reminders.planning.xǁ_Calendarǁnext_business_moment__mutmut_8':
        "the same instant in the process's local zone, which is UTC in Lambda and in CI (TZ unset): equal, "
        "and isoformat() alike",
    'chalicelib.contracts.money.x_chinese_capitals__mutmut_2':
        'parse_amount returns a finite Decimal unchanged and refuses the rest with the same message',
    'chalicelib.contracts.money.x_chinese_capitals__mutmut_6':
        'unreachable: parse_amount has already refused a non-finite amount',
    'chalicelib.contracts.money.x_decimal_to_str__mutmut_6':
        "'F' differs from 'f' only for NaN and Infinity, which never get here (parse_amount refuses them)",
    'chalicelib.intake.signatures.x_verify_basic_auth__mutmut_22': "'UTF-8' and 'utf-8' name the same codec",
    'chalicelib.intake.signatures.x_verify_standard_webhooks__mutmut_22': "'UTF-8' and 'utf-8' name the same codec",
    'chalicelib.intake.signatures.x_verify_standard_webhooks__mutmut_31':
        'the library tests json_parse for truth: None is False',
    'chalicelib.reminders.planning.xǁ_Calendarǁsend_day__mutmut_6':
        'advance notices have offsets <= 0; '
        'for offset 0 the nominal day is the anchor, so forward <= anchor - 1 and forward <= anchor pick the same day',
    'chalicelib.reminders.planning.xǁ_Calendarǁsend_day__mutmut_8':
        "same as send_day__mutmut_6 (offset 0 treated as 'days before')",
    'chalicelib.reminders.planning.xǁ_Calendarǁsend_day__mutmut_9':
        "same as send_day__mutmut_6 (offset 0 treated as 'days before')",
    'chalicelib.reminders.planning.x__schedule__mutmut_16':
        'a step timed exactly at now is re-timed to next_business_moment(now), which is now itself',
    'chalicelib.reminders.planning.x__schedule__mutmut_35':
        'the collapse keeps the highest position whatever the list order',
    'chalicelib.reminders.planning.x__schedule__mutmut_37':
        "list order is position order, so 'last one wins' and 'highest position wins' agree",
    'chalicelib.reminders.planning.x__schedule__mutmut_38': 'same as _schedule__mutmut_37',
    'chalicelib.reminders.planning.x__schedule__mutmut_43': 'positions within a sequence are unique: > and >= agree',
    'chalicelib.reminders.planning.x__payment_steps__mutmut_87': 'extra is empty at that point: = and += agree',
    'chalicelib.reminders.planning.x__cancel_by__mutmut_24':
        'the counting calendar only counts dates; its zone is never read',
    'chalicelib.reminders.planning.x__decimal__mutmut_5': 'Decimal(str(d)) is d for a finite Decimal',
    'chalicelib.reminders.planning.x__decimal__mutmut_8': 'str(s) is s for a string',
    'chalicelib.contracts.money.x_fraction_digits__mutmut_2':
        'for 0 and for 1 both branches give 0 (a normalized zero and one have exponent 0)',
    'chalicelib.contracts.money.x_parse_amount__mutmut_11':
        'unreachable: the regular expression admits only strings Decimal reads (the comment says so)',
    'chalicelib.reminders.planning.x__decimal__mutmut_9': 'Decimal(n) is Decimal(str(n)) for an int',
}

# How many mutants of each floored module the sample takes (function-level, module-level).
SAMPLE_PER_MODULE = (6, 3)
TIMEOUT_SECONDS = 60  # per mutant: longer is an endless loop, a kill


@dataclass
class Outcome:
    id: str
    path: str
    killed: bool
    no_tests: bool = False


@dataclass
class Tally:
    path: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def equivalent(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.id in EQUIVALENT]

    @property
    def counted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.id not in EQUIVALENT]

    @property
    def killed(self) -> int:
        return sum(o.killed for o in self.counted)

    @property
    def survivors(self) -> list[Outcome]:
        return [o for o in self.counted if not o.killed]

    @property
    def score(self) -> float:
        counted = len(self.counted)
        return 100.0 * self.killed / counted if counted else 100.0


def tally(outcomes: Iterable[Outcome]) -> dict[str, Tally]:
    out: dict[str, Tally] = {}
    for o in outcomes:
        out.setdefault(o.path, Tally(o.path)).outcomes.append(o)
    return dict(sorted(out.items()))


def missed_floors(tallies: dict[str, Tally], floors: dict[str, float] = FLOORS) -> list[str]:
    """One line per floored module under its floor (or with no mutants at all: nothing was checked)."""
    missed = []
    for path, floor in floors.items():
        t = tallies.get(path)
        if t is None or not t.counted:
            missed.append(f"{path}: no mutants were run")
        elif t.score < floor:
            missed.append(f"{path}: {t.score:.1f}% < {floor:.0f}% ({len(t.survivors)} survived: "
                          + ", ".join(o.id for o in t.survivors) + ")")
    return missed


def table(tallies: dict[str, Tally]) -> str:
    rows = ["| module | mutants | killed | survived | equivalent | score | floor |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for path, t in tallies.items():
        floor = FLOORS.get(path)
        rows.append(f"| `{path}` | {len(t.outcomes)} | {t.killed} | {len(t.survivors)} | {len(t.equivalent)} "
                    f"| {t.score:.1f}% | {f'{floor:.0f}%' if floor else '—'} |")
    return "\n".join(rows)


# --- mutmut's results ----------------------------------------------------------------------------


def _path_of(mutant_name: str) -> str:
    module = mutant_name.split(".x_")[0].split(".xǁ")[0]
    candidate = module.replace(".", "/")
    return candidate + ("/__init__.py" if (ROOT / candidate).is_dir() else ".py")


def mutmut_outcomes() -> list[Outcome]:
    """Every mutant of the last `mutmut run` (its .meta files: mutant name -> exit code)."""
    out = []
    for meta in sorted((MUTANTS / "chalicelib").rglob("*.py.meta")):
        codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for name, code in sorted(codes.items()):
            status = status_by_exit_code[code]
            out.append(Outcome(name, _path_of(name), killed=status in ("killed", "timeout", "caught by type check"),
                               no_tests=status == "no tests"))
    return out


def _module_level_id(m: module_level.Mutant) -> str:
    return f"{m.path}:{m.line}: {m.description}"


def run_forked(kind: str, tests_by_mutant: dict[str, list[str]], jobs: int, cwd: Path) -> dict[str, int]:
    """Exit code per mutant, from tests/mutation/forking.py run in `cwd` (mutants/ for mutmut's)."""
    if not tests_by_mutant:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        tests_json, results = Path(tmp) / "tests.json", Path(tmp) / "results.json"
        tests_json.write_text(json.dumps(tests_by_mutant), encoding="utf-8")
        subprocess.run([sys.executable, "-m", "tests.mutation.forking", str(jobs), str(TIMEOUT_SECONDS), str(results),
                        kind, str(tests_json), *tests_by_mutant], cwd=cwd, check=True,
                       env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        codes: dict[str, int] = json.loads(results.read_text(encoding="utf-8"))
    return codes


def run_module_level(mutants: Sequence[module_level.Mutant], jobs: int) -> list[Outcome]:
    tests = {f"{m.path}#{m.index}": module_level.tests_for(m.path) for m in mutants}
    codes = run_forked("module_level", tests, jobs, ROOT)
    return [Outcome(_module_level_id(m), m.path, codes[f"{m.path}#{m.index}"] != 0) for m in mutants]


def module_level_outcomes(paths: Sequence[str], jobs: int) -> list[Outcome]:
    return run_module_level([m for p in paths if module_level.tests_for(p) for m in module_level.mutants_of(p)], jobs)


# --- the sample ---------------------------------------------------------------------------------


def generate_mutants(workdir: Path) -> list[str]:
    """mutmut's mutant generation alone (no stats, no run) for the floored modules, into
    `workdir`/mutants; `workdir` sees the tree through symlinks, so a full run's mutants/ stays as it is."""
    for entry in ROOT.iterdir():
        if entry.name not in ("mutants", ".venv", ".git"):
            (workdir / entry.name).symlink_to(entry)
    os.chdir(workdir)
    try:
        copy_src_dir()
        copy_also_copy_files()
        setup_source_paths()
        for path in FLOORS:
            result = create_file_mutants(Path(path))
            if result.error:
                raise result.error
    finally:
        os.chdir(ROOT)
    names = []
    for path in FLOORS:
        meta = workdir / "mutants" / f"{path}.meta"
        names += sorted(json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"])
    return names


def evenly(items: Sequence[str], n: int) -> list[str]:
    """n items spread evenly over the list, first included: a fixed choice, no randomness."""
    if len(items) <= n:
        return list(items)
    return [items[(i * len(items)) // n] for i in range(n)]


def sample(jobs: int) -> list[Outcome]:
    per_function, per_module_level = SAMPLE_PER_MODULE
    with tempfile.TemporaryDirectory(prefix="mutation-sample-") as tmp:
        with redirect_stdout(io.StringIO()):  # mutmut names every file it copies
            names = [n for n in generate_mutants(Path(tmp)) if n not in EQUIVALENT]
        chosen = [n for path in FLOORS for n in evenly([x for x in names if _path_of(x) == path], per_function)]
        codes = run_forked("mutmut", {n: module_level.tests_for(_path_of(n)) for n in chosen}, jobs,
                           Path(tmp) / "mutants")
    table_mutants = []
    for path in FLOORS:
        by_id = {_module_level_id(m): m for m in module_level.mutants_of(path)}
        table_mutants += [by_id[i] for i in evenly([i for i in by_id if i not in EQUIVALENT], per_module_level)]
    return [Outcome(n, _path_of(n), codes[n] != 0) for n in chosen] + run_module_level(table_mutants, jobs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation.score")
    parser.add_argument("mode", choices=["full", "sample"])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--module-level", nargs="*", default=None,
                        help="module paths for the module-level mutants (full; default: every floored module)")
    parser.add_argument("--report", type=Path, help="also write the table and the survivors here (markdown)")
    args = parser.parse_args(argv)
    start = time.monotonic()
    if args.mode == "full":
        outcomes = mutmut_outcomes() + module_level_outcomes(args.module_level or list(FLOORS), args.jobs)
    else:
        outcomes = sample(args.jobs)
    tallies = tally(outcomes)
    text = table(tallies)
    survivors = [o for t in tallies.values() for o in t.survivors if t.path in FLOORS]
    text += "\n\nSurvivors in floored modules:\n" + "\n".join(f"- `{o.id}`" + (" (no test reaches it)" if o.no_tests
                                                                               else "") for o in survivors)
    print(text)
    if args.report:
        args.report.write_text(text + "\n", encoding="utf-8")
    missed = missed_floors(tallies)
    print(f"\n{args.mode}: {len(outcomes)} mutants in {time.monotonic() - start:.0f} s")
    for line in missed:
        print(f"FLOOR MISSED {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
