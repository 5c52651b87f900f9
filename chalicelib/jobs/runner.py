"""Runs one job from the jobs queue. A provider's or our own transient failure is retried with
exponential backoff by re-enqueueing with a delay; after the last attempt the job goes to the
dead-letter queue and the contract shows it. An unexpected exception propagates, so SQS redelivers
and finally dead-letters it through the queue's redrive policy."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

from chalicelib.contracts.lifecycle import Status, can_move
from chalicelib.core.aws import SQS_MAX_DELAY_SECONDS, backoff_seconds, enqueue
from chalicelib.core.config import configuration_problems, settings
from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import count, log_context, logger
from chalicelib.esign.governor import RateLimited
from chalicelib.jobs import archive, crm_writeback, enrich, replan, send, void
from chalicelib.lifecycle import approval_sla
from chalicelib.lifecycle.transitions import transition
from chalicelib.notify import callbacks
from chalicelib.notify.crm_writeback import JOB as CRM_WRITEBACK_JOB
from chalicelib.reminders import hourly
from chalicelib.store import contracts as store

MAX_ATTEMPTS = 8
# A deployed stage missing a required setting keeps its jobs waiting in the queue (never run, never
# dead-lettered): once the setting is deployed they run as they were.
NOT_CONFIGURED_DELAY_SECONDS = SQS_MAX_DELAY_SECONDS
# What a job's message may say about what it works on: appended to every log line of the job.
CORRELATION_FIELDS = ("contract_id", "tenant_id", "source_id", "delivery_id", "envelope_id")


def _jobs(context: Any = None) -> dict[str, Callable[[dict[str, Any]], str]]:
    return {
        "send": lambda m: send.run(m["tenant_id"], m["contract_id"]),
        "archive": lambda m: archive.run(m["tenant_id"], m["contract_id"]),
        "callback": callbacks.run,
        "void": void.run,
        "enrich": enrich.run,
        approval_sla.JOB: approval_sla.run,
        CRM_WRITEBACK_JOB: crm_writeback.run,
        replan.JOB: replan.run,  # admin tenants set: a setting planning reads changed
        "reminders": lambda m: hourly.run_job(m, context),  # the Lambda context: its time budget
    }


def handle(body: str, context: Any = None, *, message_id: str | None = None) -> str:
    """Runs one SQS message (its id: `message_id`) with the job's correlation keys on every log line."""
    message = json.loads(body)
    fields = {k: message.get(k) for k in CORRELATION_FIELDS} if isinstance(message, dict) else {}
    with log_context(job=str(message.get("job", "")) if isinstance(message, dict) else None,
                     function_request_id=getattr(context, "aws_request_id", None), sqs_message_id=message_id,
                     **fields):
        return _handle(message, context)


def _handle(message: dict[str, Any], context: Any) -> str:
    job = message.get("job", "")
    attempt = int(message.get("attempt", 1))
    missing = configuration_problems()
    if missing:
        logger.error("job refused: required settings missing; it waits in the queue",
                     extra={"missing": sorted(missing), "delay_s": NOT_CONFIGURED_DELAY_SECONDS})
        count("JobsRefusedNotConfigured", job=str(job))
        enqueue({**message, "not_configured": int(message.get("not_configured", 0)) + 1},
                delay_seconds=NOT_CONFIGURED_DELAY_SECONDS)
        return "waiting: not configured"
    runner = _jobs(context).get(job)
    if runner is None:
        dead_letter(message, f"unknown job {job!r}")
        return "dead-lettered"
    try:
        outcome = runner(message)
    except RateLimited as err:
        # DocuSign's budget for the account is spent: the same attempt runs again after the reset
        # (SQS delays 15 minutes at most; a longer wait takes several hops). Never dead-lettered.
        delay = min(SQS_MAX_DELAY_SECONDS, math.ceil(err.retry_after))
        logger.info("job waits for DocuSign's budget", extra={"job": job, "delay_s": delay, "reason": str(err)})
        count("JobsRateLimited", job=job)
        enqueue({**message, "rate_limited": int(message.get("rate_limited", 0)) + 1}, delay_seconds=delay)
        return f"waiting {delay}s for DocuSign's budget"
    except RetryableError as err:
        if attempt >= MAX_ATTEMPTS:
            dead_letter(message, str(err))
            return "dead-lettered"
        # A provider that says when to come back (Retry-After) is not asked sooner.
        wait = getattr(err, "retry_after_seconds", None)
        delay = max(backoff_seconds(attempt), min(SQS_MAX_DELAY_SECONDS, math.ceil(wait or 0)))
        logger.warning("job will be retried", extra={"job": job, "attempt": attempt, "delay_s": delay,
                                                      "reason": str(err)})
        enqueue({**message, "attempt": attempt + 1, "last_error": str(err)[:500]}, delay_seconds=delay)
        return f"retry in {delay}s"
    except Exception:
        # A bug: logged here with the job's keys, then raised for SQS to redeliver and, after its
        # receives, dead-letter (the queue's redrive policy).
        logger.exception("job failed")
        count("JobsFailed", job=str(job))
        raise
    logger.info("job done", extra={"job": job, "outcome": outcome, "contract_id": message.get("contract_id")})
    return outcome


_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def scheduled(job: str) -> Callable[[_Handler], _Handler]:
    """For a scheduled handler (`handler(event)`): the job kind and Lambda's request id on its log
    lines, and in a deployed stage missing a required setting, nothing done (the next run catches
    up: the due index and the reconcile checkpoint keep what is left)."""

    def decorate(handler: _Handler) -> _Handler:
        @functools.wraps(handler)
        def wrapper(event: Any) -> Any:
            context = getattr(event, "context", None)
            with log_context(job=job, function_request_id=getattr(context, "aws_request_id", None)):
                missing = configuration_problems()
                if missing:
                    logger.error("scheduled run refused: required settings missing", extra={"missing": sorted(missing)})
                    count("JobsRefusedNotConfigured", job=job)
                    return {"refused": "not_configured", "missing": sorted(missing)}
                return handler(event)

        return wrapper  # type: ignore[return-value]

    return decorate


def dead_letter(message: dict[str, Any], reason: str) -> None:
    logger.error("job dead-lettered", extra={"job": message.get("job"), "reason": reason,
                                            "contract_id": message.get("contract_id")})
    count("JobsDeadLettered", job=str(message.get("job")))
    enqueue({**message, "dead_letter_reason": reason[:1000]}, queue=settings().jobs_queue_name + "-dlq")
    _mark_contract(message, reason)


def _mark_contract(message: dict[str, Any], reason: str) -> None:
    """Makes the failure visible on the contract (status and timeline)."""

    tenant_id, contract_id = message.get("tenant_id"), message.get("contract_id")
    if not tenant_id or not contract_id:
        return
    record = store.find_contract(tenant_id, contract_id)
    if record is None:
        return
    detail = {"job": message.get("job"), "reason": reason[:500]}
    if message.get("job") == "send" and can_move(record.status, Status.SEND_FAILED):
        try:
            transition(record, Status.SEND_FAILED, event_type="job_dead_lettered", detail=detail,
                              reason=reason[:500])
            return
        except store.StaleStatus:
            pass
    store.append_event(record, "job_dead_lettered", detail)
