"""A short lease on a key: keeps two workers from doing the same one-at-a-time work, and expires by
itself if its holder dies (DynamoDB's TTL deletes too late to rely on, so expiry is a condition)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from types import TracebackType

from pynamodb.exceptions import DeleteError, PutError

from chalicelib.store.contention import translated
from chalicelib.store.contracts import now_utc
from chalicelib.store.models import KeyRecord


class Lease:
    def __init__(self, key: str, duration: timedelta) -> None:
        self.key = key
        self.duration = duration
        self.token = secrets.token_hex(8)
        self.held = False

    @translated
    def __enter__(self) -> Lease:
        now = now_utc()
        record = KeyRecord(key=self.key, created_at=now, expires_at=now + self.duration, owner=self.token)
        try:
            record.save(condition=KeyRecord.key.does_not_exist() | (KeyRecord.expires_at < now))
            self.held = True
        except PutError:
            self.held = False
        return self

    @translated
    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self.held:
            return
        try:
            KeyRecord(key=self.key).delete(condition=KeyRecord.owner == self.token)
        except DeleteError:
            pass  # it expired and someone else holds it now
