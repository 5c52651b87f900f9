"""A container's life: what its init checks (`at_init`, from app.py's import) and what a Lambda
restored from a SnapStart snapshot must forget.

At init, a deployed stage missing a required setting says so at once, in one ERROR line naming each
(chalicelib.core.config.configuration_problems; the requests and jobs then refuse to work).

A snapshot freezes the container after init: every restored copy would share the secrets, tokens and
open connections cached before it (a rotated secret read on, a DocuSign token reused past its life,
a TCP connection the network dropped long ago), and the same `random` state. Each module that keeps
such a cache registers the function that clears it with `forget_after_restore`, at import;
`after_restore()` calls them all. app.py hands `after_restore` to the runtime's `snapshot_restore_py`
(present only in Lambda's managed Python runtimes from 3.12, the ones with SnapStart); elsewhere
registering does nothing. Forgetting is in memory only: the runtime gives a restore hook 10 seconds.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

from chalicelib.core.config import configuration_problems
from chalicelib.core.observability import logger

try:  # Lambda's managed runtimes ship it; nowhere else has it (and nothing else needs it)
    from snapshot_restore_py import register_after_restore as _runtime_register  # type: ignore[import-not-found]
except ImportError:
    _runtime_register = None

_forgetters: list[Callable[[], Any]] = []


def forget_after_restore[Forget: Callable[[], Any]](forget: Forget) -> Forget:
    """Registers a no-argument function that drops a per-container cache (usable as a decorator)."""
    if forget not in _forgetters:
        _forgetters.append(forget)
    return forget


def forgetters() -> list[str]:
    """The registered functions, by qualified name (what a restore will clear)."""
    return [f"{f.__module__}.{f.__qualname__}" for f in _forgetters]


def after_restore() -> list[str]:
    """Runs every registered forgetter (one that fails is logged; the others still run) and re-seeds
    `random` (jitter and backoff would otherwise repeat in every copy). Returns what it ran."""
    random.seed()
    ran = []
    for forget in list(_forgetters):
        name = f"{forget.__module__}.{forget.__qualname__}"
        try:
            forget()
        except Exception:  # noqa: BLE001 - the next cache must still be dropped
            logger.exception("a cache could not be dropped after the snapshot restore", extra={"forgetter": name})
            continue
        ran.append(name)
    logger.info("caches dropped after the snapshot restore", extra={"forgetters": ran})
    return ran


def register_with_runtime(register: Callable[[Callable[[], Any]], Any] | None = None) -> bool:
    """Hands `after_restore` to SnapStart's runtime hooks; False where there are none (locally)."""
    register = register or _runtime_register
    if register is None:
        return False
    register(after_restore)
    return True


def at_init() -> dict[str, str]:
    """app.py's import (every cold start): the SnapStart hook registered, and in a deployed stage an
    ERROR naming each required setting that is missing or a placeholder (returned too)."""
    register_with_runtime()
    if os.environ.get("AWS_CHALICE_CLI_MODE"):  # `chalice package` imports app.py: no runtime settings there
        return {}
    problems = configuration_problems()
    if problems:
        logger.error("required settings missing or placeholders: this stage refuses requests and jobs until "
                     "they are set", extra={"missing": sorted(problems), "problems": problems})
    return problems
