"""Shaping HTTP responses: every route answers JSON in the public error shape, never a traceback."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from chalice import Response

from chalicelib.core.errors import ApiError, RetryableError
from chalicelib.core.observability import count, logger
from chalicelib.store.contention import RETRY_AFTER_SECONDS, StoreError

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def json_response(body: Any, status: int = 200, headers: Mapping[str, str | list[str]] | None = None) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False, default=str),
        status_code=status,
        headers={**JSON_HEADERS, **(headers or {})},
    )


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status, error.headers)


def api_route(view: Callable[..., Response | dict[str, Any]]) -> Callable[..., Response]:
    """Wraps a Chalice view: ApiError → its 4xx; anything else → logged 500 without internals."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            result = view(*args, **kwargs)
        except ApiError as err:
            # Logged by code and paths: a message may quote what was sent (a date, an id), and what a
            # caller sent is theirs to see, not our logs' to keep.
            logger.info("request refused", extra={"status": err.status, "code": err.code,
                                                  "paths": [str(d.get("path")) for d in err.details][:20]})
            return error_response(err)
        except RetryableError as err:
            # Ours or a provider's, and passing (the store busy, DocuSign down): the caller's retry
            # will succeed, so say when instead of failing. CRMs and DocuSign retry on 503.
            return _retry_later(view.__name__, err)
        except StoreError as err:
            if not err.transient:
                return _internal_error(view.__name__)
            return _retry_later(view.__name__, err)
        except Exception:
            return _internal_error(view.__name__)
        return result if isinstance(result, Response) else json_response(result)

    return wrapper


def _internal_error(route: str) -> Response:
    logger.exception("unhandled error in %s", route)
    count("ApiErrors", route=route)
    return json_response({"error": {"code": "internal_error", "message": "internal error; it has been logged"}}, 500)


def _retry_later(route: str, err: Exception) -> Response:
    seconds = int(getattr(err, "retry_after_seconds", RETRY_AFTER_SECONDS))
    logger.warning("request deferred", extra={"route": route, "reason": str(err)[:300], "retry_after_s": seconds})
    count("RequestsDeferred", route=route)
    message = f"temporarily busy; repeat the same request in {seconds} s (it is safe to repeat)"
    return json_response({"error": {"code": "retry_later", "message": message}}, 503, {"Retry-After": str(seconds)})


# Chalice answers some requests itself, before any view runs (415 for a content type the route does
# not take, 405 for a method it does not have), in its own {"Code", "Message"} body and without a
# Content-Type. The public API has one error shape: this middleware gives them that shape.
_CHALICE_CODES = {"UnsupportedMediaType": "unsupported_media_type", "MethodNotAllowedError": "method_not_allowed"}


def public_error_shape(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """Chalice's own error responses in the public error shape (an `http` middleware)."""
    response = get_response(request)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and set(body) == {"Code", "Message"}:
        code = _CHALICE_CODES.get(str(body["Code"]), "bad_request" if response.status_code < 500 else "internal_error")
        headers = {k: v for k, v in (response.headers or {}).items() if k.lower() != "content-type"}
        return json_response({"error": {"code": code, "message": str(body["Message"])}}, response.status_code,
                             headers)
    return response


def header(headers: Any, name: str) -> str | None:
    """Case-insensitive header lookup (API Gateway may lowercase names)."""
    wanted = name.lower()
    for key, value in dict(headers or {}).items():
        if key.lower() == wanted:
            return str(value)
    return None
