"""Email through SES (v2), as a raw MIME message so that it can carry attachments (.ics).

Every email names its tenant, contract and kind (set by chalicelib/notify/emails.py): they travel as
SES message tags (`tenant_id`, `contract_id`, `email_kind`), so that a bounce or complaint SES
publishes through the stage's configuration set (SIGNBRIDGE_SES_CONFIGURATION_SET, sent with every
email when set) can be attributed (chalicelib/notify/ses_feedback.py). Addresses suppressed for the
tenant (chalicelib/store/suppressions.py) are left out before SES is called; when none is left, the
email is refused with EmailSuppressed, which no retry changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core.aws import client
from chalicelib.core.config import settings
from chalicelib.core.errors import RetryableError
from chalicelib.core.observability import count, logger
from chalicelib.store import suppressions
from chalicelib.store.contention import StoreError


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str  # e.g. "text/calendar"
    params: Mapping[str, str] = field(default_factory=dict)  # Content-Type parameters, e.g. {"method": "PUBLISH"}


@dataclass(frozen=True)
class Email:
    to: Sequence[str]
    subject: str
    text: str
    html: str | None = None
    cc: Sequence[str] = ()
    attachments: Sequence[Attachment] = field(default_factory=tuple)
    # Who and what it is about: the suppression list consulted (the tenant's) and SES's tags.
    kind: str | None = None  # approval_request, declined, voided, reminder
    tenant_id: str | None = None
    contract_id: str | None = None


class EmailSuppressed(Exception):
    """Every recipient's address is suppressed for the tenant (a permanent bounce or a complaint):
    nothing was sent, and no retry will change that. The caller marks the email done (skipped)."""

    def __init__(self, suppressed: Sequence[str]) -> None:
        super().__init__(f"every recipient ({len(suppressed)}) is suppressed after a bounce or a complaint")
        self.suppressed = list(suppressed)


# SES message tags: names and values of ASCII letters, digits, '_' and '-', at most 256 characters.
_TAG_TEXT = re.compile(r"[A-Za-z0-9_-]{1,256}")


# Line breaks and control characters in a header would make the mail library raise (or, written
# raw, inject headers). Intake refuses them in single-line fields; this keeps any text that reaches a
# subject (a stored contract from before, a tenant's template) from stopping an email.
_NOT_IN_HEADERS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def header_text(value: str) -> str:
    return _NOT_IN_HEADERS.sub(" ", value).strip()


def build_mime(email: Email, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr(("signbridge", sender))
    if email.to:  # only Cc left when every To address is suppressed: no empty To header
        message["To"] = ", ".join(header_text(a) for a in email.to)
    if email.cc:
        message["Cc"] = ", ".join(header_text(a) for a in email.cc)
    message["Subject"] = header_text(email.subject)
    message["Message-ID"] = make_msgid(domain=sender.split("@", 1)[-1])
    # base64 keeps the message 7-bit clean (Chinese text survives every relay)
    message.set_content(email.text, cte="base64")
    if email.html:
        message.add_alternative(email.html, subtype="html", cte="base64")
    for attachment in email.attachments:
        maintype, subtype = attachment.mime_type.split("/", 1)
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                               filename=attachment.filename, params=dict(attachment.params) or None)
    return message


def send(email: Email) -> str:
    """Sends and returns SES's message id, in one call: botocore retries throttling and transient
    errors itself (chalicelib.core.aws), so what still fails here is raised once, as RetryableError for
    throttling and outages, for the caller to retry later (never a loop of ours on top)."""

    email = without_suppressed(email)
    sender = settings().mail_from
    extra: dict[str, object] = {}
    if settings().ses_configuration_set:  # its event destination publishes bounces and complaints
        extra["ConfigurationSetName"] = settings().ses_configuration_set
    tags = email_tags(email)
    if tags:
        extra["EmailTags"] = tags
    try:
        response = client("sesv2").send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": list(email.to), "CcAddresses": list(email.cc)},
            Content={"Raw": {"Data": build_mime(email, sender).as_bytes()}},
            **extra,
        )
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        if code in {"TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException",
                    "InternalFailure", "ServiceUnavailable"}:
            raise RetryableError(f"SES {code}") from err
        raise
    except BotoCoreError as err:
        raise RetryableError(f"SES unreachable: {err}") from err
    return str(response.get("MessageId", ""))


def email_tags(email: Email) -> list[dict[str, str]]:
    """SES's tags for the email: what feedback about it is attributed by (ids that would not be a
    valid tag value are left out, never altered)."""
    values = {"tenant_id": email.tenant_id, "contract_id": email.contract_id, "email_kind": email.kind}
    return [{"Name": name, "Value": value} for name, value in values.items()
            if value and _TAG_TEXT.fullmatch(value)]


def _address(recipient: str) -> str:
    return suppressions.normalize(parseaddr(recipient)[1] or recipient)


def without_suppressed(email: Email) -> Email:
    """The email without the tenant's suppressed addresses; EmailSuppressed when none is left."""
    if not email.tenant_id:
        return email
    try:
        suppressed = suppressions.suppressed_among(email.tenant_id, [_address(a) for a in [*email.to, *email.cc]])
    except StoreError as err:
        if err.transient:
            raise RetryableError(f"the suppression list is unreadable just now: {err}") from err
        raise
    if not suppressed:
        return email
    to = [a for a in email.to if _address(a) not in suppressed]
    cc = [a for a in email.cc if _address(a) not in suppressed]
    left_out = len(email.to) + len(email.cc) - len(to) - len(cc)
    # Counted and logged by number (the addresses are the tenant's; the suppression item has them).
    logger.warning("email not sent to suppressed addresses", extra={
        "email_kind": email.kind, "contract_id": email.contract_id, "suppressed": left_out,
        "recipients_left": len(to) + len(cc)})
    count("EmailsSuppressed", left_out)
    if not to and not cc:
        raise EmailSuppressed(sorted(suppressed))
    return replace(email, to=to, cc=cc)
