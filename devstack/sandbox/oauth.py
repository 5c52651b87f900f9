"""JWT grant checks, answering with the error bodies DocuSign's account server uses."""

from __future__ import annotations

from typing import Any

import jwt

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class OAuthError(Exception):
    def __init__(self, error: str, description: str | None = None, detail: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.detail = detail

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        if self.detail:
            # Not in DocuSign's reply: says which check failed, since their codes are terse.
            body["sandbox_detail"] = self.detail
        return body


def verify_assertion(
    assertion: str,
    integrations: dict[str, str],
    audience: str,
    known_users: set[str],
    consented_users: list[str] | None,
) -> dict[str, Any]:
    """Return the verified claims of a JWT grant assertion or raise OAuthError."""
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_request", None, f"assertion is not a JWT: {exc}") from exc
    if header.get("alg") != "RS256":
        raise OAuthError("invalid_grant", "no_valid_keys_or_signatures", "alg must be RS256")
    issuer = unverified.get("iss")
    public_key = integrations.get(str(issuer))
    if public_key is None:
        raise OAuthError("invalid_grant", "issuer_not_found", f"integration key {issuer!r} is not registered")
    try:
        claims = jwt.decode(
            assertion,
            public_key,
            algorithms=["RS256"],
            audience=audience,
            options={"require": ["iss", "aud", "iat", "exp"]},
            leeway=30,
        )
    except jwt.InvalidSignatureError as exc:
        raise OAuthError("invalid_grant", "no_valid_keys_or_signatures", "signature does not match the key") from exc
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError) as exc:
        # DocuSign reports clock skew with the same code as a bad key.
        raise OAuthError("invalid_grant", "no_valid_keys_or_signatures", f"time claims: {exc}") from exc
    except jwt.InvalidAudienceError as exc:
        raise OAuthError("invalid_grant", "invalid_audience", f"aud must be {audience!r}") from exc
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_request", None, str(exc)) from exc
    if "signature" not in str(claims.get("scope") or "").split():
        raise OAuthError("invalid_scope", None, "scope must include 'signature'")
    subject = str(claims.get("sub") or "")
    if not subject:
        raise OAuthError("invalid_request", None, "sub (the user id) is missing")
    if subject not in known_users:
        raise OAuthError("invalid_grant", "user_not_found", f"user {subject!r} is not in this sandbox")
    if consented_users is not None and subject not in consented_users:
        raise OAuthError("consent_required")
    return claims
