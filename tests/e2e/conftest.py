"""The e2e modules each start a whole local stack, which owns .devstack/state.json (the clock CLI
reads it): they run one after the other, on one xdist worker."""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)  # before xdist's loadgroup reads the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.xdist_group("devstack"))
            item.add_marker(pytest.mark.e2e)
