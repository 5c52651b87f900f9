"""The SSRF guard on callback URLs: https only, and every address the host resolves to must be public
(unless the local stack allows private callbacks for its own receiver on loopback)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from chalicelib.core.config import reset_settings
from chalicelib.notify import callbacks
from chalicelib.notify.callbacks import CallbackUrlRefused, check_callback_url

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


@pytest.fixture(autouse=True)
def private_callbacks_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SIGNBRIDGE_ALLOW_PRIVATE_CALLBACKS", "0")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


def resolves_to(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> list[str]:
    """Makes every host name resolve to `addresses`; returns the list of names looked up."""
    looked_up: list[str] = []

    def fake(host: str, port: int, *args: object, **kwargs: object) -> list[tuple]:
        looked_up.append(host)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port) if ":" not in a else (a, port, 0, 0)) for a in addresses]

    monkeypatch.setattr(callbacks.socket, "getaddrinfo", fake)
    return looked_up


@pytest.mark.parametrize(("url", "why"), [
    ("https://127.0.0.1/hook", "loopback"),
    ("https://127.1.2.3:8443/hook", "loopback"),
    ("https://10.0.0.7/hook", "private"),
    ("https://172.16.5.4/hook", "private"),
    ("https://192.168.1.1/hook", "private"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://0.0.0.0/hook", "unspecified"),
    ("https://100.64.0.1/hook", "not globally routable"),  # carrier-grade NAT
    ("https://224.0.0.1/hook", "multicast"),
    ("https://[::1]/hook", "loopback"),
    ("https://[::]/hook", "unspecified"),
    ("https://[fe80::1]/hook", "link-local"),
    ("https://[fd00::1]/hook", "private"),
    ("https://[::ffff:127.0.0.1]/hook", "loopback"),
    ("https://[::ffff:10.1.2.3]/hook", "private"),
    ("https://[::ffff:169.254.169.254]/hook", "link-local"),
    ("https://[2002:7f00:1::1]/hook", "loopback"),  # 6to4 around 127.0.0.1
    ("https://[64:ff9b::a9fe:a9fe]/hook", "link-local"),  # NAT64 of 169.254.169.254
])
def test_private_addresses_are_refused(url: str, why: str) -> None:
    with pytest.raises(CallbackUrlRefused) as info:
        check_callback_url(url)
    assert why in str(info.value)
    assert "refused" in str(info.value)


def test_a_name_that_resolves_to_loopback_is_refused() -> None:
    # Real resolution: localhost is loopback on every machine.
    with pytest.raises(CallbackUrlRefused, match="loopback"):
        check_callback_url("https://localhost:9443/hook")


def test_a_public_name_that_resolves_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up = resolves_to(monkeypatch, "127.0.0.1")
    with pytest.raises(CallbackUrlRefused, match=r"resolves to 127\.0\.0\.1 \(loopback\)"):
        check_callback_url("https://crm.example.com/hook")
    assert looked_up == ["crm.example.com"]


def test_one_private_address_among_public_ones_is_enough_to_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    resolves_to(monkeypatch, PUBLIC_V4, "10.0.0.1")
    with pytest.raises(CallbackUrlRefused, match="10.0.0.1"):
        check_callback_url("https://crm.example.com/hook")


def test_public_addresses_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    resolves_to(monkeypatch, PUBLIC_V4, PUBLIC_V6)
    check_callback_url("https://crm.example.com/hooks/signbridge?tenant=1")
    check_callback_url(f"https://{PUBLIC_V4}/hook")
    target = callbacks._resolve("https://crm.example.com:8443/hooks/signbridge?tenant=1")
    # The request goes to the checked addresses with the name in Host (and TLS's server name).
    assert target.addresses == (PUBLIC_V4, PUBLIC_V6)
    assert target.host_header == "crm.example.com:8443"
    assert target.path == "/hooks/signbridge?tenant=1"


@pytest.mark.parametrize("url", ["http://crm.example.com/hook", "ftp://crm.example.com/hook", "file:///etc/passwd",
                                 "gopher://crm.example.com/", "crm.example.com/hook", "https:///hook",
                                 "https://crm.example.com:99999/hook"])
def test_only_https_urls_with_a_host(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    resolves_to(monkeypatch, PUBLIC_V4)
    with pytest.raises(CallbackUrlRefused):
        check_callback_url(url)


def test_an_unresolvable_host_is_refused_with_a_clear_message() -> None:
    with pytest.raises(CallbackUrlRefused, match="cannot resolve"):
        check_callback_url("https://no-such-host.invalid/hook")


def test_the_local_stack_flag_allows_loopback_and_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNBRIDGE_ALLOW_PRIVATE_CALLBACKS", "1")
    reset_settings()
    check_callback_url("http://127.0.0.1:8025/hook")
    check_callback_url("https://[::1]/hook")
    check_callback_url("http://localhost:8025/hook")
    with pytest.raises(CallbackUrlRefused):  # still nothing but http(s)
        check_callback_url("ftp://127.0.0.1/hook")


def test_redact_drops_credentials_and_query() -> None:
    assert callbacks.redact("https://user:pw@crm.example.com:8443/h?token=s3cret") == "https://crm.example.com:8443/h"
    assert callbacks.redact("https://[::1]/h") == "https://[::1]/h"
