"""Browser tier: Debian's chromium driven by playwright (no browser download), against the in-process
stack (tests/support/fixtures.py): the app on a real port, the DocuSign sandbox's signing pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        # `make test` installs Debian's chromium first: a missing browser is a broken setup, not a skip.
        pytest.fail(f"{CHROMIUM} is not installed: run `make test` (it installs the chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """Opens a page in a fresh browser context (own cookies) with the given Accept-Language locale."""
    contexts: list[Any] = []

    def open_page(locale: str = "en-US") -> Any:
        context = browser.new_context(locale=locale)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
