"""The app over real HTTP inside the test process: a small threaded server that hands each request to
chalice.test.Client. DocuSign's sandbox delivers Connect messages to it and signers' browsers open
its pages, while AWS stays mocked by moto in the same process."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalice.test import Client


class LockedHTTP:
    """chalice.test's HTTP client, one request at a time. Chalice keeps the request being handled in
    `app.current_request` (one attribute, not per thread) and the test client swaps os.environ for
    each call, so a test's own API call must not overlap a Connect message the server is handling."""

    def __init__(self, http: Any, lock: threading.RLock) -> None:
        self._http = http
        self._lock = lock
        # Every answer the app gave, by status (the tests' and the reliability rows' 5xx count).
        self.statuses: Counter[int] = Counter()

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b"") -> Any:
        with self._lock:
            response = self._http.request(method, path, headers=headers, body=body)
            self.statuses[response.status_code] += 1
            return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> Any:
        return self.request("HEAD", path, **kwargs)

    def options(self, path: str, **kwargs: Any) -> Any:
        return self.request("OPTIONS", path, **kwargs)


class LockedClient:
    """A chalice.test.Client whose HTTP calls share the server's lock."""

    def __init__(self, client: Client, lock: threading.RLock) -> None:
        self._client = client
        self.http = LockedHTTP(client.http, lock)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class AppServer:
    def __init__(self, app: Any, project_dir: str, stage: str = "local") -> None:
        self.lock = threading.RLock()  # the test client swaps os.environ per call: one call at a time
        self.client = LockedClient(Client(app, stage_name=stage, project_dir=project_dir), self.lock)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                response = server.client.http.request(self.command, self.path, headers=headers, body=body)
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                payload = response.body or b""
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> AppServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
