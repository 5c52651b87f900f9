"""Schemathesis against the running app: every operation of `GET /openapi.json`, over real HTTP (the
in-process stack: moto, the DocuSign sandbox, the app behind a port), with every check on.

The result must be: no server error, no schema-valid request rejected, no invalid one accepted, no
response off the document. Contracts in several states are seeded first and requests to
`{contract_id}` routes are pointed at them, so those routes answer from real contracts, not only 404.

It drives Schemathesis' engine, the one `st run` drives (examples, coverage and fuzzing phases,
derandomized with a fixed seed), and fails on any failed check: schemathesis 4.32.5's own pytest
loader (`from_fixture`) needs pytest's `Node._nodeid`, which pytest 9.2 no longer has.

The number of requests the run made is printed, recorded as the test's `schemathesis_requests`
property and written to `schemathesis-run.json` in pytest's base temp dir (`load_run_stats`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from tests.integration.test_approval import RULES, sales_body, set_rules
from tests.integration.test_reminders_support import active_contract, sales_2030
from tests.support import sample_files
from tests.support.fixtures import FULL_VOLUME
from tests.support.stack import StackHarness

SEED = 20260117
# per operation, fuzzing phase (the examples and coverage phases add their own); make reliability: full
MAX_EXAMPLES = 25 if FULL_VOLUME else 15
BODY_MAX_EXAMPLES = 10 if FULL_VOLUME else 6  # the two operations that take a whole contract
STATS_FILE = "schemathesis-run.json"


@dataclass
class RunStats:
    """Requests made per operation (one per generated case; checks that replay a request add more)."""

    requests: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)  # per "operation phase", generation included
    statuses: Counter[str] = field(default_factory=Counter)  # per "operation status"

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.total, "operations": dict(sorted(self.requests.items())),
                "statuses": dict(sorted(self.statuses.items())),
                "seconds": {k: round(v, 1) for k, v in sorted(self.seconds.items())}, "seed": SEED,
                "max_examples": MAX_EXAMPLES, "schemathesis": schemathesis.__version__}


def load_run_stats(basetemp: Path) -> dict[str, Any]:
    """The last run's figures, from the pytest base temp dir it ran with (`--basetemp`, or
    `tmp_path_factory.getbasetemp()`): {"requests": N, "operations": {label: n}, ...}."""
    return json.loads((basetemp / STATS_FILE).read_text())


@dataclass(frozen=True)
class Seeded:
    contracts: dict[str, tuple[str, ...]]  # operation path -> the contracts its valid requests name
    milestone_ids: tuple[str, ...]
    cursor: str  # a next_cursor the API issued to this tenant
    tokens: tuple[str, ...]  # signing links' tokens
    sources: dict[str, str]  # media type -> the source that reads it
    secret: str  # the generic source's webhook secret


def _body(crm_record_id: str) -> dict[str, Any]:
    body = sales_body(crm_record_id)
    body["contract"].pop("callback_url")  # no CRM to call back here: no retries to drain
    return body


def _post(stack: StackHarness, crm_record_id: str) -> str:
    response = stack.post_webhook(_body(crm_record_id))
    assert response.status_code == 202, response.body
    return response.json_body["contract_id"]


def _seed(stack: StackHarness) -> Seeded:
    """Contracts in the states each route acts on: sent (an open envelope at the sandbox, a rendered
    document: signing links, documents, void), pending approval (one each for approve, reject and
    void, so that no route takes another's contract away), active with milestones (payments,
    deliveries, the analytics' overdue figures)."""
    sent = [_post(stack, f"st-sent-{n}") for n in (1, 2)]
    for contract_id in sent:
        stack.wait_status(contract_id, "sent")
    set_rules(stack, RULES)  # from here on, the sample's CNY 128,000 waits for approval
    pending = [_post(stack, f"st-pending-{n}") for n in (1, 2, 3)]
    stack.drain_jobs()
    for contract_id in pending:
        assert stack.get_contract(contract_id)["status"] == "pending_approval"
    active = active_contract(stack, sales_2030("st-active")).contract_id
    page = stack.client.http.get("/v1/contracts?limit=1", headers=stack.auth())
    assert page.status_code == 200 and page.json_body["next_cursor"], page.body
    tokens = []
    for signer in (1, 2):
        link = stack.client.http.get(f"/v1/contracts/{sent[0]}/signing-link?signer={signer}", headers=stack.auth())
        assert link.status_code == 200, link.body
        tokens.append(link.json_body["url"].rsplit("/", 1)[-1])
    share = stack.client.http.post(f"/v1/contracts/{active}/share", body=b'{"scope": ["paid", "delivered"]}',
                                   headers={**stack.auth(), "Content-Type": "application/json"})
    assert share.status_code == 201, share.body
    tokens.append(share.json_body["url"].rsplit("/", 1)[-1])  # a contract page that may record
    entry = {"kind": "delivery", "at": "2030-01-05T10:00:00Z", "by": "st", "text": "delivered", "entry_id": "st-files",
             "attachments": [sample_files.attachment("note.pdf", "application/pdf", sample_files.pdf())]}
    recorded = stack.client.http.post(f"/v1/contracts/{active}/execution", body=json.dumps(entry).encode(),
                                      headers={**stack.auth(), "Content-Type": "application/json"})
    assert recorded.status_code == 201, recorded.body
    stack.settle_connect()  # DocuSign's messages about the seeded envelopes land before the run starts
    by_kind = {info["kind"]: source_id for source_id, info in stack.sources.items()}
    base = "/v1/contracts/{contract_id}"
    contracts = {
        base: (*sent, *pending, active),
        f"{base}/approve": (pending[0],),
        f"{base}/reject": (pending[1],),
        f"{base}/void": (sent[1], pending[2]),
        f"{base}/milestones/{{milestone_id}}": (active,),
        f"{base}/signing-link": (sent[0], active),
        f"{base}/document": (sent[0], active),
        f"{base}/execution": (sent[0], active),  # 409 not signed; 201 on the active one
        f"{base}/evidence": (sent[0], active),  # 409 not signed; 302 to the bundle
        f"{base}/execution/{{entry_id}}/attachments/{{index}}": (active,),  # its entry st-files has one file
        f"{base}/share": (active,),
        f"{base}/share/{{link_id}}": (active,),
    }
    return Seeded(contracts=contracts, milestone_ids=("pay-1", "pay-2", "dlv-1"), cursor=page.json_body["next_cursor"],
                  tokens=tuple(tokens), secret=stack.secret, sources={
                      "application/json": by_kind["generic"], "text/xml": by_kind["salesforce"],
                      "application/xml": by_kind["salesforce"], "application/x-www-form-urlencoded": by_kind["zoho"]})


@pytest.fixture
def seeded(stack: StackHarness) -> Seeded:
    return _seed(stack)


@pytest.fixture
def run_stats(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
              record_property: Any) -> Iterator[RunStats]:
    stats = RunStats()
    yield stats
    path = tmp_path_factory.getbasetemp() / STATS_FILE
    path.write_text(json.dumps(stats.as_dict(), indent=2))
    record_property("schemathesis_requests", stats.total)
    line = f"schemathesis: {stats.total} requests over {len(stats.requests)} operations ({path})"
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    print(line)


def _config(api_key: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "auth": {"openapi": {"apiKey": {"bearer": api_key}}},
        "phases": {
            # API Gateway answers methods the API does not declare itself (403/405): not ours to test.
            "coverage": {"unexpected-methods": []},
            # The document declares no links; the seeded contracts (and the cursor, tokens and ids
            # handed to the cases) stand in for the state a stateful run would build, in far less time.
            "stateful": {"enabled": False},
        },
        "checks": {
            # The only check left out, for the reason above: API Gateway answers undeclared methods.
            "unsupported_method": {"enabled": False},
        },
        "operations": [{
            # A contract body can be valid by the schema and still break a rule between fields that
            # JSON Schema cannot state (milestones adding up to the amount, end after start, routing
            # orders without gaps; the operations' descriptions list them): 422 is then the right
            # answer to a schema-valid body. Every other check, negative data included, stays on.
            "include-name": ["POST /v1/contracts/preview", "POST /v1/webhooks/{source_id}"],
            # A whole contract is slow to draw (patterns everywhere) and both take the same body.
            "generation": {"max-examples": BODY_MAX_EXAMPLES},
            "checks": {"positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]}},
        }, {
            # An attachment is judged on its bytes, which JSON Schema cannot describe: a schema-valid
            # body whose content_base64 is not Base64, or not a file of an accepted type, is a 400.
            "include-name": "POST /v1/contracts/{contract_id}/execution",
            "checks": {"positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]}},
        }, {
            # A contract page's token is good until revoked (this run revokes them: 410), and what its
            # form records depends on the contract (a milestone it has, what is still open, already
            # recorded: 409) and the link's scope (403); a share's milestone_id must be the contract's.
            "include-name": ["GET /c/{token}", "POST /c/{token}", "GET /c/{token}/{kind}",
                             "POST /v1/contracts/{contract_id}/share"],
            "checks": {"positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "410", "422", "429", "5xx"]}},
        }, {
            # A signing link is good while its envelope is open: once it is signed, declined or voided
            # (this run voids contracts too), 410 Gone is the answer to a well-formed, real token.
            "include-name": "GET /sign/{token}",
            "checks": {"positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "410", "429", "5xx"]}},
        }],
    })


class Picker:
    """Hands out seeded values in turn, per operation and parameter, and every so often keeps the
    generated one (an unknown id: 404). Turns, not chance: the cases come in a fixed order, so the
    run stays deterministic."""

    def __init__(self) -> None:
        self.turns: Counter[str] = Counter()

    def __call__(self, case: Case, name: str, options: tuple[Any, ...], generated: Any) -> Any:
        key = f"{case.operation.label} {name}"
        slot = self.turns[key] % (len(options) + 1)
        self.turns[key] += 1
        return generated if slot == len(options) else options[slot]


def _is_positive(case: Case, location: ParameterLocation) -> bool:
    component = case.meta.components.get(location) if case.meta is not None else None
    return component is not None and component.mode.is_positive


def _point_at_seeded(case: Case, seeded: Seeded, pick: Picker) -> Case:
    """Valid requests name what exists, so that routes answer from real data and not only 404:
    seeded contracts in the state the route acts on, their milestones, issued cursors and signing
    links, the source that reads the body's media type (and the generic source's signature). Invalid
    parts stay as generated: they must be refused."""
    path = case.path_parameters or {}
    if path and _is_positive(case, ParameterLocation.PATH):
        if "contract_id" in path:
            path["contract_id"] = pick(case, "contract_id", seeded.contracts[case.operation.path], path["contract_id"])
        if "milestone_id" in path:
            path["milestone_id"] = pick(case, "milestone_id", seeded.milestone_ids, path["milestone_id"])
        if "token" in path:
            path["token"] = pick(case, "token", seeded.tokens, path["token"])
        if "entry_id" in path:
            path["entry_id"] = pick(case, "entry_id", ("st-files",), path["entry_id"])
        if "index" in path:
            path["index"] = pick(case, "index", ("0",), path["index"])
        if "source_id" in path and case.media_type in seeded.sources:
            path["source_id"] = seeded.sources[case.media_type]
    query = case.query or {}
    if query and _is_positive(case, ParameterLocation.QUERY):
        # A cursor is opaque and signed: only one the API issued is valid (any other is a 400).
        if "cursor" in query:
            query["cursor"] = seeded.cursor
        if "signer" in query:
            query["signer"] = pick(case, "signer", (1, 2), query["signer"])
        if case.operation.path == "/v1/analytics/summary":
            _valid_range(query)
    # Signed whatever the body: the signature vouches for the sender, the body is then judged on its own.
    if (case.operation.path == "/v1/webhooks/{source_id}" and case.media_type == "application/json"
            and path.get("source_id") == seeded.sources["application/json"]):
        _sign(case, seeded.secret)
    return case


def _valid_range(query: dict[str, Any]) -> None:
    """`from` not after `to`, at most MAX_DAYS apart: a rule between two parameters, which the
    operation's description states and OpenAPI cannot."""
    from chalicelib.web.analytics import MAX_DAYS

    if not isinstance(query.get("from"), str) or not isinstance(query.get("to"), str):
        return
    try:
        start, end = sorted((date.fromisoformat(query["from"]), date.fromisoformat(query["to"])))
    except ValueError:
        return
    if (end - start).days > MAX_DAYS:
        end = start + timedelta(days=MAX_DAYS) if start <= date.max - timedelta(days=MAX_DAYS) else date.max
    query["from"], query["to"] = start.isoformat(), end.isoformat()


def _sign(case: Case, secret: str) -> None:
    """Standard Webhooks headers over the body exactly as it goes on the wire (requests' `json=`:
    json.dumps with its defaults); the id follows the body, so an identical body is a repeat."""
    from devstack.webhook import signed_headers

    try:
        raw = json.dumps(case.body, allow_nan=False).encode()
    except (TypeError, ValueError):  # not JSON at all (NaN, bytes): it goes unsigned, and is refused so
        return
    webhook_id = "msg_" + hashlib.sha256(raw).hexdigest()[:24]
    headers = signed_headers(secret, raw, webhook_id)
    headers.pop("Content-Type")
    case.headers = {**(case.headers or {}), **headers}


def _failures(event: Any) -> list[str]:
    """Every failed check or error of one engine event, as text."""
    from schemathesis.engine import Status, events

    found: list[str] = []
    if isinstance(event, events.ScenarioFinished) and event.status in (Status.FAILURE, Status.ERROR):
        for checks in event.recorder.checks.values():
            for check in checks:
                if check.failure_info is not None:
                    failure = check.failure_info.failure
                    found.append(f"{event.recorder.label}: [{check.name}] {failure.title}\n{failure.message}\n"
                                 f"{check.failure_info.code_sample}")
    elif isinstance(event, events.NonFatalError | events.FatalError):
        found.append(f"{getattr(event, 'label', 'engine')}: {getattr(event, 'value', None) or event.exception}")
    return found


@pytest.mark.reliability
def test_every_operation_holds_to_the_document(stack: StackHarness, seeded: Seeded, run_stats: RunStats,
                                               reliability_row: Any) -> None:
    from schemathesis.engine import events, from_schema

    schema = schemathesis.openapi.from_url(f"{stack.api_url}/openapi.json", config=_config(stack.api_key))

    pick = Picker()

    @schema.hook
    def map_case(context: Any, case: Case) -> Case:
        return _point_at_seeded(case, seeded, pick)

    @schema.hook
    def after_call(context: Any, case: Case, response: Any) -> None:
        run_stats.requests[case.operation.label] += 1
        run_stats.statuses[f"{case.operation.label} {response.status_code}"] += 1

    failures: list[str] = []
    skipped: dict[str, str] = {}
    finished = None
    for event in from_schema(schema).execute():
        failures += _failures(event)
        if isinstance(event, events.ScenarioFinished):
            run_stats.seconds[f"{event.recorder.label} {event.phase.value}"] += event.elapsed_time
            if event.skip_reason:
                skipped[event.recorder.label] = event.skip_reason
        if isinstance(event, events.EngineFinished):
            finished = event
    assert finished is not None
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
    # Every operation of the document was exercised (none skipped, e.g. for a schema nothing can
    # satisfy), except the one that served the document: Schemathesis leaves it out by design.
    labels = {f"{method.upper()} {path}" for path, item in schema.raw_schema["paths"].items() for method in item
              if path != "/openapi.json"}
    assert set(run_stats.requests) == labels, (labels ^ set(run_stats.requests), skipped)
    reliability_row("API against its OpenAPI document (schemathesis, every check)",
                    f"{run_stats.total:,} requests over {len(run_stats.requests)} operations", lost=0,
                    duplicate_envelopes=0, section="fuzz",
                    detail="no server error, no schema-valid request rejected, no response off the document")
