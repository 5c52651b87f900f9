"""Integration tier: chalice.test.Client + moto + the DocuSign sandbox over HTTP through the SDK."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from tests.support.app_server import AppServer
from tests.support.stack import StackHarness

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    from devstack.sandbox import SandboxConfig, serve_in_thread

    base_url, stop = serve_in_thread(SandboxConfig())
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
    import app
    from devstack.stack import app_environment, provision, seed, use_environment

    env = app_environment("", sandbox_url, app_server.url)
    env.pop("AWS_ENDPOINT_URL")
    env["SIGNBRIDGE_RETRY_BASE_SECONDS"] = "0"
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from devstack.stack import http_json

    http_json("POST", f"{sandbox_url}/sandbox/reset")
    with mock_aws():
        provision(env)
        api_key, sources = seed(env, sandbox_url)
        yield StackHarness(app=app, client=app_server.client, api_url=app_server.url, sandbox_url=sandbox_url,
                        api_key=api_key, sources=sources, tenant_id="demo")
    http_json("DELETE", f"{sandbox_url}/sandbox/faults")
    use_environment({})
