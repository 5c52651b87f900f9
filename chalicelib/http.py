"""Shaping HTTP responses: every route answers JSON in the public error shape, never a traceback."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.errors import ApiError
from chalicelib.observability import count, logger

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False, default=str),
        status_code=status,
        headers={**JSON_HEADERS, **(headers or {})},
    )


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status)


def api_route(view: Callable[..., Response | dict[str, Any]]) -> Callable[..., Response]:
    """Wraps a Chalice view: ApiError → its 4xx; anything else → logged 500 without internals."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            result = view(*args, **kwargs)
        except ApiError as err:
            logger.info("request refused", extra={"status": err.status, "code": err.code, "reason": err.message})
            return error_response(err)
        except Exception:
            logger.exception("unhandled error in %s", view.__name__)
            count("ApiErrors", route=view.__name__)
            return json_response(
                {"error": {"code": "internal_error", "message": "internal error; it has been logged"}}, 500
            )
        return result if isinstance(result, Response) else json_response(result)

    return wrapper


def header(headers: Any, name: str) -> str | None:
    """Case-insensitive header lookup (API Gateway may lowercase names)."""
    wanted = name.lower()
    for key, value in dict(headers or {}).items():
        if key.lower() == wanted:
            return value
    return None
