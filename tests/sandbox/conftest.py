"""Fixtures for the DocuSign sandbox tests: a sandbox in a thread, extra sandboxes, a Connect listener."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.sandbox import SandboxConfig, serve_in_thread

from .helpers import (
    CONNECT_KEYS,
    INTEGRATION_KEY,
    Listener,
    Received,
    SandboxHandle,
    generate_key,
    public_pem,
)


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return generate_key()


@pytest.fixture(scope="session")
def _shared_sandbox(rsa_key: rsa.RSAPrivateKey) -> Iterator[SandboxHandle]:
    config = SandboxConfig(
        integrations={INTEGRATION_KEY: public_pem(rsa_key)},
        connect_hmac_keys=list(CONNECT_KEYS),
        connect_retry_initial_seconds=0.05,
        connect_retry_max_seconds=0.2,
        connect_reorder_hold_seconds=1.0,
    )
    base, stop = serve_in_thread(config)
    yield SandboxHandle(base, config, rsa_key)
    stop()


@pytest.fixture
def sandbox(_shared_sandbox: SandboxHandle) -> SandboxHandle:
    """The shared sandbox, emptied (envelopes, faults, clock, Connect log) before each test."""
    _shared_sandbox.control("POST", "/sandbox/reset")
    _shared_sandbox.control("POST", "/sandbox/connect-keys", {"keys": list(CONNECT_KEYS)})
    return _shared_sandbox


@pytest.fixture
def make_sandbox(rsa_key: rsa.RSAPrivateKey) -> Iterator[Callable[..., SandboxHandle]]:
    """Start an extra sandbox with config overrides (stopped after the test)."""
    stops: list[Callable[[], None]] = []

    def start(**overrides: Any) -> SandboxHandle:
        overrides.setdefault("integrations", {INTEGRATION_KEY: public_pem(rsa_key)})
        config = SandboxConfig(**overrides)
        base, stop = serve_in_thread(config)
        stops.append(stop)
        return SandboxHandle(base, config, rsa_key)

    yield start
    for stop in stops:
        stop()


@pytest.fixture
def listener() -> Iterator[Listener]:
    state = Listener()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                state.received.append(Received({k: v for k, v in self.headers.items()}, body))
                fail = len(state.received) <= state.fail_first
            self.send_response(500 if fail else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/connect"
    yield state
    server.shutdown()
    server.server_close()
