"""The send job: render → S3 copy with sha256 → one DocuSign envelope → status sent.

Exactly one envelope per contract: a lease keeps two workers apart, and before creating an envelope
the job looks for one DocuSign already has for this contract (by the hidden contractId field), so a
job that died after DocuSign accepted the envelope does not send a second one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chalicelib.contracts.approval import changed_after_approval, document_version
from chalicelib.contracts.lifecycle import Status
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import add_log_keys, count, logger
from chalicelib.esign import envelopes
from chalicelib.esign.governor import RateLimited
from chalicelib.esign.signing_settings import SigningSettings, for_tenant
from chalicelib.lifecycle.approvals import reasons_for, request_approval
from chalicelib.lifecycle.transitions import transition
from chalicelib.rendering.render import RenderError, render_contract
from chalicelib.store import contracts as store
from chalicelib.store import documents
from chalicelib.store.leases import Lease
from chalicelib.store.templates import RegistryTemplateOverrides

SEND_LEASE = timedelta(minutes=5)
CREATE_CLAIM_TTL = timedelta(days=60)  # outlives any envelope made for the contract (at most 30 days open)
SENDABLE = {Status.RECEIVED, Status.APPROVED, Status.SENDING}

# Fault-injection seam for the tests: called once DocuSign has accepted the envelope and before we
# record it, the one moment where a dying job would leave an envelope we do not know about.
after_create_hook: Callable[[envelopes.EnvelopeRef], None] | None = None


def run(tenant_id: str, contract_id: str) -> str:
    record = store.find_contract(tenant_id, contract_id)
    if record is None:
        logger.warning("send job for an unknown contract", extra={"contract_id": contract_id})
        return "unknown"
    if record.status == Status.PENDING_APPROVAL and not record.envelope_id:
        return _ask_approvers(record)  # a repeated job: the approvers' email, if it did not go out
    if record.status not in SENDABLE or record.envelope_id:
        return f"nothing to do ({record.status})"
    with Lease(f"lease#send#{tenant_id}#{contract_id}", SEND_LEASE) as lease:
        if not lease.held:
            raise RetryableError(f"{contract_id}: another worker is sending it")
        return _send(store.get_contract(tenant_id, contract_id))


def _send(record: StoredContract) -> str:
    if record.status not in SENDABLE or record.envelope_id:
        return f"nothing to do ({record.status})"
    if record.status == Status.RECEIVED:
        gated = _approval_gate(record)
        if gated is not None:
            return gated
    if record.status == Status.APPROVED and record.approved_version != document_version(record.document or {}):
        return _approved_version_changed(record)
    if record.status != Status.SENDING:
        # Only with the document read here: a CRM update since then fails this move (it re-runs).
        try:
            version = document_version(record.document or {})
            # The timeline says which version is being sent, and which one an approver approved.
            record = transition(record, Status.SENDING, event_type="sending", expect_version=version,
                                detail={"version": version, "approved_version": record.approved_version})
        except store.StaleStatus as err:
            raise RetryableError(f"{record.contract_id}: changed while the send job read it; run again") from err
    document: dict[str, Any] = record.document
    try:
        rendered, record = _render(record)
    except RenderError as err:  # the contract's data cannot be rendered: visible, not retried
        transition(record, Status.SEND_FAILED, event_type="render_failed", reason=str(err),
                   detail={"error": str(err)})
        return "render failed"

    signing = for_tenant(record.tenant_id)
    # Only an attempt that follows one which called create may find an envelope made for it (the
    # create went through, its answer was lost): the first attempt creates without looking.
    create_claim = f"envelope-create#{record.tenant_id}#{record.contract_id}"
    first_create = store.claim_once(create_claim, CREATE_CLAIM_TTL, tenant_id=record.tenant_id,
                                    contract_id=record.contract_id)
    existing = [] if first_create else envelopes.find_envelopes(record.tenant_id, record.contract_id,
                                                                       record.created_at)
    if existing:
        ref, how = existing[0], "recovered"
        for extra in existing[1:]:
            _void_duplicate(record, extra, ref)
        logger.warning("envelope recovered by its contractId field", extra={
            "contract_id": record.contract_id, "envelope_id": ref.envelope_id})
    else:
        try:
            ref = envelopes.create_envelope(_envelope_request(record, document, rendered.html, signing))
        except RateLimited:
            # Refused for the budget (before DocuSign did anything, or by the governor): nothing was
            # created, so the next attempt need not look for it.
            if first_create:
                store.release_claim(create_claim)
            raise
        except envelopes.EnvelopeRejected as err:
            transition(record, Status.SEND_FAILED, event_type="send_failed", reason=err.message or err.code,
                       detail={"error_code": err.code, "message": err.message, "trace_token": err.trace_token})
            return f"send failed: {err.code}"
        how = "created"
        if after_create_hook is not None:
            after_create_hook(ref)
    add_log_keys(envelope_id=ref.envelope_id)  # the rest of the job's lines name the envelope too
    try:
        transition(
            record, Status.SENT, event_type="envelope_sent",
            detail={"envelope_id": ref.envelope_id, "how": how, "rendered_sha256": record.rendered.sha256
                    if record.rendered else None, "expire_after_days": signing.expire_after_days,
                    # which version went out, and which one an approver approved (if any)
                    "version": document_version(document), "approved_version": record.approved_version},
            changes=store.ContractChanges(envelope_id=ref.envelope_id, envelope_status=ref.status),
            step=f"envelope_sent#{ref.envelope_id}",  # the same step Connect's envelope-sent records
        )
    except store.StaleStatus:
        # DocuSign's Connect message can arrive before this write: it has recorded the envelope and
        # moved the contract on already. Anything else is a real conflict.
        fresh = store.get_contract(record.tenant_id, record.contract_id)
        if fresh.envelope_id is None and fresh.status == Status.VOIDED:
            # Cancelled by the CRM while we were sending: the envelope must not stay open.
            envelopes.void_envelope(record.tenant_id, ref.envelope_id, f"Contract {record.number} was cancelled")
            store.append_event(fresh, "envelope_voided", {"envelope_id": ref.envelope_id, "how": how,
                                                          "reason": "cancelled while sending"})
            return f"voided {ref.envelope_id} (contract cancelled while sending)"
        if fresh.envelope_id != ref.envelope_id:
            raise
        store.append_event(fresh, "envelope_created", {"envelope_id": ref.envelope_id, "how": how,
                                                       "expire_after_days": signing.expire_after_days,
                                                       "version": document_version(document),
                                                       "approved_version": record.approved_version})
    count("EnvelopesSent")
    logger.info("envelope sent", extra={"contract_id": record.contract_id, "envelope_id": ref.envelope_id,
                                        "how": how})
    return f"sent {ref.envelope_id}"


def _approval_gate(record: StoredContract) -> str | None:
    """The tenant's approval rules: a contract they catch waits in pending_approval (the approvers
    are emailed once) until POST /v1/contracts/{id}/approve; None when it may be sent now."""

    reasons = reasons_for(record)
    if not reasons:
        return None
    record = transition(record, Status.PENDING_APPROVAL, event_type="approval_required",
                        detail={"reasons": reasons, "version": document_version(record.document or {})},
                        changes=store.ContractChanges(approval_required=True))
    logger.info("contract waits for approval", extra={"contract_id": record.contract_id, "reasons": reasons})
    return request_approval(record, reasons)


def _approved_version_changed(record: StoredContract) -> str:
    """The document is not the one approved (a CRM update landed after the approval was read): it
    goes back to the gate instead of out to DocuSign."""

    version = document_version(record.document or {})
    reasons = [changed_after_approval(record.approved_version, version), *reasons_for(record)]
    record = transition(record, Status.PENDING_APPROVAL, event_type="approval_required",
                        detail={"reasons": reasons, "approved_version": record.approved_version, "version": version})
    logger.warning("approved contract changed before sending: back to approval",
                   extra={"contract_id": record.contract_id})
    return request_approval(record, reasons)


def _ask_approvers(record: StoredContract) -> str:
    return request_approval(record, reasons_for(record))


def _render(record: StoredContract) -> tuple[Any, StoredContract]:
    """The rendered contract, and the contract with its rendered copy (stored now if it changed)."""
    rendered = render_contract(record.document, overrides=RegistryTemplateOverrides(), tenant_id=record.tenant_id)
    if record.rendered is None or record.rendered.sha256 != rendered.sha256:
        ref = documents.put_rendered(record.tenant_id, record.contract_id, rendered.html,
                                     rendered.template_version)
        record = store.update_fields(record, store.ContractChanges(rendered=ref))
        store.append_event(record, "rendered", {"sha256": ref.sha256, "template": rendered.template_version,
                                                "s3_key": ref.key})
    return rendered, record


def _void_duplicate(record: StoredContract, extra: envelopes.EnvelopeRef, kept: envelopes.EnvelopeRef) -> None:
    """A second live envelope for one contract (a create that timed out while DocuSign went on to
    make it, then a retry): keep the oldest, void the others before any signer can act on them."""
    reason = f"Duplicate of envelope {kept.envelope_id} for contract {record.number}"
    try:
        envelopes.void_envelope(record.tenant_id, extra.envelope_id, reason)
        outcome = "voided"
    except envelopes.EnvelopeRejected as err:  # e.g. already completed: a human must look
        outcome = f"not voided: {err.code}"
    logger.error("duplicate envelope for one contract", extra={
        "contract_id": record.contract_id, "kept": kept.envelope_id, "duplicate": extra.envelope_id,
        "outcome": outcome})
    store.append_event(record, "duplicate_envelope", {"kept": kept.envelope_id, "duplicate": extra.envelope_id,
                                                      "outcome": outcome})


def _envelope_request(record: StoredContract, document: dict[str, Any], html: str,
                      signing: SigningSettings | None = None) -> envelopes.EnvelopeRequest:
    title = str(document.get("title") or record.number)
    signing = signing or for_tenant(record.tenant_id)
    return envelopes.EnvelopeRequest(
        tenant_id=record.tenant_id,
        contract_id=record.contract_id,
        subject=f"{record.number} {title}",
        document_name=f"{record.number} {title}",
        document_html=html,
        signers=envelopes.signer_specs(record.contract_id, record.signers),
        cc=[(c["name"], c["email"]) for c in document.get("cc") or []],
        reminders_enabled=signing.reminders_enabled,
        reminder_delay_days=signing.reminder_delay_days,
        reminder_frequency_days=signing.reminder_frequency_days,
        expire_after_days=signing.expire_after_days,
        expire_warn_days=signing.expire_warn_days,
    )
