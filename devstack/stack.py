"""The local stack: moto's server (embedded AWS), the DocuSign sandbox, the API (chalice local) and the
SQS dispatcher, each a real process on 127.0.0.1; resources created and a demo tenant seeded; the
facts scripts need written to .devstack/state.json."""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Where a stack keeps its state file and logs; SIGNBRIDGE_STATE_DIR lets a second stack (the load
# test) run beside the one `make run` or the e2e tier owns.
STATE_DIR = Path(os.environ.get("SIGNBRIDGE_STATE_DIR") or ROOT / ".devstack").resolve()
STATE_FILE = STATE_DIR / "state.json"
STAGE = "local"
DISPATCHERS = int(os.environ.get("SIGNBRIDGE_DISPATCHERS", "3"))
REGION = "us-east-1"
TENANT_ID = "demo"
GENERIC_SOURCE_ID = "demo-generic"
MAIL_FROM = "signbridge@signbridge.example"
INTEGRATION_KEY = "sandbox-integration-key"
# The sandbox's own user (a fixed default of its config): the JWT's `sub`.
DOCUSIGN_USER_ID = "0f5e8d2c-7a41-4b6e-8d0c-0000000000u1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    """True when no process listens on the port. SO_REUSEADDR, as the servers themselves bind: the
    TIME-WAIT connections a stack just stopped leaves behind do not make the port busy."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers: up
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up in {timeout:.0f} s")


def http_json(method: str, url: str, body: Any = None, headers: Mapping[str, str] | None = None,
              timeout: float = 30.0) -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        raw, status = err.read(), err.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def venv_bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


@dataclass
class StackState:
    api_url: str
    sandbox_url: str
    aws_endpoint_url: str
    tenant_id: str
    api_key: str
    sources: dict[str, dict[str, Any]]
    env: dict[str, str]
    receiver_url: str | None = None
    pids: dict[str, int] = field(default_factory=dict)
    # The CRM API doubles (devstack/crm_apis): base URL per CRM, the seeded records' ids, the
    # credentials each accepts. Empty in a state file written before they existed.
    crm_apis: dict[str, str] = field(default_factory=dict)
    crm_apis_seed: dict[str, dict[str, Any]] = field(default_factory=dict)
    crm_apis_auth: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "api_url": self.api_url, "sandbox_url": self.sandbox_url, "aws_endpoint_url": self.aws_endpoint_url,
            "tenant_id": self.tenant_id, "api_key": self.api_key, "sources": self.sources,
            "receiver_url": self.receiver_url, "region": REGION, "stage": STAGE,
            "mail_from": MAIL_FROM, "env": self.env, "pids": self.pids,
            "crm_apis": self.crm_apis, "crm_apis_seed": self.crm_apis_seed, "crm_apis_auth": self.crm_apis_auth,
            "state_file": str(STATE_FILE.relative_to(ROOT)) if STATE_FILE.is_relative_to(ROOT) else str(STATE_FILE),
        }

    @classmethod
    def load(cls, path: Path = STATE_FILE) -> StackState:
        data = json.loads(path.read_text())
        return cls(api_url=data["api_url"], sandbox_url=data["sandbox_url"],
                   aws_endpoint_url=data["aws_endpoint_url"], tenant_id=data["tenant_id"],
                   api_key=data["api_key"], sources=data["sources"], env=data["env"],
                   receiver_url=data.get("receiver_url"), pids=data.get("pids", {}),
                   crm_apis=data.get("crm_apis", {}), crm_apis_seed=data.get("crm_apis_seed", {}),
                   crm_apis_auth=data.get("crm_apis_auth", {}))


def app_environment(aws_endpoint: str, sandbox_url: str, api_url: str) -> dict[str, str]:
    """What the app's processes (chalice local, dispatcher, clock) need to find the local stack."""
    return {
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "SIGNBRIDGE_STAGE": STAGE,
        "SIGNBRIDGE_PUBLIC_BASE_URL": api_url,
        "SIGNBRIDGE_MAIL_FROM": MAIL_FROM,
        "SIGNBRIDGE_RETRY_BASE_SECONDS": "1",
        "SIGNBRIDGE_ALLOW_PRIVATE_CALLBACKS": "1",
        # Callback retries locally take seconds instead of days.
        "SIGNBRIDGE_CALLBACK_DELAY_SCALE": "0.01",
        "DOCUSIGN_OAUTH_BASE": sandbox_url,
        "DOCUSIGN_INTEGRATION_KEY": INTEGRATION_KEY,
        "DOCUSIGN_USER_ID": DOCUSIGN_USER_ID,
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        "PYTHONUNBUFFERED": "1",
    }


def use_environment(env: Mapping[str, str]) -> None:
    """Points this process's boto3/PynamoDB at the stack (for the clock, the dispatcher, tests)."""
    os.environ.update(env)
    from chalicelib.core.aws import reset_clients
    from chalicelib.core.config import reset_settings
    from chalicelib.esign.auth import forget_session
    from chalicelib.store.models import bind_tables
    from chalicelib.store.registry import clear_cache

    reset_settings()
    reset_clients()
    clear_cache()
    forget_session()
    bind_tables()


def generate_rsa_key() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def create_token_cache_key() -> str | None:
    """The KMS key (symmetric) and the alias `settings().token_cache_kms_key` names, as
    infra/resources.json declares them; nothing when the setting is empty (no shared token cache)."""
    from chalicelib.core.aws import client
    from chalicelib.core.config import settings

    alias = settings().token_cache_kms_key
    if not alias:
        return None
    kms = client("kms")
    key_id = str(kms.create_key(Description="signbridge: the cached DocuSign access token",
                                KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"])
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    return key_id


def provision(env: Mapping[str, str]) -> None:
    """Creates what the app expects to exist: tables, queues (with a dead-letter queue), the archive
    bucket (versioned), the SES sender identity, the token cache's KMS key."""
    use_environment(env)
    from chalicelib.core.aws import client
    from chalicelib.core.config import settings
    from chalicelib.store.models import create_tables

    create_tables()
    sqs = client("sqs")
    cfg = settings()
    dlq_url = sqs.create_queue(QueueName=cfg.jobs_queue_name + "-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.create_queue(QueueName=cfg.jobs_queue_name, Attributes={
        "VisibilityTimeout": "30",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
    })
    s3 = client("s3")
    s3.create_bucket(Bucket=cfg.archive_bucket)
    s3.put_bucket_versioning(Bucket=cfg.archive_bucket, VersioningConfiguration={"Status": "Enabled"})
    client("ses").verify_domain_identity(Domain=MAIL_FROM.split("@", 1)[1])
    create_token_cache_key()


def seed(env: Mapping[str, str], sandbox_url: str, receiver_url: str | None = None,
         crm_apis: Mapping[str, str] | None = None) -> tuple[str, dict[str, dict[str, Any]]]:
    """The demo tenant, its API key, its sources and every secret; the sandbox learns the keys."""
    use_environment(env)
    from chalicelib.core.aws import client
    from chalicelib.core.config import settings
    from chalicelib.core.link_keys import dump_ring, new_ring
    from chalicelib.store.registry import Source, put_api_key, put_source, put_tenant

    cfg = settings()
    sm = client("secretsmanager")
    private_pem, public_pem = generate_rsa_key()
    connect_key = base64.b64encode(secrets.token_bytes(32)).decode()
    for name, value in (
        (cfg.docusign_private_key_secret, private_pem),
        (cfg.docusign_connect_keys_secret, json.dumps({"keys": [connect_key]})),
        (cfg.signing_link_secret, dump_ring(new_ring())),
    ):
        sm.create_secret(Name=name, SecretString=value)
    status, _ = http_json("POST", f"{sandbox_url}/sandbox/integrations",
                          {"integration_key": INTEGRATION_KEY, "public_key_pem": public_pem})
    if status >= 300:
        raise RuntimeError(f"sandbox refused the integration key: HTTP {status}")
    status, _ = http_json("POST", f"{sandbox_url}/sandbox/connect-keys", {"keys": [connect_key]})
    if status >= 300:
        raise RuntimeError(f"sandbox refused the Connect keys: HTTP {status}")

    put_tenant(TENANT_ID, "Demo Co.", {"time_zone": "Asia/Shanghai"})
    api_key = "sbk_" + secrets.token_urlsafe(24)
    put_api_key(TENANT_ID, api_key, "local stack")
    sources: dict[str, dict[str, Any]] = {}
    webhook_secret = new_webhook_secret()
    secret_id = f"signbridge/{STAGE}/sources/{GENERIC_SOURCE_ID}"
    sm.create_secret(Name=secret_id, SecretString=json.dumps({"secrets": [webhook_secret]}))
    # The demo CRM's callback endpoint: the local receiver (contracts without a callback_url use it).
    options = {"callback_url": f"{receiver_url}/hooks/crm"} if receiver_url else {}
    put_source(Source(source_id=GENERIC_SOURCE_ID, tenant_id=TENANT_ID, kind="generic", secret_id=secret_id,
                      options=options))
    sources[GENERIC_SOURCE_ID] = {"kind": "generic", "secret": webhook_secret}
    # One source per CRM kind (demo-hubspot, demo-salesforce, ...), after the generic one.
    from devstack.crm_samples import seed_crm_sources

    sources.update(seed_crm_sources(TENANT_ID, cfg.public_base_url))
    if crm_apis:  # each CRM source reads from and writes back to its API double
        from devstack.crm_samples import connect_crm_apis

        connect_crm_apis(dict(crm_apis))
    return api_key, sources


class Stack:
    """Starts every process of the local stack; `stop()` ends them all (process groups)."""

    def __init__(self, api_port: int | None = None, quiet: bool = True) -> None:
        self.api_port = api_port or int(os.environ.get("SIGNBRIDGE_PORT", "8000"))
        self.quiet = quiet
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.state: StackState | None = None
        STATE_DIR.mkdir(parents=True, exist_ok=True)

    def _spawn(self, name: str, args: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(STATE_DIR / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start(self) -> StackState:
        if not port_is_free(self.api_port):
            raise RuntimeError(f"port {self.api_port} is busy: is a stack already running? "
                               f"(set SIGNBRIDGE_PORT to use another)")
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackState:
        moto_port, sandbox_port, receiver_port = free_port(), free_port(), free_port()
        aws = f"http://127.0.0.1:{moto_port}"
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        api_url = f"http://127.0.0.1:{self.api_port}"
        receiver_url = f"http://127.0.0.1:{receiver_port}"
        # moto's server, each DynamoDB request atomic as in AWS (devstack/embedded_aws.py).
        moto = self._spawn("moto", [sys.executable, "-m", "devstack.embedded_aws", "-H", "127.0.0.1",
                                    "-p", str(moto_port)])
        sandbox = self._spawn("sandbox", [sys.executable, "-m", "devstack.sandbox", "--host", "127.0.0.1",
                                          "--port", str(sandbox_port)])
        receiver = self._spawn("receiver", [sys.executable, "-m", "devstack.receiver", "--host", "127.0.0.1",
                                            "--port", str(receiver_port), "--state-file", str(STATE_FILE)])
        # The CRM API doubles: one process, each CRM on its own port (devstack/crm_apis/README.md).
        from devstack.crm_apis import CREDENTIALS, CRMS, SEED_IDS

        crm_ports = {crm: free_port() for crm in CRMS}
        crm_apis = {crm: f"http://127.0.0.1:{port}" for crm, port in crm_ports.items()}
        crm_proc = self._spawn("crm_apis", [sys.executable, "-m", "devstack.crm_apis", "--host", "127.0.0.1",
                                            "--quiet", *(f"--{crm}-port={port}" for crm, port in crm_ports.items())])
        wait_http(f"{aws}/moto-api/", proc=moto)
        wait_http(f"{sandbox_url}/sandbox/connect-log", proc=sandbox)
        env = app_environment(aws, sandbox_url, api_url)
        provision(env)
        api_key, sources = seed(env, sandbox_url, receiver_url, crm_apis)
        wait_http(f"{receiver_url}/health", proc=receiver)
        for url in crm_apis.values():
            wait_http(f"{url}/_requests", proc=crm_proc)
        # chalice local, one request at a time through the app as in a Lambda container (devstack/api_server.py).
        api = self._spawn("api", [sys.executable, "-m", "devstack.api_server", "--host", "127.0.0.1", "--port",
                                  str(self.api_port), "--stage", STAGE, "--no-autoreload"], env)
        # Several pollers, as Lambda runs several containers for one queue: a slow job (DocuSign
        # answering slowly) does not hold up the others.
        dispatchers = [self._spawn("dispatcher" if n == 0 else f"dispatcher-{n + 1}",
                                   [sys.executable, "-m", "devstack", "dispatcher"], env)
                       for n in range(DISPATCHERS)]
        wait_http(f"{api_url}/health", timeout=60, proc=api)
        if any(d.poll() is not None for d in dispatchers):
            raise RuntimeError("a dispatcher exited at start; see .devstack/dispatcher*.log")
        self.state = StackState(
            api_url=api_url, sandbox_url=sandbox_url, aws_endpoint_url=aws, tenant_id=TENANT_ID,
            api_key=api_key, sources=sources, env=env, receiver_url=receiver_url,
            pids={n: p.pid for n, p in self.procs.items()},
            crm_apis=crm_apis, crm_apis_seed=SEED_IDS, crm_apis_auth=CREDENTIALS,
        )
        STATE_FILE.write_text(json.dumps(self.state.to_json(), indent=2, ensure_ascii=False) + "\n")
        return self.state

    def check_alive(self) -> str | None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return f"{name} exited with {proc.returncode} (see .devstack/{name}.log)"
        return None

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> StackState:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
