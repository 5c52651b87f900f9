"""Plain HTTP for the tests (urllib3, the client signbridge uses for the CRMs without an official one)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import urllib3

HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=10))


def call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
         ) -> tuple[int, dict[str, str], Any]:
    """(status, headers, parsed JSON body or text or None)."""
    merged = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
        merged.setdefault("Content-Type", "application/json")
    response = HTTP.request(method, url, body=data, headers=merged)
    raw = response.data
    try:
        parsed: Any = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return response.status, {k.lower(): v for k, v in response.headers.items()}, parsed


@dataclass
class Doubles:
    urls: dict[str, str]

    def __getitem__(self, crm: str) -> str:
        return self.urls[crm]

    def requests(self, crm: str) -> list[dict[str, Any]]:
        status, _, body = call("GET", f"{self.urls[crm]}/_requests")
        assert status == 200
        assert isinstance(body, list)
        return body

    def fault(self, crm: str, **spec: Any) -> None:
        status, _, body = call("POST", f"{self.urls[crm]}/_faults", spec)
        assert status == 201, body
