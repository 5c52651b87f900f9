"""Every email signbridge sends is composed here, in the contract's locale (zh-CN or en).

    approval_request(record, reasons, to, links)
                                            an approver of a contract in pending_approval (their
                                            own approve and reject links)
    owner_notice(record)                    the owner of a contract that was declined or voided
    reminder(ctx, to, cc, attachments)      a contract reminder (chalicelib.reminders.content
                                            prepares its context and its .ics)

Each kind has three templates per locale, all in templates/emails/:
``<kind>.<locale>.subject.j2`` (one line of plain text), ``<kind>.<locale>.txt.j2`` and
``<kind>.<locale>.html.j2``, the kinds being approval_request, declined, voided and reminder. Every
word of an email is in those templates, or in the domain's wording of a reason
(chalicelib.contracts.approval, chalicelib.contracts.status_reasons); Python only gathers the facts.

Each email carries its kind, tenant and contract: the mailer leaves out the tenant's suppressed
addresses and tags the email with them, so that SES's bounce and complaint reports find their way
back (chalicelib/notify/ses_feedback.py).

Jinja2 loads on the first email (get_environment), never on import.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from chalicelib.contracts.approval import ApprovalReason
from chalicelib.contracts.lifecycle import Status
from chalicelib.contracts.locales import primary_locale, primary_locale_of
from chalicelib.contracts.status_reasons import recognise
from chalicelib.core.config import settings
from chalicelib.notify.mailer import Attachment, Email, header_text
from chalicelib.rendering.environment import get_environment

LOCALES = ("zh-CN", "en")
KINDS = ("approval_request", "declined", "voided", "reminder")
PARTS = ("subject", "txt", "html")


class Signer(Protocol):
    @property
    def name(self) -> Any: ...
    @property
    def email(self) -> Any: ...
    @property
    def status(self) -> Any: ...
    @property
    def declined_reason(self) -> Any: ...


class Contract(Protocol):
    """What the emails read of a contract (the store's record, or the domain value replacing it)."""

    @property
    def contract_id(self) -> Any: ...
    @property
    def number(self) -> Any: ...
    @property
    def locale(self) -> Any: ...
    @property
    def document(self) -> Any: ...
    @property
    def status(self) -> Any: ...
    @property
    def status_reason(self) -> Any: ...
    @property
    def signers(self) -> Any: ...


def template_name(kind: str, locale: str, part: str) -> str:
    """``("voided", "zh-CN", "subject")`` -> ``"emails/voided.zh-CN.subject.j2"``."""
    return f"emails/{kind}.{locale}.{part}.j2"


def locale_of(value: Any) -> str:
    """The language to write in for a contract locale: a bilingual contract's (zh-CN+en) is Chinese
    here (``primary_locale_of(record)`` also honours its prevailing_language); unknown: English."""
    return primary_locale(value)


def compose(kind: str, locale: str, context: Mapping[str, Any], to: Iterable[str], cc: Iterable[str] = (),
            attachments: Sequence[Attachment] = (), *, tenant_id: str | None = None,
            contract_id: str | None = None) -> Email:
    """Renders the subject, then the text and HTML (which show the subject too)."""
    env = get_environment()
    subject = header_text(env.get_template(template_name(kind, locale, "subject")).render(**context))
    text = env.get_template(template_name(kind, locale, "txt")).render(subject=subject, **context)
    html = env.get_template(template_name(kind, locale, "html")).render(subject=subject, **context)
    return Email(to=list(to), cc=list(cc), subject=subject, text=text, html=html, attachments=tuple(attachments),
                 kind=kind, tenant_id=tenant_id, contract_id=contract_id)


def _about(record: Contract) -> dict[str, Any]:
    # A stored contract names its tenant; a stand-in without one gets no suppression check or tag.
    return {"tenant_id": getattr(record, "tenant_id", None), "contract_id": record.contract_id}


def approval_request(record: Contract, reasons: Sequence[str], to: Sequence[str],
                     links: Mapping[str, str] | None = None) -> Email:
    """Asks the approvers to approve or reject a contract, saying why it needs their approval; `links`
    ({"approve": url, "reject": url}) are the recipient's own approval links."""
    locale = primary_locale_of(record)  # a bilingual contract: its prevailing language
    base = settings().public_base_url.rstrip("/")
    context = {
        **_facts(record),
        # An ApprovalReason says itself in the locale; any other reason is shown as given.
        "reasons": [r.text(locale) if isinstance(r, ApprovalReason) else str(r) for r in reasons],
        "contract_id": record.contract_id,
        "approve_url": f"{base}/v1/contracts/{record.contract_id}/approve",
        "reject_url": f"{base}/v1/contracts/{record.contract_id}/reject",
        "approve_link": (links or {}).get("approve"),
        "reject_link": (links or {}).get("reject"),
    }
    return compose("approval_request", locale, context, to, **_about(record))


def owner_notice(record: Contract, link: str | None = None) -> Email:
    """Tells the contract's owner it was declined or voided (expired included); `link` is the owner's
    own contract-page link (lifecycle/share_tokens, minted by the caller: a notice allows no action)."""
    document = record.document or {}
    locale = primary_locale_of(record)  # a bilingual contract: its prevailing language
    kind = "declined" if Status(record.status) == Status.DECLINED else "voided"
    reason = record.status_reason or ""
    known = recognise(reason)
    decliner = next((s for s in record.signers or [] if s.status == "declined"), None)
    owner = document.get("owner") or {}
    context = {
        **_facts(record),
        "amount_text": _amount_text(document) if document.get("amount") else "",
        "owner": owner,
        "reason": reason,  # as stored: DocuSign's phrase, ours, or what someone typed
        "known_reason": known.text(locale) if known else None,  # a fixed phrase, in the locale (None in en)
        "expired": kind == "voided" and known is not None and known.code == "expired",
        "decliner": ({"name": decliner.name, "email": decliner.email, "reason": decliner.declined_reason or ""}
                     if decliner is not None else None),
        "link": link or f"{settings().public_base_url.rstrip('/')}/v1/contracts/{record.contract_id}",
    }
    return compose(kind, locale, context, [str(owner["email"])], **_about(record))


def reminder(ctx: Mapping[str, Any], to: Iterable[str], cc: Iterable[str],
             attachments: Sequence[Attachment] = (), *, tenant_id: str | None = None,
             contract_id: str | None = None) -> Email:
    """A contract reminder; `ctx` is chalicelib.reminders.content.context's (locale, kind, facts)."""
    return compose("reminder", locale_of(ctx["locale"]), ctx, to, cc, attachments, tenant_id=tenant_id,
                   contract_id=contract_id)


def _facts(record: Contract) -> dict[str, Any]:
    document = record.document or {}
    return {
        "number": record.number,
        "title": document.get("title") or "",
        "counterparty": ((document.get("parties") or {}).get("counterparty") or {}).get("name") or "",
        "amount_text": _amount_text(document) if document.get("amount") is not None else "",
    }


def _amount_text(document: Mapping[str, Any]) -> str:
    return f"{document.get('currency') or ''} {document.get('amount')}".strip()
