"""DocuSign JWT grant (chalicelib.esign.auth) against the sandbox's OAuth server over HTTP, with the
RSA key in (moto's) Secrets Manager and the shared token cache in (moto's) DynamoDB, sealed with
(moto's) KMS. Time is moved through the module's clock seam; every request the server sees is counted."""

from __future__ import annotations

import base64
import json
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
from chalicelib.esign.accounts import service_account
from devstack.sandbox import SandboxConfig, create_app
from devstack.stack import create_token_cache_key, generate_rsa_key

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
    from chalicelib.core.aws import client, reset_clients
    from chalicelib.core.config import reset_settings
    from chalicelib.store.models import KeyRecord, RegistryRecord, bind_tables

    for name, value in {
        "DOCUSIGN_OAUTH_BASE": oauth_server.url, "DOCUSIGN_INTEGRATION_KEY": INTEGRATION_KEY,
        "DOCUSIGN_USER_ID": USER_ID, "DOCUSIGN_PRIVATE_KEY_SECRET": KEY_SECRET, "DOCUSIGN_ACCOUNT_ID": "",
        "SIGNBRIDGE_TABLE_PREFIX": "signbridge-unit-", "SIGNBRIDGE_PUBLIC_BASE_URL": "https://api.example",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SIGNBRIDGE_TOKEN_CACHE_KMS_KEY", raising=False)  # the stage's default alias
    oauth_server.hits.clear()
    oauth_server.config.consented_users = None
    with mock_aws():
        reset_settings()
        reset_clients()
        bind_tables()
        KeyRecord.create_table(wait=True)
        RegistryRecord.create_table(wait=True)  # tenants: whose DocuSign account
        client("secretsmanager").create_secret(Name=KEY_SECRET, SecretString=keys[0])
        create_token_cache_key()  # as the local stack provisions it
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
    # The consent page (app.py), the redirect URI to register on the integration key.
    assert query["redirect_uri"] == ["https://api.example/v1/esign/docusign/consent"]
    assert error.consent_url in str(error)
    [record] = [r for r in caplog.records if "consent" in r.getMessage()]
    assert getattr(record, "consent_url", None) == error.consent_url
    assert not auth._sessions  # nothing cached

    docusign.config.consented_users = None  # consent granted: the next try works
    assert auth.get_session().access_token


def test_a_consent_error_does_not_crash_a_docusign_call(docusign: OAuthServer) -> None:
    from datetime import UTC, datetime

    from chalicelib.core.errors import RetryableError
    from chalicelib.esign import envelopes

    docusign.config.consented_users = []
    with pytest.raises(RetryableError) as retry:
        envelopes.find_envelope("t1", "ctr_x", datetime.now(UTC))
    assert "consent_required" in str(retry.value)


@pytest.mark.parametrize("problem", ["wrong_key", "unknown_integration_key"])
def test_other_jwt_errors_are_reported_clearly(docusign: OAuthServer, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture, problem: str) -> None:
    from chalicelib.core.aws import client
    from chalicelib.core.config import reset_settings

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
    from chalicelib.core.aws import client, reset_clients

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
    from chalicelib.core.config import reset_settings
    from devstack.stack import free_port

    monkeypatch.setenv("DOCUSIGN_OAUTH_BASE", f"http://127.0.0.1:{free_port()}")
    reset_settings()
    with pytest.raises(auth.DocuSignAuthError) as unreachable:
        auth.get_session()
    assert unreachable.value.error == "unreachable"


# --- the shared token at rest: KMS ciphertext bound to its item (SECURITY.md) ----------------------

OTHER_USER_ID = "0f5e8d2c-7a41-4b6e-8d0c-0000000000u2"


def raw_keys_items() -> list[dict[str, Any]]:
    """The keys table as DynamoDB holds it (boto3, not our models)."""
    from chalicelib.core.aws import client
    from chalicelib.core.config import settings

    return list(client("dynamodb").scan(TableName=settings().table("keys"), ConsistentRead=True)["Items"])


def raw_session_item() -> dict[str, Any] | None:
    key = auth._shared_key(auth._SHARED_KEY, service_account())
    [item] = [i for i in raw_keys_items() if i["key"]["S"] == key] or [None]
    return item


def assert_nowhere(secret: str, items: list[dict[str, Any]], records: list[logging.LogRecord]) -> None:
    assert secret and secret not in json.dumps(items)
    assert all(secret not in str(vars(r)) for r in records)


def token_key_id() -> str:
    from chalicelib.core.aws import client
    from chalicelib.core.config import settings

    return str(client("kms").describe_key(KeyId=settings().token_cache_kms_key)["KeyMetadata"]["KeyId"])


def kms_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and "KMS failed" in r.getMessage()]


def test_the_shared_token_is_kms_ciphertext_and_a_cold_start_decrypts_it(
        docusign: OAuthServer, caplog: pytest.LogCaptureFixture) -> None:
    from chalicelib.core.aws import client

    caplog.set_level(logging.INFO)
    first = auth.get_session()
    item = raw_session_item()
    assert item is not None
    assert_nowhere(first.access_token, raw_keys_items(), caplog.records)
    detail = json.loads(item["detail"]["S"])
    assert set(detail) == {"ciphertext", "expires_at", "account_id", "base_uri"}
    assert detail["account_id"] == first.account_id and detail["expires_at"] == first.expires_at
    # The ciphertext is KMS's, under the token cache key, and only opens with its encryption context.
    opened = client("kms").decrypt(CiphertextBlob=base64.b64decode(detail["ciphertext"]), EncryptionContext={
        "purpose": "docusign-access-token", "cache_key": item["key"]["S"]})
    assert opened["Plaintext"].decode() == first.access_token and opened["KeyId"].endswith(token_key_id())

    cold_start()
    assert auth.get_session() == first  # read back and decrypted: no new grant
    assert docusign.hits["/oauth/token"] == 1 and docusign.hits["/oauth/userinfo"] == 1
    assert kms_warnings(caplog) == []


def test_a_ciphertext_copied_under_another_key_does_not_decrypt(
        docusign: OAuthServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from chalicelib.core.aws import client
    from chalicelib.core.config import reset_settings, settings

    docusign.config.consented_users = [USER_ID, OTHER_USER_ID]
    first = auth.get_session()
    item = raw_session_item()
    assert item is not None
    # Someone who can write the table plants user 1's sealed token under user 2's cache key.
    monkeypatch.setenv("DOCUSIGN_USER_ID", OTHER_USER_ID)
    reset_settings()
    planted_key = auth._shared_key(auth._SHARED_KEY, service_account())
    assert planted_key != item["key"]["S"]
    client("dynamodb").put_item(TableName=settings().table("keys"), Item={**item, "key": {"S": planted_key}})

    caplog.set_level(logging.WARNING)
    cold_start()
    other = auth.get_session()
    assert other.access_token != first.access_token  # a fresh grant, for user 2
    assert docusign.hits["/oauth/token"] == 2
    [warning] = kms_warnings(caplog)
    assert getattr(warning, "error", None) == "InvalidCiphertextException"
    assert getattr(warning, "operation", None) == "Decrypt"
    assert_nowhere(first.access_token, [], caplog.records)
    assert all(json.loads(item["detail"]["S"])["ciphertext"] not in str(vars(r)) for r in caplog.records)
    # The planted item was replaced by user 2's own sealed token.
    cold_start()
    assert auth.get_session() == other and docusign.hits["/oauth/token"] == 2


def test_a_disabled_kms_key_means_fresh_grants_and_nothing_in_plaintext(
        docusign: OAuthServer, caplog: pytest.LogCaptureFixture) -> None:
    from chalicelib.core.aws import client
    from devstack.embedded_aws import make_faithful

    make_faithful()  # moto alone would still use a disabled key; AWS refuses it (DisabledException)
    caplog.set_level(logging.WARNING)
    first = auth.get_session()
    client("kms").disable_key(KeyId=token_key_id())

    cold_start()  # the cached ciphertext no longer decrypts
    second = auth.get_session()
    assert second.access_token != first.access_token and docusign.hits["/oauth/token"] == 2
    cold_start()  # nor could the new token be sealed: nothing shared, another grant
    third = auth.get_session()
    assert third.access_token not in (first.access_token, second.access_token)
    assert docusign.hits["/oauth/token"] == 3
    assert [(getattr(r, "operation", None), getattr(r, "error", None)) for r in kms_warnings(caplog)] == [
        ("Decrypt", "DisabledException"), ("Encrypt", "DisabledException")] * 2
    items = raw_keys_items()
    for token in (first.access_token, second.access_token, third.access_token):
        assert_nowhere(token, items, caplog.records)
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)


def test_an_old_plaintext_token_item_is_ignored(docusign: OAuthServer) -> None:
    from chalicelib.store.contracts import now_utc
    from chalicelib.store.models import KeyRecord

    now = now_utc()
    # As the cache wrote it before encryption: the token itself, fresh for another hour.
    legacy = {"access_token": "legacy-plaintext-token", "expires_at": auth._clock() + 3600,
              "account_id": docusign.config.account_id, "base_uri": docusign.url}
    KeyRecord(key=auth._shared_key(auth._SHARED_KEY, service_account()), detail=legacy, created_at=now).save()

    session = auth.get_session()
    assert session.access_token != "legacy-plaintext-token"
    assert docusign.hits["/oauth/token"] == 1
    assert_nowhere("legacy-plaintext-token", raw_keys_items(), [])  # overwritten by the sealed token
    cold_start()
    assert auth.get_session() == session and docusign.hits["/oauth/token"] == 1


def test_no_kms_key_means_the_token_is_never_written(
        docusign: OAuthServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from chalicelib.core.config import reset_settings

    monkeypatch.setenv("SIGNBRIDGE_TOKEN_CACHE_KMS_KEY", "")
    monkeypatch.setattr(auth, "_told_no_kms_key", False)
    reset_settings()
    caplog.set_level(logging.INFO)
    first = auth.get_session()
    assert auth.get_session() is first  # this container's memory still serves it
    cold_start()
    second = auth.get_session()
    assert second.access_token != first.access_token and docusign.hits["/oauth/token"] == 2

    # Only the userinfo cache (account id and base URI, no secret) is in DynamoDB.
    items = raw_keys_items()
    assert [i["key"]["S"].split("#", 1)[0] for i in items] == ["docusign-userinfo"]
    for token in (first.access_token, second.access_token):
        assert_nowhere(token, items, caplog.records)
    notices = [r for r in caplog.records if "SIGNBRIDGE_TOKEN_CACHE_KMS_KEY" in r.getMessage()]
    assert len(notices) == 1 and notices[0].levelno == logging.WARNING  # once per container
    assert kms_warnings(caplog) == []
