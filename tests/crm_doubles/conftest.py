"""The five CRM doubles in this process (werkzeug servers on threads), reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.crm_apis import serve_all

from .helpers import Doubles, call


@pytest.fixture(scope="session")
def _served() -> Iterator[dict[str, str]]:
    urls, stop = serve_all()
    yield urls
    stop()


@pytest.fixture
def doubles(_served: dict[str, str]) -> Doubles:
    """Base URL of each double, every one back to its seeded records with no calls logged and no faults."""
    for url in _served.values():
        status, _, _ = call("POST", f"{url}/_reset")
        assert status == 204
    return Doubles(_served)
