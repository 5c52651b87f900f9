"""Salesforce Outbound Messaging: a SOAP 1.1 message with up to 100 notifications, each one record
(`sObject`) with the fields the admin selected. Salesforce retries the whole message until it gets
the SOAP acknowledgement, for up to 24 hours.

Authenticity: Outbound Messaging has no body signature. Two checks instead, both required:
- a shared token in the endpoint URL (`?token=...`, the source's secret), checked before parsing;
- the message's OrganizationId must be the source's `organization_id` option.
The XML is parsed with defusedxml with DTDs forbidden: a billion-laughs or external-entity payload
is refused at its DOCTYPE, before anything is expanded or fetched.

A permanently invalid notification is recorded as rejected (see service.py) and the message is
still acknowledged: its siblings were accepted, and Salesforce would otherwise resend all of them
for a day with the same invalid data.
"""

from __future__ import annotations

from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from chalicelib.core.errors import MalformedBody, Unauthorized
from chalicelib.intake.base import InboundRequest, IntakeResult
from chalicelib.intake.crm import CrmRecord, MappedAdapter
from chalicelib.intake.signatures import verify_token
from chalicelib.store.registry import Source

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}">'
    "<soapenv:Body>"
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body>"
    "</soapenv:Envelope>"
)


def same_org(expected: str, actual: str) -> bool:
    """Org ids come as 15 or 18 characters (18 = 15 + a case-checksum suffix): compare the 15."""
    expected, actual = expected.strip(), actual.strip()
    if len(expected) not in (15, 18) or len(actual) not in (15, 18):
        return False
    return expected[:15] == actual[:15]


class SalesforceAdapter(MappedAdapter):
    kind = "salesforce"
    content_types = ("text/xml", "application/xml")
    batch = True
    # 100 notifications of a few dozen fields each are ~300 KB of SOAP: above the JSON sources' 256 KiB,
    # and a 413 would make Salesforce resend the message for a day.
    max_body_bytes = 1024 * 1024

    def verify(self, source: Source, request: InboundRequest) -> str | None:
        verify_token(source.secrets(), [request.query.get("token")], "the endpoint URL's ?token= parameter")
        return None  # each notification carries its own id

    def records(self, source: Source, request: InboundRequest, delivery_id: str | None) -> list[CrmRecord]:
        notifications = parse_outbound_message(request.raw_body)
        expected_org = str(source.options.get("organization_id") or "")
        if not expected_org:
            raise Unauthorized("this source has no organization_id configured")
        org = notifications["OrganizationId"]
        if not same_org(expected_org, org):
            raise Unauthorized(f"organization {org or '(none)'} is not the one this source accepts")
        header = {k: v for k, v in notifications.items() if k != "Notification"}
        # A notification with only `Id` selected is read through the REST API (crm.py); the org's
        # URLs tell the enrichment job where (the SessionId, if sent, is never passed on).
        context = {k: header[k] for k in ("OrganizationId", "EnterpriseUrl", "PartnerUrl") if header.get(k)}
        return [CrmRecord(f"salesforce:{n['Id']}", {**header, **n}, object_type=n["sObject"].get("type") or "Contract",
                          context=context) for n in notifications["Notification"]]

    def acknowledge(self, results: list[IntakeResult]) -> IntakeResult | None:
        # Every notification was accepted, is a repeat, or was recorded as permanently invalid:
        # acknowledging stops Salesforce from resending. A failure of ours raised before this.
        return IntakeResult(200, ACK, "text/xml; charset=utf-8")


def parse_outbound_message(raw: bytes) -> dict[str, Any]:
    """The SOAP envelope -> {"OrganizationId", "ActionId", "SessionId", "EnterpriseUrl", "PartnerUrl",
    "Notification": [{"Id", "sObject": {"type", <field>: text | None}}]}."""

    try:
        root = SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as err:
        raise MalformedBody("XML with a DTD, entity declarations or external references is refused") from err
    except SafeET.ParseError as err:
        raise MalformedBody(f"malformed XML: {err}") from err
    body = root.find(f"{{{SOAP_ENV}}}Body")
    notifications = body.find(f"{{{OUTBOUND}}}notifications") if body is not None else None
    if root.tag != f"{{{SOAP_ENV}}}Envelope" or notifications is None:
        raise MalformedBody("not a Salesforce outbound message (soapenv:Envelope/Body/notifications)")
    result: dict[str, Any] = {}
    for name in ("OrganizationId", "ActionId", "SessionId", "EnterpriseUrl", "PartnerUrl"):
        result[name] = _text(notifications.find(f"{{{OUTBOUND}}}{name}")) or ""
    items = notifications.findall(f"{{{OUTBOUND}}}Notification")
    if not items:
        raise MalformedBody("the outbound message has no Notification")
    if len(items) > MAX_NOTIFICATIONS:
        raise MalformedBody(f"{len(items)} notifications; Salesforce sends at most {MAX_NOTIFICATIONS}")
    result["Notification"] = [_notification(item) for item in items]
    return result


def _notification(element: Any) -> dict[str, Any]:
    notification_id = _text(element.find(f"{{{OUTBOUND}}}Id"))
    sobject = element.find(f"{{{OUTBOUND}}}sObject")
    if not notification_id or sobject is None:
        raise MalformedBody("each Notification needs an Id and an sObject")
    record: dict[str, Any] = {"type": (sobject.get(f"{{{XSI}}}type") or "").split(":")[-1]}
    for child in sobject:
        record[child.tag.rsplit("}", 1)[-1]] = _text(child)
    return {"Id": notification_id, "sObject": record}


def _text(element: Any) -> str | None:
    if element is None or element.get(f"{{{XSI}}}nil") == "true":
        return None
    return (element.text or "").strip() or None
