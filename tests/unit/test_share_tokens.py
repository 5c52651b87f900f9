"""Contract-page link tokens (lifecycle/share_tokens): what a link allows by the email's reason, and
that a token is opaque, tamper-evident and of its own use only."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.core.link_keys import new_ring, seal
from chalicelib.core.observability import redact_path
from chalicelib.lifecycle import share_tokens
from chalicelib.lifecycle.share_tokens import ShareClaims, make_token, read_token, scope_for_reminder

RING = new_ring()


def claims(scope: tuple[str, ...] = ("paid",), milestone_id: str | None = "pay-1") -> ShareClaims:
    return share_tokens.new_claims("demo", "ctr_0123456789abcdef0123", "finance@yunti.example", "zh-CN", scope,
                                   milestone_id=milestone_id, now=datetime(2030, 1, 20, tzinfo=UTC))


def test_a_reminder_allows_what_its_reason_calls_for() -> None:
    for kind in ("payment_before", "payment_due", "payment_overdue"):
        assert scope_for_reminder(kind) == ("paid",)
    for kind in ("delivery_before", "delivery_overdue"):
        assert scope_for_reminder(kind) == ("delivered",)
    for kind in ("expiry", "renewal", "anything else"):
        assert scope_for_reminder(kind) == ()


def test_the_scope_names_actions_and_milestone() -> None:
    finance = claims()
    assert finance.allows("paid", "pay-1")
    assert not finance.allows("paid", "pay-2")  # the reminder was about pay-1
    assert not finance.allows("delivered", "pay-1")
    anywhere = claims(("paid", "delivered"), None)
    assert anywhere.allows("paid", "pay-2") and anywhere.allows("delivered", "dlv-1")
    notice = claims((), None)
    assert not notice.allows("paid", "pay-1") and not notice.allows("delivered", "dlv-1")
    assert share_tokens.clean_scope(["delivered", "void", "paid", "paid"]) == ("paid", "delivered")


def test_thirty_days_by_default_and_never_past_the_maximum() -> None:
    made = claims()
    assert made.expires_at - made.issued_at == 30 * 24 * 3600
    long = share_tokens.new_claims("demo", "c", "a@b.example", "en", (), hours=10_000,
                                   now=datetime(2030, 1, 20, tzinfo=UTC))
    assert long.expires_at - long.issued_at == share_tokens.MAX_LINK_HOURS * 3600
    assert share_tokens.new_claims("demo", "c", "a@b.example", "fr").language == "en"


def test_a_token_is_opaque_and_reads_back() -> None:
    made = claims()
    token = make_token(made, RING)
    assert read_token(token, RING) == made
    for visible in (made.tenant_id, made.contract_id, made.recipient, "finance", "pay-1", "paid"):
        assert visible not in token
    assert len(token) < 400  # fits an email's link comfortably


def test_a_tampered_or_foreign_token_reads_as_nothing() -> None:
    token = make_token(claims(), RING)
    kid, body = token.split(".")
    flipped = body[:20] + ("A" if body[20] != "A" else "B") + body[21:]
    assert read_token(f"{kid}.{flipped}", RING) is None
    assert read_token(token, new_ring()) is None  # another key
    assert read_token(token[:-1], RING) is None
    # Sealed for another use (an approval link, a signing link) with the same key: not a contract page.
    assert read_token(seal("approval-link", {"l": "x", "t": "demo", "c": "c", "r": "a", "g": "en", "s": ["paid"],
                                             "m": None, "i": 1, "x": 2}, RING), RING) is None
    # Ours, but not the shape: nothing.
    assert read_token(seal(share_tokens.TOKEN_USE, {"l": "x", "s": "paid"}, RING), RING) is None


def test_the_token_is_redacted_from_logs() -> None:
    token = make_token(claims(), RING)
    assert redact_path(f"GET /c/{token} HTTP/1.1") == "GET /c/[redacted] HTTP/1.1"
    assert redact_path(f"GET /c/{token}/signed HTTP/1.1") == "GET /c/[redacted]/signed HTTP/1.1"
    assert redact_path(f"https://api.example/api/c/{token}") == "https://api.example/api/c/[redacted]"
