"""The contract page for people behind an email's link: `GET /c/{token}` shows the contract (parties,
amount with 大写 in Chinese, term, status, signers, payment and delivery milestones with what is open and
overdue, the execution log, the timeline in words, its documents and its CRM record), in the link's
language (the email's); `POST /c/{token}` records what the link's scope allows (a payment reminder's
link: "paid"; a delivery reminder's: "delivered"; a notice's: nothing) through the same
`record_execution` as the API; `GET /c/{token}/{document|signed|evidence}` answers a short-lived file
URL. API-key holders mint a link with `POST /v1/contracts/{id}/share` and revoke with
`DELETE /v1/contracts/{id}/share[/{link_id}]`.

The token in the URL is the only credential (lifecycle/share_tokens: sealed, expiring, revocable): no
cookie, so a cross-site form cannot act without it, and the action form also asks for an explicit
confirmation. An invalid, expired or revoked link shows a page saying so, and nothing about the
contract. A repeated "paid" from one link is recorded once: its payment carries the reference
`contract-page:{link_id}`, which `apply_execution` treats as a repeat (inside the contract's versioned
write, so two submissions at once also make one payment); a delivery is recorded once by the domain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

from chalicelib.contracts.lifecycle import EXECUTION_OPEN
from chalicelib.contracts.locales import primary_locale_of
from chalicelib.contracts.status_reasons import recognise
from chalicelib.contracts.stored import StoredContract
from chalicelib.core.errors import BadRequest, Conflict, NotFound, ValidationFailed
from chalicelib.core.jsonbody import parse_json
from chalicelib.core.observability import logger
from chalicelib.esign import document_links
from chalicelib.lifecycle import share_tokens
from chalicelib.lifecycle.share_tokens import ShareClaims
from chalicelib.notify import crm_writeback
from chalicelib.reminders.content import capitals_for, format_money
from chalicelib.reminders.execution import record_execution
from chalicelib.reminders.planning import contract_zone
from chalicelib.reminders.scheduling import tenant_settings
from chalicelib.rendering.environment import get_environment
from chalicelib.rendering.filters import format_date
from chalicelib.store import contracts as store
from chalicelib.store import registry, share_links
from chalicelib.web import evidence
from chalicelib.web.api import contract_view, load_contract
from chalicelib.web.contract_actions import api_actor
from chalicelib.web.signing import Page

MAX_FORM_BYTES = 4096
FILES = ("document", "signed", "evidence")
LINK_ID = re.compile(r"[A-Za-z0-9_-]{16}")
MAX_EMAIL = 320
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class Opened:
    """What a link comes to now: `ready` (it opens), `invalid` (not ours, tampered, or no such
    contract), `expired`, `revoked`."""

    page: str
    status: int
    claims: ShareClaims | None = None
    record: StoredContract | None = None


@dataclass
class Result:
    """What a POST came to: `recorded`, `already`, `refused` (outside the link's scope), `invalid_form`,
    `conflict` (the contract or milestone does not take it now)."""

    outcome: str
    status: int
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def inspect(token: str, *, now: datetime | None = None) -> Opened:
    claims = share_tokens.read_token(token)
    if claims is None:
        return Opened("invalid", 404)
    if (now or datetime.now(UTC)).timestamp() >= claims.expires_at:
        return Opened("expired", 410, claims)
    if share_links.is_revoked(claims.tenant_id, claims.contract_id, claims.link_id, claims.issued_at):
        return Opened("revoked", 410, claims)
    record = store.find_contract(claims.tenant_id, claims.contract_id)
    if record is None:
        return Opened("invalid", 404)
    return Opened("ready", 200, claims, record)


# --- the page -------------------------------------------------------------------------------------


def _language(opened: Opened, accept_language: str | None) -> str:
    if opened.claims is not None:
        return opened.claims.language  # authentic (sealed by us) even when expired or revoked
    return "zh-CN" if (accept_language or "").lower().startswith("zh") else "en"


def open_page(token: str, accept_language: str | None, *, now: datetime | None = None) -> Page:
    return _render(inspect(token, now=now), accept_language, token)


def _render(opened: Opened, accept_language: str | None, token: str = "", result: Result | None = None) -> Page:
    language = _language(opened, accept_language)
    status = result.status if result is not None else opened.status
    context: dict[str, Any] = {"page": opened.page, "result": result}
    if opened.page == "ready" and opened.claims is not None and opened.record is not None:
        # The page's file links are relative to /c/{token} (any stage prefix before it keeps working).
        context.update(_facts(opened.record, opened.claims, language), token=token)
    html = get_environment().get_template(f"pages/contract.{language}.html.j2").render(**context)
    return Page(status, html=html)


def _facts(record: StoredContract, claims: ShareClaims, language: str) -> dict[str, Any]:
    """Everything the page shows, formatted for the language (the templates only lay it out)."""
    events = store.timeline(record.tenant_id, record.contract_id)
    view = contract_view(record, events)
    document = record.document or {}
    currency = str(document.get("currency") or "")
    try:
        zone = contract_zone(document, tenant_settings(record.tenant_id))
    except ValueError:
        zone = UTC  # type: ignore[assignment]
    open_for_actions = record.status in EXECUTION_OPEN

    def money(value: Any) -> str:
        return format_money(value, currency, language) if value not in (None, "") else ""

    def day(value: Any) -> str:
        return format_date(value, language) if value else ""

    def moment(value: str) -> str:
        try:
            return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")
        except ValueError:  # a provider's own format: shown as given, to the minute
            return value[:16].replace("T", " ")

    payments = []
    for m in view["milestones"]["payment"]:
        payments.append({**m, "due_text": day(m["due_date"]), "planned_text": money(m["planned_amount"]),
                         "paid_text": money(m["paid_amount"]), "remaining_text": money(m["remaining"]),
                         "can_pay": open_for_actions and m["status"] != "paid" and claims.allows("paid", m["id"])})
    deliveries = [{**m, "due_text": day(m["due_date"]), "delivered_text": day(m.get("delivered_on")),
                   "can_deliver": open_for_actions and m["status"] != "delivered"
                   and claims.allows("delivered", m["id"])} for m in view["milestones"]["delivery"]]
    totals = view["milestones"]["totals"]
    parties = document.get("parties") or {}
    known = recognise(record.status_reason or "")
    term = view.get("term")
    return {
        "number": record.number, "title": document.get("title") or "", "status": record.status,
        "status_reason": (known.text(language) if known else None) or record.status_reason or "",
        "contract_type": document.get("type") or record.contract_type,
        "parties": [{"role": role, "name": (parties.get(role) or {}).get("name") or "",
                     "address": (parties.get(role) or {}).get("address") or ""}
                    for role in ("ours", "counterparty") if parties.get(role)],
        "owner": (document.get("owner") or {}).get("name") or "",
        "amount_text": money(document.get("amount")),
        "amount_capitals": capitals_for(document.get("amount"), currency, language),
        "signing_text": day(document.get("signing_date")),
        "term": ({"start": day(term["start"]), "end": day(term["end"]), "renewals": term["renewals"],
                  "auto_renew": term["auto_renew"]} if term else None),
        "signers": [{"name": s["name"], "status": s["status"], "signed_text": moment(s["signed_at"])
                     if s.get("signed_at") else ""} for s in view["signers"]],
        "payments": payments, "deliveries": deliveries,
        "totals": {"planned": money(totals["planned"]), "paid": money(totals["paid"]),
                   "remaining": money(totals["remaining"])} if payments else None,
        "execution": [{**e, "at_text": moment(e["at"]) if isinstance(e.get("at"), str) else ""}
                      for e in view.get("execution") or []],
        "timeline": [{"type": e.type, "at_text": moment(e.at.isoformat()), "detail": e.detail or {},
                      "amount_text": money((e.detail or {}).get("amount")) if e.type.startswith("milestone_") else ""}
                     for e in sorted(events, key=lambda e: e.at)],
        "files": {"document": record.rendered is not None, "signed": record.signed is not None,
                  "evidence": record.signed is not None},
        "crm_url": crm_record_url(record),
        "recipient": claims.recipient, "scope": claims.scope,
        "today": datetime.now(zone).date().isoformat(),
    }


def crm_record_url(record: StoredContract) -> str | None:
    """The contract's record in its CRM, when the source says where: its `record_url` option (a URL
    with `{id}`), else a Salesforce source's `instance_url` + `/{id}`. Otherwise none is shown."""
    if not record.crm_record_id or not record.source_id:
        return None
    try:
        source = registry.get_source(record.source_id)
    except Exception:  # noqa: BLE001 - a link to the CRM is a convenience: never fail the page for it
        logger.warning("source not readable for the CRM link", extra={"contract_id": record.contract_id})
        return None
    if source is None:
        return None
    record_id = quote(record.crm_record_id.split(":")[-1], safe="")
    pattern = source.options.get("record_url")
    if isinstance(pattern, str) and pattern.startswith("https://") and "{id}" in pattern:
        return pattern.replace("{id}", record_id)
    instance = source.options.get("instance_url")
    if source.kind == "salesforce" and isinstance(instance, str) and instance.startswith("https://"):
        return f"{instance.rstrip('/')}/{record_id}"
    return None


# --- actions --------------------------------------------------------------------------------------


def submit(token: str, raw_body: bytes, accept_language: str | None, *, now: datetime | None = None) -> Page:
    opened = inspect(token, now=now)
    if opened.page != "ready" or opened.claims is None or opened.record is None:
        return _render(opened, accept_language)
    result = act(opened.claims, opened.record, _form(raw_body), now=now)
    fresh = store.find_contract(opened.claims.tenant_id, opened.claims.contract_id) or opened.record
    return _render(Opened("ready", 200, opened.claims, fresh), accept_language, token, result)


def _form(raw_body: bytes) -> dict[str, str]:
    try:
        form = parse_qs(raw_body[:MAX_FORM_BYTES].decode("utf-8", "replace"), max_num_fields=10)
    except ValueError:  # more fields than our form has: not our form
        return {}
    return {name: values[0] for name, values in form.items()}


def act(claims: ShareClaims, record: StoredContract, form: Mapping[str, str], *,
        now: datetime | None = None) -> Result:
    """Marks a payment milestone paid (amount, date) or a delivery done, once, if the link allows it."""
    action, milestone_id = form.get("action", ""), form.get("milestone", "")
    if action not in share_tokens.ACTIONS or not milestone_id:
        return Result("invalid_form", 400, extra={"problem": "form"})
    if not claims.allows(action, milestone_id):
        return Result("refused", 403)
    if form.get("confirm") != "yes":
        return Result("invalid_form", 422, extra={"problem": "confirm", "milestone": milestone_id})
    reference = f"contract-page:{claims.link_id}"
    body: dict[str, Any] = {"status": action}
    on = form.get("on", "").strip()
    if on and not _DATE.fullmatch(on):
        return Result("invalid_form", 422, extra={"problem": "date", "milestone": milestone_id})
    if action == "paid":
        amount = form.get("amount", "").strip().replace(",", "")
        body.update(reference=reference, **({"amount": amount} if amount else {}), **({"paid_on": on} if on else {}))
    elif on:
        body["delivered_on"] = on
    if _already(record, action, milestone_id, reference):
        return Result("already", 409, extra={"milestone": milestone_id})
    try:
        answer = record_execution(claims.tenant_id, claims.contract_id, milestone_id, body,
                                  source="contract_page", by=claims.recipient, now=now)
    except ValidationFailed as err:
        return Result("invalid_form", 422, err.message, {"problem": "value", "milestone": milestone_id,
                                                         "details": list(err.details or [])})
    except (Conflict, NotFound) as err:
        fresh = store.find_contract(claims.tenant_id, claims.contract_id)
        if fresh is not None and _already(fresh, action, milestone_id, reference):
            return Result("already", 409, extra={"milestone": milestone_id})
        return Result("conflict", 409, err.message, {"details": list(err.details or [])})
    if answer.get("duplicate"):
        return Result("already", 409, extra={"milestone": milestone_id})
    crm_writeback.queue(load_contract(claims.tenant_id, claims.contract_id), "milestone_recorded")
    logger.info("contract page action", extra={"contract_id": claims.contract_id, "action": action})
    return Result("recorded", 200, extra={"milestone": milestone_id, "action": action})


def _already(record: StoredContract, action: str, milestone_id: str, reference: str) -> bool:
    """This link recorded it already, or there is nothing left to record (paid in full, delivered)."""
    state = (record.milestones or {}).get(milestone_id) or {}
    if action == "paid":
        return state.get("status") == "paid" or any(
            p.get("reference") == reference for p in state.get("payments") or [])
    return state.get("status") == "delivered"


# --- files ----------------------------------------------------------------------------------------


def file_url(token: str, kind: str, accept_language: str | None, *,
             now: datetime | None = None) -> tuple[str | None, Page | None]:
    """A short-lived URL of the rendered document, the signed PDF or the evidence bundle, or the page
    that says why not (the link's own state first: nothing is said about a dead link's contract)."""
    opened = inspect(token, now=now)
    if opened.page != "ready" or opened.record is None:
        return None, _render(opened, accept_language)
    try:
        if kind not in FILES:
            raise NotFound("no such file")
        if kind == "evidence":
            return evidence.evidence_url(opened.record), None
        return document_links.document_url(opened.record, "rendered" if kind == "document" else "signed"), None
    except (Conflict, NotFound) as err:  # not there (yet): the page says so, in its language
        return None, _render(opened, accept_language, token, Result("no_file", err.status))


# --- the API: minting and revoking ------------------------------------------------------------------


def share(tenant_id: str, contract_id: str, raw_body: bytes, authorization: str | None, *,
          now: datetime | None = None) -> dict[str, Any]:
    """`POST /v1/contracts/{id}/share`: a link for one recipient (`email`, default the API key's label),
    in `language` (default the contract's), allowing `scope` (default none), optionally on one
    `milestone_id`, for `expires_in_hours` (default 720, at most 2160)."""
    record = load_contract(tenant_id, contract_id)
    body: Any = parse_json(raw_body) if raw_body.strip() else {}
    if not isinstance(body, dict):
        raise BadRequest('send a JSON object, e.g. {"email": "finance@example.com", "scope": ["paid"]}')
    problems: list[dict[str, str]] = []
    unknown = sorted(set(body) - {"email", "language", "scope", "milestone_id", "expires_in_hours"})
    problems += [{"path": name, "message": "not a field of this request"} for name in unknown]
    actor = api_actor(authorization)
    email = body.get("email", actor)
    if not isinstance(email, str) or not email.strip() or len(email) > MAX_EMAIL:
        problems.append({"path": "email", "message": f"a non-empty string of at most {MAX_EMAIL} characters"})
    language = body.get("language", primary_locale_of(record))
    if language not in share_tokens.LANGUAGES:
        problems.append({"path": "language", "message": "must be 'zh-CN' or 'en'"})
    scope = body.get("scope", [])
    if not isinstance(scope, list) or any(a not in share_tokens.ACTIONS for a in scope):
        problems.append({"path": "scope", "message": "a list of 'paid' and 'delivered' (or empty)"})
        scope = []
    milestone_id = body.get("milestone_id")
    if "milestone_id" in body and (not isinstance(milestone_id, str) or not _has_milestone(record, milestone_id)):
        problems.append({"path": "milestone_id", "message": "not a milestone of this contract"})
    hours = body.get("expires_in_hours", share_tokens.DEFAULT_LINK_HOURS)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= share_tokens.MAX_LINK_HOURS:
        problems.append({"path": "expires_in_hours",
                         "message": f"a number of hours above 0 and at most {share_tokens.MAX_LINK_HOURS}"})
    if problems:
        raise ValidationFailed(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} in the request", problems)
    url, claims = share_tokens.mint(tenant_id, contract_id, str(email).strip(), str(language), scope,
                                    milestone_id=milestone_id, hours=float(hours), now=now)
    expires = datetime.fromtimestamp(claims.expires_at, UTC).isoformat()
    store.append_event(record, "share_link_created", {"link_id": claims.link_id, "recipient": claims.recipient,
                                                      "scope": list(claims.scope), "by": actor,
                                                      "expires_at": expires})
    return {"url": url, "link_id": claims.link_id, "expires_at": expires, "recipient": claims.recipient,
            "language": claims.language, "scope": list(claims.scope), "milestone_id": claims.milestone_id}


def _has_milestone(record: StoredContract, milestone_id: str) -> bool:
    document = record.document or {}
    return any(m.get("id") == milestone_id for kind in ("payment", "delivery")
               for m in (document.get(kind) or {}).get("milestones") or [] if isinstance(m, Mapping))


def revoke(tenant_id: str, contract_id: str, link_id: str | None, authorization: str | None) -> dict[str, Any]:
    """`DELETE /v1/contracts/{id}/share/{link_id}`: that link; `DELETE /v1/contracts/{id}/share`: every
    link made so far (emails' included). Idempotent."""
    record = load_contract(tenant_id, contract_id)
    if link_id is not None and not LINK_ID.fullmatch(link_id):
        raise BadRequest("not a link id", [{"path": "link_id", "message": "16 characters of A-Z a-z 0-9 _ -"}])
    at = store.now_utc()
    if link_id is None:
        share_links.revoke_all(tenant_id, contract_id, at)
    else:
        share_links.revoke_link(tenant_id, contract_id, link_id, at)
    store.append_event(record, "share_link_revoked", {"link_id": link_id or "all", "by": api_actor(authorization)})
    return {"contract_id": contract_id, "revoked": link_id or "all", "at": at.isoformat()}
