"""OAuth JWT grant, userinfo and bearer checks on the REST API."""

from __future__ import annotations

import docusign_esign as ds
import pytest

from .helpers import (
    INTEGRATION_KEY,
    JWT_GRANT,
    SandboxHandle,
    api_error,
    generate_key,
    http,
    make_assertion,
    public_pem,
)


def token_request(sandbox: SandboxHandle, assertion: str) -> tuple[int, dict]:
    reply = http("POST", sandbox.base + "/oauth/token", form={"grant_type": JWT_GRANT, "assertion": assertion})
    return reply.status, reply.json()


class _Raw:
    """Just enough of a response for ApiClient.deserialize."""

    def __init__(self, data: bytes) -> None:
        self.data = data


def test_jwt_grant_returns_a_bearer_token_and_userinfo_names_the_account(sandbox: SandboxHandle) -> None:
    assertion = make_assertion(sandbox.key, iss=INTEGRATION_KEY, sub=sandbox.config.user_id, aud=sandbox.host)
    status, body = token_request(sandbox, assertion)
    assert status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]

    reply = http("GET", sandbox.base + "/oauth/userinfo", headers={"Authorization": "Bearer " + body["access_token"]})
    assert reply.status == 200
    info = ds.ApiClient().deserialize(_Raw(reply.body), "OAuthUserInfo")
    assert info.sub == sandbox.config.user_id
    (account,) = info.accounts
    assert account.account_id == sandbox.account_id
    assert account.base_uri == sandbox.base
    assert account.is_default == "True"  # the SDK's str-typed field: JSON true becomes "True"


def test_signature_by_another_key_is_rejected(sandbox: SandboxHandle) -> None:
    assertion = make_assertion(generate_key(), iss=INTEGRATION_KEY, sub=sandbox.config.user_id, aud=sandbox.host)
    assert token_request(sandbox, assertion)[1] == {
        "error": "invalid_grant",
        "error_description": "no_valid_keys_or_signatures",
        "sandbox_detail": "signature does not match the key",
    }


@pytest.mark.parametrize(
    ("claims", "error", "description"),
    [
        ({"iss": "unknown-integration"}, "invalid_grant", "issuer_not_found"),
        ({"aud": "account-d.docusign.com"}, "invalid_grant", "invalid_audience"),
        ({"iat_shift": -7200}, "invalid_grant", "no_valid_keys_or_signatures"),  # expired assertion
        ({"scope": "impersonation"}, "invalid_scope", None),
        ({"sub": "someone-else"}, "invalid_grant", "user_not_found"),
    ],
)
def test_bad_assertions_get_docusign_errors(
    sandbox: SandboxHandle, claims: dict, error: str, description: str | None
) -> None:
    args = {"iss": INTEGRATION_KEY, "sub": sandbox.config.user_id, "aud": sandbox.host, **claims}
    status, body = token_request(sandbox, make_assertion(sandbox.key, **args))
    assert status == 400
    assert body["error"] == error
    assert body.get("error_description") == description


def test_user_without_consent_gets_consent_required(make_sandbox) -> None:
    other = make_sandbox(consented_users=[])
    assertion = make_assertion(other.key, iss=INTEGRATION_KEY, sub=other.config.user_id, aud=other.host)
    assert token_request(other, assertion) == (400, {"error": "consent_required"})


def test_integration_registered_at_runtime_can_get_tokens(sandbox: SandboxHandle) -> None:
    key = generate_key()
    assertion = make_assertion(key, iss="fresh-key", sub=sandbox.config.user_id, aud=sandbox.host)
    assert token_request(sandbox, assertion)[1]["error_description"] == "issuer_not_found"
    registered = sandbox.control(
        "POST", "/sandbox/integrations", {"integration_key": "fresh-key", "public_key_pem": public_pem(key)}
    )
    assert registered["account_id"] == sandbox.account_id and registered["oauth_audience"] == sandbox.host
    assert token_request(sandbox, assertion)[0] == 200


def test_rest_without_a_valid_token_is_401(sandbox: SandboxHandle) -> None:
    client = ds.ApiClient(host=sandbox.base + "/restapi")
    client.set_default_header("Authorization", "Bearer not-a-token")
    with pytest.raises(ds.ApiException) as caught:
        ds.EnvelopesApi(client).list_status_changes(sandbox.account_id, from_date="2020-01-01")
    assert caught.value.status == 401
    assert api_error(caught.value)["errorCode"] == "AUTHORIZATION_INVALID_TOKEN"
    assert caught.value.trace_token  # X-DocuSign-TraceToken


def test_wrong_account_id_is_refused(sandbox: SandboxHandle) -> None:
    with pytest.raises(ds.ApiException) as caught:
        sandbox.api().list_status_changes("another-account", from_date="2020-01-01")
    assert caught.value.status == 400
    assert api_error(caught.value)["errorCode"] == "USER_LACKS_MEMBERSHIP"
