"""python -m chalicelib.admin analytics rebuild --tenant T

Recomputes the tenant's analytics (the summary's day counters, the in-force gauge, the receivables
and renewal-deadline rows: chalicelib/store/analytics.py) from its contracts and their timelines, and
replaces what is stored. For a deployment that had contracts before the analytics were kept, after a
change of the tenant's settings that moves renewal deadlines (notice, calendar, time zone), or to
repair. Idempotent: a second run writes the same items. It reads every contract and timeline of the
tenant (an operator's command, not a request); run it when the tenant is quiet, since a contract
written during the run may be counted from before its write (run it again then). Exit 0."""

from __future__ import annotations

import argparse
from typing import Any

from chalicelib.admin import audit
from chalicelib.store import analytics
from chalicelib.store import contracts as store
from chalicelib.store.registry import check_tenant_id


def rebuild(tenant_id: str) -> analytics.Rebuilt:
    tenant_id = check_tenant_id(tenant_id)
    return analytics.rebuild(tenant_id, store.tenant_contracts(tenant_id),
                             lambda c: store.timeline(c.tenant_id, c.contract_id))


def add_parser(groups: Any) -> None:
    parser = groups.add_parser("analytics", help="the analytics kept as contracts change")
    commands = parser.add_subparsers(dest="command", required=True)
    rebuilt = commands.add_parser("rebuild", help="recompute a tenant's counters and rows from its contracts")
    rebuilt.add_argument("--tenant", required=True)
    rebuilt.set_defaults(run=_cmd_rebuild)


def _cmd_rebuild(args: argparse.Namespace) -> int:
    done = rebuild(args.tenant)
    audit.record(args.tenant, "analytics.rebuild", f"tenant {args.tenant}", None,
                 {"contracts": done.contracts, "written": done.written, "deleted": done.deleted})
    print(f"tenant {args.tenant}: {done.contracts} contract(s) read, {done.written} item(s) written, "
          f"{done.deleted} stale item(s) deleted")
    return 0
