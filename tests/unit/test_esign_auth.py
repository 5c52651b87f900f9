"""DocuSign JWT grant (chalicelib.esign.auth) against the sandbox's OAuth server over HTTP, with the
RSA key in (moto's) Secrets Manager and the shared token cache in (moto's) DynamoDB. Time is moved
through the module's clock seam; every request the server sees is counted."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from moto import mock_aws

from chalicelib.esign import auth
from devstack.sandbox import SandboxConfig, create_app
from devstack.stack import generate_rsa_key

INTEGRATION_KEY = "unit-integration-key"
USER_ID = "0f5e8d2c-7a41-4b6e-8d0c-0000000000u1"  # the sandbox's default user
KEY_SECRET = "signbridge/unit/docusign-private-key"


@dataclass
class OAuthServer:
    url: str
    config: SandboxConfig
    hits: Counter[str]


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return generate_rsa_key()


@pytest.fixture(scope="module")
def oauth_server(keys: tuple[str, str]) -> Iterator[OAuthServer]:
    from werkzeug.serving import make_server

    config = SandboxConfig(integrations={INTEGRATION_KEY: keys[1]})
    app = create_app(config)
    hits: Counter[str] = Counter()

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        hits[environ["PATH_INFO"]] += 1
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, counting, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield OAuthServer(f"http://127.0.0.1:{server.server_port}", config, hits)
    server.shutdown()
    from devstack.sandbox import sandbox_of

    sandbox_of(app).close()


@pytest.fixture
def docusign(oauth_server: OAuthServer, keys: tuple[str, str], monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[OAuthServer]:
    """The app's settings pointed at the OAuth server, with AWS in moto; caches empty."""
    from chalicelib.aws import client, reset_clients
    from chalicelib.config import reset_settings
    from chalicelib.store.models import KeyRecord, bind_tables

    for name, value in {
        "DOCUSIGN_OAUTH_BASE": oauth_server.url, "DOCUSIGN_INTEGRATION_KEY": INTEGRATION_KEY,
        "DOCUSIGN_USER_ID": USER_ID, "DOCUSIGN_PRIVATE_KEY_SECRET": KEY_SECRET, "DOCUSIGN_ACCOUNT_ID": "",
        "SIGNBRIDGE_TABLE_PREFIX": "signbridge-unit-", "SIGNBRIDGE_PUBLIC_BASE_URL": "https://api.example",
    }.items():
        monkeypatch.setenv(name, value)
    oauth_server.hits.clear()
    oauth_server.config.consented_users = None
    with mock_aws():
        reset_settings()
        reset_clients()
        bind_tables()
        KeyRecord.create_table(wait=True)
        client("secretsmanager").create_secret(Name=KEY_SECRET, SecretString=keys[0])
        auth.forget_session()
        yield oauth_server
        auth.forget_session()
    monkeypatch.undo()
    reset_settings()
    reset_clients()
    bind_tables()


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import time

        self.offset = 0.0
        monkeypatch.setattr(auth, "_clock", lambda: time.time() + self.offset)


def cold_start() -> None:
    """A new Lambda container: the module's globals are gone, DynamoDB is not."""
    auth.forget_session()


def test_the_token_is_reused_until_five_minutes_before_it_expires(docusign: OAuthServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    first = auth.get_session()
    assert first.account_id == docusign.config.account_id
    assert first.rest_host == docusign.url + "/restapi"
    assert docusign.hits["/oauth/token"] == 1 and docusign.hits["/oauth/userinfo"] == 1

    for _ in range(3):
        assert auth.get_session() == first
    lifetime = first.expires_at - auth._clock()
    assert 3500 < lifetime <= 3600  # the sandbox's expires_in
    clock.offset = lifetime - 301  # 5 min + 1 s before expiry: still good
    assert auth.get_session() is first
    assert docusign.hits["/oauth/token"] == 1

    clock.offset = lifetime - 299  # inside the last five minutes: a new grant
    second = auth.get_session()
    assert second.access_token != first.access_token
    assert docusign.hits["/oauth/token"] == 2
    assert docusign.hits["/oauth/userinfo"] == 1  # userinfo is cached: not asked again


def test_a_cold_start_reuses_the_token_from_dynamodb(docusign: OAuthServer, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    first = auth.get_session()
    cold_start()
    assert auth.get_session() == first
    assert docusign.hits["/oauth/token"] == 1 and docusign.hits["/oauth/userinfo"] == 1

    # A cold start after the shared token went stale gets a new one; userinfo still comes from the cache.
    clock.offset = first.expires_at - auth._clock() - 60
    cold_start()
    fresh = auth.get_session()
    assert fresh.access_token != first.access_token
    assert docusign.hits["/oauth/token"] == 2 and docusign.hits["/oauth/userinfo"] == 1
    cold_start()
    assert auth.get_session() == fresh and docusign.hits["/oauth/token"] == 2


def test_userinfo_is_asked_again_after_a_day(docusign: OAuthServer, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    auth.get_session()
    clock.offset = auth.USERINFO_TTL_SECONDS + 1
    cold_start()
    auth.get_session()
    assert docusign.hits["/oauth/userinfo"] == 2


def test_consent_required_is_an_operational_error_with_the_consent_url(
        docusign: OAuthServer, caplog: pytest.LogCaptureFixture) -> None:
    docusign.config.consented_users = []  # nobody has granted consent to the integration key
    caplog.set_level(logging.ERROR)
    with pytest.raises(auth.DocuSignAuthError) as refused:
        auth.get_session()
    error = refused.value
    assert error.error == "consent_required"
    url = urlsplit(error.consent_url or "")
    assert f"{url.scheme}://{url.netloc}" == docusign.url and url.path == "/oauth/auth"
    query = parse_qs(url.query)
    assert query["response_type"] == ["code"] and query["client_id"] == [INTEGRATION_KEY]
    assert query["scope"] == ["signature impersonation"] and "%20" in url.query
    assert error.consent_url in str(error)
    [record] = [r for r in caplog.records if "consent" in r.getMessage()]
    assert getattr(record, "consent_url", None) == error.consent_url
    assert auth._session is None  # nothing cached

    docusign.config.consented_users = None  # consent granted: the next try works
    assert auth.get_session().access_token


def test_a_consent_error_does_not_crash_a_docusign_call(docusign: OAuthServer) -> None:
    from datetime import UTC, datetime

    from chalicelib.errors import RetryableError
    from chalicelib.esign import envelopes

    docusign.config.consented_users = []
    with pytest.raises(RetryableError) as retry:
        envelopes.find_envelope("ctr_x", datetime.now(UTC))
    assert "consent_required" in str(retry.value)


@pytest.mark.parametrize("problem", ["wrong_key", "unknown_integration_key"])
def test_other_jwt_errors_are_reported_clearly(docusign: OAuthServer, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture, problem: str) -> None:
    from chalicelib.aws import client
    from chalicelib.config import reset_settings

    if problem == "wrong_key":
        client("secretsmanager").put_secret_value(SecretId=KEY_SECRET, SecretString=generate_rsa_key()[0])
        expected = "no_valid_keys_or_signatures"
    else:
        monkeypatch.setenv("DOCUSIGN_INTEGRATION_KEY", "not-registered")
        reset_settings()
        expected = "issuer_not_found"
    caplog.set_level(logging.ERROR)
    with pytest.raises(auth.DocuSignAuthError) as refused:
        auth.get_session()
    assert refused.value.error == "invalid_grant" and expected in str(refused.value)
    assert any(getattr(r, "error_description", None) == expected for r in caplog.records)


def test_an_unreadable_or_broken_private_key_is_reported(docusign: OAuthServer) -> None:
    from chalicelib.aws import client, reset_clients

    client("secretsmanager").put_secret_value(SecretId=KEY_SECRET, SecretString="not a PEM key")
    reset_clients()
    with pytest.raises(auth.DocuSignAuthError) as broken:
        auth.get_session()
    assert broken.value.error == "bad_private_key"
    client("secretsmanager").delete_secret(SecretId=KEY_SECRET, ForceDeleteWithoutRecovery=True)
    reset_clients()
    with pytest.raises(auth.DocuSignAuthError) as missing:
        auth.get_session()
    assert missing.value.error == "private_key_unreadable"
    assert docusign.hits["/oauth/token"] == 0


def test_an_unreachable_oauth_server_is_an_auth_error(docusign: OAuthServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.config import reset_settings
    from devstack.stack import free_port

    monkeypatch.setenv("DOCUSIGN_OAUTH_BASE", f"http://127.0.0.1:{free_port()}")
    reset_settings()
    with pytest.raises(auth.DocuSignAuthError) as unreachable:
        auth.get_session()
    assert unreachable.value.error == "unreachable"
