"""The HTTP side of a delivery without AWS: the request goes to the address that was checked, with the
URL's name in Host and in TLS (SNI and certificate check), and redirects are not followed."""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.config import reset_settings
from chalicelib.notify import callbacks


def self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp / f"{name}.pem", tmp / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class Seen:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 204
        self.location: str | None = None


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Seen, Path]]:
    seen = Seen()
    cert_file, key_file = self_signed(tmp_path, "crm.test")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body,
                                  "sni": getattr(self.connection, "sni", None)})
            self.send_response(seen.status)
            if seen.location:
                self.send_header("Location", seen.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)

    def remember_sni(sock: ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> None:
        sock.sni = name  # type: ignore[attr-defined]

    context.sni_callback = remember_sni
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_port, seen, cert_file
    server.shutdown()
    server.server_close()


@pytest.fixture
def local_names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """crm.test and evil.test resolve to loopback; private callbacks allowed (as on the local stack)."""
    monkeypatch.setenv("SIGNBRIDGE_ALLOW_PRIVATE_CALLBACKS", "1")
    reset_settings()
    looked_up: list[str] = []

    def fake(host: str, port: int, *args: object, **kwargs: object) -> list[tuple]:
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(callbacks.socket, "getaddrinfo", fake)
    yield looked_up
    monkeypatch.undo()
    reset_settings()


def test_https_connects_to_the_checked_address_with_the_name_for_tls(
        tls_server: tuple[int, Seen, Path], local_names: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    port, seen, cert_file = tls_server
    monkeypatch.setattr(callbacks, "_ca_bundle", lambda: str(cert_file))
    target = callbacks._resolve(f"https://crm.test:{port}/hooks/crm?x=1")
    assert target.addresses == ("127.0.0.1",) and local_names == ["crm.test"]
    status, _ = callbacks._post(target, b'{"a":1}', {"webhook-id": "cb_1"})
    assert status == 204
    [request] = seen.requests
    assert request["path"] == "/hooks/crm?x=1"
    assert request["headers"]["Host"] == f"crm.test:{port}"
    assert request["sni"] == "crm.test"
    assert request["headers"]["webhook-id"] == "cb_1" and request["body"] == b'{"a":1}'
    # Resolved once, at the check: the connection looks up only the checked address literal.
    assert local_names == ["crm.test", "127.0.0.1"]


def test_a_certificate_for_another_name_fails_the_attempt(
        tls_server: tuple[int, Seen, Path], local_names: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    port, seen, cert_file = tls_server
    monkeypatch.setattr(callbacks, "_ca_bundle", lambda: str(cert_file))
    target = callbacks._resolve(f"https://evil.test:{port}/hooks/crm")
    with pytest.raises(callbacks._Transient):
        callbacks._post(target, b"{}", {})
    assert seen.requests == []


def test_redirects_are_not_followed(
        tls_server: tuple[int, Seen, Path], local_names: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    port, seen, cert_file = tls_server
    monkeypatch.setattr(callbacks, "_ca_bundle", lambda: str(cert_file))
    seen.status, seen.location = 307, "http://169.254.169.254/latest/meta-data/"
    status, _ = callbacks._post(callbacks._resolve(f"https://crm.test:{port}/h"), b"{}", {})
    assert status == 307 and len(seen.requests) == 1


def test_a_closed_port_is_a_transient_failure(local_names: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callbacks, "_signing_secrets", lambda source_id: ["whsec_c2VjcmV0LWtleS0xMjM0NTY3OA=="])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    message = {"url": f"http://crm.test:{port}/h", "delivery_id": "cb_x", "payload": {}, "source_id": None}
    result = callbacks.attempt_delivery(message)
    assert result.status_code is None and not result.permanent
    assert "cannot connect" in (result.error or "")
    assert json.dumps(result.error)  # loggable
