"""python -m chalicelib.admin emails {suppressed,unsuppress}

- `suppressed --tenant T`: one JSON line per address the tenant's emails no longer go to (after a
  permanent bounce or a complaint SES reported): address, reason, when, the contract whose email it
  was, and SES's words. A filtered scan of the keys table: an operator's command, not a hot path.
- `unsuppress --tenant T --email E`: lifts one suppression (the address gets the tenant's emails
  again; a new bounce or complaint suppresses it again). Exit 1 when the address was not suppressed.

See chalicelib/notify/ses_feedback.py (how an address gets there) and chalicelib/store/suppressions.py.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from chalicelib.admin import audit
from chalicelib.core.observability import logger
from chalicelib.store import suppressions
from chalicelib.store.registry import check_tenant_id


def listing(tenant_id: str) -> list[dict[str, Any]]:
    return [{"email": s.email, "reason": s.reason, "suppressed_at": s.created_at.isoformat(),
             "contract_id": s.contract_id, **(s.detail or {})}
            for s in suppressions.list_for_tenant(check_tenant_id(tenant_id))]


def add_parser(groups: Any) -> None:
    parser = groups.add_parser("emails", help="addresses suppressed after a bounce or a complaint")
    commands = parser.add_subparsers(dest="command", required=True)
    shown = commands.add_parser("suppressed", help="list the tenant's suppressed addresses (JSON lines)")
    shown.add_argument("--tenant", required=True)
    shown.set_defaults(run=_cmd_suppressed)
    lifted = commands.add_parser("unsuppress", help="send to an address again")
    lifted.add_argument("--tenant", required=True)
    lifted.add_argument("--email", required=True)
    lifted.set_defaults(run=_cmd_unsuppress)


def _cmd_suppressed(args: argparse.Namespace) -> int:
    found = listing(args.tenant)
    for item in found:
        print(json.dumps(item, ensure_ascii=False))
    print(f"{len(found)} suppressed address(es) for tenant {args.tenant}")
    return 0


def _cmd_unsuppress(args: argparse.Namespace) -> int:
    tenant_id = check_tenant_id(args.tenant)
    if not suppressions.remove(tenant_id, args.email):
        print(f"{args.email} is not suppressed for tenant {tenant_id}")
        return 1
    logger.info("email address unsuppressed by an operator", extra={"tenant_id": tenant_id})
    audit.record(tenant_id, "emails.unsuppress", f"address {suppressions.normalize(args.email)}",
                 {"suppressed": True}, {"suppressed": False})
    print(f"{suppressions.normalize(args.email)} gets tenant {tenant_id}'s emails again")
    return 0
