"""Pure parts of the engine: retry policy, DLQ format, log records, checkpoints (no servers)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from helpers.config import Secret
from helpers.local.pipes.checkpoints import CheckpointStore
from helpers.local.pipes.dlq import build_dlq_message
from helpers.local.pipes.logs import MAX_RECORD_BYTES, PipeLogWriter, log_group_name, truncate_record
from helpers.local.pipes.retry import Outcome, RetryPolicy, classify, parse_retry_after
from helpers.local.pipes.target import ApiDestination, redact_url, request_headers


@pytest.mark.parametrize(
    ("status", "timed_out", "refused", "expected"),
    [
        (200, False, False, Outcome.SUCCESS),
        (204, False, False, Outcome.SUCCESS),
        (401, False, False, Outcome.RETRY),  # section 5: 401, 407, 409, 429, 5xx retried
        (407, False, False, Outcome.RETRY),
        (409, False, False, Outcome.RETRY),
        (429, False, False, Outcome.RETRY),
        (500, False, False, Outcome.RETRY),
        (599, False, False, Outcome.RETRY),
        (400, False, False, Outcome.FAIL),  # section 5: other 4xx -> DLQ at once [U suggested]
        (403, False, False, Outcome.FAIL),
        (404, False, False, Outcome.FAIL),
        (302, False, False, Outcome.FAIL),
        (None, True, False, Outcome.RETRY),  # section 5: timeouts are retried
        (None, False, True, Outcome.RETRY_UNCOUNTED),  # connection failures: internal, not counted
    ],
)
def test_classify_follows_the_reference(status, timed_out, refused, expected):
    assert classify(status, timed_out=timed_out, connection_failed=refused) is expected


def test_retry_limits_and_backoff():
    policy = RetryPolicy(
        maximum_retry_attempts=2, maximum_record_age_seconds=60, backoff_base=1.0, backoff_cap=5
    )
    assert not policy.retries_exhausted(1) and policy.retries_exhausted(2)
    assert not RetryPolicy(maximum_retry_attempts=-1).retries_exhausted(10_000)  # -1 = no count limit
    assert RetryPolicy(maximum_retry_attempts=0).retries_exhausted(0)
    assert policy.record_expired(created_at=1000.0, now=1061.0) and not policy.record_expired(1000.0, 1059.0)
    assert RetryPolicy().max_age_seconds == 24 * 3600  # -1 = the stream's retention
    rng = random.Random(7)
    delays = [policy.delay(n, rng=rng) for n in (1, 2, 3, 4, 5)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(5.0, 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert policy.delay(1, retry_after=30.0, rng=rng) == 30.0  # Retry-After wins when longer


def test_retry_after_forms():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    date = "Wed, 21 Oct 2015 07:28:10 GMT"
    assert parse_retry_after(date, now=datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC).timestamp()) == 10.0


def test_dlq_message_matches_the_reference_shape():
    """Section 6: context, version, timestamp, DDBStreamBatchInfo; the extension kept apart."""
    records = [
        {"eventID": "a", "dynamodb": {"SequenceNumber": "100", "ApproximateCreationDateTime": 1709856000}},
        {"eventID": "b", "dynamodb": {"SequenceNumber": "105", "ApproximateCreationDateTime": 1709856001.5}},
    ]
    msg = build_dlq_message(
        pipe_arn="arn:aws:pipes:eu-west-2:123456789123:pipe/p",
        condition="RecordAgeExpired",
        stream_arn="arn:aws:dynamodb:eu-west-2:123456789123:table/t/stream/x",
        shard_id="shardId-1",
        records=records,
        detail={"httpStatusCode": 503},
        now=datetime(2024, 3, 8, tzinfo=UTC),
    )
    assert msg == {
        "context": {
            "partnerResourceArn": "arn:aws:pipes:eu-west-2:123456789123:pipe/p",
            "condition": "RecordAgeExpired",
        },
        "version": "1.0",
        "timestamp": "2024-03-08T00:00:00.000Z",
        "DDBStreamBatchInfo": {
            "shardId": "shardId-1",
            "startSequenceNumber": "100",
            "endSequenceNumber": "105",
            "approximateArrivalOfFirstRecord": "2024-03-08T00:00:00.000Z",
            "approximateArrivalOfLastRecord": "2024-03-08T00:00:01.500Z",
            "batchSize": 2,
            "streamArn": "arn:aws:dynamodb:eu-west-2:123456789123:table/t/stream/x",
        },
        "localEngineDetail": {"httpStatusCode": 503},
    }


@pytest.mark.parametrize(
    ("level", "written"),
    [
        ("OFF", []),
        ("ERROR", ["ExecutionFailed", "TargetInvocationFailed"]),  # section 7: levels include lower ones
        ("INFO", ["ExecutionStarted", "ExecutionFailed", "TargetInvocationFailed", "TargetStageEntered"]),
        (
            "TRACE",
            [
                "ExecutionStarted",
                "ExecutionFailed",
                "TargetInvocationStarted",
                "TargetInvocationFailed",
                "TargetStageEntered",
                "TargetTransformationSucceeded",
            ],
        ),
    ],
)
def test_log_levels_include_the_lower_ones(level, written):
    config = {
        "CloudwatchLogsLogDestination": {"LogGroupArn": "arn:aws:logs:us-east-1:1:log-group:g:*"},
        "Level": level,
    }
    writer = PipeLogWriter(None, "arn:pipe", "p", config, "run")
    candidates = [
        "ExecutionStarted",
        "ExecutionFailed",
        "TargetInvocationStarted",
        "TargetInvocationFailed",
        "TargetStageEntered",
        "TargetTransformationSucceeded",
    ]
    assert [m for m in candidates if writer.wants(m)] == written
    assert not writer.include_data  # execution data only with IncludeExecutionData ["ALL"]
    assert PipeLogWriter(None, "arn:pipe", "p", {**config, "IncludeExecutionData": ["ALL"]}, "r").include_data
    assert not PipeLogWriter(None, "arn:pipe", "p", None, "r").wants("ExecutionFailed")  # no LogConfiguration


def test_log_record_truncation_order():
    """Section 7: at most 256 KB; payload first, then awsRequest, then awsResponse."""
    big = "x" * (200 * 1024)
    record = {"messageType": "m", "payload": big, "awsRequest": big, "awsResponse": "small"}
    cut = truncate_record(record)
    assert len(json.dumps(cut).encode()) <= MAX_RECORD_BYTES
    assert cut["truncatedFields"] == ["payload"]
    assert cut["awsRequest"] == big and cut["awsResponse"] == "small"
    assert log_group_name("arn:aws:logs:us-east-1:1:log-group:/aws/pipes/x:*") == "/aws/pipes/x"


def test_checkpoints_are_monotonic_durable_and_per_incarnation(tmp_path):
    store = CheckpointStore(tmp_path)
    store.bind("arn:p", "2024-01-01", "arn:s")
    store.commit("arn:p", "shard-1", "200")
    store.commit("arn:p", "shard-1", "150")  # a late commit never moves backwards
    reopened = CheckpointStore(tmp_path)
    assert reopened.get("arn:p", "shard-1").sequence_number == "200"
    reopened.bind("arn:p", "2024-01-01", "arn:s")  # same incarnation keeps its positions
    assert reopened.get("arn:p", "shard-1").sequence_number == "200"
    reopened.bind("arn:p", "2025-05-05", "arn:s")  # re-created pipe with the same name starts afresh
    assert reopened.get("arn:p", "shard-1") is None
    reopened.forget("arn:p")
    reopened.commit("arn:p", "shard-1", "300")  # a commit for a forgotten pipe is ignored
    assert CheckpointStore(tmp_path).get("arn:p", "shard-1") is None


def test_request_headers_defaults_custom_content_type_and_auth():
    """Section 5: default headers; a custom Content-Type replaces the default; key sent as is."""
    dest = ApiDestination("arn:d", "http://h/x", "POST", 300, "arn:c", "x-api-key", Secret("k1"))
    headers = request_headers(dest, {"content-type": "text/plain"})
    assert headers["content-type"] == "text/plain" and "Content-Type" not in headers
    assert headers["x-api-key"] == "k1"
    assert headers["User-Agent"] == "Amazon/EventBridge/ApiDestinations"
    assert headers["Accept-Encoding"] == "gzip,deflate" and headers["Connection"] == "close"


def test_secret_query_values_are_redacted_for_logs():
    url = "http://h/x?key=Seattle&api%5Ftoken=s3cret&ttl=1"
    assert redact_url(url, {"api_token"}) == "http://h/x?key=Seattle&api%5Ftoken=<redacted>&ttl=1"
    assert redact_url(url, set()) == url
