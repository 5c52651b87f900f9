"""Test environment, set before anything imports the app: fake AWS credentials for moto, the local
stage, and no endpoint override (moto intercepts botocore in-process)."""

from __future__ import annotations

import os

os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "SIGNBRIDGE_STAGE": "local",
    "SIGNBRIDGE_RETRY_BASE_SECONDS": "0",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
})

# The in-process stack (sandbox, app server, moto) shared by the integration and browser tiers.
pytest_plugins = ["tests.support.fixtures"]
