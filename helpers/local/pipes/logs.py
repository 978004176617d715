"""Pipe execution log records in the EventBridge Pipes format, written to CloudWatch Logs.

Contract (reference section 7):
- A record is emitted when its message type's level is at or below the pipe's ``Level``
  (OFF < ERROR < INFO < TRACE); OFF or no ``CloudwatchLogsLogDestination`` writes nothing.
- Fields: ``resourceArn``, ``timestamp`` (epoch ms), ``executionId``, ``messageType``, ``logLevel`` (the
  message type's own level), and optionally ``payload`` / ``awsRequest`` / ``awsResponse`` (JSON
  strings, only when ``IncludeExecutionData`` is ``["ALL"]``), ``truncatedFields`` and ``error``.
- A record is at most 256 KB: ``payload``, then ``awsRequest``, then ``awsResponse`` are cut to fit
  and named in ``truncatedFields``.
- Unlike AWS (which does not redact execution data), the caller passes ``awsRequest`` with the
  connection's auth header already redacted: the API key never reaches a log.
- Log stream naming [U in AWS]: one stream per pipe, UTC day and engine run:
  ``<YYYY>/<MM>/<DD>/<pipe name>/<run id>`` (Lambda-like; a restarted engine never appends to a stream
  another run wrote, so no sequence-token races). Streams are created on first use.
- Records are buffered and written with ``PutLogEvents`` on :meth:`PipeLogWriter.flush` (the engine
  flushes after each target response and before each backoff), in emission order.
- Writing never raises: failures are reported once on the engine's own logger and the records dropped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

LEVELS = {"OFF": 0, "ERROR": 1, "INFO": 2, "TRACE": 3}
MAX_RECORD_BYTES = 256 * 1024
_TRUNCATION_ORDER = ("payload", "awsRequest", "awsResponse")

#: Message types (without enrichment) and the level each belongs to.
MESSAGE_LEVELS: dict[str, str] = {
    **dict.fromkeys(
        (
            "ExecutionFailed",
            "ExecutionPartiallyFailed",
            "ExecutionThrottled",
            "ExecutionTimeout",
            "TargetInvocationFailed",
            "TargetInvocationPartiallyFailed",
            "TargetStageFailed",
            "TargetStagePartiallyFailed",
            "TargetTransformationFailed",
        ),
        "ERROR",
    ),
    **dict.fromkeys(
        ("ExecutionStarted", "ExecutionSucceeded", "TargetStageEntered", "TargetStageSucceeded"), "INFO"
    ),
    **dict.fromkeys(
        (
            "TargetTransformationStarted",
            "TargetTransformationSucceeded",
            "TargetInvocationStarted",
            "TargetInvocationSucceeded",
            "TargetInvocationSkipped",
            "TargetStageSkipped",
        ),
        "TRACE",
    ),
}


def log_group_name(log_group_arn: str) -> str:
    """``arn:aws:logs:<r>:<a>:log-group:<name>[:*]`` -> ``<name>``."""
    if ":log-group:" not in log_group_arn:
        raise ValueError(f"{log_group_arn!r} is not a CloudWatch Logs log group ARN")
    name = log_group_arn.split(":log-group:", 1)[1]
    return name[:-2] if name.endswith(":*") else name


def truncate_record(record: dict[str, Any], limit: int = MAX_RECORD_BYTES) -> dict[str, Any]:
    """Cut ``payload``, then ``awsRequest``, then ``awsResponse`` until the JSON fits in ``limit`` bytes."""
    size = len(json.dumps(record).encode("utf-8"))
    if size <= limit:
        return record
    record = dict(record)
    truncated: list[str] = []
    for name in _TRUNCATION_ORDER:
        if size <= limit:
            break
        value = record.get(name)
        if not isinstance(value, str):
            continue
        excess = size - limit + 64  # room for the truncatedFields entry
        encoded = value.encode("utf-8")
        keep = max(0, len(encoded) - excess * 2)  # JSON escaping can double a byte; be generous
        record[name] = encoded[:keep].decode("utf-8", errors="ignore")
        truncated.append(name)
        record["truncatedFields"] = truncated
        size = len(json.dumps(record).encode("utf-8"))
    return record


class PipeLogWriter:
    """Formats, filters and writes one pipe's execution log records. Thread-safe."""

    def __init__(
        self,
        logs_client: Any,
        pipe_arn: str,
        pipe_name: str,
        log_configuration: dict[str, Any] | None,
        run_id: str,
    ) -> None:
        config = log_configuration or {}
        destination = (config.get("CloudwatchLogsLogDestination") or {}).get("LogGroupArn")
        self._client = logs_client
        self._pipe_arn = pipe_arn
        self._pipe_name = pipe_name
        self._run_id = run_id
        self.level = str(config.get("Level", "OFF")).upper()
        self.include_data = "ALL" in (config.get("IncludeExecutionData") or [])
        self.group = log_group_name(destination) if destination else None
        self._lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._buffer: list[dict[str, Any]] = []
        self._streams_created: set[str] = set()
        self._last_ts = 0
        self._warned = False

    @property
    def enabled(self) -> bool:
        """True when this pipe writes any log record."""
        return self.group is not None and LEVELS.get(self.level, 0) > 0

    def wants(self, message_type: str) -> bool:
        """True when a record of ``message_type`` would be written at the configured level."""
        return self.enabled and LEVELS[MESSAGE_LEVELS[message_type]] <= LEVELS.get(self.level, 0)

    def emit(
        self,
        execution_id: str,
        message_type: str,
        *,
        payload: str | None = None,
        aws_request: str | None = None,
        aws_response: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        """Buffer one record (if the level admits it); execution data only with IncludeExecutionData ALL."""
        if not self.wants(message_type):
            return
        with self._lock:
            ts = max(int(time.time() * 1000), self._last_ts)
            self._last_ts = ts
            record: dict[str, Any] = {
                "resourceArn": self._pipe_arn,
                "timestamp": ts,
                "executionId": execution_id,
                "messageType": message_type,
                "logLevel": MESSAGE_LEVELS[message_type],
            }
            if self.include_data:
                for key, value in (
                    ("payload", payload),
                    ("awsRequest", aws_request),
                    ("awsResponse", aws_response),
                ):
                    if value is not None:
                        record[key] = value
            if error is not None:
                record["error"] = error
            self._buffer.append(truncate_record(record))

    def _stream_name(self, ts_ms: int) -> str:
        day = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y/%m/%d")
        return f"{day}/{self._pipe_name}/{self._run_id}"

    def _ensure_stream(self, stream: str) -> None:
        if stream in self._streams_created:
            return
        try:
            self._client.create_log_stream(logGroupName=self.group, logStreamName=stream)
        except Exception as exc:  # already exists is fine; anything else surfaces at put time
            if "ResourceAlreadyExists" not in str(exc):
                raise
        self._streams_created.add(stream)

    def flush(self) -> None:
        """Write buffered records (grouped by stream, in order). Never raises."""
        with self._io_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            if not batch or self.group is None:
                return
            by_stream: dict[str, list[dict[str, Any]]] = {}
            for record in batch:
                by_stream.setdefault(self._stream_name(record["timestamp"]), []).append(record)
            try:
                for stream, records in by_stream.items():
                    self._ensure_stream(stream)
                    events = [{"timestamp": r["timestamp"], "message": json.dumps(r)} for r in records]
                    self._client.put_log_events(
                        logGroupName=self.group, logStreamName=stream, logEvents=events
                    )
                self._warned = False
            except Exception as exc:
                if not self._warned:
                    log.warning(
                        "pipe %s: cannot write to log group %s (%s); its records are dropped until "
                        "the group exists",
                        self._pipe_name,
                        self.group,
                        exc,
                    )
                    self._warned = True
