"""Errors a caller can cause, each with its HTTP status and the public error shape of DESIGN.md."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class ApiError(Exception):
    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, details: Sequence[dict[str, Any]] = (), *, status: int | None = None,
                 code: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})  # extra response headers, e.g. Retry-After on a 409 that will pass
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class MalformedBody(ApiError):
    status, code = 400, "malformed_body"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"


class ValidationFailed(ApiError):
    status, code = 422, "validation_error"


class RetryableError(Exception):
    """Ours or a provider's: the job is retried through SQS, then dead-lettered."""


def quoted(value: object, limit: int = 64) -> str:
    """A caller's value as an error message may quote it: repr'd, and cut short (an id in a path
    can be thousands of characters)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
