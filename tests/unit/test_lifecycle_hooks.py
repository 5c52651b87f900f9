"""After a SnapStart restore every cached secret, token and connection is dropped, so that each
restored copy reads its own: `after_restore()` called directly, as the runtime would."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import app  # noqa: F401 - what a Lambda's init imports: every module registers its forgetter
from chalicelib.core import aws, lifecycle_hooks
from chalicelib.crm import pipedrive
from chalicelib.esign import auth, envelopes
from chalicelib.store import models, registry, templates


def test_every_cache_of_secrets_tokens_and_connections_is_registered() -> None:
    assert set(lifecycle_hooks.forgetters()) >= {
        "chalicelib.core.aws.reset_clients",  # boto3 clients, secrets (the link key ring too), queue URLs
        "chalicelib.esign.auth.forget_session",  # DocuSign tokens and userinfo
        "chalicelib.esign.envelopes.forget_api_clients",  # the SDK's clients and their connections
        "chalicelib.store.registry.clear_cache",  # sources (their secret ids), tenants, API keys
        "chalicelib.store.templates.clear_cache",
        "chalicelib.store.models.drop_connections",  # PynamoDB's connections
        "chalicelib.crm.api.reset_caches",  # the CRMs' tokens and sessions
        "chalicelib.crm.http.close_connections",
    }


def test_after_restore_forgets_them() -> None:
    aws._secret_cache["signbridge/prod/signing-link-key"] = (time.monotonic(), '{"keys": []}')
    aws._queue_urls["signbridge-prod-jobs"] = "https://sqs.example/123/signbridge-prod-jobs"
    aws.client("sqs")
    registry._cache["source#acme"] = (time.monotonic(), None)
    templates._cache["t"] = (time.monotonic(), None)
    auth._sessions["acct"] = auth.DocuSignSession("token", time.time() + 3600, "acct-1", "https://demo.docusign.net")
    auth._account_caches["acct"] = auth._Account("acct-1", "https://demo.docusign.net", time.time())
    envelopes._clients[("https://demo.docusign.net/restapi", "token")] = object()
    pipedrive._fields_cache.put("k", {}, 3600)
    models.KeyRecord._connection = object()  # type: ignore[assignment]

    ran = lifecycle_hooks.after_restore()

    assert set(ran) == set(lifecycle_hooks.forgetters())
    assert aws._secret_cache == {} and aws._queue_urls == {} and aws.client.cache_info().currsize == 0
    assert registry._cache == {} and templates._cache == {}
    assert auth._sessions == {} and auth._account_caches == {}
    assert envelopes._clients == {}
    assert pipedrive._fields_cache.get("k") is None
    assert models.KeyRecord._connection is None


def test_a_failing_forgetter_does_not_stop_the_others() -> None:
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    def fine() -> None:
        calls.append("fine")

    lifecycle_hooks.forget_after_restore(broken)
    lifecycle_hooks.forget_after_restore(fine)
    try:
        ran = lifecycle_hooks.after_restore()
    finally:
        lifecycle_hooks._forgetters.remove(broken)
        lifecycle_hooks._forgetters.remove(fine)
    assert calls == ["fine"]
    assert "test_lifecycle_hooks.test_a_failing_forgetter_does_not_stop_the_others.<locals>.broken" not in " ".join(ran)


def test_random_is_reseeded() -> None:
    # Every restored copy would otherwise draw the same jitter and backoff.
    random.seed(7)
    state = random.getstate()
    lifecycle_hooks.after_restore()
    assert random.getstate() != state


def test_registered_with_the_runtime_when_it_has_hooks() -> None:
    registered: list[Callable[[], Any]] = []
    assert lifecycle_hooks.register_with_runtime(registered.append) is True
    assert registered == [lifecycle_hooks.after_restore]


def test_no_runtime_hooks_locally() -> None:
    # snapshot_restore_py exists only in Lambda's managed runtimes.
    assert lifecycle_hooks.register_with_runtime() is False
