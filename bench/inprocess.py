"""The app in this process against in-process moto (mock_aws) and the DocuSign sandbox on a thread:
what the in-process benches (intake, memory) invoke the real handlers against. The same
provisioning and seed as the local stack (devstack.stack)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class InProcess:
    sandbox_url: str
    api_key: str
    sources: dict[str, dict[str, Any]]
    tenant_id: str

    @property
    def generic_source(self) -> tuple[str, str]:
        """(source id, webhook secret) of the generic (Standard Webhooks) source."""
        source_id = next(s for s, v in self.sources.items() if v["kind"] == "generic")
        return source_id, self.sources[source_id]["secret"]


def environment() -> None:
    """Fake credentials for moto, the local stage, quiet logs: set before the app is imported."""
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SECURITY_TOKEN": "testing", "AWS_SESSION_TOKEN": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "SIGNBRIDGE_STAGE": "local",
                       "SIGNBRIDGE_RETRY_BASE_SECONDS": "0", "POWERTOOLS_LOG_LEVEL": "WARNING"})


@contextmanager
def local_aws() -> Iterator[InProcess]:
    environment()
    from moto import mock_aws

    from devstack.embedded_aws import make_faithful
    from devstack.sandbox import SandboxConfig, serve_in_thread
    from devstack.stack import TENANT_ID, app_environment, provision, seed

    make_faithful()  # each DynamoDB request atomic, as in AWS and on the local stack
    sandbox_url, stop = serve_in_thread(SandboxConfig())
    try:
        with mock_aws():
            env = app_environment("", sandbox_url, "http://127.0.0.1:9")
            env.pop("AWS_ENDPOINT_URL")
            os.environ.pop("AWS_ENDPOINT_URL", None)
            provision(env)
            api_key, sources = seed(env, sandbox_url)
            yield InProcess(sandbox_url=sandbox_url, api_key=api_key, sources=sources, tenant_id=TENANT_ID)
    finally:
        stop()
