"""Dead-letter messages for a DynamoDB stream source, in AWS's format (reference section 6).

The message points at the failed records (shard + sequence range); it does not carry them: a consumer
re-reads them from the stream within its retention. AWS's fields are exactly::

    {"context": {"partnerResourceArn": <pipe arn>,
                 "condition": "RetryAttemptsExhausted" | "RecordAgeExpired"},
     "version": "1.0", "timestamp": <ISO-8601 UTC>,
     "DDBStreamBatchInfo": {"shardId", "startSequenceNumber", "endSequenceNumber",
                            "approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord",
                            "batchSize", "streamArn"}}

Extension (not sent by AWS, kept apart under :data:`EXTENSION_FIELD` so a consumer that only knows
AWS's format can ignore it): what is needed to explain and redrive the failure locally - the last HTTP
status and error message, the attempt count, the execution id and the record event ids.
Timestamps are ISO-8601 UTC with milliseconds.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

#: Conditions written into ``context.condition``.
RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXPIRED = "RecordAgeExpired"
#: Name of the engine's extension field; everything else in the message is AWS's format.
EXTENSION_FIELD = "localEngineDetail"


def iso_utc(value: datetime | float | int | None) -> str | None:
    """ISO-8601 UTC with milliseconds for a datetime or epoch seconds (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(float(value), tz=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_dlq_message(
    *,
    pipe_arn: str,
    condition: str,
    stream_arn: str,
    shard_id: str,
    records: list[dict[str, Any]],
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The DLQ message for ``records`` (stream records as ``GetRecords`` returns them, in order)."""
    if not records:
        raise ValueError("a DLQ message needs at least one record")
    first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
    message: dict[str, Any] = {
        "context": {"partnerResourceArn": pipe_arn, "condition": condition},
        "version": "1.0",
        "timestamp": iso_utc(now or datetime.now(UTC)),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first["SequenceNumber"],
            "endSequenceNumber": last["SequenceNumber"],
            "approximateArrivalOfFirstRecord": iso_utc(first.get("ApproximateCreationDateTime")),
            "approximateArrivalOfLastRecord": iso_utc(last.get("ApproximateCreationDateTime")),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }
    if detail is not None:
        message[EXTENSION_FIELD] = detail
    return message


def queue_url_from_arn(sqs: Any, queue_arn: str) -> str:
    """``arn:aws:sqs:<region>:<account>:<name>`` -> the queue URL (asks SQS, as AWS would)."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise ValueError(f"{queue_arn!r} is not an SQS queue ARN")
    return sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]


class DeadLetterSender:
    """Sends DLQ messages to an SQS queue (or SNS topic) ARN; caches queue URLs."""

    def __init__(self, sqs: Any, sns: Any | None = None) -> None:
        self._sqs = sqs
        self._sns = sns
        self._urls: dict[str, str] = {}

    def send(self, target_arn: str, message: dict[str, Any]) -> str:
        """Send ``message`` as JSON; returns the message id. Raises on failure (the caller logs it)."""
        body = json.dumps(message)
        if ":sns:" in target_arn:
            if self._sns is None:
                raise ValueError(f"no SNS client to publish dead letters to {target_arn}")
            return self._sns.publish(TopicArn=target_arn, Message=body)["MessageId"]
        url = self._urls.get(target_arn)
        if url is None:
            url = self._urls[target_arn] = queue_url_from_arn(self._sqs, target_arn)
        return self._sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"]
