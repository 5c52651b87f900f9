"""Shared pytest fixtures (registered from tests/conftest.py): the DocuSign sandbox on a thread, the
app behind a real HTTP port, and the in-process stack (moto + sandbox + app) for the integration
and browser tiers."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.app_server import AppServer
from tests.support.stack import StackHarness

ROOT = Path(__file__).resolve().parents[2]


def _share_botocore_loader() -> None:
    """botocore parses its JSON service models again for every new Session, and each test makes many
    (PynamoDB: one per model and thread; chalicelib.core.aws: one per reset). In the test process, every
    Session shares one loader, so the models are parsed once: the stack fixture's setup drops from
    over a second to a fraction of one. Behaviour is unchanged (the loader only caches files)."""
    import botocore.loaders
    import botocore.session

    original = botocore.loaders.create_loader
    if getattr(original, "shared", False):
        return
    loaders: dict[str | None, Any] = {}

    def create_loader(search_path_string: str | None = None) -> Any:
        if search_path_string not in loaders:
            loaders[search_path_string] = original(search_path_string)
        return loaders[search_path_string]

    create_loader.shared = True  # type: ignore[attr-defined]
    botocore.loaders.create_loader = create_loader
    botocore.session.create_loader = create_loader  # type: ignore[attr-defined]


_share_botocore_loader()


def _faithful_dynamodb() -> None:
    """moto in this process commits each DynamoDB request atomically, as DynamoDB does (see
    devstack/embedded_aws.py): the app server's threads, the Connect deliveries and the jobs the
    tests run may race, and only what can happen in AWS may happen here."""
    from devstack.embedded_aws import make_faithful

    make_faithful()


_faithful_dynamodb()


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    from devstack.sandbox import SandboxConfig, serve_in_thread

    # Quick Connect retries keep the fault tests short; the behaviour is DocuSign's all the same.
    base_url, stop = serve_in_thread(SandboxConfig(
        connect_retry_initial_seconds=0.1, connect_retry_max_seconds=1.0, connect_reorder_hold_seconds=2.0,
    ))
    yield base_url
    stop()


@pytest.fixture(scope="session")
def app_server() -> Iterator[AppServer]:
    import app

    server = AppServer(app.app, str(ROOT)).start()
    yield server
    server.stop()


@pytest.fixture
def stack(sandbox_url: str, app_server: AppServer) -> Iterator[StackHarness]:
    from moto import mock_aws

    import app
    from devstack.stack import app_environment, http_json, provision, seed, use_environment

    env = app_environment("", sandbox_url, app_server.url)
    env.pop("AWS_ENDPOINT_URL")
    env["SIGNBRIDGE_RETRY_BASE_SECONDS"] = "0"
    os.environ.pop("AWS_ENDPOINT_URL", None)
    http_json("POST", f"{sandbox_url}/sandbox/reset")
    with mock_aws():
        provision(env)
        api_key, sources = seed(env, sandbox_url)
        harness = StackHarness(app=app, client=app_server.client, api_url=app_server.url, sandbox_url=sandbox_url,
                               api_key=api_key, sources=sources, tenant_id="demo")
        yield harness
        # Let Connect deliveries still in flight land inside this test's moto, not the next one's.
        harness.settle_connect(timeout=5.0, strict=False)
    http_json("DELETE", f"{sandbox_url}/sandbox/faults")
    http_json("POST", f"{sandbox_url}/sandbox/reset")
    use_environment({})
    _clear_module_caches()


def _clear_module_caches() -> None:
    """Per-process caches that would carry one test's moto data into the next."""
    import importlib

    for module, function in (("chalicelib.store.templates", "clear_cache"), ("chalicelib.store.registry",
                                                                              "clear_cache")):
        try:
            getattr(importlib.import_module(module), function)()
        except (ImportError, AttributeError):
            pass


@pytest.fixture
def crm(stack: StackHarness) -> Iterator[tuple[str, Any]]:
    """A CRM endpoint (devstack/receiver.py on a thread) that verifies our signed status callbacks,
    set as the stack's source's callback URL (contracts posted without their own get it)."""
    import dataclasses

    from chalicelib.store import registry
    from devstack.receiver import Receiver, serve_in_thread

    receiver = Receiver([stack.secret], out=io.StringIO())
    url, stop = serve_in_thread(receiver)
    hook = f"{url}/hooks/signbridge"
    source = registry.get_source(stack.source_id)
    assert source is not None
    registry.put_source(dataclasses.replace(source, options={**source.options, "callback_url": hook}))
    registry.clear_cache()
    yield hook, receiver
    stop()


# --- reliability rows (RELIABILITY.md) ------------------------------------------------------------

# `make reliability` runs the rows at full volume (SIGNBRIDGE_RELIABILITY_SCALE=full); `make test` at
# half, so that every row still runs in CI within the suite's time.
FULL_VOLUME = os.environ.get("SIGNBRIDGE_RELIABILITY_SCALE") == "full"


def volume(full: int) -> int:
    return full if FULL_VOLUME else max(1, full // 2)


Row = Callable[..., None]


@pytest.fixture
def reliability_row(stack: StackHarness) -> Iterator[Row]:
    """Records this test's row, and checks it: nothing lost, no duplicate envelope, no 5xx but the
    503s that ask for a retry (Retry-After), which a CRM or DocuSign turns into the normal answer."""
    stack.client.http.statuses.clear()
    rows: list[dict[str, Any]] = []

    def record(scenario: str, volume: str, *, lost: int, duplicate_envelopes: int, detail: str = "",
               section: str = "faults") -> None:
        statuses = stack.client.http.statuses
        row = {"section": section, "scenario": scenario, "volume": volume, "lost": lost,
               "duplicate_envelopes": duplicate_envelopes,
               "server_errors": sum(n for s, n in statuses.items() if s >= 500 and s != 503),
               "retry_later_503": statuses.get(503, 0), "requests": sum(statuses.values()), "detail": detail}
        rows.append(row)
        path = os.environ.get("SIGNBRIDGE_RELIABILITY_ROWS")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        assert row["lost"] == 0 and row["duplicate_envelopes"] == 0 and row["server_errors"] == 0, row

    yield record
    assert rows, "a reliability test must record its row"


@pytest.fixture
def pinned_public_base_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The links in emails and pages point at the API's public URL: pin it (other tests move it)."""
    from chalicelib.core.config import reset_settings

    monkeypatch.setenv("SIGNBRIDGE_PUBLIC_BASE_URL", "http://127.0.0.1:8000")
    reset_settings()
    yield
    reset_settings()
