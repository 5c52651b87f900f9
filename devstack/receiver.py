"""A small CRM-side receiver for signbridge's status callbacks (the local stack and the tests).

    python -m devstack.receiver --port 8025 [--host 127.0.0.1] [--secret whsec_...]... [--state-file PATH]

It verifies each callback's Standard Webhooks signature (secrets from --secret, the env
SIGNBRIDGE_RECEIVER_SECRET (space-separated) and/or every source secret in the local stack's
.devstack/state.json, read when a callback arrives), prints one line per callback to stdout, keeps
them in memory and serves:

- `POST <any other path>`: a callback. 200 when the signature verifies (401 otherwise; with no
  secret at all it is accepted and shown as not checked), unless a behaviour below says to fail.
- `GET /`: an HTML list of the callbacks received (refreshes itself every 2 s).
- `GET /callbacks.json`: `{"callbacks": [...], "behaviour": {...}}`, oldest first; every attempt is
  listed (failed ones too) with the status it was answered with.
- `POST /behaviour` (test knob): `{"status": 500, "fail_times": 5}` answers the next 5 callbacks
  with 500 and then succeeds again; `{"status": 410}` (no fail_times) answers every callback with
  410; `{"status": 429, "retry_after": "2"}` adds a Retry-After header; `{}` means succeed.
- `POST /reset`: forget the callbacks and the behaviour. `GET /health`: 200.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO

from devstack.stack import STATE_FILE

MAX_BODY_BYTES = 1024 * 1024
MAX_KEPT = 1000
_NOTE = {True: "", False: " (signature INVALID)", None: " (no secret given: signature not checked)"}
_CHECKED = {True: "ok", False: "INVALID", None: "not checked"}


@dataclass
class Behaviour:
    status: int = 200
    fail_times: int | None = None  # None: answer `status` to every callback
    retry_after: str | None = None

    def answer(self) -> tuple[int, str | None]:
        """The status for the next callback (and consumes one failure)."""
        if self.status < 300 or self.fail_times == 0:
            return 200, None
        if self.fail_times is not None:
            self.fail_times -= 1
        return self.status, self.retry_after


def _verifier(secret: str) -> Any:
    from standardwebhooks.webhooks import Webhook

    # The sender's rule: whsec_… is a base64 key, any other secret is its UTF-8 bytes.
    return Webhook(secret) if secret.startswith("whsec_") else Webhook(secret.encode())


class Receiver:
    def __init__(self, secrets: Sequence[str] = (), state_file: Path | None = None, out: TextIO | None = None):
        self._secrets = list(secrets)
        self._state_file = state_file
        self._out = out
        self._lock = threading.Lock()
        self.behaviour = Behaviour()
        self.callbacks: list[dict[str, Any]] = []

    def secrets(self) -> list[str]:
        found = list(self._secrets)
        if self._state_file is not None and self._state_file.exists():
            try:
                sources = json.loads(self._state_file.read_text()).get("sources", {})
            except ValueError:
                sources = {}
            found += [s["secret"] for s in sources.values() if isinstance(s, dict) and s.get("secret")]
        return list(dict.fromkeys(found))

    def verify(self, body: bytes, headers: dict[str, str]) -> bool | None:
        """True: a secret verifies the signature; False: none does; None: no secret to check with."""
        known = self.secrets()
        if not known:
            return None
        for secret in known:
            try:
                _verifier(secret).verify(body, headers, json_parse=False)
                return True
            except Exception:  # noqa: BLE001 - any failure means "not this secret"
                continue
        return False

    def receive(self, body: bytes, headers: dict[str, str]) -> tuple[int, str | None]:
        headers = {k.lower(): v for k, v in headers.items()}
        verified = self.verify(body, headers)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        data = (payload or {}).get("data", {}) if isinstance(payload, dict) else {}
        with self._lock:
            status, retry_after = self.behaviour.answer() if verified is not False else (401, None)
            entry = {
                "n": len(self.callbacks) + 1,
                "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "webhook_id": headers.get("webhook-id"),
                "webhook_timestamp": headers.get("webhook-timestamp"),
                "verified": verified,
                "answered": status,
                "type": payload.get("type") if isinstance(payload, dict) else None,
                "contract_id": data.get("contract_id"),
                "number": data.get("number"),
                "status": data.get("status"),
                "previous_status": data.get("previous_status"),
                "event": data.get("event"),
                "payload": payload,
            }
            self.callbacks.append(entry)
            del self.callbacks[:-MAX_KEPT]
        line = (f"{entry['received_at']} {entry['webhook_id']} {entry['type']} {entry['status']} "
                f"{entry['contract_id']} -> {status}{_NOTE[verified]}")
        print(line, file=self._out or sys.stdout, flush=True)
        return status, retry_after

    def set_behaviour(self, spec: dict[str, Any]) -> Behaviour:
        fail_times = spec.get("fail_times")
        retry_after = spec.get("retry_after")
        with self._lock:
            self.behaviour = Behaviour(status=int(spec.get("status", 200)),
                                       fail_times=None if fail_times is None else int(fail_times),
                                       retry_after=None if retry_after is None else str(retry_after))
            return self.behaviour

    def reset(self) -> None:
        with self._lock:
            self.callbacks.clear()
            self.behaviour = Behaviour()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"callbacks": [dict(c) for c in self.callbacks], "behaviour": asdict(self.behaviour)}

    def page(self) -> str:
        received = self.snapshot()["callbacks"]
        columns = ("received_at", "webhook_id", "type", "status", "previous_status", "event", "contract_id",
                   "number", "answered")
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape('' if c.get(k) is None else str(c[k]))}</td>" for k in columns)
            + f"<td>{_CHECKED[c['verified']]}</td></tr>"
            for c in reversed(received)
        )
        head = "".join(f"<th>{h}</th>" for h in ("received", "webhook-id", "type", "status", "from", "event",
                                                  "contract", "number", "answered", "signature"))
        return (
            "<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='refresh' content='2'>"
            "<title>CRM callbacks</title><style>body{font-family:sans-serif;margin:2em}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}"
            "th{background:#eee}</style></head><body><h1>Callbacks the demo CRM received</h1>"
            f"<p>{len(received)} callback(s), newest first. JSON: <a href='/callbacks.json'>"
            "/callbacks.json</a></p>"
            f"<table><tr>{head}</tr>{rows}</table></body></html>"
        )


def make_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "signbridge-receiver/1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass  # one line per callback is printed by the receiver itself

        def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any, extra: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json", extra)

        def _body(self) -> bytes | None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._json(413, {"error": "too large"})
                return None
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            if path == "/":
                self._send(200, receiver.page().encode(), "text/html; charset=utf-8")
            elif path == "/callbacks.json":
                self._json(200, receiver.snapshot())
            elif path == "/health":
                self._json(200, {"status": "ok"})
            else:
                self._json(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self._body()
            if body is None:
                return
            path = self.path.split("?", 1)[0]
            if path == "/behaviour":
                try:
                    spec = json.loads(body or b"{}")
                    behaviour = receiver.set_behaviour(spec if isinstance(spec, dict) else {})
                except (ValueError, TypeError) as err:
                    self._json(400, {"error": str(err)})
                    return
                self._json(200, asdict(behaviour))
            elif path == "/reset":
                receiver.reset()
                self._json(200, {"status": "reset"})
            else:
                status, retry_after = receiver.receive(body, dict(self.headers.items()))
                self._json(status, {"received": status < 300},
                           {"Retry-After": retry_after} if retry_after else None)

    return Handler


def serve_in_thread(receiver: Receiver, host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
    """Starts the receiver on a thread (port 0 picks a free one); returns (base_url, stop)."""
    server = ThreadingHTTPServer((host, port), make_handler(receiver))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="callback-receiver", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://{host}:{server.server_port}", stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.receiver",
                                     description="shows the signed status callbacks a CRM would receive")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIGNBRIDGE_RECEIVER_PORT", "8025")))
    parser.add_argument("--secret", action="append", default=[],
                        help="a signing secret (repeatable); also env SIGNBRIDGE_RECEIVER_SECRET")
    parser.add_argument("--state-file", type=Path, default=STATE_FILE,
                        help="also accept every source secret of this local-stack state file")
    args = parser.parse_args(argv)
    secrets = args.secret + os.environ.get("SIGNBRIDGE_RECEIVER_SECRET", "").split()
    receiver = Receiver(secrets, state_file=args.state_file)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(receiver))
    server.daemon_threads = True
    print(f"receiver: listening on http://{args.host}:{server.server_port}/ "
          f"({len(secrets)} secret(s) given, state file {args.state_file})", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
