"""One structured logger and the app's metrics (aws-lambda-powertools: JSON logs, CloudWatch EMF).

`count()` writes one EMF line at once (no flush to forget in a handler): CloudWatch turns it into the
metric the alarms and the dashboard in infra/ read.
"""

from __future__ import annotations

import re

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger(service="signbridge")
NAMESPACE = "signbridge"


def count(name: str, value: float = 1, **dimensions: str) -> None:
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as metric:
        for key, dim in dimensions.items():
            metric.add_dimension(name=key, value=str(dim))


# Paths that carry a bearer secret: a signing-link token opens a signer's signing view.
_SECRET_PATHS = re.compile(r"(/sign/)[^/?#\s\"]+")


def redact_path(text: str) -> str:
    """A request line or URL fit for a log: signing-link tokens replaced by `[redacted]`."""
    return _SECRET_PATHS.sub(r"\1[redacted]", text)
