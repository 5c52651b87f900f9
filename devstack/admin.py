"""`python -m devstack admin …` (`make admin ARGS="…"`): the admin CLI aimed at the running local
stack. Reads the stack's state file (.devstack/state.json, written by `make run`), points this
process at its moto, queues and settings, then runs `python -m chalicelib.admin …` unchanged."""

from __future__ import annotations

import sys
import urllib.request

from devstack.stack import STATE_FILE, StackState, use_environment


def main(argv: list[str]) -> int:
    if not STATE_FILE.is_file():
        print(f"no local stack: {STATE_FILE} is missing (start one with `make run`)", file=sys.stderr)
        return 2
    state = StackState.load()
    try:  # a state file outlives its stack: say so instead of botocore's retries and a traceback
        urllib.request.urlopen(f"{state.aws_endpoint_url}/moto-api/", timeout=2).close()
    except OSError:
        print(f"the local stack of {STATE_FILE} is not running (start one with `make run`)", file=sys.stderr)
        return 2
    use_environment(state.env)
    from chalicelib.admin.__main__ import main as admin_main

    return admin_main(argv)
