"""Serving the doubles: each on its own port (a CRM's API sits at the root of its host, and clients
such as simple-salesforce keep only the host and port of the URL they are given)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from werkzeug.serving import make_server

from .core import create_app, double_of
from .vendors import VENDORS


def serve_in_thread(crm: str, host: str = "127.0.0.1", port: int = 0,
                    public_url: str | None = None) -> tuple[str, Callable[[], None]]:
    """Start one CRM's double in a threaded werkzeug server (port 0 picks a free one); returns
    (base_url, stop)."""
    vendor = VENDORS[crm]
    app = create_app(vendor)
    server = make_server(host, port, app, threaded=True)
    base_url = f"http://{host}:{server.server_port}"
    # The URL the double puts in its answers (Zoho's api_domain, Salesforce's instance_url).
    double_of(app).base_url = public_url or base_url
    # A short poll interval keeps stop() quick (serve_forever checks for shutdown between polls).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"crm-double-{crm}", daemon=True)
    thread.start()
    stopped = threading.Event()

    def stop() -> None:
        if stopped.is_set():
            return
        stopped.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return base_url, stop


def serve_all(host: str = "127.0.0.1", ports: dict[str, int] | None = None
              ) -> tuple[dict[str, str], Callable[[], None]]:
    """Every double, each on its port (0 or absent: a free one); returns ({crm: base_url}, stop)."""
    urls: dict[str, str] = {}
    stops: list[Callable[[], None]] = []
    try:
        for crm in VENDORS:
            url, stop = serve_in_thread(crm, host, (ports or {}).get(crm, 0))
            urls[crm] = url
            stops.append(stop)
    except BaseException:
        for stop in stops:
            stop()
        raise

    def stop_all() -> None:
        for stop in stops:
            stop()

    return urls, stop_all
