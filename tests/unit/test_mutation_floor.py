"""The mutation floor checker (tests/mutation/score.py): a module under its floor fails the run."""

from __future__ import annotations

import pytest

from tests.mutation import module_level
from tests.mutation.score import EQUIVALENT, FLOORS, Outcome, evenly, missed_floors, tally

LIFECYCLE = "chalicelib/contracts/lifecycle.py"
MONEY = "chalicelib/contracts/money.py"


def outcomes(path: str, killed: int, survived: int) -> list[Outcome]:
    return ([Outcome(f"{path}#k{i}", path, True) for i in range(killed)]
            + [Outcome(f"{path}#s{i}", path, False) for i in range(survived)])


def test_a_module_at_its_floor_passes_and_one_below_fails() -> None:
    floors = {LIFECYCLE: 95.0, MONEY: 90.0}
    at = tally(outcomes(LIFECYCLE, 19, 1) + outcomes(MONEY, 9, 1))  # 95.0 %, 90.0 %
    assert missed_floors(at, floors) == []
    below = tally(outcomes(LIFECYCLE, 18, 2) + outcomes(MONEY, 9, 1))  # 90.0 % < 95 %
    (line,) = missed_floors(below, floors)
    assert line.startswith(f"{LIFECYCLE}: 90.0% < 95%") and f"{LIFECYCLE}#s1" in line


def test_a_floored_module_with_no_mutants_run_fails() -> None:
    assert missed_floors(tally(outcomes(MONEY, 10, 0)), {LIFECYCLE: 95.0, MONEY: 90.0}) == [
        f"{LIFECYCLE}: no mutants were run"]


def test_no_tests_counts_as_survived_and_equivalents_count_neither_way(monkeypatch: pytest.MonkeyPatch) -> None:
    results = [*outcomes(MONEY, 9, 0), Outcome("money-untested", MONEY, False, no_tests=True),
               Outcome("money-equivalent", MONEY, False)]
    monkeypatch.setitem(EQUIVALENT, "money-equivalent", "a reason")
    t = tally(results)[MONEY]
    assert (t.killed, len(t.survivors), len(t.equivalent), t.score) == (9, 1, 1, 90.0)


def test_the_floors_are_the_issues() -> None:
    assert FLOORS == {LIFECYCLE: 95.0, "chalicelib/contracts/validation.py": 90.0, MONEY: 90.0,
                      "chalicelib/reminders/planning.py": 90.0, "chalicelib/intake/signatures.py": 90.0}


def test_the_sample_is_a_fixed_even_spread() -> None:
    items = [f"m{i:02d}" for i in range(20)]
    assert evenly(items, 4) == ["m00", "m05", "m10", "m15"]
    assert evenly(items, 4) == evenly(list(items), 4)
    assert evenly(items[:3], 6) == items[:3]


def test_module_level_mutants_drop_one_member_of_the_lifecycle_table() -> None:
    mutants = module_level.mutants_of(LIFECYCLE)
    drops = [m for m in mutants if m.description == "drop S.COMPLETED from the set"]
    assert drops, "SENT -> COMPLETED and DELIVERED -> COMPLETED are members of set literals"
    source = module_level.mutated_source(drops[0])
    assert "S.SENT: frozenset({S.DELIVERED, S.DECLINED, S.VOIDED})" in source
    assert "tests/unit/test_lifecycle.py" in module_level.tests_for(LIFECYCLE)
