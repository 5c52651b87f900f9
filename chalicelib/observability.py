"""One structured logger and the metrics for the whole app (aws-lambda-powertools: JSON logs, EMF)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="signbridge")
metrics = Metrics(namespace="signbridge", service="signbridge")
