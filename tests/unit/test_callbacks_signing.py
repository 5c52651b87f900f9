"""Outbound callbacks are signed per Standard Webhooks, verifiable with the standardwebhooks library
and the secret the CRM already holds."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.notify.callbacks import signature_headers


def whsec() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


BODY = json.dumps({"type": "contract.status_changed", "id": "cb_1", "data": {"number": "HT-2026-0117",
                                                                          "title": "云梯 销售合同"}},
                  ensure_ascii=False, separators=(",", ":"))


def test_the_crm_verifies_with_its_secret() -> None:
    secret = whsec()
    now = datetime.now(UTC)
    headers = signature_headers([secret], "cb_abc", BODY, now)
    assert headers["webhook-id"] == "cb_abc"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    # What the CRM runs, on the raw bytes it received (UTF-8).
    assert Webhook(secret).verify(BODY.encode(), headers)["data"]["title"] == "云梯 销售合同"


def test_another_secret_or_a_changed_body_does_not_verify() -> None:
    secret = whsec()
    headers = signature_headers([secret], "cb_abc", BODY, datetime.now(UTC))
    with pytest.raises(WebhookVerificationError):
        Webhook(whsec()).verify(BODY.encode(), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("HT-2026-0117", "HT-2026-0118").encode(), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.encode(), {**headers, "webhook-id": "cb_other"})


def test_the_id_is_stable_and_the_timestamp_is_fresh() -> None:
    secret = whsec()
    first = signature_headers([secret], "cb_same", BODY, datetime(2027, 1, 1, tzinfo=UTC))
    later = signature_headers([secret], "cb_same", BODY, datetime(2027, 1, 1, 0, 5, tzinfo=UTC))
    assert first["webhook-id"] == later["webhook-id"] == "cb_same"
    assert first["webhook-timestamp"] != later["webhook-timestamp"]
    assert first["webhook-signature"] != later["webhook-signature"]


def test_during_rotation_every_secret_signs() -> None:
    old, new = whsec(), whsec()
    headers = signature_headers([new, old], "cb_rot", BODY, datetime.now(UTC))
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(BODY.encode(), headers)
    Webhook(new).verify(BODY.encode(), headers)


def test_a_plain_secret_signs_with_its_utf8_bytes() -> None:
    # A HubSpot client secret or a Zoho token is not a whsec_ key: the CRM's HMAC key is the string.
    plain = "hubspot-client-secret-7d1f"
    headers = signature_headers([plain], "cb_plain", BODY, datetime.now(UTC))
    Webhook(plain.encode()).verify(BODY.encode(), headers)


def test_no_secret_no_signature() -> None:
    with pytest.raises(ValueError):
        signature_headers([], "cb_x", BODY, datetime.now(UTC))
