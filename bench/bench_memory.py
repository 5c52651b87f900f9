"""Memory: the peak RSS of each Lambda function after representative invocations, and the memory
size recommended from it.

    .venv/bin/python -m bench.bench_memory            # prints the table
    .venv/bin/python -m bench.bench_memory --write    # and updates its section of BENCHMARKS.md

Each function's invocations run in a fresh interpreter that holds nothing but the app (as a Lambda
container does): AWS is the embedded moto server and DocuSign the sandbox, both other processes, so
neither counts in the figure. The child imports `app` (the import-only peak RSS), then calls
the function's real handler with the events Lambda would pass (an API Gateway proxy event, an SQS
record, a scheduled event), INVOCATIONS times, and reports its peak RSS again (the absolute peak). In
order, each step feeding the next: webhooks (api_handler), their send jobs (process_job), the Connect
messages of the signed envelopes (api_handler), the archive jobs those enqueue (process_job), the
hourly reminders run at the first planned reminder's hour (hourly_reminders), the daily reconcile
(daily_reconcile), SES's bounce reports through SNS (ses_feedback).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.report import ROOT, write_section

COMMAND = ".venv/bin/python -m bench.bench_memory"
INVOCATIONS = 5
HEADROOM = 1.5  # memory size ≥ peak × this: room for bigger contracts and documents, fragmentation
STEPS = (128, 256, 384, 512, 640, 768, 1024, 1536, 1769, 2048)  # MB; 1,769 MB is one full vCPU
# Phase -> (function, what it invokes).
PHASES: dict[str, tuple[str, str]] = {
    "webhook": ("api_handler", "POST /v1/webhooks/{source_id}: a new contract"),
    "send": ("process_job", "a send job: render, S3, DocuSign create"),
    "connect": ("api_handler", "POST /v1/esign/docusign/connect: the envelope's messages up to completed"),
    "archive": ("process_job", "the jobs Connect queued: archive (DocuSign's PDF to S3, reminders planned)"),
    "hourly": ("hourly_reminders", "the hourly run at the first planned reminder's hour"),
    "reconcile": ("daily_reconcile", "the daily reconcile (DocuSign's status changes since the checkpoint)"),
    "ses_feedback": ("ses_feedback", "SES's permanent bounce of a signer's address, through SNS"),
}


@dataclass
class PhaseResult:
    phase: str
    function: str
    invocations: int
    import_mb: float
    peak_mb: float
    cpu_ms: float  # CPU time (user + system) per invocation, after the import


# --- the child: one function's invocations in a process holding only the app ---------------------


def _maxrss_mb() -> float:
    """This process's peak RSS, MB: VmHWM, the high-water mark of its own memory since exec. Not
    ru_maxrss: Linux carries the parent's peak over into a spawned child's (the fork's image before
    exec), so a child started by a big parent would report the parent."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _api_event(method: str, resource: str, path: str, path_parameters: dict[str, str], headers: dict[str, str],
               body: bytes, query: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway REST proxy event, as Lambda hands it to Chalice."""
    return {
        "resource": resource, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": path_parameters or None, "stageVariables": None,
        "requestContext": {"resourcePath": resource, "httpMethod": method, "path": f"/api{path}", "stage": "api",
                           "requestId": str(uuid.uuid4()), "identity": {"sourceIp": "127.0.0.1"}},
        "body": body.decode("utf-8"), "isBase64Encoded": False,
    }


def _child(phase: str, spec: dict[str, Any]) -> dict[str, Any]:
    import app
    from devstack.lambda_runtime import FakeLambdaContext, scheduled_event, sqs_event

    import_mb, cpu_before = _maxrss_mb(), _cpu_seconds()
    function = PHASES[phase][0]
    context = FakeLambdaContext(function)
    invoked = 0
    if phase == "webhook":
        from devstack.webhook import signed_headers
        from reliability.load import contract_body

        source_id, secret = spec["source_id"], spec["secret"]
        for n in range(spec["count"]):
            raw = contract_body("memory", n)
            headers = {"Content-Type": "application/json", **signed_headers(secret, raw, f"msg_memory_{n}")}
            answer = app.app(_api_event("POST", "/v1/webhooks/{source_id}", f"/v1/webhooks/{source_id}",
                                        {"source_id": source_id}, headers, raw), context)
            assert answer["statusCode"] == 202, answer
            invoked += 1
    elif phase in ("send", "archive"):
        from chalicelib.core.aws import client, queue_url
        from chalicelib.core.config import settings

        sqs, url = client("sqs"), queue_url(settings().jobs_queue_name)
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0,
                                           AttributeNames=["All"]).get("Messages", [])
            if not messages:
                break
            app.process_job(sqs_event("arn:aws:sqs:us-east-1:123456789012:signbridge-local-jobs", messages), context)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
            invoked += 1
    elif phase == "connect":
        for message in spec["messages"]:
            answer = app.app(_api_event("POST", "/v1/esign/docusign/connect", "/v1/esign/docusign/connect", {},
                                        message["headers"], message["body"].encode("utf-8"), message["query"]),
                             context)
            assert answer["statusCode"] < 300, answer
            invoked += 1
    elif phase == "hourly":
        app.hourly_reminders(scheduled_event(spec["time"], "hourly_reminders"), context)
        invoked += 1
    elif phase == "reconcile":
        app.daily_reconcile(scheduled_event(spec["time"], "daily_reconcile"), context)
        invoked += 1
    elif phase == "ses_feedback":
        from tests.support.ses import record, sns_event

        tags = {"tenant_id": spec["tenant_id"], "contract_id": spec["contract_id"], "email_kind": "reminder"}
        for n in range(spec["count"]):
            app.ses_feedback(sns_event(record("bounce", to=f"signer{n}@load.example", tags=tags)), context)
            invoked += 1
    return {"phase": phase, "function": function, "invocations": invoked, "import_mb": import_mb,
            "peak_mb": _maxrss_mb(), "cpu_ms": (_cpu_seconds() - cpu_before) * 1000 / max(invoked, 1)}


# --- the parent: the backends, the steps in order, the report ---------------------------------------


class _ConnectCapture(BaseHTTPRequestHandler):
    """Stands where the app's Connect URL points: keeps what the sandbox delivers for the child."""

    messages: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        from urllib.parse import parse_qsl, urlsplit

        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        parts = urlsplit(self.path)
        self.messages.append({"headers": dict(self.headers.items()), "body": body.decode("utf-8"),
                              "query": dict(parse_qsl(parts.query))})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _run_child(phase: str, spec: dict[str, Any], env: dict[str, str]) -> PhaseResult:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "bench.bench_memory", "--child", phase, "--spec", json.dumps(spec)],
                         cwd=ROOT, env={**os.environ, **env, "POWERTOOLS_LOG_LEVEL": "ERROR"},
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"{phase}: the child failed:\n{out.stderr[-3000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"# {phase}: {data['invocations']} invocations in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return PhaseResult(phase=data["phase"], function=data["function"], invocations=data["invocations"],
                       import_mb=data["import_mb"], peak_mb=data["peak_mb"], cpu_ms=data["cpu_ms"])


def _first_reminder_hour() -> str:
    from chalicelib.core.aws import client
    from chalicelib.core.config import settings

    items = client("dynamodb").scan(TableName=settings().table("reminders"), ProjectionExpression="due_at")["Items"]
    due = sorted(item["due_at"]["S"] for item in items if "due_at" in item)
    if not due:
        raise RuntimeError("the archive jobs planned no reminder")
    return due[0][:13] + ":00:00Z"


def _a_contract() -> dict[str, str]:
    from chalicelib.core.aws import client
    from chalicelib.core.config import settings

    item = client("dynamodb").scan(TableName=settings().table("contracts"), Limit=1)["Items"][0]
    return {"tenant_id": item["tenant_id"]["S"], "contract_id": item["contract_id"]["S"]}


def measure(count: int = INVOCATIONS) -> list[PhaseResult]:
    from devstack.signer import act
    from devstack.stack import app_environment, free_port, http_json, provision, seed, wait_http

    procs: list[subprocess.Popen[bytes]] = []
    capture = ThreadingHTTPServer(("127.0.0.1", 0), _ConnectCapture)
    threading.Thread(target=capture.serve_forever, daemon=True).start()
    api_url = f"http://127.0.0.1:{capture.server_address[1]}"
    try:
        moto_port, sandbox_port = free_port(), free_port()
        aws, sandbox_url = f"http://127.0.0.1:{moto_port}", f"http://127.0.0.1:{sandbox_port}"
        for args in (["-m", "devstack.embedded_aws", "-H", "127.0.0.1", "-p", str(moto_port)],
                     ["-m", "devstack.sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port)]):
            procs.append(subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True))
        wait_http(f"{aws}/moto-api/", proc=procs[0])
        wait_http(f"{sandbox_url}/sandbox/connect-log", proc=procs[1])
        env = app_environment(aws, sandbox_url, api_url)
        provision(env)
        _, sources = seed(env, sandbox_url)
        source_id = next(s for s, v in sources.items() if v["kind"] == "generic")
        results = [_run_child("webhook", {"source_id": source_id, "secret": sources[source_id]["secret"],
                                          "count": count}, env)]
        results.append(_run_child("send", {}, env))
        _, data = http_json("GET", f"{sandbox_url}/sandbox/envelopes")
        for envelope in data["envelopes"]:
            for recipient in envelope.get("recipients", []):
                if recipient.get("signing_url"):
                    act(recipient["signing_url"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # every envelope's Connect messages, completed included
            completed = sum('"completed"' in m["body"] for m in _ConnectCapture.messages)
            _, log = http_json("GET", f"{sandbox_url}/sandbox/connect-log")
            if completed >= count and not log["pending"] and not log["queue"]:
                break
            time.sleep(0.2)
        print(f"# Connect: {len(_ConnectCapture.messages)} messages after {time.monotonic() - deadline + 60:.1f} s",
              file=sys.stderr)
        results.append(_run_child("connect", {"messages": _ConnectCapture.messages}, env))
        results.append(_run_child("archive", {}, env))
        results.append(_run_child("hourly", {"time": _first_reminder_hour()}, env))
        results.append(_run_child("reconcile", {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, env))
        results.append(_run_child("ses_feedback", {**_a_contract(), "count": count}, env))
        return results
    finally:
        capture.shutdown()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def recommended(peak_mb: float) -> int:
    """The smallest of Lambda's usual sizes with HEADROOM over the peak."""
    return next((step for step in STEPS if step >= peak_mb * HEADROOM), STEPS[-1])


def configured() -> dict[str, int]:
    """Each function's lambda_memory_size for the prod stage, as Chalice resolves it."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    sizes = {}
    for function in config.get("lambda_functions", {}):
        chain = [config.get("stages", {}).get("prod", {}).get("lambda_functions", {}).get(function, {}),
                 config.get("stages", {}).get("prod", {}), config["lambda_functions"][function], config]
        sizes[function] = next(c["lambda_memory_size"] for c in chain if c.get("lambda_memory_size"))
    return sizes


def section(results: list[PhaseResult]) -> str:
    sizes = configured()
    rows = "\n".join(
        f"| {r.function} | {PHASES[r.phase][1]} | {r.invocations} | {r.import_mb:.0f} | {r.peak_mb:.0f} "
        f"| {r.cpu_ms:.0f} |"
        for r in results)
    per_function: dict[str, float] = {}
    for r in results:
        per_function[r.function] = max(per_function.get(r.function, 0.0), r.peak_mb)
    summary = "\n".join(
        f"| {function} | {peak:.0f} | {recommended(peak)} | {sizes.get(function, '—')} |"
        for function, peak in per_function.items())
    return (
        "<!-- bench_memory:start -->\n## Memory: peak RSS per function and the memory size\n\n"
        f"`{COMMAND}` (add `--write` to refresh this section). Each row is a fresh interpreter holding only "
        "the app, as a Lambda container does (AWS is the embedded moto server and DocuSign the sandbox, "
        "other processes): `import app` (the import-only peak), then the function's real handler called "
        "with the event Lambda would pass, in order, each step feeding the next. Peak RSS (the process's "
        "VmHWM), MB.\n\n"
        "| function | invocations | count | import-only peak MB | peak MB | CPU ms per invocation |\n"
        "|---|---|---:|---:|---:|---:|\n"
        f"{rows}\n\n"
        f"Memory size: the smallest usual size with {HEADROOM:g}× the function's highest peak (bigger "
        "contracts and documents, fragmentation); what `.chalice/config.json` sets for prod:\n\n"
        "| function | peak MB | recommended MB | configured MB |\n|---|---:|---:|---:|\n"
        f"{summary}\n\n"
        "Lambda gives a function CPU in proportion to its memory (1,769 MB is one full vCPU; 512 MB about "
        "0.29 of one), so the size is also a CPU share; the CPU column is this machine's time per "
        "invocation after the import, first-call costs (clients, the DocuSign SDK, Jinja2) included, which "
        "Lambda stretches by 1,769 ÷ size on a smaller share. What `.chalice/config.json` sets, for every "
        "stage, from these figures: the schedules and `ses_feedback` get their memory floor (nobody waits "
        "on them; the hourly run works within its invocation's time budget and leaves the rest to a "
        "job); `api_handler` (webhooks, Connect, the API) and `process_job` (rendering, DocuSign, the "
        "archived PDF held in memory) get 512 MB, above their floor, for the CPU share that keeps a "
        "webhook's answer and a first send short. Before 2026-11-30 prod gave every function 1,024 MB, "
        "over five times the highest peak.\n"
        "<!-- bench_memory:end -->\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="update the section in BENCHMARKS.md")
    parser.add_argument("--invocations", type=int, default=INVOCATIONS)
    parser.add_argument("--child", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--spec", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, json.loads(args.spec))))
        return 0
    results = measure(args.invocations)
    text = section(results)
    print(text)
    if args.write:
        write_section("bench_memory", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
