"""Email through SES (v2), as a raw MIME message so that it can carry attachments (.ics)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core.aws import client
from chalicelib.core.config import settings
from chalicelib.core.errors import RetryableError


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


# Line breaks and control characters in a header would make the mail library raise (or, written
# raw, inject headers). Intake refuses them in single-line fields; this keeps any text that reaches a
# subject (a stored contract from before, a tenant's template) from stopping an email.
_NOT_IN_HEADERS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def header_text(value: str) -> str:
    return _NOT_IN_HEADERS.sub(" ", value).strip()


def build_mime(email: Email, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr(("signbridge", sender))
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

    sender = settings().mail_from
    try:
        response = client("sesv2").send_email(
            FromEmailAddress=sender,
            Destination={"ToAddresses": list(email.to), "CcAddresses": list(email.cc)},
            Content={"Raw": {"Data": build_mime(email, sender).as_bytes()}},
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
