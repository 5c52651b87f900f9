"""One structured logger and the app's metrics (aws-lambda-powertools: JSON logs, CloudWatch EMF).

Metrics: `count()` writes one EMF line at once (no flush to forget in a handler): CloudWatch turns it
into the metric the alarms and the dashboard in infra/ read. Every metric of a stage is in the
namespace `signbridge/<stage>` (dev and prod in one account never mix), with exactly the dimensions
its call site names (Powertools' automatic `service` dimension is left out, so a metric has the same
dimensions locally and in Lambda, and an alarm can name them all). Metric names are string literals
at the `count(...)` call sites: the infra's alarm test reads them from the code.

Correlation: `log_context(...)` appends keys (request id, job kind, contract id, ...) to every log
line for the duration of a request or job and restores what was there afterwards; `add_log_keys`
adds one learnt on the way (the envelope a Connect message names) to the innermost such context.
Keys live in a context variable, so threads serving requests side by side never see each other's.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.base import SingleMetric

logger = Logger(service="signbridge")
NAMESPACE = "signbridge"  # the prefix: a stage's metrics are in f"{NAMESPACE}/{stage}"


def metric_namespace() -> str:
    # The environment's stage, as the table and queue names have it (not settings(): counting must
    # not cache a stage's settings, e.g. while the test client runs a call with another stage's).
    return f"{NAMESPACE}/{os.environ.get('SIGNBRIDGE_STAGE', 'dev')}"


def count(name: str, value: float = 1, metadata: Mapping[str, Any] | None = None, **dimensions: str) -> None:
    """One EMF line: `name` in the stage's namespace with these dimensions; `metadata` rides along in
    the log line (searchable, never a dimension: a route or a reason, without multiplying metrics)."""
    metric = SingleMetric(namespace=metric_namespace(), service="")  # "": no automatic service dimension
    metric.add_metric(name=name, unit=MetricUnit.Count, value=value)
    for key, dim in dimensions.items():
        metric.add_dimension(name=key, value=str(dim))
    for key, item in (metadata or {}).items():
        metric.add_metadata(key=key, value=item)
    print(json.dumps(metric.serialize_metric_set(), separators=(",", ":")))


# --- correlation keys ------------------------------------------------------------------------------

# How deep in log_context() this context is: add_log_keys() outside of one would leak into whatever
# the warm Lambda does next, so it is ignored there.
_depth: ContextVar[int] = ContextVar("signbridge_log_context_depth", default=0)


def _present(keys: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in keys.items() if v is not None and v != ""}


@contextmanager
def log_context(**keys: object) -> Iterator[None]:
    """Every log line inside carries these keys (None and "" are left out); on the way out the keys
    are as they were before, whatever was added inside."""
    saved = dict(logger.thread_safe_get_current_keys())
    token = _depth.set(_depth.get() + 1)
    logger.thread_safe_append_keys(**_present(keys))
    try:
        yield
    finally:
        logger.thread_safe_clear_keys()
        if saved:
            logger.thread_safe_append_keys(**saved)
        _depth.reset(token)


def add_log_keys(**keys: object) -> None:
    """Adds keys to the current log_context (they leave with it); nothing outside of one."""
    if _depth.get() > 0:
        logger.thread_safe_append_keys(**_present(keys))


def current_log_keys() -> dict[str, Any]:
    return dict(logger.thread_safe_get_current_keys())


# Paths that carry a bearer secret: a signing-link token opens a signer's signing view, an approval
# link's token approves or rejects a contract, a contract-page link's shows one (and may record a payment).
_SECRET_PATHS = re.compile(r"(/sign/|/approval/|/c/)[^/?#\s\"]+")


def redact_path(text: str) -> str:
    """A request line or URL fit for a log: signing-link, approval-link and contract-page tokens replaced
    by `[redacted]`."""
    return _SECRET_PATHS.sub(r"\1[redacted]", text)
