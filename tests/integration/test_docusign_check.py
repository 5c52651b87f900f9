"""`python -m chalicelib.admin docusign check` against the stack (moto + the DocuSign sandbox, seeded
with the integration key, the Connect keys and the secrets), one broken link of the chain at a time,
and the consent page DocuSign sends the user back to (`GET /v1/esign/docusign/consent`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from tests.support.app_server import AppServer
from tests.support.stack import StackHarness

STEPS = ("configuration", "private key", "JWT grant", "userinfo and account", "account access", "Connect keys")
_STEP_LINE = re.compile(r"^(ok|FAILED|skipped) +(.+?): (.*)$")
CONSENT_PATH = "/v1/esign/docusign/consent"


def run_check(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from chalicelib.admin.__main__ import main as admin
    from chalicelib.esign.auth import forget_session

    forget_session()  # sessions are cached per process: each case starts from nothing
    capsys.readouterr()  # only the command's output counts
    code = admin(["docusign", "check"])
    return code, capsys.readouterr().out


def outcomes(out: str) -> dict[str, str]:
    found = {m[2]: m[1] for m in (_STEP_LINE.match(line) for line in out.splitlines()) if m}
    assert tuple(found) == STEPS, out
    return found


def step(out: str, name: str) -> str:
    """The step's line and the indented lines under it (its fix)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if (m := _STEP_LINE.match(line)) and m[2] == name)
    block = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith(" "):
            break
        block.append(line)
    return "\n".join(block)


def expect(out: str, **failed: str) -> None:
    """Every step ok, except those named (underscores for spaces) with their outcome."""
    wanted = {name: failed.get(name.replace(" ", "_"), "ok") for name in STEPS}
    assert outcomes(out) == wanted, out


def put_secret(secret_id: str, value: str) -> None:
    from chalicelib.core.aws import client

    client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString=value)


def use_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    from chalicelib.core.config import reset_settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()


# --- the check ------------------------------------------------------------------------------------


def test_a_good_setup_passes_every_step(stack: StackHarness, capsys: pytest.CaptureFixture[str]) -> None:
    from devstack.stack import INTEGRATION_KEY

    code, out = run_check(capsys)
    assert code == 0, out
    expect(out)
    assert INTEGRATION_KEY in step(out, "configuration")
    assert f"redirect URI to register on the integration key: {stack.api_url}{CONSENT_PATH}" in out
    assert "RSA private key of 2048 bits" in step(out, "private key")
    assert "6b3c2a10-5d1e-4f0a-9c1b-0000000000a1" in step(out, "userinfo and account")  # the sandbox's account
    assert f"{stack.sandbox_url}/restapi" in step(out, "account access")
    assert "1 usable HMAC key" in step(out, "Connect keys")
    assert out.rstrip().endswith("DocuSign check: all 6 steps ok")


@pytest.fixture
def no_consent(stack: StackHarness, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A second sandbox that knows the stack's integration key and private key, where nobody has
    granted consent; the app's settings point their OAuth at it."""
    from cryptography.hazmat.primitives import serialization

    from chalicelib.core.aws import get_secret
    from chalicelib.core.config import settings
    from devstack.sandbox import SandboxConfig, serve_in_thread
    from devstack.stack import INTEGRATION_KEY

    private = serialization.load_pem_private_key(get_secret(settings().docusign_private_key_secret).encode(), None)
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    url, stop = serve_in_thread(SandboxConfig(integrations={INTEGRATION_KEY: public_pem}, consented_users=[]))
    use_settings(monkeypatch, DOCUSIGN_OAUTH_BASE=url)
    yield url
    stop()


def test_missing_consent_prints_the_consent_url_and_the_redirect_uri(
        stack: StackHarness, no_consent: str, capsys: pytest.CaptureFixture[str]) -> None:
    from devstack.stack import DOCUSIGN_USER_ID, INTEGRATION_KEY

    code, out = run_check(capsys)
    assert code == 1, out
    expect(out, JWT_grant="FAILED", userinfo_and_account="skipped", account_access="skipped")
    grant = step(out, "JWT grant")
    assert "consent missing" in grant and DOCUSIGN_USER_ID in grant and "consent_required" in grant
    redirect = f"{stack.api_url}{CONSENT_PATH}"
    assert "register this redirect URI on the integration key" in grant and redirect in grant
    [url] = [word for word in grant.split() if "/oauth/auth?" in word]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == no_consent and parts.path == "/oauth/auth"
    query = parse_qs(parts.query)
    assert query == {"response_type": ["code"], "scope": ["signature impersonation"],
                     "client_id": [INTEGRATION_KEY], "redirect_uri": [redirect]}
    assert "DocuSign check: 1 step(s) FAILED, 2 skipped of 6" in out


def test_a_private_key_docusign_does_not_know_is_named(stack: StackHarness,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.core.config import settings
    from devstack.stack import generate_rsa_key

    secret_id = settings().docusign_private_key_secret
    put_secret(secret_id, generate_rsa_key()[0])  # a good RSA key, but not the integration key's
    code, out = run_check(capsys)
    assert code == 1, out
    expect(out, JWT_grant="FAILED", userinfo_and_account="skipped", account_access="skipped")
    grant = step(out, "JWT grant")
    assert f"DocuSign refuses the private key in {secret_id}" in grant
    assert "no_valid_keys_or_signatures" in grant and "matches no RSA keypair" in grant


@pytest.mark.parametrize(("value", "says"), [
    ("not a key at all", "holds not a PEM private key"),
    ("-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n", "holds a public key"),
])
def test_a_secret_that_is_no_private_key_is_named(stack: StackHarness, capsys: pytest.CaptureFixture[str],
                                                   value: str, says: str) -> None:
    from chalicelib.core.config import settings

    secret_id = settings().docusign_private_key_secret
    put_secret(secret_id, value)
    code, out = run_check(capsys)
    assert code == 1, out
    expect(out, private_key="FAILED", JWT_grant="skipped", userinfo_and_account="skipped",
           account_access="skipped")
    assert f"the secret {secret_id} {says}" in step(out, "private key")


def test_a_missing_private_key_secret_says_how_to_create_it(stack: StackHarness, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings(monkeypatch, DOCUSIGN_PRIVATE_KEY_SECRET="signbridge/local/nowhere")
    code, out = run_check(capsys)
    assert code == 1, out
    expect(out, private_key="FAILED", JWT_grant="skipped", userinfo_and_account="skipped",
           account_access="skipped")
    key = step(out, "private key")
    assert "the secret signbridge/local/nowhere does not exist" in key
    assert "aws secretsmanager create-secret --name signbridge/local/nowhere" in key


@pytest.mark.parametrize(("value", "says"), [
    (json.dumps({"keys": []}), "no usable Connect HMAC key in"),
    (json.dumps({"keys": ["short"]}), "1 unusable: a secret must be at least 16 characters"),
    ("not json", "is not JSON"),
])
def test_no_usable_connect_key_is_named(stack: StackHarness, capsys: pytest.CaptureFixture[str],
                                        value: str, says: str) -> None:
    from chalicelib.core.config import settings

    secret_id = settings().docusign_connect_keys_secret
    put_secret(secret_id, value)
    code, out = run_check(capsys)
    assert code == 1, out
    expect(out, Connect_keys="FAILED")
    connect = step(out, "Connect keys")
    assert secret_id in connect and says in connect
    assert "Connect Keys, add a key (HMAC)" in connect


def test_a_connect_key_ignored_beside_a_good_one_is_mentioned(stack: StackHarness,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.core.aws import get_secret
    from chalicelib.core.config import settings

    secret_id = settings().docusign_connect_keys_secret
    keys = json.loads(get_secret(secret_id))["keys"]
    put_secret(secret_id, json.dumps({"keys": [*keys, ""]}))
    code, out = run_check(capsys)
    assert code == 0, out
    assert "1 key(s) ignored" in step(out, "Connect keys")


def test_missing_settings_are_named(stack: StackHarness, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings(monkeypatch, DOCUSIGN_USER_ID="", DOCUSIGN_INTEGRATION_KEY="")
    code, out = run_check(capsys)
    assert code == 1, out
    expect(out, configuration="FAILED", JWT_grant="skipped", userinfo_and_account="skipped",
           account_access="skipped")
    configuration = step(out, "configuration")
    assert "DOCUSIGN_INTEGRATION_KEY is not set" in configuration and "DOCUSIGN_USER_ID is not set" in configuration


def test_an_unknown_user_is_named(stack: StackHarness, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings(monkeypatch, DOCUSIGN_USER_ID="someone-else")
    code, out = run_check(capsys)
    assert code == 1, out
    expect(out, JWT_grant="FAILED", userinfo_and_account="skipped", account_access="skipped")
    grant = step(out, "JWT grant")
    assert "knows no user someone-else" in grant and "user_not_found" in grant


def test_an_account_the_user_does_not_have_is_named(stack: StackHarness, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings(monkeypatch, DOCUSIGN_ACCOUNT_ID="not-an-account")
    code, out = run_check(capsys)
    assert code == 1, out
    expect(out, userinfo_and_account="FAILED", account_access="skipped")
    account = step(out, "userinfo and account")
    assert "DOCUSIGN_ACCOUNT_ID=not-an-account" in account
    assert "6b3c2a10-5d1e-4f0a-9c1b-0000000000a1" in account  # the account the user does have


# --- the consent page -----------------------------------------------------------------------------


def test_the_consent_url_sends_the_user_to_the_consent_page() -> None:
    import app
    from chalicelib.esign.auth import CONSENT_PATH as REDIRECT_PATH
    from chalicelib.web.openapi import route_keys

    assert REDIRECT_PATH == CONSENT_PATH and (CONSENT_PATH, "GET") in route_keys(app.app.routes)


def consent_page(app_server: AppServer, query: str, language: str) -> tuple[str, str]:
    response = app_server.client.http.get(f"{CONSENT_PATH}{query}", headers={"Accept-Language": language})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    body = response.body.decode()
    outcome = re.search(r'data-outcome="([^"]*)"', body)
    assert outcome is not None, body
    return outcome[1], body


@pytest.mark.parametrize(("language", "lang", "title", "says"), [
    ("en-US,en;q=0.9", "en", "Consent granted", "signbridge can now act for this DocuSign user"),
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN", "已授权", "signbridge 现在可以代表此 DocuSign 用户操作"),
])
def test_granted_consent(app_server: AppServer, language: str, lang: str, title: str, says: str) -> None:
    outcome, body = consent_page(app_server, "?code=eyJ0eXAiOiJNVCIsImFsZyI6IlJTMjU2In0.secret-code&state=x",
                                 language)
    assert outcome == "granted"
    assert f'<html lang="{lang}">' in body and title in body and says in body
    assert "secret-code" not in body  # the authorization code is never shown (nor exchanged)


@pytest.mark.parametrize(("language", "lang", "title", "label"), [
    ("en", "en", "Consent not granted", "DocuSign said:"),
    ("zh-CN", "zh-CN", "未授权", "DocuSign 返回的错误："),
])
def test_refused_consent_shows_docusigns_error(app_server: AppServer, language: str, lang: str, title: str,
                                               label: str) -> None:
    outcome, body = consent_page(
        app_server, "?error=access_denied&error_description=The%20user%20did%20not%20consent", language)
    assert outcome == "refused"
    assert f'<html lang="{lang}">' in body and title in body
    assert f"{label} <code>access_denied: The user did not consent</code>" in body


def test_docusigns_error_is_escaped_and_bounded(app_server: AppServer) -> None:
    hostile = '<script>alert("x")</script>\n\u202eevil ' + "A" * 5000
    query = f"?error={quote('<b>denied</b>' + 'E' * 200)}&error_description={quote(hostile)}"
    outcome, body = consent_page(app_server, query, "en")
    assert outcome == "refused"
    assert "<script>" not in body and "<b>" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in body and "&lt;b&gt;denied&lt;/b&gt;" in body
    assert "\u202e" not in body
    detail = re.search(r"<code>(.*?)</code>", body, re.S)
    assert detail is not None and "\n" not in detail[1]
    assert detail[1].count("E") < 64 and detail[1].count("A") < 300 and detail[1].endswith("…")


@pytest.mark.parametrize("query", ["", "?state=only", "?code=", "?lang=zh-CN&code=&error_description=x"])
def test_no_answer_from_docusign_is_still_a_page(app_server: AppServer, query: str) -> None:
    outcome, body = consent_page(app_server, query, "")
    assert outcome == "unknown" and "No answer from DocuSign" in body


def test_an_empty_error_is_a_refusal(app_server: AppServer) -> None:
    outcome, body = consent_page(app_server, "?error=&code=abc", "zh")
    assert outcome == "refused" and "未授权" in body and "<code>" not in body


def test_the_account_access_step_spends_from_the_apps_budget(stack: StackHarness,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The check's one REST call goes through the rate governor: it records DocuSign's reading, and
    with the budget spent it says so instead of spending more."""
    from chalicelib.esign import governor
    from chalicelib.esign.auth import get_session

    assert run_check(capsys)[0] == 0
    account_id = get_session().account_id
    reading = governor.current(account_id)
    assert reading is not None and reading.remaining is not None  # the check's answer was recorded

    # The budget is spent elsewhere: DocuSign's refusal names the limit, and is recorded...
    stack.sandbox("POST", "/sandbox/limits", {"hourly": 0, "hour_seconds": 3600})
    code, out = run_check(capsys)
    assert code == 1 and "HOURLY_APIINVOCATION_LIMIT_EXCEEDED" in step(out, "account access"), out
    # ...so the next check says the budget is spent without asking DocuSign again.
    code, out = run_check(capsys)
    assert code == 1 and "budget is spent" in step(out, "account access"), out
    usage = next(iter(stack.sandbox("GET", "/sandbox/limits")["accounts"].values()))
    assert usage["refused"] == 1, usage
