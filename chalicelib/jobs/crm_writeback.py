"""The `crm_writeback` job: the contract's state shown on the CRM record itself (status, envelope
link, signed-document link, signed date, paid amount, overdue), through the CRM's API with the
credential stored on the source (chalicelib/crm); queued by notify/crm_writeback.py. The job writes the contract
as it is when the job runs, not as it was when queued: a job that runs late writes the newest state,
and the one after it finds nothing new. What was written is claimed by its fingerprint
(`crmwb#{tenant}#{contract}#{sha}`), so each distinct state is written once, even by two jobs at
once. A CRM that is down or rate-limited is retried with backoff (its Retry-After honoured) and
finally dead-lettered like any job; a refusal of our data (an unknown field, the record deleted)
is a `crm_writeback_refused` event on the timeline, a log line and a metric."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.contracts.lifecycle import Status
from chalicelib.contracts.locales import primary_locale_of
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.config import settings
from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import count, logger
from chalicelib.crm import api as crm_api
from chalicelib.esign import document_links
from chalicelib.esign.accounts import AccountUnavailable, account_for_tenant, envelope_web_url
from chalicelib.notify.crm_writeback import source_of
from chalicelib.reminders.milestones import milestones_view
from chalicelib.store import contracts as store

WRITTEN_TTL = timedelta(days=400)  # longer than any contract stays in signing or in execution
_HAS_SIGNED_DOCUMENT = {Status.ACTIVE, Status.EXPIRING, Status.RENEWED, Status.EXPIRED, Status.TERMINATED}
STATUS_LABELS = {
    "en": {
        "received": "Received", "pending_approval": "Awaiting approval", "approved": "Approved",
        "rejected": "Rejected by approver", "sending": "Sending", "send_failed": "Send failed",
        "sent": "Sent for signature", "delivered": "Opened by a signer", "completed": "Signed",
        "declined": "Declined", "voided": "Voided", "active": "Signed, in force", "expiring": "Expiring soon",
        "renewed": "Renewed", "expired": "Expired", "terminated": "Terminated",
    },
    "zh-CN": {
        "received": "已接收", "pending_approval": "待审批", "approved": "已审批", "rejected": "审批驳回",
        "sending": "发送中", "send_failed": "发送失败", "sent": "已发送待签署", "delivered": "签署人已查看",
        "completed": "已签署", "declined": "已拒签", "voided": "已作废", "active": "已签署，履行中",
        "expiring": "即将到期", "renewed": "已续约", "expired": "已到期", "terminated": "已终止",
    },
}


def update_for(record: StoredContract, today: datetime | None = None) -> crm_api.WriteBack:
    """What the CRM record shows for the contract as it is now."""
    locale = primary_locale_of(record)  # a bilingual contract's labels in its prevailing language
    status = str(record.status)
    envelope_url = None
    if record.envelope_id:
        try:
            envelope_url = envelope_web_url(account_for_tenant(record.tenant_id), record.envelope_id)
        except AccountUnavailable:
            envelope_url = None
    signed_document_url = evidence_url = None
    if record.signed is not None and record.status in _HAS_SIGNED_DOCUMENT:
        base = settings().public_base_url.rstrip("/")
        signed_document_url = base + document_links.signed_link_path(record.tenant_id, record.contract_id)
        evidence_url = base + document_links.evidence_link_path(record.tenant_id, record.contract_id)
    signed_dates = [s.signed_at for s in record.signers if s.signed_at]
    signed_at = max(signed_dates)[:10] if signed_dates and len(signed_dates) == len(record.signers) else None
    paid_amount, overdue = None, None
    if (record.document.get("payment") or {}).get("milestones"):
        view = milestones_view(record.document, record.milestones, (today or datetime.now(UTC)).date())
        paid_amount = view["totals"]["paid"]
        overdue = any(p["overdue"] for p in view["payment"])
    return crm_api.WriteBack(
        contract_id=record.contract_id, number=record.number, status=status,
        status_label=STATUS_LABELS[locale].get(status, status), envelope_id=record.envelope_id,
        envelope_url=envelope_url, signed_document_url=signed_document_url, signed_at=signed_at,
        paid_amount=paid_amount, overdue=overdue, evidence_url=evidence_url)


def fingerprint(update: crm_api.WriteBack) -> str:
    return hashlib.sha256(json.dumps(asdict(update), sort_keys=True, default=str).encode()).hexdigest()[:32]


def run(message: dict[str, Any]) -> str:
    tenant_id, contract_id = str(message["tenant_id"]), str(message["contract_id"])
    record = store.find_contract(tenant_id, contract_id)
    if record is None:
        return "unknown contract"
    source = source_of(record)
    if source is None or not crm_api.api_configured(source):
        return "the source does not write back"
    update = update_for(record)
    claim = f"crmwb#{tenant_id}#{contract_id}#{fingerprint(update)}"
    if not store.claim_once(claim, WRITTEN_TTL, tenant_id=tenant_id, contract_id=contract_id):
        return "already written"
    try:
        crm_api.write_back(source, record.crm_record_id, update)
    except crm_api.CrmUnavailable:
        store.release_claim(claim)
        raise
    except crm_api.CrmRefused as err:
        store.release_claim(claim)
        if err.auth:  # the credential is wrong or expired: ours to fix, so retried and alarmed
            raise RetryableError(f"{source.kind} refused the credential: {err.code} {err.message}") from err
        logger.error("CRM refused the write-back", extra={
            "tenant_id": tenant_id, "contract_id": contract_id, "source_id": source.source_id, "crm": source.kind,
            "code": err.code, "http_status": err.status})
        count("CrmWriteBackRefused", crm=source.kind)
        store.append_event(record, "crm_writeback_refused", {"crm": source.kind, "code": err.code,
                                                             "message": err.message[:300]})
        return f"refused: {err.code}"
    store.append_event(record, "crm_written_back", {"crm": source.kind, "status": update.status,
                                                    "signed_document": update.signed_document_url is not None})
    count("CrmWrittenBack", crm=source.kind)
    return f"written ({update.status})"
