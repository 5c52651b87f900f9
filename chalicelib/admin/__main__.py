"""python -m chalicelib.admin <group> <command> [options]

Each command group is a module of this package with `add_parser(subparsers)`, which adds its
subcommand and sets `run` (a callable taking the parsed args and returning an exit code). To add a
group, add one line to GROUPS. The commands use the same environment as the app (AWS credentials and
region, AWS_ENDPOINT_URL for the local stack, SIGNBRIDGE_STAGE / SIGNBRIDGE_TABLE_PREFIX / ...)."""

from __future__ import annotations

import argparse
import importlib
import sys

from chalicelib.admin import audit
from chalicelib.reminders import projection as _projection  # noqa: F401 - the store writes analytics rows with it

GROUPS: dict[str, str] = {
    "callbacks": "chalicelib.admin.callbacks",
    "sources": "chalicelib.admin.sources",
    "signing-keys": "chalicelib.admin.signing_keys",
    "contracts": "chalicelib.admin.contracts",
    "docusign": "chalicelib.admin.docusign",
    "emails": "chalicelib.admin.emails",
    "analytics": "chalicelib.admin.analytics",
    "tenants": "chalicelib.admin.tenants",
    "templates": "chalicelib.admin.templates",
    "audit": "chalicelib.admin.audit",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.admin", description="signbridge operator commands")
    parser.add_argument("--actor", help="who runs the command, for the audit log (default: $SIGNBRIDGE_ADMIN_ACTOR, "
                        "else the AWS caller identity, else the login name)")
    groups = parser.add_subparsers(dest="group", required=True)
    for module in GROUPS.values():
        importlib.import_module(module).add_parser(groups)
    args = parser.parse_args(argv)
    audit.set_actor(args.actor)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
