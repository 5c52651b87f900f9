"""SES's bounce and complaint reports: an address that bounced for good, or whose owner marked our
email as spam, gets nothing more from that tenant, and the contract's owner hears of it elsewhere.

The stage's SES configuration set (SIGNBRIDGE_SES_CONFIGURATION_SET, sent with every email by the
mailer) has an event destination publishing BOUNCE and COMPLAINT events to the SNS topic
`signbridge-<stage>-ses-feedback`; app.py's `ses_feedback` handler is subscribed to it and hands each
notification here. The record format is SES's event publishing one ("Contents of event data that
Amazon SES publishes to Amazon SNS", https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html):
`eventType` Bounce or Complaint (an identity's own feedback notifications say `notificationType`:
read too), `bounce.bounceType` Permanent / Transient / Undetermined with `bouncedRecipients[].emailAddress`,
`complaint.complainedRecipients[].emailAddress` and `complaintFeedbackType`, and `mail.tags`, where
the mailer's tags say whose email it was (`tenant_id`, `contract_id`, `email_kind`).

What happens:
- a Permanent bounce, or a complaint (unless its feedback type is `not-spam`), suppresses each
  address for the tenant (chalicelib/store/suppressions.py; the mailer then leaves it out);
- the contract, when the tags name one, gets a timeline event `email_bounced` / `email_complained`
  (address, email kind, SES's reason) and its CRM the signed callback `contract.email_suppressed`
  (notify/callbacks.email_suppressed), once per report and address (SNS may deliver twice);
- a Transient or Undetermined bounce, and every other event type, is only logged: SES retries
  transient failures itself.

Nothing in a notification can make the handler fail over and over: a message that is not what SES
sends (not JSON, wrong shapes, no or invalid tags, a topic not ours) is logged and dropped with the
metric SesFeedbackMalformed (or SesFeedbackUnattributed for well-formed feedback without our tags).
Only the store being unavailable raises, for Lambda's own (bounded) retries of the SNS invocation.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.contracts.stored import StoredContract
from chalicelib.core.config import ses_feedback_topic
from chalicelib.core.errors import MalformedBody
from chalicelib.core.jsonbody import parse_json
from chalicelib.core.observability import add_log_keys, count, log_context, logger
from chalicelib.notify import callbacks
from chalicelib.store import contracts as store
from chalicelib.store import suppressions
from chalicelib.store.registry import check_tenant_id

MAX_MESSAGE_CHARS = 256 * 1024  # SNS's own limit for a message
MAX_RECIPIENTS = 50  # SES sends to at most 50 recipients per message
MAX_ADDRESS_CHARS = 320
REPORT_TTL = timedelta(days=7)  # SNS and Lambda retry within hours; a week is plenty
_CONTRACT_ID = re.compile(r"ctr_[0-9a-f]{1,64}")
_EMAIL_KIND = re.compile(r"[a-z_]{1,64}")
_ADDRESS = re.compile(r"[^\s@<>\"(),;:\\\[\]]+@[^\s@<>\"(),;:\\\[\]]+\.[^\s@<>\"(),;:\\\[\]]+")


class MalformedFeedback(ValueError):
    """Not a notification SES would send: dropped (logged and counted), never retried."""


@dataclass(frozen=True)
class Feedback:
    kind: str  # suppressions.BOUNCE | suppressions.COMPLAINT
    recipients: tuple[str, ...]  # lower-cased addresses
    suppress: bool  # a permanent bounce, or a complaint that is not `not-spam`
    reason: str  # SES's words, short: "permanent bounce (General, 5.1.1)", "complaint (abuse)"
    tenant_id: str | None
    contract_id: str | None
    email_kind: str | None
    ses_message_id: str | None
    feedback_id: str | None
    detail: dict[str, Any]  # what the suppression item and the timeline keep of SES's report

    @property
    def event_type(self) -> str:
        return "email_bounced" if self.kind == suppressions.BOUNCE else "email_complained"


# --- reading --------------------------------------------------------------------------------------


def _text(value: Any, limit: int = 300) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedFeedback(f"{what} is not an object")
    return value


def _tag(tags: Mapping[str, Any], name: str) -> str | None:
    """SES gives each tag as a list of values; a plain string is taken too."""
    value = tags.get(name)
    if isinstance(value, list) and value:
        value = value[0]
    return value if isinstance(value, str) and value else None


def _recipients(entries: Any, what: str) -> tuple[str, ...]:
    if not isinstance(entries, list) or not entries:
        raise MalformedFeedback(f"{what} is not a list of recipients")
    found: list[str] = []
    for entry in entries[:MAX_RECIPIENTS]:
        raw = entry.get("emailAddress") if isinstance(entry, dict) else None
        if not isinstance(raw, str) or len(raw) > MAX_ADDRESS_CHARS:
            raise MalformedFeedback(f"{what}: a recipient without a usable emailAddress")
        address = suppressions.normalize(raw)  # SES gives the bare address: nothing else is taken
        if not _ADDRESS.fullmatch(address):
            raise MalformedFeedback(f"{what}: a recipient's emailAddress is not an address")
        if address not in found:
            found.append(address)
    return tuple(found)


def parse(message: Any) -> Feedback | None:
    """SES's record, read; None for an event that is not a bounce or a complaint. Raises
    MalformedFeedback for anything SES would not send."""
    if not isinstance(message, str) or not message or len(message) > MAX_MESSAGE_CHARS:
        raise MalformedFeedback("the SNS message is empty, not text or too long")
    try:
        data = _object(parse_json(message, what="the SES record"), "the SES record")
    except MalformedBody as err:
        raise MalformedFeedback(str(err)) from err
    event_type = data.get("eventType", data.get("notificationType"))
    if not isinstance(event_type, str):
        raise MalformedFeedback("the record has no eventType")
    if event_type not in ("Bounce", "Complaint"):
        return None
    mail = _object(data.get("mail"), "mail")
    tags = mail.get("tags") or {}
    if not isinstance(tags, dict):
        raise MalformedFeedback("mail.tags is not an object")
    tenant_id, contract_id, email_kind = _tag(tags, "tenant_id"), _tag(tags, "contract_id"), _tag(tags, "email_kind")
    if contract_id is not None and not _CONTRACT_ID.fullmatch(contract_id):
        raise MalformedFeedback("the contract_id tag is not a contract id")
    if email_kind is not None and not _EMAIL_KIND.fullmatch(email_kind):
        raise MalformedFeedback("the email_kind tag is not an email kind")
    about = {"tenant_id": tenant_id, "contract_id": contract_id, "email_kind": email_kind,
             "ses_message_id": _text(mail.get("messageId"), 200)}
    if event_type == "Bounce":
        bounce = _object(data.get("bounce"), "bounce")
        bounce_type, sub_type = _text(bounce.get("bounceType"), 40), _text(bounce.get("bounceSubType"), 60)
        if bounce_type is None:
            raise MalformedFeedback("bounce.bounceType is missing")
        recipients = _recipients(bounce.get("bouncedRecipients"), "bounce.bouncedRecipients")
        statuses = [_text(r.get("status"), 20) for r in bounce["bouncedRecipients"][:MAX_RECIPIENTS]
                    if isinstance(r, dict)]
        status = next((s for s in statuses if s), None)
        words = ", ".join(w for w in (sub_type, status) if w)
        return Feedback(
            kind=suppressions.BOUNCE, recipients=recipients, suppress=bounce_type == "Permanent",
            reason=f"{bounce_type.lower()} bounce" + (f" ({words})" if words else ""),
            feedback_id=_text(bounce.get("feedbackId"), 200), **about,
            detail={"bounce_type": bounce_type, "bounce_sub_type": sub_type, "status": status,
                    "diagnostic": _first_diagnostic(bounce["bouncedRecipients"])})
    complaint = _object(data.get("complaint"), "complaint")
    feedback_type = _text(complaint.get("complaintFeedbackType"), 40)
    recipients = _recipients(complaint.get("complainedRecipients"), "complaint.complainedRecipients")
    return Feedback(
        kind=suppressions.COMPLAINT, recipients=recipients, suppress=feedback_type != "not-spam",
        reason="complaint" + (f" ({feedback_type})" if feedback_type else ""),
        feedback_id=_text(complaint.get("feedbackId"), 200), **about,
        detail={"complaint_feedback_type": feedback_type,
                "complaint_sub_type": _text(complaint.get("complaintSubType"), 60)})


def _first_diagnostic(entries: list[Any]) -> str | None:
    for entry in entries[:MAX_RECIPIENTS]:
        if isinstance(entry, dict) and _text(entry.get("diagnosticCode")):
            return _text(entry.get("diagnosticCode"), 300)
    return None


# --- acting ---------------------------------------------------------------------------------------


def apply(feedback: Feedback, at: datetime) -> int:
    """Suppresses the addresses and tells the contract's owner; returns how many were newly suppressed."""
    tenant_id = feedback.tenant_id
    if tenant_id is None:
        raise MalformedFeedback("no tenant_id tag: not an email of ours")  # caught by the caller
    if not feedback.suppress:
        logger.info("SES feedback needs no suppression", extra={"kind": feedback.kind, "reason": feedback.reason})
        return 0
    record = store.find_contract(tenant_id, feedback.contract_id) if feedback.contract_id else None
    added = 0
    for address in feedback.recipients:
        detail = {**feedback.detail, "why": feedback.reason, "email_kind": feedback.email_kind,
                  "feedback_id": feedback.feedback_id, "ses_message_id": feedback.ses_message_id}
        if suppressions.suppress(tenant_id, address, feedback.kind, at=at, contract_id=feedback.contract_id,
                                 detail=detail):
            added += 1
            count("EmailAddressesSuppressed", reason=feedback.kind)
            logger.warning("email address suppressed", extra={"kind": feedback.kind, "reason": feedback.reason})
        if record is not None:
            _tell_owner(record, feedback, address, at)
    return added


def _tell_owner(record: StoredContract, feedback: Feedback, address: str, at: datetime) -> None:
    """The contract's timeline and its CRM's callback, once per report and address."""
    report = feedback.feedback_id or feedback.ses_message_id or "-"
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    claim = f"ses-feedback#{record.tenant_id}#{record.contract_id}#{report}#{digest}"
    if not store.claim_once(claim, REPORT_TTL, tenant_id=record.tenant_id, contract_id=record.contract_id):
        return
    detail = {"email": address, "email_kind": feedback.email_kind, "reason": feedback.reason,
              "suppressed": True, **{k: v for k, v in feedback.detail.items() if v is not None}}
    try:
        store.append_event(record, feedback.event_type, detail, at=at)
        callbacks.email_suppressed(record, feedback.event_type, detail, at)
    except Exception:
        store.release_claim(claim)  # the retry tells them
        raise


# --- the SNS handler's body -----------------------------------------------------------------------


def handle_sns_event(event: Any, context: Any = None, at: datetime | None = None) -> dict[str, int]:
    """app.py's `ses_feedback` handler: every record of the SNS event (Lambda gets one at a time), with
    the job's keys on its log lines; counts of what became of them."""
    with log_context(job="ses_feedback", function_request_id=getattr(context, "aws_request_id", None)):
        return _handle(event, at or store.now_utc())


def _handle(event: Any, at: datetime) -> dict[str, int]:
    outcome = {"suppressed": 0, "ignored": 0, "dropped": 0}
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        _drop("the event has no SNS records")
        outcome["dropped"] += 1
        return outcome
    for record in records:
        try:
            feedback = _feedback_of(record)
            if feedback is None:
                outcome["ignored"] += 1
                continue
            add_log_keys(tenant_id=feedback.tenant_id, contract_id=feedback.contract_id,
                         ses_message_id=feedback.ses_message_id, email_kind=feedback.email_kind)
            if feedback.tenant_id is None:
                logger.warning("SES feedback without our tags dropped", extra={"kind": feedback.kind})
                count("SesFeedbackUnattributed")
                outcome["dropped"] += 1
                continue
            outcome["suppressed"] += apply(feedback, at)
        except MalformedFeedback as err:
            _drop(str(err))
            outcome["dropped"] += 1
    return outcome


def _feedback_of(record: Any) -> Feedback | None:
    sns = record.get("Sns") if isinstance(record, dict) else None
    if not isinstance(sns, dict):
        raise MalformedFeedback("the record has no Sns object")
    topic = sns.get("TopicArn")
    if not isinstance(topic, str) or topic.rsplit(":", 1)[-1] != ses_feedback_topic():
        raise MalformedFeedback("the notification is not from this stage's SES feedback topic")
    add_log_keys(sns_message_id=_text(sns.get("MessageId"), 100))
    feedback = parse(sns.get("Message"))
    if feedback is not None and feedback.tenant_id is not None:
        try:
            check_tenant_id(feedback.tenant_id)
        except ValueError as err:
            raise MalformedFeedback("the tenant_id tag is not a tenant id") from err
    return feedback


def _drop(why: str) -> None:
    # What was wrong, never the message itself (it may carry anyone's addresses, or be anything).
    logger.warning("SES feedback dropped: malformed", extra={"why": why[:300]})
    count("SesFeedbackMalformed")
