"""The evidence bundle (GET /v1/contracts/{id}/evidence): a zip whose manifest is checked here from
the files themselves — every sha256 recomputed, the hash chain rebuilt by its rule, the signed PDF's
and the certificate of completion's hashes equal to what the contract's archive recorded — and 409
before the contract is signed and archived."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

from pypdf import PdfReader

from tests.integration.test_execution_log import post_entry, signed_service_contract
from tests.integration.test_listing import create
from tests.support.stack import StackHarness


def evidence(stack: StackHarness, contract_id: str) -> Any:
    return stack.client.http.get(f"/v1/contracts/{contract_id}/evidence", headers=stack.auth())


def download(url: str) -> bytes:
    import requests  # moto answers the presigned S3 URL (it patches requests' transport, not urllib's)

    response = requests.get(url, timeout=30)
    assert response.status_code == 200, response.text[:300]
    return bytes(response.content)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pdf_text(pdf: bytes) -> str:
    return "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def test_bundle_of_a_signed_contract_verifies(stack: StackHarness) -> None:
    contract_id = signed_service_contract(stack, "svc-evidence")
    assert post_entry(stack, contract_id, {"kind": "delivery", "at": "2027-01-05T10:00:00Z", "by": "Anna Keller",
                                           "text": "Onboarding done."}).status_code == 201
    response = evidence(stack, contract_id)
    assert response.status_code == 302, response.body
    assert response.headers["Cache-Control"] == "no-store"
    bundle = zipfile.ZipFile(io.BytesIO(download(response.headers["Location"])))
    assert sorted(bundle.namelist()) == ["certificate.pdf", "manifest.json", "rendered.html", "signed.pdf",
                                         "timeline.json"]
    manifest = json.loads(bundle.read("manifest.json"))

    # Every file's hash and size from its bytes; the chain rebuilt from the hashes, in the manifest's order.
    previous = ""
    for entry in manifest["files"]:
        data = bundle.read(entry["name"])
        assert entry["sha256"] == sha(data) and entry["bytes"] == len(data), entry["name"]
        previous = sha((previous + sha(data)).encode("ascii"))
        assert entry["chain"] == previous, entry["name"]
    assert manifest["root"] == previous
    assert [f["name"] for f in manifest["files"]] == ["signed.pdf", "certificate.pdf", "rendered.html",
                                                      "timeline.json"]

    view = stack.get_contract(contract_id)
    signed_pdf = bundle.read("signed.pdf")
    assert signed_pdf.startswith(b"%PDF")
    assert sha(signed_pdf) == view["documents"]["signed"]["sha256"] == manifest["recorded"]["signed_sha256"]
    assert sha(bundle.read("rendered.html")) == view["documents"]["rendered"]["sha256"] \
        == manifest["recorded"]["rendered_sha256"]
    timeline = json.loads(bundle.read("timeline.json"))
    assert [e["type"] for e in timeline] == [e["type"] for e in view["timeline"]]

    # The certificate of completion: its own file, the hash the archive job recorded in the `archived`
    # event, a PDF naming the envelope and its signer, and the last pages of the combined signed PDF.
    certificate = bundle.read("certificate.pdf")
    [archived] = [e for e in timeline if e["type"] == "archived"]
    assert sha(certificate) == archived["detail"]["certificate"]["sha256"] == manifest["recorded"]["certificate_sha256"]
    assert archived["detail"]["certificate"]["bytes"] == len(certificate)
    assert archived["detail"]["sha256"] == sha(signed_pdf)
    certificate_text = pdf_text(certificate)
    assert "Certificate of Completion" in certificate_text and view["envelope_id"] in certificate_text
    certificate_pages = len(PdfReader(io.BytesIO(certificate)).pages)
    signed_pages = PdfReader(io.BytesIO(signed_pdf)).pages
    assert "".join(p.extract_text() or "" for p in signed_pages[-certificate_pages:]) == certificate_text
    assert "certificate.pdf" in manifest["certificate_of_completion"]
    assert "execution_delivery" in [e["type"] for e in timeline] and manifest["timeline_events"] == len(timeline)

    # Asked again with nothing new, the same bundle; a new event makes a new one, with a new root.
    assert download(evidence(stack, contract_id).headers["Location"]) == download(response.headers["Location"])
    assert post_entry(stack, contract_id, {"kind": "communication", "at": "2027-01-06T10:00:00Z", "by": "Anna",
                                           "text": "Kick-off call."}).status_code == 201
    newer = zipfile.ZipFile(io.BytesIO(download(evidence(stack, contract_id).headers["Location"])))
    assert json.loads(newer.read("manifest.json"))["root"] != manifest["root"]


def test_evidence_link_and_write_back_url(stack: StackHarness) -> None:
    from chalicelib.esign.document_links import evidence_link_path, signed_link_path
    from chalicelib.jobs.crm_writeback import update_for
    from chalicelib.store import contracts as store

    contract_id = signed_service_contract(stack, "svc-evidence-link")
    path = evidence_link_path(stack.tenant_id, contract_id)
    assert path.startswith("/v1/evidence/") and path == evidence_link_path(stack.tenant_id, contract_id)
    opened = stack.client.http.get(path)
    assert opened.status_code == 302 and opened.headers["Referrer-Policy"] == "no-referrer"
    # The link ids of the two kinds are different capabilities: neither opens the other.
    signed_id = signed_link_path(stack.tenant_id, contract_id).rsplit("/", 1)[1]
    assert stack.client.http.get(f"/v1/evidence/{signed_id}").status_code == 404
    assert stack.client.http.get("/v1/evidence/not-a-link").status_code == 404
    record = store.get_contract(stack.tenant_id, contract_id)
    assert update_for(record).evidence_url is not None and update_for(record).evidence_url.endswith(path)


def test_409_before_signing(stack: StackHarness) -> None:
    contract_id = create(stack, "service", "svc-unsigned")
    response = evidence(stack, contract_id)
    assert response.status_code == 409, response.body
    assert response.json_body["error"]["code"] == "not_signed"
    stack.wait_status(contract_id, "sent")
    assert evidence(stack, contract_id).json_body["error"]["code"] == "not_signed"
    assert stack.client.http.get("/v1/contracts/ctr_missing/evidence", headers=stack.auth()).status_code == 404
