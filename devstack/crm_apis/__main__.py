"""python -m devstack.crm_apis [--host 127.0.0.1] [--hubspot-port N] [--salesforce-port N] ..."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from .server import serve_all
from .vendors import VENDORS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.crm_apis",
                                     description="API doubles of five CRMs, each on its own port")
    parser.add_argument("--host", default="127.0.0.1")
    for crm in VENDORS:
        parser.add_argument(f"--{crm}-port", type=int, default=0, metavar="N",
                            help=f"port of the {crm} double (0, the default, picks a free one)")
    parser.add_argument("--quiet", action="store_true", help="do not log every request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    if args.quiet:
        # werkzeug raises its own logger to INFO unless a level was set explicitly.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    urls, stop = serve_all(args.host, {crm: getattr(args, f"{crm}_port") for crm in VENDORS})
    # One parseable line, so a parent process that let the ports be picked learns them.
    print(f"CRM doubles listening: {json.dumps(urls)}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
