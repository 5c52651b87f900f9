"""The archive job: the combined signed PDF (with DocuSign's certificate) and the certificate of
completion alone to S3, each with its sha256, then the contract is in force and its reminders are
planned.

The certificate is fetched here, when the envelope completes, rather than when an evidence bundle is
first asked for: it is evidence, so it is kept while DocuSign certainly still has it (an account's
retention policy may purge a completed envelope's documents), and the evidence route never spends
DocuSign's budget inside a request. It costs one call per contract (three with the create and the
combined document; BENCHMARKS.md). Splitting it off the combined PDF instead would need the number
of the contract's own pages, which only another call tells."""

from __future__ import annotations

from chalicelib.contracts.lifecycle import Status
from chalicelib.core.observability import logger
from chalicelib.esign import envelopes
from chalicelib.lifecycle.transitions import transition
from chalicelib.reminders import scheduling
from chalicelib.store import contracts as store
from chalicelib.store import documents


def run(tenant_id: str, contract_id: str) -> str:
    record = store.find_contract(tenant_id, contract_id)
    if record is None or record.envelope_id is None:
        return "unknown"
    if record.status != Status.COMPLETED:
        return f"nothing to do ({record.status})"
    if record.signed is None:
        # Both downloads before any write: a refusal (budget, outage) on the second leaves nothing behind.
        pdf = envelopes.combined_pdf(tenant_id, record.envelope_id)
        certificate = envelopes.certificate_pdf(tenant_id, record.envelope_id)
        ref = documents.put_signed(tenant_id, contract_id, record.envelope_id, pdf)
        cert = documents.put_certificate(tenant_id, contract_id, record.envelope_id, certificate)
        try:
            # The certificate's reference lives in the `archived` event (web/evidence.py reads it there).
            record = store.record_archived(record, ref, {
                "sha256": ref.sha256, "bytes": len(pdf), "s3_key": ref.key, "version_id": ref.version_id,
                "certificate": {"sha256": cert.sha256, "bytes": len(certificate), "s3_key": cert.key,
                                "version_id": cert.version_id},
            })
            logger.info("signed PDF archived", extra={"contract_id": contract_id, "sha256": ref.sha256})
        except store.StaleStatus:
            # A second copy of this job recorded it first (its S3 version is the one on record).
            record = store.get_contract(tenant_id, contract_id)
            if record.signed is None or record.status != Status.COMPLETED:
                return f"nothing to do ({record.status})"

    planned = scheduling.schedule_contract(record)
    try:
        transition(record, Status.ACTIVE, event_type="active", detail={"reminders_planned": planned},
                   step=f"active#{record.envelope_id}")
    except store.StaleStatus:
        return f"already {store.get_contract(tenant_id, contract_id).status}"
    return "archived"
