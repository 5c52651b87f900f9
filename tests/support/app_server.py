"""The app over real HTTP inside the test process: a small threaded server that hands each request to
chalice.test.Client. DocuSign's sandbox delivers Connect messages to it and signers' browsers open
its pages, while AWS stays mocked by moto in the same process."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalice.test import Client


class AppServer:
    def __init__(self, app: Any, project_dir: str, stage: str = "local") -> None:
        self.client = Client(app, stage_name=stage, project_dir=project_dir)
        self.lock = threading.Lock()  # the test client swaps os.environ per call: one call at a time
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                with server.lock:
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
