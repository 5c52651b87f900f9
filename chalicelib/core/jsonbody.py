"""Parsing a JSON request body with bounds, so that no body can make the parser itself fail: the
standard library recurses once per nesting level (a body of 3,000 `[` raises RecursionError) and
refuses integers over 4,300 digits with a ValueError deep inside. Every public route and the
Connect listener parse through here; what is refused is a 400 that says why."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.core.errors import MalformedBody

MAX_DEPTH = 64  # a CRM record or a Connect message is a few levels deep
MAX_NUMBER_DIGITS = 64  # money and ids are far shorter; anything longer is not a number we use


def _depth_exceeds(text: str, limit: int) -> bool:
    """True when arrays/objects nest deeper than `limit` (brackets inside strings don't count)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _number(text: str) -> Any:
    if len(text) > MAX_NUMBER_DIGITS:
        raise MalformedBody(f"a number in the body has {len(text)} characters; at most {MAX_NUMBER_DIGITS}")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise MalformedBody(f"a number in the body has {len(text)} characters; at most {MAX_NUMBER_DIGITS}")
    return float(text)


def _no_constant(name: str) -> Any:
    raise MalformedBody(f"{name} is not JSON")


def parse_json(raw: bytes | str, *, what: str = "the body") -> Any:
    """The parsed value; MalformedBody (400) for bytes that are not UTF-8 JSON within the bounds."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as err:
        raise MalformedBody(f"{what} is not UTF-8") from err
    if _depth_exceeds(text, MAX_DEPTH):
        raise MalformedBody(f"{what} nests arrays or objects deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_int=_number, parse_float=_float, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise MalformedBody(f"{what} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from err
    except (ValueError, RecursionError) as err:
        raise MalformedBody(f"{what} is not valid JSON: {err}") from err
