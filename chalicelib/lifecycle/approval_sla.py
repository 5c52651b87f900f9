"""The approval SLA: a contract still waiting for its approvers `sla_hours` after they were asked
gets one reminder to them, and after another `sla_hours` the question goes to the escalation
approvers (`escalate_to`), each with their own approve and reject links. Opt-in per tenant: only
rules with `sla_hours` set start the clock.

Driven by a delayed `approval_sla` job: SQS delays at most 15 minutes, so the job goes back on the
queue until its `due_at`. Each step happens once per document version (a claim); a contract that was
decided, voided or changed meanwhile ends the chain (a changed contract is asked about afresh, with
its own clock)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from chalicelib.contracts.approval import approvers, document_version, needs_approval
from chalicelib.contracts.lifecycle import Status
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.aws import SQS_MAX_DELAY_SECONDS, enqueue
from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import logger
from chalicelib.lifecycle.approval_tokens import links_for
from chalicelib.notify import emails, mailer
from chalicelib.store import contracts as store
from chalicelib.store.registry import get_tenant

JOB = "approval_sla"
STEP_CLAIM_TTL = timedelta(days=60)
MAX_SLA_HOURS = 24 * 30


def sla_seconds(rules: Mapping[str, Any]) -> float | None:
    """The rules' `sla_hours` in seconds (fractions allowed), None when unset or not a positive number."""
    value = rules.get("sla_hours")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= MAX_SLA_HOURS:
        return None
    return float(value) * 3600


def start(record: StoredContract, rules: Mapping[str, Any]) -> None:
    """Starts the clock for the version just put to the approvers (when the rules have an SLA)."""
    seconds = sla_seconds(rules)
    if seconds is not None:
        _schedule(record, document_version(record.document or {}), "reminder", seconds)


def _schedule(record: StoredContract, version: str, step: str, after_seconds: float) -> None:
    enqueue({"job": JOB, "tenant_id": record.tenant_id, "contract_id": record.contract_id, "version": version,
             "step": step, "due_at": time.time() + after_seconds},
            delay_seconds=min(SQS_MAX_DELAY_SECONDS, math.ceil(after_seconds)))


def run(message: dict[str, Any]) -> str:
    wait = float(message["due_at"]) - time.time()
    if wait > 0:  # longer than SQS can delay at once: back on the queue for the rest
        enqueue(message, delay_seconds=min(SQS_MAX_DELAY_SECONDS, math.ceil(wait)))
        return f"waiting {wait:.0f}s"
    record = store.find_contract(str(message["tenant_id"]), str(message["contract_id"]))
    version, step = str(message["version"]), str(message["step"])
    if record is None or record.status != Status.PENDING_APPROVAL or \
            document_version(record.document or {}) != version:
        return "nothing to do: decided, voided or changed since"
    setting = get_tenant(record.tenant_id).settings.get("approval")
    rules: dict[str, Any] = dict(setting) if isinstance(setting, Mapping) else {}
    claim = f"approval-sla#{record.tenant_id}#{record.contract_id}#{version}#{step}"
    if not store.claim_once(claim, STEP_CLAIM_TTL, tenant_id=record.tenant_id, contract_id=record.contract_id):
        return f"{step} already done"
    escalation = approvers({"approvers": rules.get("escalate_to") or []})
    to = approvers(rules) if step == "reminder" else escalation
    reasons = needs_approval(record.document or {}, rules)
    sent: list[str] = []
    for address in to:
        email = emails.approval_request(record, reasons, [address], links=links_for(record, address, rules))
        try:
            mailer.send(email)
        except RetryableError:
            store.release_claim(claim)
            raise
        except mailer.EmailSuppressed:
            continue
        sent.append(address)
    event = "approval_reminder_sent" if step == "reminder" else "approval_escalated"
    store.append_event(record, event, {"to": sent, "version": version})
    logger.info("approval SLA step", extra={"contract_id": record.contract_id, "step": step, "to": len(sent)})
    seconds = sla_seconds(rules)
    if step == "reminder" and escalation and seconds is not None:
        _schedule(record, version, "escalation", seconds)
    return f"{event} to {len(sent)}"
