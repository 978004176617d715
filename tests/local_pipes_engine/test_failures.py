"""Retries, dead letters and refused configurations (reference sections 2, 5, 6 and 8)."""

from __future__ import annotations

import json
import time


def _assert_dlq_points_at(message: dict, stack, pipe_name: str, execution: dict, condition: str) -> None:
    """Section 6: AWS's pointer format (shard + sequence range, not the record)."""
    assert message["version"] == "1.0"
    assert message["context"] == {
        "partnerResourceArn": f"arn:aws:pipes:us-east-1:123456789012:pipe/{pipe_name}",
        "condition": condition,
    }
    info = message["DDBStreamBatchInfo"]
    assert info["shardId"] == execution["shardId"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == execution["sequenceNumber"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == stack.stream_arn
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert message["timestamp"].endswith("Z")
    assert set(info) == {  # no record content, only the pointer
        "shardId",
        "startSequenceNumber",
        "endSequenceNumber",
        "approximateArrivalOfFirstRecord",
        "approximateArrivalOfLastRecord",
        "batchSize",
        "streamArn",
    }


def test_500_is_retried_then_dead_lettered(stack, capture, start_engine):
    """Section 5: 5xx retried up to MaximumRetryAttempts, then the DLQ; the pipe goes on."""
    name = stack.pipe("p", stack.destination("p", "/p"), retries=2, log_level="ERROR")
    capture.respond(500, 503, 500)
    engine = start_engine(stack.prefix)
    engine.wait_for_state(name, "RUNNING")
    stack.put("Reno")
    stack.put("Tulsa")

    failed, delivered = engine.metrics.wait_for(2, pipe=name)
    assert [r.path for r in capture.requests] == ["/p"] * 4  # 1 + 2 retries for Reno, then Tulsa
    assert [r.json()["dynamodb"]["Keys"]["Location"]["S"] for r in capture.requests] == ["Reno"] * 3 + [
        "Tulsa"
    ]
    assert failed["status"] == "FAILED" and failed["attempts"] == 3 and failed["deadLettered"]
    assert failed["httpStatus"] == 500
    assert delivered["status"] == "SUCCEEDED"

    (message,) = stack.dlq_messages(1)
    _assert_dlq_points_at(message, stack, name, failed, "RetryAttemptsExhausted")
    detail = message["localEngineDetail"]
    assert detail["httpStatusCode"] == 500 and detail["attempts"] == 3
    assert detail["errorMessage"] == "Target returned HTTP 500"
    assert detail["executionId"] == failed["executionId"]

    errors = [r for r in stack.log_records() if r["executionId"] == failed["executionId"]]
    assert [r["messageType"] for r in errors] == ["TargetInvocationFailed"] * 3 + [
        "TargetStageFailed",
        "ExecutionFailed",
    ]
    assert all(r["logLevel"] == "ERROR" for r in errors)
    assert errors[-1]["error"]["httpStatusCode"] == 500


def test_400_goes_to_the_dlq_at_once(stack, capture, start_engine):
    """Section 5: a non-retryable 4xx is dead-lettered without retries."""
    name = stack.pipe("p", stack.destination("p", "/p"), retries=5)
    capture.respond(400)
    engine = start_engine(stack.prefix)
    engine.wait_for_state(name, "RUNNING")
    stack.put("Boise")
    (execution,) = engine.metrics.wait_for(1, pipe=name)
    assert len(capture.requests) == 1
    assert execution["attempts"] == 1 and execution["httpStatus"] == 400
    (message,) = stack.dlq_messages(1)
    _assert_dlq_points_at(message, stack, name, execution, "RetryAttemptsExhausted")
    assert message["localEngineDetail"]["httpStatusCode"] == 400


def test_429_with_retry_after_and_timeouts_are_retried(stack, capture, start_engine):
    """Section 5: timeouts and 429 count as retryable; the record is delivered on the third attempt."""
    name = stack.pipe("p", stack.destination("p", "/p"), retries=3)
    capture.respond((200, 2.0), (429, 0.0, {"Retry-After": "0"}), 200)
    engine = start_engine(stack.prefix, http_timeout=0.5)
    engine.wait_for_state(name, "RUNNING")
    stack.put("Omaha")
    (execution,) = engine.metrics.wait_for(1, pipe=name)
    assert execution["status"] == "SUCCEEDED"
    assert execution["attempts"] == 3
    assert len(capture.requests) == 3
    assert engine.details()[name]["counters"]["dead_lettered"] == 0


def test_connection_failures_are_retried_without_counting(stack, capture, start_engine):
    """Section 5: a refused connection is an internal error, retried beyond MaximumRetryAttempts=0."""
    from socket import socket

    with socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    dest = stack.client("events").create_api_destination(
        Name=stack.prefix + "dead",
        ConnectionArn=stack.connection_arn,
        InvocationEndpoint=f"http://127.0.0.1:{dead_port}/x",
        HttpMethod="POST",
    )["ApiDestinationArn"]
    name = stack.pipe("p", dest, retries=0, log_level="ERROR")
    engine = start_engine(stack.prefix)
    engine.wait_for_state(name, "RUNNING")
    stack.put("Fargo")

    def failed_attempts() -> int:
        return sum(r["messageType"] == "TargetInvocationFailed" for r in stack.log_records())

    deadline = time.monotonic() + 10
    while failed_attempts() < 3:  # already two retries beyond MaximumRetryAttempts=0
        assert time.monotonic() < deadline, "the engine did not retry the refused connection"
        time.sleep(0.05)
    assert "refused" in str(stack.log_records()[0]["error"]["message"]).lower()
    # point the destination at the live target: the same record, never dead-lettered, arrives there
    stack.client("events").update_api_destination(
        Name=stack.prefix + "dead", InvocationEndpoint=capture.url + "/alive", HttpMethod="POST"
    )
    stack.client("pipes").update_pipe(
        Name=name, RoleArn="arn:aws:iam::123456789012:role/pipe-role", Description="re-resolve destination"
    )
    (req,) = capture.wait_for(1, "/alive")
    assert req.json()["dynamodb"]["Keys"]["Location"]["S"] == "Fargo"
    assert stack.client("sqs").receive_message(QueueUrl=stack.dlq_url).get("Messages") is None


def test_unsupported_filter_operator_marks_the_pipe_failed_until_updated(stack, capture, start_engine):
    """Section 2: wildcard is not supported by Pipes; the pipe reports a failed state with the reason."""
    bad = [{"Pattern": json.dumps({"eventName": [{"wildcard": "INS*"}]})}]
    name = stack.pipe("p", stack.destination("p", "/p"), filters=bad)
    engine = start_engine(stack.prefix)
    engine.wait_for_state(name, "CREATE_FAILED")
    assert "wildcard" in engine.details()[name]["reason"]

    good = {"Filters": [{"Pattern": json.dumps({"eventName": [{"prefix": "INS"}]})}]}
    stack.client("pipes").update_pipe(
        Name=name,
        RoleArn="arn:aws:iam::123456789012:role/pipe-role",
        SourceParameters={"FilterCriteria": good, "DynamoDBStreamParameters": {"BatchSize": 1}},
    )
    engine.wait_for_state(name, "RUNNING")
    stack.put("Tampa")
    (req,) = capture.wait_for(1)
    assert req.json()["eventName"] == "INSERT"
