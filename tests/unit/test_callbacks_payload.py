"""The callback's JSON event: what the CRM needs to update its record, nothing it cannot use."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.notify.callbacks import EVENT_TYPE, build_payload
from chalicelib.store.models import ContractRecord, DocumentRef, SignerState


def record(**overrides: object) -> ContractRecord:
    now = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    fields: dict[str, object] = dict(
        tenant_id="demo", contract_id="ctr_1", source_id="demo-generic", crm_record_id="deal-88213",
        contract_type="sales", number="HT-2026-0117", locale="zh-CN", status="completed", document={},
        envelope_id="env-1", created_at=now, updated_at=now,
        signers=[SignerState(position=1, recipient_id="1", name="王敏", email="wang.min@yunti.example",
                             routing_order=1, delivery="email", status="signed", signed_at="2027-01-15T08:00:00Z"),
                 SignerState(position=2, recipient_id="2", name="Li Lei", email="li@signbridge.example",
                             routing_order=2, delivery="embedded", status="sent")],
    )
    fields.update(overrides)
    return ContractRecord(**fields)


def test_payload_shape() -> None:
    at = datetime(2027, 1, 15, 8, 0, 5, tzinfo=UTC)
    payload = build_payload(record(), "completed", "completed", {"previous_status": "delivered"}, at, "cb_42")
    assert payload == {
        "type": EVENT_TYPE,
        "id": "cb_42",
        "created_at": "2027-01-15T08:00:05Z",
        "data": {
            "contract_id": "ctr_1",
            "crm_record_id": "deal-88213",
            "number": "HT-2026-0117",
            "contract_type": "sales",
            "status": "completed",
            "previous_status": "delivered",
            "event": "completed",
            "envelope_id": "env-1",
            "signers": [
                {"position": 1, "name": "王敏", "email": "wang.min@yunti.example", "status": "signed",
                 "signed_at": "2027-01-15T08:00:00Z", "declined_reason": None},
                {"position": 2, "name": "Li Lei", "email": "li@signbridge.example", "status": "sent",
                 "signed_at": None, "declined_reason": None},
            ],
            "reason": None,
        },
    }


def test_signed_document_hash_and_reason_when_present() -> None:
    signed = DocumentRef(key="k", sha256="ab" * 32)
    payload = build_payload(record(status="active", signed=signed, status_reason="archived"), "active", "active",
                            None, datetime(2027, 1, 15, tzinfo=UTC), "cb_43")
    data = payload["data"]
    assert data["documents"] == {"signed": {"sha256": "ab" * 32}}
    assert "previous_status" not in data
    assert data["reason"] == "archived"
    declined = build_payload(record(status="declined"), "declined", "declined",
                             {"previous_status": "sent", "reason": "价格有误"}, datetime(2027, 1, 15, tzinfo=UTC),
                             "cb_44")
    assert declined["data"]["reason"] == "价格有误"
    assert "documents" not in declined["data"]
