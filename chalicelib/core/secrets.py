"""What may serve as a secret: an empty or short one would let anyone sign (HMAC with an empty key
is computable by all), so it is refused when stored and ignored, loudly, when read."""

from __future__ import annotations

from typing import Any

from chalicelib.core.observability import count, logger

MIN_SECRET_LENGTH = 16  # our generated secrets are 32+ characters; HubSpot's client secret is a UUID


def secret_problem(value: object) -> str | None:
    """Why a value cannot serve as a secret, or None. An empty or short secret would let anyone sign
    (HMAC with an empty key is computable by all), so it is refused when stored and ignored when read."""
    if not isinstance(value, str):
        return "a secret must be text"
    if len(value.strip()) < MIN_SECRET_LENGTH or value != value.strip():
        return f"a secret must be at least {MIN_SECRET_LENGTH} characters, without surrounding spaces"
    return None


def usable_secrets(values: list[Any], where: str) -> list[str]:
    """The values that can serve as secrets; each one that cannot is logged (ERROR) and counted, never
    used: a broken secret fails closed."""
    usable: list[str] = []
    for value in values:
        problem = secret_problem(value)
        if problem is None:
            usable.append(value)
        else:
            logger.error("stored secret ignored", extra={"where": where, "problem": problem})
            count("SecretsIgnored", where=where)
    return usable
