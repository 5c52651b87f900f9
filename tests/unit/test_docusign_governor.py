"""The DocuSign rate governor's arithmetic: what DocuSign's headers say, and when a call must wait.

DocuSign reports an account's budget on every REST answer: `X-RateLimit-Limit`, `-Remaining`,
`-Reset` (epoch seconds) and `X-BurstLimit-Limit`, `-Remaining`; the hourly default is 3,000 calls,
the burst 500 per 30 s in production and 200 in the developer environment (DocuSign developer
center, "API rules and limits"; the SDK exposes the headers through its *_with_http_info variants
and ApiException.headers)."""

from __future__ import annotations

import pytest

from chalicelib.esign.governor import BURST_WINDOW_SECONDS, Budget, reading

NOW = 1_800_000_000.0
HEADERS = {"X-RateLimit-Limit": "3000", "X-RateLimit-Remaining": "2990", "X-RateLimit-Reset": str(int(NOW) + 1200),
           "X-BurstLimit-Limit": "500", "X-BurstLimit-Remaining": "498"}


def test_the_headers_read_as_a_budget() -> None:
    assert reading(HEADERS, NOW) == Budget(NOW, 3000, 2990, NOW + 1200, 500, 498)
    lower = {k.lower(): v for k, v in HEADERS.items()}  # as some proxies pass them
    assert reading(lower, NOW) == Budget(NOW, 3000, 2990, NOW + 1200, 500, 498)


@pytest.mark.parametrize("headers", [None, {}, {"Content-Type": "application/json"},
                                     {"X-RateLimit-Remaining": "lots"}])
def test_no_budget_in_headers_is_no_reading(headers: object) -> None:
    assert reading(headers, NOW) is None


def test_a_call_goes_while_the_budget_lasts() -> None:
    assert Budget(NOW, 3000, 2990, NOW + 1200, 500, 498).wait(NOW) is None


def test_a_spent_hour_waits_until_the_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNBRIDGE_DOCUSIGN_HOURLY_RESERVE", "10")
    spent = Budget(NOW, 3000, 10, NOW + 1200, 500, 400)  # ten left: kept for calls already under way
    wait = spent.wait(NOW + 200)
    assert wait is not None and wait[0] == 1000 and "hourly" in wait[1]
    assert spent.wait(NOW + 1200) is None  # the reset has come: the next answer brings a new reading
    assert Budget(NOW, 3000, 11, NOW + 1200, 500, 400).wait(NOW) is None


def test_a_spent_burst_waits_for_the_window() -> None:
    burst = Budget(NOW, 3000, 2000, NOW + 1200, 500, 3)
    wait = burst.wait(NOW + 10)
    assert wait is not None and wait[0] == BURST_WINDOW_SECONDS - 10 and "burst" in wait[1]
    assert burst.wait(NOW + BURST_WINDOW_SECONDS) is None
