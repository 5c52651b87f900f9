"""Shaping HTTP responses: every route answers JSON in the public error shape, never a traceback."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from chalice import Response

from chalicelib.core.config import configuration_problems
from chalicelib.core.errors import ApiError, RetryableError
from chalicelib.core.observability import count, log_context, logger
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


# Path parameters that name what a request is about, appended to its log lines. Never a signing-link
# token or a signed-document link id: those are bearer capabilities.
LOGGED_PATH_PARAMS = ("contract_id", "source_id", "milestone_id")
NOT_CONFIGURED_RETRY_AFTER_SECONDS = 300


def api_route(view: Callable[..., Response | dict[str, Any]]) -> Callable[..., Response]:
    """Wraps a Chalice view: ApiError → its 4xx; anything else → logged 500 without internals. In a
    deployed stage with a required setting missing, every route answers 503 `not_configured` before
    its view runs (no loopback Connect URL or localhost signing link ever leaves)."""
    return _wrap(view, check_configuration=True)


def health_route(view: Callable[..., Response | dict[str, Any]]) -> Callable[..., Response]:
    """api_route for GET /health, which must answer (and say what is missing) however configured."""
    return _wrap(view, check_configuration=False)


def _wrap(view: Callable[..., Response | dict[str, Any]], *, check_configuration: bool) -> Callable[..., Response]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        with log_context(route=view.__name__, **{k: kwargs[k] for k in LOGGED_PATH_PARAMS if k in kwargs}):
            if check_configuration:
                missing = configuration_problems()
                if missing:
                    return _not_configured(view.__name__, missing)
            return _answer(view, args, kwargs)

    return wrapper


def _answer(view: Callable[..., Response | dict[str, Any]], args: Any, kwargs: Any) -> Response:
    """The view's outcome, shaped."""
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


def _internal_error(route: str) -> Response:
    logger.exception("unhandled error in %s", route)
    # A bug of ours: the one API metric to alarm on (deliberate 503s are RequestsDeferred and
    # RequestsRefusedNotConfigured). No dimension, so one alarm watches every route; the route rides along.
    count("ApiInternalErrors", metadata={"route": route})
    return json_response({"error": {"code": "internal_error", "message": "internal error; it has been logged"}}, 500)


def _not_configured(route: str, missing: Mapping[str, str]) -> Response:
    # Names only: what is missing is for the operators (the ERROR at init, GET /health), never values.
    logger.error("request refused: required settings missing", extra={"missing": sorted(missing)})
    count("RequestsRefusedNotConfigured", metadata={"route": route})
    seconds = NOT_CONFIGURED_RETRY_AFTER_SECONDS
    message = "this deployment is missing required settings and refuses work until they are set; repeat later"
    return json_response({"error": {"code": "not_configured", "message": message}}, 503,
                         {"Retry-After": str(seconds)})


def health_response() -> Response:
    """GET /health: 200 when the stage is fully configured; else 503 in the public error shape, each
    required setting that is missing or a placeholder named in `details` (its name and why, never its
    value)."""
    missing = configuration_problems()
    if missing:
        names = sorted(missing)
        details = [{"path": name, "message": missing[name]} for name in names]
        message = f"required settings missing or placeholders: {', '.join(names)}"
        return json_response({"error": {"code": "not_configured", "message": message, "details": details}}, 503)
    return json_response({"status": "ok"})


def correlation_ids(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """An `http` middleware: API Gateway's request id and Lambda's on every log line of the request
    (the view adds its route and path parameters), gone when it is answered."""
    context = getattr(request, "context", None) or {}
    lambda_context = getattr(request, "lambda_context", None)
    with log_context(request_id=context.get("requestId"),
                     function_request_id=getattr(lambda_context, "aws_request_id", None)):
        return get_response(request)


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
