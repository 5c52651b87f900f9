"""python -m devstack {run,demo,clock,dispatcher,admin}"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    args_given = sys.argv[1:] if argv is None else argv
    if args_given[:1] == ["admin"]:  # everything after it is the admin CLI's own
        from devstack.admin import main as admin_main

        return admin_main(args_given[1:])
    parser = argparse.ArgumentParser(prog="python -m devstack", description="signbridge's local stack")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the whole stack and stay up (Ctrl-C stops it)")
    sub.add_parser("demo", help="run one sales contract through its whole life and print its timeline")
    clock = sub.add_parser("clock", help="fire every scheduled handler once for an instant")
    clock.add_argument("--at", required=True, help="ISO time with offset, e.g. 2027-11-01T09:00:00+08:00")
    sub.add_parser("dispatcher", help="(internal) feed the SQS jobs queue to the app")
    sub.add_parser("admin", help="python -m chalicelib.admin … against the running local stack")
    args = parser.parse_args(argv)
    if args.command == "run":
        from devstack.run import main as run_main

        return run_main()
    if args.command == "demo":
        from devstack.demo import main as demo_main

        return demo_main()
    if args.command == "clock":
        from devstack.clock import main as clock_main

        return clock_main(args.at)
    from devstack.dispatcher import run_forever

    run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
