"""`make run`: the whole local stack, up until Ctrl-C."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

from devstack.stack import STATE_FILE, Stack
from devstack.webhook import curl_command, sample


def main() -> int:
    stack = Stack(quiet=False)
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print("starting the local stack (moto, DocuSign sandbox, API, dispatcher)…", flush=True)
    state = stack.start()
    try:
        source_id, source = next(iter(state.sources.items()))
        body = sample("sales")
        body["contract"]["crm_record_id"] = f"deal-{int(time.time())}"
        body["contract"].pop("callback_url", None)  # so the demo CRM's receiver gets the callbacks
        raw = json.dumps(body, ensure_ascii=False).encode()
        print(f"""
signbridge is running.

  API          {state.api_url}        (health: {state.api_url}/health)
  Sandbox      {state.sandbox_url}   (DocuSign-compatible; inbox: {state.sandbox_url}/sandbox/inbox)
  AWS (moto)   {state.aws_endpoint_url}
  CRM receiver {state.receiver_url}   (the signed status callbacks the demo CRM gets)
  State file   {STATE_FILE}  (api_key, sources and their secrets)
  Logs         .devstack/*.log

Send a sample sales contract (signed for source {source_id!r}; the signature is valid for 5 minutes):

{curl_command(state.api_url, source_id, source["secret"], raw)}

Then follow it (API key from the state file):

  curl -sS -H 'Authorization: Bearer {state.api_key}' {state.api_url}/v1/contracts/<contract_id>

Sign it by hand on the sandbox's page: open {state.sandbox_url}/sandbox/inbox in a browser for the
email signer; the embedded signer (signer 2) signs through signbridge's stable link:

  curl -sS -H 'Authorization: Bearer {state.api_key}' '{state.api_url}/v1/contracts/<contract_id>/signing-link?signer=2'

and open the "url" it returns. The CRM receiver's page shows each status callback as it arrives.
Move time:  .venv/bin/python -m devstack clock --at 2027-10-31T09:00:00+08:00
Operate it: make admin ARGS="tenants list"   (python -m chalicelib.admin … against this stack:
            tenants add|set|keys, sources add, templates, audit — docs/tenant-settings.md)

Ctrl-C stops everything.""", flush=True)
        while not stopping:
            problem = stack.check_alive()
            if problem:
                print(f"stopping: {problem}", flush=True)
                return 1
            time.sleep(0.5)
    finally:
        print("\nstopping…", flush=True)
        stack.stop()
    return 0
