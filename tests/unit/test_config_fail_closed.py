"""A deployed stage fails closed: each required setting that is missing or still a placeholder is
named (never shown), at init in one ERROR line, by GET /health and by every refusal. The local stack
and the tests are not deployed and keep their defaults."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from chalicelib.core import lifecycle_hooks
from chalicelib.core.config import configuration_problems, is_deployed, reset_settings
from tests.support.logs import captured_logs

REQUIRED = ("SIGNBRIDGE_PUBLIC_BASE_URL", "SIGNBRIDGE_MAIL_FROM", "DOCUSIGN_INTEGRATION_KEY", "DOCUSIGN_USER_ID",
            "SIGNBRIDGE_SES_CONFIGURATION_SET", "SIGNBRIDGE_ARCHIVE_BUCKET")
GOOD = {
    "SIGNBRIDGE_PUBLIC_BASE_URL": "https://contracts.acme-signing.cn",
    "SIGNBRIDGE_MAIL_FROM": "contracts@acme-signing.cn",
    "DOCUSIGN_INTEGRATION_KEY": "6b7e3f8a-0c1d-4e2f-9a3b-5c6d7e8f9a0b",
    "DOCUSIGN_USER_ID": "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
    "DOCUSIGN_OAUTH_BASE": "https://account.docusign.com",
    "SIGNBRIDGE_SES_CONFIGURATION_SET": "signbridge-prod",
    "SIGNBRIDGE_ARCHIVE_BUCKET": "signbridge-prod-archivebucket-1x2y3z4w5v6u",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in (*GOOD, "SIGNBRIDGE_ALLOW_PRIVATE_CALLBACKS", "AWS_LAMBDA_FUNCTION_NAME", "AWS_CHALICE_CLI_MODE"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    yield monkeypatch
    reset_settings()


def deployed(env: pytest.MonkeyPatch, stage: str = "prod", **values: str) -> dict[str, str]:
    env.setenv("SIGNBRIDGE_STAGE", stage)
    for name, value in values.items():
        env.setenv(name, value)
    reset_settings()
    return configuration_problems()


@pytest.mark.parametrize(("stage", "in_lambda", "expected"), [
    ("local", False, False), ("test", False, False), ("dev", False, True), ("prod", False, True),
    ("staging", False, True), ("local", True, True),  # inside Lambda whatever the stage says
])
def test_which_stages_are_deployed(env: pytest.MonkeyPatch, stage: str, in_lambda: bool, expected: bool) -> None:
    env.setenv("SIGNBRIDGE_STAGE", stage)
    if in_lambda:
        env.setenv("AWS_LAMBDA_FUNCTION_NAME", "signbridge-local-process_job")
    assert is_deployed() is expected


def test_the_local_stage_needs_nothing(env: pytest.MonkeyPatch) -> None:
    env.setenv("SIGNBRIDGE_STAGE", "local")
    assert configuration_problems() == {}


def test_a_deployed_stage_with_nothing_set_names_every_required_setting(env: pytest.MonkeyPatch) -> None:
    problems = deployed(env)
    assert sorted(problems) == sorted(REQUIRED)
    assert set(problems.values()) == {"missing"}


def test_a_deployed_stage_with_everything_set_is_ready(env: pytest.MonkeyPatch) -> None:
    assert deployed(env, **GOOD) == {}


@pytest.mark.parametrize(("name", "value"), [
    ("SIGNBRIDGE_PUBLIC_BASE_URL", "http://127.0.0.1:8000"),  # the default: a loopback Connect URL
    ("SIGNBRIDGE_PUBLIC_BASE_URL", "https://localhost:8000"),
    ("SIGNBRIDGE_PUBLIC_BASE_URL", "https://10.0.3.7"),
    ("SIGNBRIDGE_PUBLIC_BASE_URL", "https://[::1]/"),
    ("SIGNBRIDGE_PUBLIC_BASE_URL", "https://api.example.com"),
    ("SIGNBRIDGE_PUBLIC_BASE_URL", "http://contracts.acme-signing.cn"),  # DocuSign Connect wants https
    ("SIGNBRIDGE_PUBLIC_BASE_URL", "contracts.acme-signing.cn"),
    ("SIGNBRIDGE_MAIL_FROM", "signbridge@example.com"),  # the default
    ("SIGNBRIDGE_MAIL_FROM", "signbridge@signbridge.example"),  # the local stack's
    ("SIGNBRIDGE_MAIL_FROM", "not an address"),
    ("DOCUSIGN_INTEGRATION_KEY", "   "),
    ("DOCUSIGN_OAUTH_BASE", "http://127.0.0.1:9001"),  # the sandbox
    ("SIGNBRIDGE_SES_CONFIGURATION_SET", " "),
    ("SIGNBRIDGE_ALLOW_PRIVATE_CALLBACKS", "1"),  # the SSRF guard off: the local stack's switch only
])
def test_a_placeholder_or_a_local_only_value_is_a_problem(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    problems = deployed(env, **{**GOOD, name: value})
    assert list(problems) == [name]
    assert value.strip() == "" or value not in problems[name]  # the reason never quotes the value


def test_init_logs_one_error_naming_each_missing_setting(env: pytest.MonkeyPatch) -> None:
    deployed(env, **{**GOOD, "DOCUSIGN_USER_ID": "", "SIGNBRIDGE_MAIL_FROM": "signbridge@example.com"})
    with captured_logs() as logs:
        assert sorted(lifecycle_hooks.at_init()) == ["DOCUSIGN_USER_ID", "SIGNBRIDGE_MAIL_FROM"]
    errors = [line for line in logs.all() if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["missing"] == ["DOCUSIGN_USER_ID", "SIGNBRIDGE_MAIL_FROM"]
    assert "signbridge@example.com" not in json.dumps(errors[0])


def test_init_says_nothing_while_chalice_packages(env: pytest.MonkeyPatch) -> None:
    # `chalice package` imports app.py with the stage's config.json variables, not its runtime ones.
    deployed(env)
    env.setenv("AWS_CHALICE_CLI_MODE", "true")
    with captured_logs() as logs:
        assert lifecycle_hooks.at_init() == {}
    assert not [line for line in logs.all() if line["level"] == "ERROR"]
