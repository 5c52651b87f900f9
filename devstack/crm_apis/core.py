"""What every CRM double shares: the seeded records, the log of calls received, counted faults and
the control endpoints (/_requests, /_faults, /_records, /_reset), around a vendor's own routes."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

EXTENSION_KEY = "crm_double"
# Fault modes every double understands: a vendor answers the first three with its own signal;
# "disconnect" closes the connection without an answer (the vendor unreachable mid-call).
FAULT_MODES = ("down", "rate_limited", "unauthorized", "disconnect")

Records = dict[str, dict[str, dict[str, Any]]]  # record type -> id -> record (the vendor's wire shape)


class Vendor(Protocol):
    """One CRM: its routes, how it refuses a caller, and how it says "down" or "rate limited"."""

    name: str
    # Record types `POST /_records` accepts (e.g. "deals", "Contract").
    record_types: tuple[str, ...]
    # Rate-limit variants the vendor has (the first is the default), e.g. ("ten_secondly", "daily").
    rate_limit_variants: tuple[str, ...]

    def seed(self) -> Records: ...

    def register(self, app: Flask, double: Double) -> None: ...

    def is_open(self, path: str) -> bool:
        """Paths that need no credentials (token endpoints)."""
        ...

    def authenticate(self, double: Double) -> Response | None:
        """None when the current request carries valid credentials, else the vendor's refusal."""
        ...

    def fault_response(self, double: Double, mode: str, variant: str | None) -> Response: ...

    def extra_headers(self, double: Double) -> dict[str, str]:
        """Headers the vendor adds to every API answer (rate-limit counters and the like)."""
        ...


def now_utc() -> datetime:
    return datetime.now(UTC)


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=dict(headers or {}),
                    mimetype="application/json")


def empty_response(status: int, headers: Mapping[str, str] | None = None) -> Response:
    """A body-less answer (204, or a 204-like "nothing here"): no Content-Type, as the vendors send it."""
    response = Response(b"", status=status, headers=dict(headers or {}))
    response.headers.pop("Content-Type", None)
    return response


@dataclass
class Fault:
    mode: str  # one of FAULT_MODES
    remaining: int
    method: str | None = None
    path_prefix: str | None = None
    variant: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.remaining <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path_prefix or path.startswith(self.path_prefix)


@dataclass
class Double:
    """The state of one CRM double; every handler takes `lock` around reads and writes."""

    vendor: Vendor
    records: Records = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Free-form per-vendor state (issued tokens, rate counters), cleared by reset().
    scratch: dict[str, Any] = field(default_factory=dict)
    # Where the double is reachable (set when it is served): what it puts in token answers.
    base_url: str = "http://127.0.0.1"
    # API calls received so far (not the control endpoints) and when: what usage headers report.
    api_calls: int = 0
    call_times: deque[float] = field(default_factory=deque)

    def reset(self) -> None:
        with self.lock:
            self.records = self.vendor.seed()
            self.calls.clear()
            self.faults.clear()
            self.scratch.clear()
            self.api_calls = 0
            self.call_times.clear()

    def count_call(self) -> None:
        with self.lock:
            self.api_calls += 1
            self.call_times.append(time.monotonic())
            while len(self.call_times) > 10_000:
                self.call_times.popleft()

    def recent_calls(self, seconds: float) -> int:
        """API calls received in the last `seconds` (a rolling window, as the vendors count)."""
        cutoff = time.monotonic() - seconds
        with self.lock:
            return sum(1 for t in self.call_times if t >= cutoff)

    def get(self, kind: str, record_id: str) -> dict[str, Any] | None:
        with self.lock:
            record = self.records.get(kind, {}).get(record_id)
            return copy.deepcopy(record) if record is not None else None

    def put(self, kind: str, record_id: str, record: dict[str, Any]) -> None:
        with self.lock:
            self.records.setdefault(kind, {})[record_id] = copy.deepcopy(record)

    def all(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return copy.deepcopy(list(self.records.get(kind, {}).values()))

    def note_status(self, call: dict[str, Any], status: int | None) -> None:
        """Record what a logged call was answered (once: a dropped connection stays None)."""
        with self.lock:
            call.setdefault("status", status)

    def add_fault(self, spec: Mapping[str, Any]) -> Fault:
        unknown = sorted(set(spec) - {"mode", "count", "method", "path", "variant"})
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(unknown)}")
        mode = spec.get("mode")
        if mode not in FAULT_MODES:
            raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
        if mode == "rate_limited" and not self.vendor.rate_limit_variants:
            raise ValueError(f"{self.vendor.name} documents no rate-limit signal, so the double has none")
        count = spec.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        variant = spec.get("variant")
        if variant is not None and (mode != "rate_limited" or variant not in self.vendor.rate_limit_variants):
            variants = ", ".join(self.vendor.rate_limit_variants)
            raise ValueError(f"variant applies to rate_limited only: one of {variants}")
        for key in ("method", "path"):
            if spec.get(key) is not None and not isinstance(spec[key], str):
                raise ValueError(f"{key} must be a string")
        fault = Fault(mode, count, spec.get("method"), spec.get("path"), variant)
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
        return None


def _parsed_body() -> Any:
    raw = request.get_data(cache=True)
    if not raw:
        return None
    if request.mimetype == "application/x-www-form-urlencoded":
        return request.form.to_dict(flat=True)
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _disconnect(double: Double) -> Response:
    """Close the client's connection with no answer at all. werkzeug's server puts the socket in the
    environ; once it is shut, writing the (empty) response fails as a dropped connection, which the
    server ignores. The caller sees the connection closed without a response."""
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    double.note_status(g.call, None)
    g.bare_response = True
    return empty_response(204)


def control_json() -> dict[str, Any]:
    body = request.get_json(silent=True, force=True) if request.get_data() else {}
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


def create_app(vendor: Vendor) -> Flask:
    """The Flask app of one double: the vendor's routes behind the shared log, faults and auth."""
    double = Double(vendor)
    double.reset()
    app = Flask(f"crm_double_{vendor.name}")
    app.extensions[EXTENSION_KEY] = double

    @app.before_request
    def before() -> Response | None:
        path = request.path
        if path.startswith("/_"):
            return None
        g.call = {
            "method": request.method,
            "path": path,
            # A repeated parameter (HubSpot's client repeats list parameters) keeps all its values.
            "query": {k: v[0] if len(v) == 1 else v for k, v in request.args.to_dict(flat=False).items()},
            "body": _parsed_body(),
            "headers": {k.lower(): v for k, v in request.headers.items() if k.lower() in _LOGGED_HEADERS},
        }
        with double.lock:
            double.calls.append(g.call)
        double.count_call()
        # Faults come first: a CRM that is down or throttling answers before it looks at credentials.
        fault = double.take_fault(request.method, path)
        if fault is not None and fault.mode == "disconnect":
            return _disconnect(double)
        if fault is not None:
            return vendor.fault_response(double, fault.mode, fault.variant)
        if not vendor.is_open(path):
            return vendor.authenticate(double)
        return None

    @app.after_request
    def after(response: Response) -> Response:
        call = getattr(g, "call", None)
        if call is not None:
            double.note_status(call, response.status_code)
            if getattr(g, "bare_response", False):
                return response
            for name, value in vendor.extra_headers(double).items():
                response.headers.setdefault(name, value)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        # An unknown route or method: the error in the vendor's spirit would be a guess, so plain JSON.
        return json_response({"error": exc.description, "double": vendor.name}, exc.code or 500)

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> Response:
        log.exception("%s double error on %s %s", vendor.name, request.method, request.path)
        return json_response({"error": f"crm double bug: {type(exc).__name__}: {exc}"}, 500)

    # -- control endpoints ---------------------------------------------------------------------

    @app.get("/_requests")
    def list_requests() -> Response:
        with double.lock:
            return json_response(copy.deepcopy(double.calls))

    @app.delete("/_requests")
    def clear_requests() -> Response:
        with double.lock:
            double.calls.clear()
        return empty_response(204)

    @app.get("/_faults")
    def list_faults() -> Response:
        with double.lock:
            return json_response([f.__dict__ for f in double.faults if f.remaining > 0])

    @app.post("/_faults")
    def add_fault() -> Response:
        try:
            fault = double.add_fault(control_json())
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(fault.__dict__, 201)

    @app.delete("/_faults")
    def clear_faults() -> Response:
        with double.lock:
            double.faults.clear()
        return empty_response(204)

    @app.get("/_records")
    def list_records() -> Response:
        kind = request.args.get("type")
        with double.lock:
            body = double.records.get(kind, {}) if kind else double.records
            return json_response(copy.deepcopy(body))

    @app.post("/_records")
    def put_record() -> Response:
        try:
            spec = control_json()
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        kind, record_id, record = spec.get("type"), spec.get("id"), spec.get("record")
        if kind not in vendor.record_types:
            return json_response({"error": f"type must be one of {', '.join(vendor.record_types)}"}, 400)
        if not isinstance(record_id, str | int) or isinstance(record_id, bool) or not isinstance(record, dict):
            return json_response({"error": "expected {\"type\", \"id\", \"record\": {...}}"}, 400)
        double.put(kind, str(record_id), record)
        return json_response({"type": kind, "id": str(record_id)}, 201)

    @app.post("/_reset")
    def reset() -> Response:
        double.reset()
        return empty_response(204)

    vendor.register(app, double)
    return app


# Headers worth seeing in the log (auth schemes differ per vendor): names in lower case, values as sent.
_LOGGED_HEADERS = {"authorization", "content-type", "x-api-token", "x-fs-ea", "x-fs-userid", "x-external"}


def double_of(app: Flask) -> Double:
    double: Double = app.extensions[EXTENSION_KEY]
    return double


def correlation_id() -> str:
    return str(uuid.uuid4())


def iso_ms(moment: datetime) -> str:
    """2026-11-26T02:15:07.531Z: millisecond ISO-8601 in UTC, as HubSpot writes timestamps."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

