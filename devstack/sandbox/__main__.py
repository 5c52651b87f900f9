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
from .connect import parse_schedule
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
    limits = parser.add_argument_group("rate limits (per account; default: reported, never enforced)")
    limits.add_argument("--hourly-limit", type=int, metavar="N", help="refuse calls past N per clock hour")
    limits.add_argument("--burst-limit", type=int, metavar="N", help="refuse calls past N per burst window")
    limits.add_argument("--burst-window", type=float, metavar="SECONDS", help="burst window (default 30)")
    parser.add_argument(
        "--connect-retry",
        metavar="fast|realistic|S1,S2,...",
        help="Connect retry schedule: fast (default, real time), realistic (DocuSign-like, on the sandbox clock) "
        "or explicit delays in seconds",
    )
    return parser.parse_args(argv)


def _schedule_arg(value: str) -> list[float] | None:
    if value in ("fast", "realistic"):
        schedule = parse_schedule(value)
        return None if schedule is None else list(schedule)
    try:
        delays = [float(part) for part in value.split(",") if part.strip()]
        schedule = parse_schedule(delays)
    except ValueError as exc:
        raise SystemExit(f"--connect-retry wants fast, realistic or comma-separated seconds: {exc}") from None
    return None if schedule is None else list(schedule)


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
    if args.hourly_limit is not None:
        config.enforced_hourly_limit = args.hourly_limit
    if args.burst_limit is not None:
        config.enforced_burst_limit = args.burst_limit
    if args.burst_window is not None:
        config.burst_window_seconds = args.burst_window
    if args.connect_retry is not None:
        config.connect_retry_schedule_seconds = _schedule_arg(args.connect_retry)
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
