"""The e2e modules each start a whole local stack, which owns .devstack/state.json (the clock CLI
reads it): they run one after the other, on one xdist worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.stack import Stack, StackState, free_port


@pytest.hookimpl(tryfirst=True)  # before xdist's loadgroup reads the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.xdist_group("devstack"))
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="module")
def stack_state() -> Iterator[StackState]:
    """A whole local stack as processes, for one module, on a free API port."""
    stack = Stack(api_port=free_port())
    try:
        yield stack.start()
    finally:
        stack.stop()
