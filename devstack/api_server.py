"""`chalice local`, run as API Gateway and Lambda would run the app under concurrent clients.

chalice local serves each connection on a thread of one process, and Chalice keeps the request
being handled in one attribute (`app.current_request`), not one per thread: two requests at once
can read each other's headers and body. In AWS each Lambda container handles one request at a time
(concurrency comes from more containers), so here one request at a time goes through the app, while
the server keeps accepting connections. Its listen backlog is raised from socketserver's 5, which
made bursts of clients see resets instead of waiting their turn. Its access log redacts signing-link
tokens, as any log of ours must.

`python -m devstack.api_server --host 127.0.0.1 --port 8000 --stage local` takes `chalice local`'s
options (the local stack starts it so).
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any

BACKLOG = 256
ONE_REQUEST_AT_A_TIME = threading.Lock()


def make_faithful() -> None:
    from chalice.local import ChaliceRequestHandler, LocalGateway, ThreadedHTTPServer

    from chalicelib.core.observability import redact_path

    ThreadedHTTPServer.request_queue_size = BACKLOG
    # The access log (api.log) names each request line: never a signing-link token in it.
    ChaliceRequestHandler.log_request = _redacted_log_request(redact_path)  # type: ignore[method-assign]
    original: Callable[..., Any] = LocalGateway.handle_request
    if getattr(original, "serialised", False):
        return

    @functools.wraps(original)
    def handle_request(self: Any, *args: Any, **kwargs: Any) -> Any:
        with ONE_REQUEST_AT_A_TIME:
            return original(self, *args, **kwargs)

    handle_request.serialised = True  # type: ignore[attr-defined]
    LocalGateway.handle_request = handle_request  # type: ignore[method-assign]


def _redacted_log_request(redact: Callable[[str], str]) -> Callable[..., None]:
    def log_request(self: Any, code: int | str = "-", size: int | str = "-") -> None:
        self.log_message('"%s" %s %s', redact(self.requestline), str(getattr(code, "value", code)), str(size))

    return log_request


def main(argv: list[str] | None = None) -> int:
    from chalice.cli import main as chalice_main

    make_faithful()
    sys.argv = ["chalice", "local", *(argv if argv is not None else sys.argv[1:])]
    return int(chalice_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
