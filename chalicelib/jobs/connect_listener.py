"""POST /v1/esign/docusign/connect: verify the HMAC on the raw body, then apply the message.
The work is a few conditional DynamoDB writes, well inside Connect's few-second budget; a message we
cannot apply yet answers 503 so that DocuSign delivers it again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core.errors import NotFound, RetryableError, Unauthorized
from chalicelib.core.observability import add_log_keys, logger
from chalicelib.esign.accounts import AccountUnavailable, account_for_tenant, service_account
from chalicelib.esign.connect import parse_message, verify_hmac
from chalicelib.jobs.esign_events import apply_connect
from chalicelib.store.registry import check_tenant_id


def connect_keys(tenant_id: str | None = None) -> list[str]:
    """The HMAC keys of the account that sends a tenant's Connect messages (the service's when None
    or when the tenant has no account of its own)."""
    return (account_for_tenant(tenant_id) if tenant_id else service_account()).connect_keys()


def receive_connect(headers: Mapping[str, str], raw_body: bytes, tenant_id: str | None = None
                    ) -> tuple[int, dict[str, Any]]:
    """`tenant_id`: the `tenant` of the listener URL, set on envelopes sent from a tenant's own account
    (esign/envelopes.connect_url). Its messages are checked with that account's keys and may touch
    that tenant's envelopes only."""
    if tenant_id is not None:
        try:
            check_tenant_id(tenant_id)
        except ValueError as err:
            raise NotFound("no such Connect listener") from err
    try:
        keys = connect_keys(tenant_id)
    except AccountUnavailable as err:  # ours to fix: DocuSign retries while we do
        logger.error("Connect keys of a tenant's account unreadable", extra={"tenant_id": tenant_id,
                                                                              "error": str(err)})
        return 503, {"error": {"code": "retry_later", "message": "the account's Connect keys are unavailable"}}
    verify_hmac(keys, headers, raw_body)
    message = parse_message(raw_body)
    # Signed, so its own words: the rest of the request's log lines say which envelope and contract.
    add_log_keys(envelope_id=message.envelope_id, contract_id=message.contract_id,
                 tenant_id=message.tenant_id, connect_event=message.event)
    if tenant_id is not None and message.tenant_id != tenant_id:
        # Signed by tenant A's account, about tenant B's envelope: A's keys never speak for B.
        logger.error("Connect message about another tenant's envelope", extra={
            "listener_tenant": tenant_id, "envelope_tenant": message.tenant_id, "envelope_id": message.envelope_id})
        raise Unauthorized("this listener accepts the messages of its own tenant's envelopes only")

    try:
        outcome = apply_connect(message)
    except RetryableError as err:
        logger.warning("Connect message deferred", extra={"envelope_id": message.envelope_id,
                                                          "event": message.event, "reason": str(err)})
        return 503, {"error": {"code": "retry_later", "message": str(err)}}
    return 200, {"ok": True, "outcome": outcome}
