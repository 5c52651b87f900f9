"""Signing links as bearer secrets (security review, finding 7): short-lived, opaque, minted from a
revocable per-signer grant, revoked when the envelope closes, redacted in logs, and signed by a key
ring that rotates with an overlap window.

Every link is asked for through the API and opened over the app's HTTP interface; the envelopes
are real ones in the DocuSign sandbox, signed, declined and voided through it (Connect then tells
the app, as DocuSign would)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.test_esign_envelopes import open_link, page_outcome
from tests.support.esign import send, signer, signing_link, webhook_body
from tests.support.interleave import at_once
from tests.support.stack import StackHarness, sign_as

TWO_EMBEDDED = [signer("Rachel Tan", "rachel.tan@harbourline.example", 1),
                signer("Omar Haddad", "omar.haddad@harbourline.example", 1)]


def _token(link: dict[str, Any]) -> str:
    return str(link["url"].rsplit("/", 1)[1])


def _grant(stack: StackHarness, contract_id: str, position: int) -> Any:
    from chalicelib.store.signing_grants import find_grant

    return find_grant(stack.tenant_id, contract_id, position)


def test_a_link_reveals_nothing_and_opens_for_minutes(stack: StackHarness) -> None:
    contract = send(stack, webhook_body("sales.en", crm_record_id="opaque", signers=TWO_EMBEDDED))
    asked = datetime.now(UTC)
    link = signing_link(stack, contract["contract_id"], 1)

    # Nothing readable: no tenant, contract, envelope id, signer position or e-mail, in any decoding.
    kid, sealed = _token(link).split(".")
    decoded = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    for secret in (stack.tenant_id, contract["contract_id"], contract["envelope_id"], "rachel.tan", '"s"'):
        assert secret not in _token(link) and secret.encode() not in decoded
    assert len(kid) == 8

    # Minutes, not the envelope's days: opens now, says "expired" (without the contract) after.
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(minutes=9) < expires - asked <= timedelta(minutes=10, seconds=5)
    assert open_link(stack, link["url"]).status_code == 302

    from chalicelib.web.signing import open_link as resolve

    late = resolve(_token(link), "en", now=expires + timedelta(seconds=1))
    assert late.status == 410 and 'data-outcome="link_expired"' in (late.html or "")
    assert contract["number"] not in (late.html or "")
    assert resolve(_token(link), "en", now=expires - timedelta(seconds=5)).status == 302


def test_revoking_a_signers_links_kills_every_token_of_the_grant(stack: StackHarness) -> None:
    contract = send(stack, webhook_body("sales.en", crm_record_id="revoke", signers=TWO_EMBEDDED))
    contract_id = contract["contract_id"]
    first, second = signing_link(stack, contract_id, 1), signing_link(stack, contract_id, 1)
    other = signing_link(stack, contract_id, 2)

    revoked = stack.client.http.delete(f"/v1/contracts/{contract_id}/signing-link?signer=1", headers=stack.auth())
    assert revoked.status_code == 200 and revoked.json_body == {"signer": 1, "revoked": True}
    for old in (first, second):
        page = open_link(stack, old["url"])
        assert page.status_code == 410 and page_outcome(page) == ("revoked", "This link was withdrawn")
    assert open_link(stack, other["url"]).status_code == 302  # the other signer's grant is untouched

    # The next link comes from a new grant and opens; the old tokens stay dead.
    fresh = signing_link(stack, contract_id, 1)
    assert open_link(stack, fresh["url"]).status_code == 302
    assert open_link(stack, first["url"]).status_code == 410
    timeline = stack.timeline(contract_id)
    assert [e["detail"] for e in timeline if e["type"] == "signing_link_revoked"] == [{"signer": 1, "by": "api"}]

    # Nothing live to revoke twice over; bad positions are refused; another tenant's key sees nothing.
    again = stack.client.http.delete(f"/v1/contracts/{contract_id}/signing-link?signer=2", headers=stack.auth())
    assert again.json_body == {"signer": 2, "revoked": True}
    twice = stack.client.http.delete(f"/v1/contracts/{contract_id}/signing-link?signer=2", headers=stack.auth())
    assert twice.json_body == {"signer": 2, "revoked": False}
    assert stack.client.http.delete(f"/v1/contracts/{contract_id}/signing-link?signer=3",
                                    headers=stack.auth()).status_code == 404
    assert stack.client.http.delete(f"/v1/contracts/{contract_id}/signing-link?signer=x",
                                    headers=stack.auth()).status_code == 400
    assert stack.client.http.delete(f"/v1/contracts/{contract_id}/signing-link?signer=1").status_code == 401


def test_void_decline_and_completion_revoke_the_grants(stack: StackHarness) -> None:
    from chalicelib.esign import envelopes

    voided = send(stack, webhook_body("sales.en", crm_record_id="closes-void", signers=TWO_EMBEDDED))
    declined = send(stack, webhook_body("sales.en", crm_record_id="closes-decline", signers=TWO_EMBEDDED))
    completed = send(stack, webhook_body("sales.en", crm_record_id="closes-complete", signers=TWO_EMBEDDED))
    links = {c["contract_id"]: [signing_link(stack, c["contract_id"], n) for n in (1, 2)]
             for c in (voided, declined, completed)}

    envelopes.void_envelope(stack.tenant_id, voided["envelope_id"], "Replaced by a new version")
    assert sign_as(stack, declined["contract_id"], 2, "decline", "wrong price")[0] in (302, 303)
    for position in (1, 2):
        sign_as(stack, completed["contract_id"], position)
    # (a completed contract goes on to `active` once its PDF is archived)
    for contract, status, reason in ((voided, "voided", "voided"), (declined, "declined", "declined"),
                                     (completed, "active", "completed")):
        stack.wait_status(contract["contract_id"], status)
        for position in (1, 2):
            grant = _grant(stack, contract["contract_id"], position)
            assert grant is not None and grant.revoked == reason, (reason, position, grant)
    # Their links say why, whichever signer holds one.
    page = open_link(stack, links[voided["contract_id"]][0]["url"])
    assert page.status_code == 410 and page_outcome(page)[0] == "voided"
    assert page_outcome(open_link(stack, links[declined["contract_id"]][0]["url"]))[0] == "declined"
    assert page_outcome(open_link(stack, links[completed["contract_id"]][1]["url"]))[0] == "completed"


def test_two_asks_at_once_share_one_grant(stack: StackHarness) -> None:
    from chalicelib.store.models import KeyRecord

    contract = send(stack, webhook_body("sales.en", crm_record_id="race", signers=TWO_EMBEDDED))
    contract_id = contract["contract_id"]
    links = at_once(lambda: signing_link(stack, contract_id, 1), workers=4)
    grants = {_grant(stack, contract_id, 1).grant_id}
    assert len(grants) == 1
    items = [k for k in KeyRecord.scan(KeyRecord.key.startswith(f"signgrant#{stack.tenant_id}#{contract_id}#"))]
    assert [i.key.rsplit("#", 1)[1] for i in items] == ["1"]
    for link in links:  # every one of them opens: none was minted from a grant that lost the race
        assert open_link(stack, link["url"]).status_code == 302


def test_the_key_rotates_with_an_overlap_and_a_leaked_one_can_be_cut(stack: StackHarness) -> None:
    from chalicelib.admin.__main__ import main as admin

    contract = send(stack, webhook_body("sales.en", crm_record_id="rotate", signers=TWO_EMBEDDED))
    send(stack, webhook_body("sales.en", crm_record_id="rotate-2", signers=TWO_EMBEDDED))
    contract_id = contract["contract_id"]
    before = signing_link(stack, contract_id, 1)
    page_one = stack.client.http.get("/v1/contracts?limit=1", headers=stack.auth()).json_body
    assert page_one["next_cursor"]

    assert admin(["signing-keys", "rotate"]) == 0  # default overlap: a link's life and a bit
    after = signing_link(stack, contract_id, 1)
    assert _token(after).split(".")[0] != _token(before).split(".")[0]  # the new key signs
    assert open_link(stack, before["url"]).status_code == 302  # the old key still opens its links
    assert open_link(stack, after["url"]).status_code == 302
    listed = stack.client.http.get(f"/v1/contracts?limit=1&cursor={page_one['next_cursor']}", headers=stack.auth())
    assert listed.status_code == 200  # and a cursor from before the rotation still pages on

    assert admin(["signing-keys", "rotate", "--no-overlap"]) == 0  # a leak: nothing old opens any more
    for old in (before, after):
        page = open_link(stack, old["url"])
        assert page.status_code == 404 and page_outcome(page)[0] == "invalid"
    assert open_link(stack, signing_link(stack, contract_id, 1)["url"]).status_code == 302


def test_the_key_ring_shows_ids_never_keys(stack: StackHarness, capsys: Any) -> None:
    from chalicelib.admin.__main__ import main as admin
    from chalicelib.core.aws import client
    from chalicelib.core.config import settings

    assert admin(["signing-keys", "rotate"]) == 0
    capsys.readouterr()
    assert admin(["signing-keys", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    stored = json.loads(client("secretsmanager").get_secret_value(
        SecretId=settings().signing_link_secret)["SecretString"])
    assert [k["kid"] for k in shown["keys"]] == [k["kid"] for k in stored["keys"]]
    assert [k["signs"] for k in shown["keys"]] == [True] + [False] * (len(stored["keys"]) - 1)
    for key in stored["keys"]:
        assert key["key"] not in json.dumps(shown)


def test_signing_pages_leak_no_token(stack: StackHarness) -> None:
    contract = send(stack, webhook_body("sales.en", crm_record_id="referrer", signers=TWO_EMBEDDED))
    link = signing_link(stack, contract["contract_id"], 1)
    opened = open_link(stack, link["url"])
    bad = stack.client.http.get("/sign/00000000.nonsense-nonsense-nonsense-nonsense-nonsense")
    for response in (opened, bad):
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"


def test_access_logs_name_no_token(caplog: Any) -> None:
    """The local stack's access log (chalice local's request line) and any URL we log."""
    from chalice.local import ChaliceRequestHandler

    from chalicelib.core.observability import redact_path
    from devstack.api_server import make_faithful

    token = "1a2b3c4d.QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo" * 2
    assert redact_path(f"GET /sign/{token} HTTP/1.1") == "GET /sign/[redacted] HTTP/1.1"
    assert redact_path(f"https://api.example/sign/{token}?x=1") == "https://api.example/sign/[redacted]?x=1"
    assert redact_path("GET /signed?event=cancel HTTP/1.1") == "GET /signed?event=cancel HTTP/1.1"

    make_faithful()
    handler = ChaliceRequestHandler.__new__(ChaliceRequestHandler)
    handler.requestline = f"GET /sign/{token} HTTP/1.1"
    lines: list[str] = []
    handler.log_message = lambda fmt, *args: lines.append(fmt % args)  # type: ignore[method-assign]
    handler.log_request(302)
    assert lines == ['"GET /sign/[redacted] HTTP/1.1" 302 -']
    assert all(token not in r.getMessage() for r in caplog.records)
