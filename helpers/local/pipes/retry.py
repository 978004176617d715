"""The retry policy of a pipe's target invocation (pure: no I/O, no sleeping).

AWS rules it follows (reference section 5):
- Retried, and counted against ``MaximumRetryAttempts``: HTTP 401, 407, 409, 429, every 5xx, and
  request timeouts.
- Retried without counting (pipe "internal errors"): connection failures (refused, reset, DNS).
- Not retried: every other status outside 2xx (the record goes to the DLQ at once).
- Retries stop at ``MaximumRetryAttempts`` (-1 = no limit) or when the record is older than
  ``MaximumRecordAgeInSeconds`` (-1 = the stream's 24 h retention), whichever comes first.
- Delay: exponential backoff with jitter, ``base * 2**(n-1)`` capped at ``cap``, scaled by a random
  factor in [0.5, 1.0]; a ``Retry-After`` header wins when it asks for longer.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum

#: Non-5xx statuses AWS retries for API destinations.
RETRYABLE_STATUSES = frozenset({401, 407, 409, 429})
#: How long a DynamoDB stream keeps records; the age limit when MaximumRecordAgeInSeconds is -1.
STREAM_RETENTION_SECONDS = 24 * 3600


class Outcome(StrEnum):
    """What one HTTP attempt amounted to."""

    SUCCESS = "SUCCESS"
    RETRY = "RETRY"  # retryable, counts against MaximumRetryAttempts
    RETRY_UNCOUNTED = "RETRY_UNCOUNTED"  # internal error (connection failure): retried, not counted
    FAIL = "FAIL"  # not retryable: dead-letter now


def classify(status: int | None, *, timed_out: bool = False, connection_failed: bool = False) -> Outcome:
    """Classify an attempt by its HTTP status, or by how it failed when there was no response."""
    if connection_failed:
        return Outcome.RETRY_UNCOUNTED
    if timed_out:
        return Outcome.RETRY
    if status is None:
        return Outcome.RETRY_UNCOUNTED
    if 200 <= status < 300:
        return Outcome.SUCCESS
    if status in RETRYABLE_STATUSES or 500 <= status <= 599:
        return Outcome.RETRY
    return Outcome.FAIL


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """Retry limits from ``DynamoDBStreamParameters`` plus the engine's backoff settings."""

    maximum_retry_attempts: int = -1
    maximum_record_age_seconds: int = -1
    backoff_base: float = 1.0
    backoff_cap: float = 60.0

    @classmethod
    def from_source_parameters(
        cls, params: dict | None, *, backoff_base: float = 1.0, backoff_cap: float = 60.0
    ) -> RetryPolicy:
        """Build from a pipe's ``DynamoDBStreamParameters`` (AWS defaults when a field is absent)."""
        params = params or {}
        return cls(
            maximum_retry_attempts=int(params.get("MaximumRetryAttempts", -1)),
            maximum_record_age_seconds=int(params.get("MaximumRecordAgeInSeconds", -1)),
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
        )

    @property
    def max_age_seconds(self) -> float:
        """The effective age limit of a record, in seconds."""
        if self.maximum_record_age_seconds < 0:
            return float(STREAM_RETENTION_SECONDS)
        return float(self.maximum_record_age_seconds)

    def retries_exhausted(self, counted_retries: int) -> bool:
        """True when ``counted_retries`` retries already happened and no further one is allowed."""
        return 0 <= self.maximum_retry_attempts <= counted_retries

    def record_expired(self, created_at: float, now: float | None = None) -> bool:
        """True when a record created at epoch ``created_at`` is older than the age limit."""
        return ((time.time() if now is None else now) - created_at) > self.max_age_seconds

    def delay(
        self, retry_number: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retry number ``retry_number`` (1 for the first retry)."""
        exp = self.backoff_base * (2 ** max(0, retry_number - 1))
        backoff = min(self.backoff_cap, exp) * (rng or random).uniform(0.5, 1.0)
        if retry_after is not None:
            return max(backoff, retry_after)
        return backoff
