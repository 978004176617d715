"""Read what the pipes did: their execution log records and the dead-letter queue, explained.

Works the same against CloudWatch Logs / SQS in AWS and on the local cloud. Reading changes
nothing, except :func:`redrive`, which re-drives failed records on purpose and says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from helpers.clients import aws_client
from helpers.config import Settings, load_settings

#: Pipes log message types in the order one execution emits them (TRACE-level ones included).
STAGE_ORDER = (
    "ExecutionStarted",
    "TargetStageEntered",
    "TargetTransformationStarted",
    "TargetTransformationSucceeded",
    "TargetInvocationStarted",
    "TargetInvocationSucceeded",
    "TargetInvocationFailed",
    "TargetStageSucceeded",
    "TargetStageFailed",
    "ExecutionSucceeded",
    "ExecutionFailed",
)

#: What each field of a DynamoDB-stream DLQ message means, for learners.
DLQ_FIELDS = {
    "context.partnerResourceArn": "the pipe that gave up on the batch",
    "context.condition": "why: RetryAttemptsExhausted (retries used up) or RecordAgeExpired (too old)",
    "version": "format version of this message",
    "timestamp": "when the pipe gave up",
    "DDBStreamBatchInfo.shardId": "the stream shard that holds the failed records",
    "DDBStreamBatchInfo.startSequenceNumber": "first failed record: read the stream from here to redrive",
    "DDBStreamBatchInfo.endSequenceNumber": "last failed record of the batch",
    "DDBStreamBatchInfo.approximateArrivalOfFirstRecord": "when the first failed record entered the stream",
    "DDBStreamBatchInfo.approximateArrivalOfLastRecord": "when the last failed record entered the stream",
    "DDBStreamBatchInfo.batchSize": "how many records the batch held",
    "DDBStreamBatchInfo.streamArn": "the stream to re-read (records stay there for 24 hours)",
}


def log_group_name(settings: Settings) -> str:
    """The pipes' log group (``<base>-<region>``), as the stack names it."""
    return f"{settings.names.log_group_base}-{settings.aws_region}"


def pipe_log_records(
    settings: Settings | None = None, *, pipe_name: str | None = None, since: float | None = None
) -> list[dict[str, Any]]:
    """Every pipe log record in the log group (optionally of one pipe, since an epoch time), oldest first."""
    settings = settings or load_settings()
    logs = aws_client("logs", settings)
    kwargs: dict[str, Any] = {"logGroupName": log_group_name(settings)}
    if since is not None:
        kwargs["startTime"] = int(since * 1000)
    records = []
    for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
        for event in page.get("events", []):
            try:
                record = json.loads(event["message"])
            except ValueError:
                continue
            if pipe_name is None or record.get("resourceArn", "").endswith(f":pipe/{pipe_name}"):
                records.append(record)
    return sorted(records, key=lambda r: (r.get("timestamp", 0), _stage_rank(r.get("messageType", ""))))


def _stage_rank(message_type: str) -> int:
    return STAGE_ORDER.index(message_type) if message_type in STAGE_ORDER else len(STAGE_ORDER)


@dataclass
class Execution:
    """One pipe execution (one record delivered or failed), assembled from its log records."""

    execution_id: str
    pipe: str
    started: datetime
    stages: list[str] = field(default_factory=list)
    status: str = "RUNNING"
    http_status: int | None = None
    error: str = ""
    duration_ms: int = 0

    def as_row(self) -> dict[str, Any]:
        return {
            "pipe": self.pipe,
            "started": self.started.strftime("%H:%M:%S.%f")[:-3],
            "status": self.status,
            "http": self.http_status or "",
            "ms": self.duration_ms,
            "stages": " > ".join(self.stages),
            "error": self.error[:80],
        }


def stages_of(records: Iterable[dict[str, Any]], execution_id: str) -> list[dict[str, Any]]:
    """The log records of one execution, in order, as rows (message type, level, timestamp)."""
    return [
        {"messageType": r.get("messageType"), "logLevel": r.get("logLevel"), "timestamp": r.get("timestamp")}
        for r in records
        if r.get("executionId") == execution_id
    ]


def executions(records: Iterable[dict[str, Any]]) -> list[Execution]:
    """Group log records by execution id; status is SUCCEEDED/FAILED once the execution ended."""
    found: dict[str, Execution] = {}
    first_ts: dict[str, int] = {}
    for record in records:
        exec_id = record.get("executionId", "")
        ts = int(record.get("timestamp", 0))
        if exec_id not in found:
            pipe = record.get("resourceArn", "").rsplit("/", 1)[-1]
            found[exec_id] = Execution(exec_id, pipe, datetime.fromtimestamp(ts / 1000, UTC))
            first_ts[exec_id] = ts
        execution = found[exec_id]
        message_type = record.get("messageType", "")
        execution.stages.append(message_type)
        execution.duration_ms = ts - first_ts[exec_id]
        if message_type == "ExecutionSucceeded":
            execution.status = "SUCCEEDED"
        elif message_type == "ExecutionFailed":
            execution.status = "FAILED"
        error = record.get("error")
        if error:
            execution.http_status = error.get("httpStatusCode") or execution.http_status
            execution.error = error.get("message", "") or execution.error
    return sorted(found.values(), key=lambda e: e.started)


@dataclass(frozen=True)
class DlqMessage:
    """A message of the dead-letter queue: its parsed body and the receipt to delete it with."""

    message_id: str
    receipt_handle: str
    body: dict[str, Any]

    @property
    def batch(self) -> dict[str, Any]:
        return self.body.get("DDBStreamBatchInfo", {})

    def as_row(self) -> dict[str, str]:
        """One line: which pipe gave up, why, and where the failed records start."""
        context = self.body.get("context", {})
        return {
            "pipe": context.get("partnerResourceArn", "").rsplit("/", 1)[-1],
            "condition": context.get("condition", ""),
            "first sequence": self.batch.get("startSequenceNumber", ""),
        }

    def explain(self) -> list[dict[str, str]]:
        """Each field of the message with its value and what it means."""
        rows = []
        for path, meaning in DLQ_FIELDS.items():
            value: Any = self.body
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            rows.append({"field": path, "value": "" if value is None else str(value), "meaning": meaning})
        for key, value in self.body.items():
            if key not in {"context", "version", "timestamp", "DDBStreamBatchInfo"}:
                rows.append({"field": key, "value": json.dumps(value)[:200], "meaning": "engine extension"})
        return rows


def dlq_url(settings: Settings) -> str:
    return aws_client("sqs", settings).get_queue_url(QueueName=settings.names.dlq)["QueueUrl"]


def read_dlq(
    settings: Settings | None = None, *, expect: int = 0, timeout: float = 30.0, visibility: int = 0
) -> list[DlqMessage]:
    """Peek at the DLQ: receive messages without deleting them (``visibility`` 0 leaves them visible
    to the next reader; each message keeps its newest receipt handle, which :func:`redrive` deletes with).

    With ``expect`` > 0, keep polling until that many arrived or ``timeout`` passed (then return
    what arrived; the caller's checkpoint decides whether that is an error).
    """
    settings = settings or load_settings()
    sqs, url = aws_client("sqs", settings), dlq_url(settings)
    found: dict[str, DlqMessage] = {}
    deadline = time.monotonic() + timeout
    while True:
        response = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=visibility
        )
        for message in response.get("Messages", []):
            found[message["MessageId"]] = DlqMessage(
                message["MessageId"], message["ReceiptHandle"], json.loads(message["Body"])
            )
        if len(found) >= expect or time.monotonic() >= deadline:
            return list(found.values())


def stream_records_of(message: DlqMessage, settings: Settings | None = None) -> list[dict[str, Any]]:
    """Re-read from the stream the records a DLQ message points to (shard + sequence range)."""
    settings = settings or load_settings()
    streams = aws_client("dynamodbstreams", settings)
    batch = message.batch
    iterator = streams.get_shard_iterator(
        StreamArn=batch["streamArn"],
        ShardId=batch["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=batch["startSequenceNumber"],
    )["ShardIterator"]
    end, wanted, records = int(batch["endSequenceNumber"]), int(batch.get("batchSize", 1)), []
    for _ in range(100):
        response = streams.get_records(ShardIterator=iterator, Limit=100)
        for record in response.get("Records", []):
            if int(record["dynamodb"]["SequenceNumber"]) > end:
                return records
            records.append(record)
        iterator = response.get("NextShardIterator")
        if not iterator or len(records) >= wanted or not response.get("Records"):
            break
    return records


def redrive(
    messages: Iterable[DlqMessage],
    fix: Callable[[dict[str, Any]], dict[str, Any] | None],
    settings: Settings | None = None,
) -> int:
    """Re-drive failed records: ``fix(stream_record)`` returns a corrected DynamoDB item to write
    (which flows through the pipes again) or None to skip; handled DLQ messages are deleted.
    Returns the number of items written.
    """
    settings = settings or load_settings()
    dynamodb, sqs, url = aws_client("dynamodb", settings), aws_client("sqs", settings), dlq_url(settings)
    written, seen = 0, set()
    for message in messages:
        for record in stream_records_of(message, settings):
            sequence = record["dynamodb"]["SequenceNumber"]
            if sequence in seen:  # several pipes may dead-letter the same record: redrive it once
                continue
            seen.add(sequence)
            item = fix(record)
            if item is not None:
                dynamodb.put_item(TableName=settings.names.table, Item=item)
                written += 1
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message.receipt_handle)
    return written


def purge_dlq(settings: Settings | None = None) -> int:
    """Delete every message currently visible in the DLQ; returns how many."""
    settings = settings or load_settings()
    sqs, url = aws_client("sqs", settings), dlq_url(settings)
    deleted = 0
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not messages:
            return deleted
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            deleted += 1


def delivery_counts(
    settings: Settings | None = None, *, since: float | None = None
) -> dict[str, dict[str, int]]:
    """Per pipe: how many executions succeeded (``delivered``) and failed since ``since``."""
    counts: dict[str, dict[str, int]] = {}
    for execution in executions(pipe_log_records(settings, since=since)):
        entry = counts.setdefault(execution.pipe, {"delivered": 0, "failed": 0})
        if execution.status == "SUCCEEDED":
            entry["delivered"] += 1
        elif execution.status == "FAILED":
            entry["failed"] += 1
    return counts


def pipe_states(settings: Settings | None = None) -> list[dict[str, str]]:
    """Each of the stack's pipes with its current and desired state (RUNNING once deployed)."""
    settings = settings or load_settings()
    pipes = aws_client("pipes", settings)
    names = settings.names
    rows = []
    for name in (names.cache_put_pipe, names.topic_publish_pipe, names.cache_delete_pipe):
        pipe = pipes.describe_pipe(Name=name)
        rows.append(
            {
                "pipe": name,
                "state": pipe["CurrentState"],
                "desired": pipe["DesiredState"],
                "reason": pipe.get("StateReason", ""),
            }
        )
    return rows
