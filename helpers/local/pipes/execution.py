"""One pipe execution per stream record: filter, transform, invoke with retries, log, dead-letter, measure.

Contract (reference sections 2-7):
- A record that does not match the pipe's filters is dropped silently: no execution, no log record,
  no DLQ, no metrics record; the source still checkpoints past it.
- API destinations take one record per request, so every record that passes is its own execution
  (its own ``executionId``), in stream order.
- Log record order: ExecutionStarted -> TargetStageEntered -> TargetTransformationStarted ->
  TargetTransformationSucceeded|Failed -> (TargetInvocationStarted -> TargetInvocationSucceeded|Failed)
  once per attempt -> TargetStageSucceeded|Failed -> ExecutionSucceeded|Failed. Retries stay inside the
  same execution [U in AWS].
- Payloads [U]: ExecutionStarted carries the event batch (a JSON array of one event),
  TargetTransformationSucceeded the rendered body, TargetStageSucceeded the target's response body.
- A template, path-parameter or non-retryable HTTP failure dead-letters the record at once with
  condition RetryAttemptsExhausted; exhausted retries likewise; a record older than
  MaximumRecordAgeInSeconds is dead-lettered with RecordAgeExpired. Without a DLQ the failure is
  logged on the engine's logger and the record is skipped.
- Stopping the pipe during a backoff or a rate-limit wait abandons the record (the batch is not
  checkpointed and is read again when the pipe runs next).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from helpers.local.pipes.dlq import (
    RECORD_AGE_EXPIRED,
    RETRY_ATTEMPTS_EXHAUSTED,
    DeadLetterSender,
    build_dlq_message,
)
from helpers.local.pipes.logs import PipeLogWriter
from helpers.local.pipes.metrics import ExecutionMetrics
from helpers.local.pipes.params import ParameterError, build_invocation
from helpers.local.pipes.patterns import FilterSet
from helpers.local.pipes.records import filterable_view, to_pipes_event
from helpers.local.pipes.retry import Outcome, RetryPolicy, classify, parse_retry_after
from helpers.local.pipes.target import (
    ApiDestination,
    HttpResult,
    HttpSender,
    RateLimiter,
    RefreshingDestination,
    redact_headers,
    redact_url,
    request_headers,
)
from helpers.local.pipes.templates import PipeContext, TemplateError, render_template

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipeSpec:
    """What one running pipe executes with (built from ``DescribePipe`` when the pipe is picked up)."""

    name: str
    arn: str
    stream_arn: str
    target_arn: str
    filters: FilterSet
    input_template: str | None
    http_parameters: dict[str, Any] | None
    dead_letter_arn: str | None
    policy: RetryPolicy
    context: PipeContext


@dataclass
class Counters:
    """Per-pipe totals shown in the engine status."""

    read: int = 0
    filtered: int = 0
    succeeded: int = 0
    failed: int = 0
    dead_lettered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bump(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, int]:
        with self.lock:
            return {k: getattr(self, k) for k in ("read", "filtered", "succeeded", "failed", "dead_lettered")}


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) if value is not None else time.time()


class _Failure(Exception):
    def __init__(self, condition: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.condition, self.message, self.status = condition, message, status


class RecordExecutor:
    """Runs executions for one pipe; :meth:`handle_batch` is the source's batch handler."""

    def __init__(
        self,
        spec: PipeSpec,
        destination: RefreshingDestination,
        *,
        sender: HttpSender,
        limiter: RateLimiter,
        logs: PipeLogWriter,
        dead_letters: DeadLetterSender,
        metrics: ExecutionMetrics,
        stop: threading.Event,
    ) -> None:
        self.spec, self._destination = spec, destination
        self._sender, self._limiter, self._logs = sender, limiter, logs
        self._dlq, self._metrics, self._stop = dead_letters, metrics, stop
        self.counters = Counters()

    @staticmethod
    def _secret_names(destination: ApiDestination) -> tuple[set[str], set[str]]:
        """Header and query names whose values must never be logged."""
        conn = destination.connection_parameters or {}

        def secret_keys(section: str) -> set[str]:
            return {p.get("Key", "") for p in conn.get(section, []) if p.get("IsValueSecret")}

        return secret_keys("HeaderParameters") | {destination.auth_header_name or ""}, secret_keys(
            "QueryStringParameters"
        )

    def handle_batch(self, shard_id: str, records: list[dict[str, Any]]) -> bool:
        """Execute each record in order; False if the pipe stopped before the batch completed."""
        for record in records:
            if self._stop.is_set():
                return False
            self.counters.bump("read")
            event = to_pipes_event(record, self.spec.stream_arn)
            if not self.spec.filters.matches(filterable_view(event)):
                self.counters.bump("filtered")
                continue
            if not self._execute(shard_id, record, event):
                return False
        return True

    def _execute(self, shard_id: str, record: dict[str, Any], event: dict[str, Any]) -> bool:
        execution_id = str(uuid.uuid4())
        emit = self._logs.emit
        created_at = _epoch(record["dynamodb"].get("ApproximateCreationDateTime"))
        emit(execution_id, "ExecutionStarted", payload=json.dumps([event]))
        emit(execution_id, "TargetStageEntered")
        attempts, last = 0, None
        destination = self._destination.get()
        secret_headers, secret_query = self._secret_names(destination)
        try:
            body = self._transform(execution_id, event)
            try:
                inv = build_invocation(
                    destination.endpoint,
                    self.spec.http_parameters,
                    event,
                    destination.connection_parameters,
                )
            except ParameterError as exc:
                raise _Failure(RETRY_ATTEMPTS_EXHAUSTED, f"Invalid HTTP parameters: {exc}") from exc
            headers = request_headers(destination, dict(inv.headers))
            request_log = json.dumps(
                {
                    "method": destination.method,
                    "url": redact_url(inv.url, secret_query),
                    "headers": redact_headers(headers, secret_headers),
                    "body": body,
                }
            )
            counted = 0
            while True:
                if self.spec.policy.record_expired(created_at):
                    raise _Failure(
                        RECORD_AGE_EXPIRED,
                        "Record is older than MaximumRecordAgeInSeconds",
                        last.status if last else None,
                    )
                if not self._limiter.acquire(self._stop):
                    return self._abandon(execution_id)
                attempts += 1
                emit(execution_id, "TargetInvocationStarted", aws_request=request_log)
                last = self._sender.send(destination.method, inv.url, headers, body)
                outcome = classify(
                    last.status, timed_out=last.timed_out, connection_failed=last.connection_failed
                )
                response_log = json.dumps(
                    {"statusCode": last.status, "headers": last.headers, "body": last.body}
                )
                if outcome is Outcome.SUCCESS:
                    emit(execution_id, "TargetInvocationSucceeded", aws_response=response_log)
                    break
                emit(
                    execution_id, "TargetInvocationFailed", aws_response=response_log, error=self._error(last)
                )
                if outcome is Outcome.FAIL:
                    raise _Failure(RETRY_ATTEMPTS_EXHAUSTED, last.error or "failed", last.status)
                if outcome is Outcome.RETRY:
                    if self.spec.policy.retries_exhausted(counted):
                        raise _Failure(RETRY_ATTEMPTS_EXHAUSTED, last.error or "failed", last.status)
                    counted += 1
                delay = self.spec.policy.delay(attempts, parse_retry_after(last.headers.get("retry-after")))
                remaining = self.spec.policy.max_age_seconds - (time.time() - created_at)
                self._logs.flush()
                if self._stop.wait(max(0.0, min(delay, remaining + 0.01))):
                    return self._abandon(execution_id)
        except _Failure as failure:
            self._fail(execution_id, shard_id, record, failure, attempts, last, created_at)
            return True
        emit(execution_id, "TargetStageSucceeded", payload=last.body)
        emit(execution_id, "ExecutionSucceeded")
        self.counters.bump("succeeded")
        self._logs.flush()
        self._measure(execution_id, shard_id, record, "SUCCEEDED", last, attempts, created_at)
        return True

    def _transform(self, execution_id: str, event: dict[str, Any]) -> str:
        emit = self._logs.emit
        emit(execution_id, "TargetTransformationStarted")
        context = replace(self.spec.context, ingestion_time=datetime.now(UTC))
        try:
            rendered = render_template(self.spec.input_template, event, context)
        except TemplateError as exc:
            error = {
                "httpStatusCode": None,
                "message": f"Transformation failed: {exc}",
                "details": "",
                "awsService": "pipes",
                "requestId": None,
            }
            emit(execution_id, "TargetTransformationFailed", error=error)
            raise _Failure(RETRY_ATTEMPTS_EXHAUSTED, error["message"]) from exc
        if rendered.missing_paths:
            log.warning(
                "pipe %s: template paths absent from the record: %s",
                self.spec.name,
                ", ".join(rendered.missing_paths),
            )
        emit(execution_id, "TargetTransformationSucceeded", payload=rendered.body)
        return rendered.body

    @staticmethod
    def _error(result: HttpResult | None, message: str | None = None) -> dict[str, Any]:
        status = result.status if result else None
        request_id = (
            (result.headers.get("x-amzn-requestid") or result.headers.get("x-request-id")) if result else None
        )
        return {
            "httpStatusCode": status,
            "message": message or (result.error if result else "failed"),
            "details": (result.body[:1024] if result else ""),
            "awsService": "events",
            "requestId": request_id,
        }

    def _abandon(self, execution_id: str) -> bool:
        log.info(
            "pipe %s: stopped during execution %s; the batch will be read again", self.spec.name, execution_id
        )
        self._logs.flush()
        return False

    def _fail(
        self,
        execution_id: str,
        shard_id: str,
        record: dict[str, Any],
        failure: _Failure,
        attempts: int,
        last: HttpResult | None,
        created_at: float,
    ) -> None:
        error = self._error(last, failure.message)
        error["httpStatusCode"] = failure.status
        self._logs.emit(execution_id, "TargetStageFailed", error=error)
        self._logs.emit(execution_id, "ExecutionFailed", error=error)
        self.counters.bump("failed")
        dead_lettered = False
        seq = record["dynamodb"]["SequenceNumber"]
        if self.spec.dead_letter_arn:
            detail = {
                "httpStatusCode": failure.status,
                "errorMessage": failure.message,
                "attempts": attempts,
                "executionId": execution_id,
                "eventIDs": [record.get("eventID")],
                "responseBody": last.body[:4096] if last else None,
            }
            message = build_dlq_message(
                pipe_arn=self.spec.arn,
                condition=failure.condition,
                stream_arn=self.spec.stream_arn,
                shard_id=shard_id,
                records=[record],
                detail=detail,
            )
            try:
                self._dlq.send(self.spec.dead_letter_arn, message)
                dead_lettered = True
                self.counters.bump("dead_lettered")
            except Exception as exc:
                log.error(
                    "pipe %s: record %s failed (%s) and the DLQ %s refused it (%s); the record is skipped",
                    self.spec.name,
                    seq,
                    failure.message,
                    self.spec.dead_letter_arn,
                    exc,
                )
        else:
            log.error(
                "pipe %s: record %s failed (%s: %s) and the pipe has no DLQ; the record is skipped",
                self.spec.name,
                seq,
                failure.condition,
                failure.message,
            )
        self._logs.flush()
        self._measure(
            execution_id,
            shard_id,
            record,
            "FAILED",
            last,
            attempts,
            created_at,
            condition=failure.condition,
            error=failure.message,
            dead_lettered=dead_lettered,
        )

    def _measure(
        self,
        execution_id: str,
        shard_id: str,
        record: dict[str, Any],
        status: str,
        last: HttpResult | None,
        attempts: int,
        created_at: float,
        *,
        condition: str | None = None,
        error: str | None = None,
        dead_lettered: bool = False,
    ) -> None:
        responded = last.finished_at if last else time.time()
        self._metrics.add(
            {
                "pipe": self.spec.name,
                "executionId": execution_id,
                "eventID": record.get("eventID"),
                "eventName": record.get("eventName"),
                "shardId": shard_id,
                "sequenceNumber": record["dynamodb"]["SequenceNumber"],
                "status": status,
                "condition": condition,
                "deadLettered": dead_lettered,
                "httpStatus": last.status if last else None,
                "attempts": attempts,
                "error": error,
                "recordCreatedAt": created_at,
                "respondedAt": responded,
                "latencyMs": round((responded - created_at) * 1000.0, 3),
            }
        )
