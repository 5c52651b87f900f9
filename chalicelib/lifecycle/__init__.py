"""Lifecycle services: status transitions and what they set off, the approval gate, cancelling and sending."""
