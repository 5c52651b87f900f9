"""Telling "someone else changed it" from "the store is busy".

A conditional write that fails because its condition no longer holds is an answer (a duplicate, a
move another writer made first). DynamoDB can also refuse a write for reasons that say nothing about
the data: a concurrent transaction on the same item (`TransactionConflict`), throttling, an
internal error. Those must be retried (an SQS job is re-run, a CRM or DocuSign is answered 503 with
Retry-After), never taken for a lost race and never turned into a 500.

PynamoDB's exceptions stay inside chalicelib.store: every public operation is `translated`, so a
failure leaves it as StoreError (NotStored for a read by key of nothing), which says whether it was
transient; the web edge answers 503 for those and 500 for the rest."""

from __future__ import annotations

import functools
from collections.abc import Callable

from pynamodb.exceptions import DoesNotExist, PynamoDBException

from chalicelib.core.errors import RetryableError

# Codes (of a whole request or of one cancelled transaction item) that mean "try again".
TRANSIENT_CODES = frozenset({
    "TransactionConflict", "TransactionInProgressException", "TransactionConflictException",
    "ProvisionedThroughputExceeded", "ProvisionedThroughputExceededException", "ThrottlingError",
    "ThrottlingException", "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable",
})
RETRY_AFTER_SECONDS = 1


class StoreBusy(RetryableError):
    """The store refused a write for contention or capacity, not for its data: try again shortly."""

    retry_after_seconds = RETRY_AFTER_SECONDS


def is_transient(err: PynamoDBException) -> bool:
    if err.cause_response_code in TRANSIENT_CODES:
        return True
    reasons = [r for r in getattr(err, "cancellation_reasons", None) or [] if r is not None]
    # A transaction is a lost race only if some item's condition failed; cancelled for conflict or
    # throttling alone, it says nothing about the data.
    return bool(reasons) and not any(r.code == "ConditionalCheckFailed" for r in reasons) and any(
        r.code in TRANSIENT_CODES for r in reasons)


def raise_if_transient(err: PynamoDBException) -> None:
    if is_transient(err):
        raise StoreBusy(f"the store is busy ({_codes(err)}); try again") from err


def _codes(err: PynamoDBException) -> str:
    reasons = [r.code for r in getattr(err, "cancellation_reasons", None) or [] if r is not None]
    return ", ".join(reasons) or str(err.cause_response_code or type(err).__name__)


class StoreError(Exception):
    """A store operation failed for a reason that is not an answer about the data."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient  # retrying shortly may succeed (busy, throttled): 503, not 500

    @classmethod
    def of(cls, err: PynamoDBException) -> StoreError:
        if isinstance(err, DoesNotExist):
            return NotStored(str(err))
        return cls(str(err), transient=is_transient(err))


class NotStored(StoreError):
    """Read by its key, the item is not there (an operation whose caller knows it exists)."""




def translated[**P, R](operation: Callable[P, R]) -> Callable[P, R]:
    """A store operation whose PynamoDB failures leave it as StoreError (ours pass unchanged)."""

    @functools.wraps(operation)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return operation(*args, **kwargs)
        except PynamoDBException as err:
            raise StoreError.of(err) from err

    return wrapper
