"""python -m chalicelib.admin signing-keys {show,rotate}

- `show`: the key ring's key ids, which one signs, and until when each older one is accepted (never a
  key itself).
- `rotate [--overlap-minutes N | --no-overlap]`: a new key signs from now on; the older ones keep
  opening the links (and list cursors) they made for N more minutes (default: a link's life plus the
  minute a warm Lambda may keep the old ring, so no link handed out before the rotation dies early).
  `--no-overlap` ends them at once: for a key that leaked.

The ring is the secret `settings().signing_link_secret` (see chalicelib/link_keys.py).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from chalicelib.admin import audit
from chalicelib.core.aws import client, forget_secret
from chalicelib.core.config import settings
from chalicelib.core.link_keys import KeyRing, dump_ring, parse_ring, rotated
from chalicelib.web.signing import LINK_TOKEN_MINUTES

# Secrets are cached a minute per warm container (chalicelib.core.aws), so one may still mint with the
# old key for that long after a rotation.
DEFAULT_OVERLAP_MINUTES = LINK_TOKEN_MINUTES + 2


def describe(ring: KeyRing, now: float | None = None) -> dict[str, Any]:
    at = time.time() if now is None else now
    accepted = {k.kid for k in ring.accepted(at)}
    return {"keys": [{"kid": k.kid, "signs": i == 0, "accepted": k.kid in accepted,
                      "verify_until": k.verify_until} for i, k in enumerate(ring.keys)]}


def rotate(overlap_minutes: float) -> KeyRing:
    secret_id = settings().signing_link_secret
    sm = client("secretsmanager")
    ring = rotated(parse_ring(sm.get_secret_value(SecretId=secret_id)["SecretString"]), overlap_minutes * 60)
    sm.put_secret_value(SecretId=secret_id, SecretString=dump_ring(ring))
    forget_secret(secret_id)
    return ring


def add_parser(groups: Any) -> None:
    parser = groups.add_parser("signing-keys", help="the key ring of signing links and list cursors")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("show", help="key ids, which signs, until when the others are accepted").set_defaults(
        run=_cmd_show)
    again = commands.add_parser("rotate", help="a new signing key; the old ones accepted a while longer")
    overlap = again.add_mutually_exclusive_group()
    overlap.add_argument("--overlap-minutes", type=float, default=DEFAULT_OVERLAP_MINUTES)
    overlap.add_argument("--no-overlap", action="store_true", help="stop accepting the old keys now (a leak)")
    again.set_defaults(run=_cmd_rotate)


def _cmd_show(args: argparse.Namespace) -> int:
    secret_id = settings().signing_link_secret
    ring = parse_ring(client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
    print(json.dumps(describe(ring)))
    return 0


def _cmd_rotate(args: argparse.Namespace) -> int:
    before = describe(parse_ring(client("secretsmanager").get_secret_value(SecretId=settings().signing_link_secret)
                                 ["SecretString"]))
    ring = rotate(0 if args.no_overlap else args.overlap_minutes)
    audit.record(None, "signing-keys.rotate", "signing-link key ring", before, describe(ring),
                 overlap_minutes=0 if args.no_overlap else args.overlap_minutes)
    print(json.dumps(describe(ring)))
    return 0
