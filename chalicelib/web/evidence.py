"""`GET /v1/contracts/{id}/evidence` (and the stable `/v1/evidence/{link}`): a short-lived URL of the
contract's evidence bundle, a zip of

- `signed.pdf`: the archived signed PDF, DocuSign's combined document (the signed contract followed
  by its certificate of completion),
- `certificate.pdf`: DocuSign's certificate of completion alone (documentId `certificate`), fetched
  and archived with its sha256 by the archive job; its reference is in the `archived` event.
  Contracts archived before it was kept have none: their bundle has the certificate inside
  `signed.pdf` only, and the manifest says which,
- `rendered.html`: the document as rendered and sent,
- `timeline.json`: every event of the contract's timeline,
- `manifest.json`: each file's sha256 and size and a hash chain over them (`chain` of file i is
  sha256 of the hex chain of file i-1 followed by file i's hex sha256, the first one's from its sha256
  alone; the last chain is the bundle's `root`), plus the sha256 values the contract records for the
  signed document, its certificate and the rendered document, so a verifier needs nothing else.

Built on request, once per state of the timeline: the S3 key is the timeline's length and digest,
under the contract's own prefix; the next request for the same state gets the stored bundle. The work
is bounded by the documents (one signed PDF, one certificate, one HTML) and the timeline; it never
calls DocuSign. The zip is deterministic
(fixed order, times from the timeline), so rebuilding a state gives the same bytes and root."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

from chalicelib.contracts.stored import StoredContract, StoredDocument, TimelineEvent
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.store import contracts as store
from chalicelib.store import document_links as links
from chalicelib.store import documents

URL_LIFETIME_SECONDS = 300
FORMAT = "signbridge-evidence/1"
CHAIN_RULE = ("chain[0] = sha256(sha256(file[0])); chain[i] = sha256(chain[i-1] + sha256(file[i])), each "
              "sha256 as lowercase hex and the concatenation hashed as ASCII; root = the last chain")
CERTIFICATE_NOTE = ("certificate.pdf is DocuSign's certificate of completion of the envelope, as DocuSign served it "
                    "when the envelope was archived; signed.pdf is DocuSign's combined document: the signed contract "
                    "followed by the same certificate")
CERTIFICATE_INSIDE_NOTE = ("signed.pdf is DocuSign's combined document: the signed contract followed by DocuSign's "
                           "certificate of completion (archived before the certificate was kept as a file of its own)")


def chain(digests: list[str]) -> list[str]:
    links_: list[str] = []
    previous = ""
    for digest in digests:
        previous = hashlib.sha256((previous + digest).encode("ascii")).hexdigest()
        links_.append(previous)
    return links_


def timeline_json(events: list[TimelineEvent]) -> bytes:
    return json.dumps([{"type": e.type, "at": e.at.isoformat(), "status": e.status, "detail": e.detail or {}}
                       for e in events], ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def build(record: StoredContract, events: list[TimelineEvent]) -> bytes:
    """The bundle's zip bytes (the contract must have its signed PDF recorded)."""
    assert record.signed is not None  # the callers check it (409 not_signed)
    files: list[tuple[str, bytes]] = [("signed.pdf", documents.get_bytes(record.signed))]
    certificate = archived_certificate(record, events)
    if certificate is not None:
        files.append(("certificate.pdf", documents.get_bytes(certificate)))
    if record.rendered is not None:
        files.append(("rendered.html", documents.get_bytes(record.rendered)))
    files.append(("timeline.json", timeline_json(events)))
    digests = [hashlib.sha256(body).hexdigest() for _, body in files]
    chained = chain(digests)
    manifest: dict[str, Any] = {
        "format": FORMAT, "contract_id": record.contract_id, "number": record.number,
        "envelope_id": record.envelope_id, "status": record.status, "timeline_events": len(events),
        "files": [{"name": name, "bytes": len(body), "sha256": digest, "chain": link}
                  for (name, body), digest, link in zip(files, digests, chained, strict=True)],
        "chain_rule": CHAIN_RULE, "root": chained[-1],
        "recorded": {"signed_sha256": record.signed.sha256,
                     "certificate_sha256": certificate.sha256 if certificate else None,
                     "rendered_sha256": record.rendered.sha256 if record.rendered else None},
        "certificate_of_completion": CERTIFICATE_NOTE if certificate else CERTIFICATE_INSIDE_NOTE,
    }
    files.append(("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")))
    stamp = max((e.at for e in events), default=record.updated_at).timetuple()[:6]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, body in files:
            info = zipfile.ZipInfo(name, date_time=(max(stamp[0], 1980), *stamp[1:]))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, body)
    return out.getvalue()


def archived_certificate(record: StoredContract, events: list[TimelineEvent]) -> StoredDocument | None:
    """The certificate of completion archived with the contract's signed PDF: the `archived` event
    that recorded that PDF names it (None for a contract archived before certificates were kept)."""
    assert record.signed is not None
    for event in events:
        detail = event.detail or {}
        cert = detail.get("certificate")
        if event.type == "archived" and detail.get("sha256") == record.signed.sha256 and isinstance(cert, dict):
            return StoredDocument(key=str(cert["s3_key"]), sha256=str(cert["sha256"]),
                                  version_id=cert.get("version_id"))
    return None


def evidence_url(record: StoredContract) -> str:
    if record.signed is None:
        raise Conflict(f"contract {record.contract_id} has no archived signed PDF yet (status {record.status}): "
                       "the evidence bundle exists once it is signed and archived", code="not_signed")
    events = store.timeline(record.tenant_id, record.contract_id)
    state = f"{len(events)}-{hashlib.sha256(timeline_json(events)).hexdigest()[:16]}"
    key = documents.evidence_key(record.tenant_id, record.contract_id, state)
    if not documents.object_exists(key):
        documents.put_evidence(key, build(record, events))
    return documents.presigned_key_url(key, expires_in=URL_LIFETIME_SECONDS)


def evidence_url_by_link(link_id: str) -> str:
    """GET /v1/evidence/{link id}: the bundle's fresh short-lived URL (409 until signed and archived)."""
    record = links.linked_contract(link_id, links.EVIDENCE)
    if record is None:
        raise NotFound("no such evidence link")
    return evidence_url(record)
