"""Running the sandbox: in a background thread (tests, the local stack) or in the foreground."""

from __future__ import annotations

import threading
from collections.abc import Callable

from werkzeug.serving import make_server

from .app import create_app, sandbox_of
from .config import SandboxConfig


def serve_in_thread(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> tuple[str, Callable[[], None]]:
    """Start a threaded werkzeug server (port 0 picks a free one); returns (base_url, stop)."""
    app = create_app(config)
    server = make_server(host, port, app, threaded=True)
    # A short poll interval keeps stop() quick (serve_forever checks for shutdown between polls).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="docusign-sandbox", daemon=True
    )
    thread.start()
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        sandbox_of(app).close()

    return f"http://{host}:{server.server_port}", stop
