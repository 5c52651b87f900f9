"""Attachments on execution-log entries: files sent with an entry are scanned, stored in the archive
bucket under the entry (SSE, sha256), listed on the entry and downloaded through a redirect to a
short-lived URL that never shows them inline. A refused file refuses the entry and stores nothing;
a retried entry stores neither a second entry nor a second copy of its files."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.core.aws import client
from chalicelib.core.config import settings
from devstack.embedded_aws import inject_transaction_conflicts
from tests.integration.test_evidence_bundle import download
from tests.integration.test_execution_log import post_entry, signed_service_contract
from tests.integration.test_listing import OTHER, other_tenant_contract
from tests.support import sample_files as f
from tests.support.stack import StackHarness

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ENTRY = {"kind": "delivery", "at": "2027-01-05T10:00:00+01:00", "by": "Anna Keller", "text": "Rack installed."}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def versions(stack: StackHarness, contract_id: str) -> list[dict[str, Any]]:
    """Every version of every object under the contract's attachments prefix."""
    answer = client("s3").list_object_versions(Bucket=settings().archive_bucket,
                                               Prefix=f"execution/{stack.tenant_id}/{contract_id}/")
    return list(answer.get("Versions", []))


def get_file(stack: StackHarness, url: str, headers: dict[str, str] | None = None) -> Any:
    return stack.client.http.get(urlsplit(url).path, headers=stack.auth() if headers is None else headers)


def test_files_are_scanned_stored_listed_and_downloaded(stack: StackHarness) -> None:
    contract_id = signed_service_contract(stack, "svc-files")
    files = [("签收单.pdf", "application/pdf", f.pdf()), ("rack.png", "image/png", f.png()),
             ("minutes.docx", DOCX_TYPE, f.docx()), ("items.csv", "text/csv", f.CSV)]
    answer = post_entry(stack, contract_id, {**ENTRY, "entry_id": "dlv-rack",
                                             "attachments": [f.attachment(*file) for file in files]})
    assert answer.status_code == 201, answer.body
    listed = answer.json_body["attachments"]
    base = f"/v1/contracts/{contract_id}/execution/dlv-rack/attachments"
    assert [(a["name"], a["content_type"], a["size"], a["sha256"]) for a in listed] == [
        (name, content_type, len(data), sha(data)) for name, content_type, data in files]
    assert [urlsplit(a["url"]).path for a in listed] == [f"{base}/{n}" for n in range(4)]

    # In the archive bucket under the tenant, contract and entry: encrypted, one version each.
    stored = versions(stack, contract_id)
    assert sorted(v["Key"] for v in stored) == sorted(
        f"execution/{stack.tenant_id}/{contract_id}/dlv-rack/{n}-{sha(data)[:16]}" for n, (_, _, data) in
        enumerate(files))
    for version in stored:
        head = client("s3").head_object(Bucket=settings().archive_bucket, Key=version["Key"])
        assert head["ServerSideEncryption"] == "AES256"

    # The contract's view and its timeline carry the same list (the evidence bundle's timeline.json too).
    view = stack.get_contract(contract_id)
    assert view["execution"][0]["attachments"] == listed
    event = next(e for e in view["timeline"] if e["type"] == "execution_delivery")
    assert [a["sha256"] for a in event["detail"]["attachments"]] == [sha(data) for _, _, data in files]

    # Each download: 302 to a short-lived URL, as an attachment under its name, the bytes as sent.
    for (_name, content_type, data), item in zip(files, listed, strict=True):
        response = get_file(stack, item["url"])
        assert response.status_code == 302, response.body
        assert response.headers["Cache-Control"] == "no-store"
        query = parse_qs(urlsplit(response.headers["Location"]).query)
        disposition = query["response-content-disposition"][0]
        assert disposition.startswith("attachment;") and "inline" not in disposition
        assert query["response-content-type"] == [content_type]
        assert download(response.headers["Location"]) == data
    assert "filename*=UTF-8''%E7%AD%BE%E6%94%B6%E5%8D%95.pdf" in parse_qs(urlsplit(get_file(
        stack, listed[0]["url"]).headers["Location"]).query)["response-content-disposition"][0]


def test_a_retried_entry_stores_its_files_once(stack: StackHarness) -> None:
    contract_id = signed_service_contract(stack, "svc-files-retry")
    body = {**ENTRY, "entry_id": "dlv-retry", "attachments": [
        f.attachment("note.pdf", "application/pdf", f.pdf()), f.attachment("photo.jpg", "image/jpeg", f.jpeg())]}
    # The first attempt stores the files, then its entry's transaction is cancelled (a conflict): 503.
    inject_transaction_conflicts(1)
    try:
        busy = post_entry(stack, contract_id, body)
    finally:
        inject_transaction_conflicts(0)
    assert busy.status_code == 503, busy.body
    assert len(versions(stack, contract_id)) == 2 and stack.get_contract(contract_id)["execution"] == []

    # The client retries the same request: the entry is recorded, the files are the ones stored.
    first = post_entry(stack, contract_id, body)
    assert first.status_code == 201, first.body
    again = post_entry(stack, contract_id, body)
    assert again.status_code == 200 and again.json_body == first.json_body
    # The same entry id with other files answers the first entry and stores nothing.
    other = post_entry(stack, contract_id, {**body, "attachments": [f.attachment("x.png", "image/png", f.png())]})
    assert other.status_code == 200 and other.json_body == first.json_body
    assert len(versions(stack, contract_id)) == 2  # one version per file, however many attempts
    assert [e["entry_id"] for e in stack.get_contract(contract_id)["execution"]] == ["dlv-retry"]
    for item, data in zip(first.json_body["attachments"], (f.pdf(), f.jpeg()), strict=True):
        assert download(get_file(stack, item["url"]).headers["Location"]) == data


def test_refused_files_refuse_the_entry_and_store_nothing(stack: StackHarness) -> None:
    contract_id = signed_service_contract(stack, "svc-files-refused")
    good = f.attachment("ok.pdf", "application/pdf", f.pdf())
    big = f.attachment("huge.txt", "text/plain", b"a" * (4 * 1024 * 1024 + 1))
    refused: list[tuple[str, dict[str, Any], str]] = [
        ("an .exe renamed .pdf", f.attachment("invoice.pdf", "application/pdf", f.exe()), "Windows Executable"),
        ("HTML", f.attachment("page.html", "text/html", f.HTML), "HTML"),
        ("SVG", f.attachment("logo.svg", "image/svg+xml", f.SVG), "Scalable Vector Graphics"),
        ("a ZIP", f.attachment("all.zip", "application/zip", f.plain_zip()), "ZIP archive"),
        ("a lying content type", f.attachment("scan.pdf", "image/png", f.pdf()), "declared image/png"),
        ("bad Base64", {"filename": "a.pdf", "content_type": "application/pdf", "content_base64": "not*base64"},
         "not valid Base64"),
        ("oversize", big, "larger than 4 MiB"),
    ]
    for what, attachment, why in refused:
        response = post_entry(stack, contract_id, {**ENTRY, "attachments": [good, attachment]})
        assert response.status_code == 400, (what, response.body)
        error = response.json_body["error"]
        assert error["code"] == "attachment_refused", what
        assert [d["path"] for d in error["details"]] == ["attachments[1]"], what
        assert why in error["details"][0]["message"], (what, error)
    # Together over the limit, each under it.
    half = f.attachment("half.txt", "text/plain", b"b" * (2 * 1024 * 1024 + 1))
    together = post_entry(stack, contract_id, {**ENTRY, "attachments": [half, half]})
    assert together.status_code == 400 and together.json_body["error"]["details"][0]["path"] == "attachments"
    # Too many, or not files at all: the body's shape (422), every problem by its path.
    for attachments, paths in (([good] * 6, {"attachments"}),
                               ([{"filename": "a.pdf", "content_type": "application/pdf"}],
                                {"attachments[0].content_base64"}),
                               ("a.pdf", {"attachments"})):
        response = post_entry(stack, contract_id, {**ENTRY, "attachments": attachments})
        assert response.status_code == 422, response.body
        assert {d["path"] for d in response.json_body["error"]["details"]} == paths
    assert versions(stack, contract_id) == []
    assert stack.get_contract(contract_id)["execution"] == []


def test_downloads_are_the_tenants_own(stack: StackHarness) -> None:
    contract_id = signed_service_contract(stack, "svc-files-iso")
    answer = post_entry(stack, contract_id, {**ENTRY, "entry_id": "iso-1",
                                             "attachments": [f.attachment("a.pdf", "application/pdf", f.pdf())]})
    assert answer.status_code == 201, answer.body
    url = answer.json_body["attachments"][0]["url"]
    assert get_file(stack, url).status_code == 302
    other_tenant_contract("deal-foreign-files")
    assert get_file(stack, url, headers=OTHER).status_code == 404  # another tenant's key: no such contract
    assert get_file(stack, url, headers={}).status_code == 401
    plain = post_entry(stack, contract_id, {**ENTRY, "entry_id": "no-files"})
    assert plain.status_code == 201
    base = f"/v1/contracts/{contract_id}/execution"
    for path in (f"{base}/iso-1/attachments/1", f"{base}/no-files/attachments/0", f"{base}/nope/attachments/0",
                 f"{base}/iso-1/attachments/x", f"{base}/iso-1/attachments/-1", f"{base}/iso-1/attachments/999",
                 "/v1/contracts/ctr_nope/execution/iso-1/attachments/0"):
        response = stack.client.http.get(path, headers=stack.auth())
        assert response.status_code == 404, (path, response.body)
        assert response.json_body["error"]["code"] == "not_found"


def test_two_requests_of_one_entry_at_once_make_one_entry_and_one_copy(
        stack: StackHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both requests looked and found no entry; the rival stores the files and records the entry
    while the first is about to store the same files: the first then stores nothing new and answers
    the rival's entry."""
    from chalicelib.store import attachments as stored_files
    from chalicelib.web import execution_log

    contract_id = signed_service_contract(stack, "svc-files-race")
    body = {**ENTRY, "entry_id": "dlv-race", "attachments": [
        f.attachment("note.pdf", "application/pdf", f.pdf()), f.attachment("items.csv", "text/csv", f.CSV)]}
    real_put = stored_files.put
    rival: list[tuple[dict[str, Any], int]] = []
    stored: list[bool] = []

    held = []

    def put_after_the_rival(key: str, data: bytes, content_type: str, sha256: str) -> bool:
        if not held:  # the first request's first file: the rival runs whole, now
            held.append(key)
            rival.append(execution_log.record(stack.tenant_id, contract_id, json.dumps(body).encode()))
        stored.append(real_put(key, data, content_type, sha256))
        return stored[-1]

    monkeypatch.setattr(stored_files, "put", put_after_the_rival)
    first = post_entry(stack, contract_id, body)
    monkeypatch.setattr(stored_files, "put", real_put)

    assert rival and rival[0][1] == 201, (first.status_code, first.body)
    assert first.status_code == 200, first.body  # the entry the rival recorded
    assert first.json_body == rival[0][0]
    assert stored == [True, True, False, False]  # the rival's two files, then nothing new
    assert len(versions(stack, contract_id)) == 2
    assert [e["entry_id"] for e in stack.get_contract(contract_id)["execution"]] == ["dlv-race"]
