"""python -m devstack.sandbox --host 127.0.0.1 --port 8400 [--config sandbox.json] ..."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from .config import SandboxConfig
from .server import serve_in_thread


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8400, help="0 picks a free port (printed on start)")
    parser.add_argument("--config", type=Path, help="JSON file with SandboxConfig fields")
    parser.add_argument(
        "--integration",
        action="append",
        default=[],
        metavar="KEY=PUBLIC_PEM_FILE",
        help="register an integration key with its RSA public key (repeatable)",
    )
    parser.add_argument("--connect-key", action="append", default=[], help="Connect HMAC key (repeatable)")
    parser.add_argument("--account-id")
    parser.add_argument("--user-id")
    parser.add_argument("--public-url", help="base URL to put in signing links (default: the request's host)")
    parser.add_argument("--quiet", action="store_true", help="do not log every request")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> SandboxConfig:
    data = json.loads(args.config.read_text()) if args.config else {}
    config = SandboxConfig.from_dict(data)
    for item in args.integration:
        key, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"--integration wants KEY=PUBLIC_PEM_FILE, got {item!r}")
        config.integrations[key] = Path(path).read_text()
    config.connect_hmac_keys.extend(args.connect_key)
    if args.account_id:
        config.account_id = args.account_id
    if args.user_id:
        config.user_id = args.user_id
    if args.public_url:
        config.public_url = args.public_url
    return config


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    if args.quiet:
        # werkzeug raises its own logger to INFO unless a level was set explicitly.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    base_url, stop = serve_in_thread(build_config(args), args.host, args.port)
    # One parseable line, so a parent process started with --port 0 learns the address.
    print(f"DocuSign sandbox listening on {base_url}", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
