"""Records flow from a DynamoDB stream in moto through the engine to a real HTTP target.

Reference sections cited per test (``/work/shared/reference/pipes-semantics.md``).
"""

from __future__ import annotations

import json

API_KEY = "test-key-0123456789"
TEMPLATE = '{ "Location": <$.dynamodb.Keys.Location.S>, "MaxTemp": <$.dynamodb.NewImage.MaxTemp.N> }'


def test_insert_is_delivered_with_template_path_query_headers_and_auth(stack, capture, start_engine):
    """Sections 3-5: rendered template (N stays a string), `*` filled, JSONPath query, AWS headers."""
    dest = stack.destination("put", "/cache/*", method="PUT")
    name = stack.pipe(
        "put",
        dest,
        template=TEMPLATE,
        http={
            "PathParameterValues": ["my cache"],
            "QueryStringParameters": {
                "key": "$.dynamodb.Keys.Location.S",
                "ttl_seconds": "$.dynamodb.NewImage.TTL.N",
            },
            "HeaderParameters": {"X-Static": "yes"},
        },
    )
    engine = start_engine(stack.prefix)
    engine.wait_for_state(name, "RUNNING")

    stack.put("New York", max_temp=25, ttl=120)

    (req,) = capture.wait_for(1)
    assert req.method == "PUT"
    assert req.path == "/cache/my%20cache"
    assert req.query == {"key": ["New York"], "ttl_seconds": ["120"]}
    assert req.json() == {"Location": "New York", "MaxTemp": "25"}
    headers = {k.lower(): v for k, v in req.headers.items()}
    assert headers["authorization"] == API_KEY  # the key as is, no "Bearer"
    assert headers["user-agent"] == "Amazon/EventBridge/ApiDestinations"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["range"] == "bytes=0-1048575"
    assert headers["connection"] == "close"
    assert headers["x-static"] == "yes"

    (execution,) = engine.metrics.wait_for(1, pipe=name)
    assert execution["status"] == "SUCCEEDED"
    assert execution["httpStatus"] == 200
    assert execution["attempts"] == 1
    assert execution["eventName"] == "INSERT"
    assert execution["respondedAt"] >= execution["recordCreatedAt"]
    assert execution["latencyMs"] == round(
        (execution["respondedAt"] - execution["recordCreatedAt"]) * 1000, 3
    )


def test_no_template_sends_the_whole_pipes_event(stack, capture, start_engine):
    """Sections 1 and 3: no template -> the record in the Pipes shape, with the fields Pipes adds."""
    name = stack.pipe("del", stack.destination("del", "/cache/c", method="DELETE"))
    engine = start_engine(stack.prefix)
    engine.wait_for_state(name, "RUNNING")
    stack.put("Phoenix")
    stack.delete("Phoenix")
    insert, remove = capture.wait_for(2)
    body = remove.json()
    assert remove.method == "DELETE"
    assert body["eventName"] == "REMOVE"
    assert body["eventSourceARN"] == stack.stream_arn
    assert body["eventSource"] == "aws:dynamodb"
    assert isinstance(body["dynamodb"]["ApproximateCreationDateTime"], int)
    assert "NewImage" not in body["dynamodb"] and body["dynamodb"]["OldImage"]["MaxTemp"] == {"N": "25"}
    assert insert.json()["eventName"] == "INSERT"


def test_filtered_out_records_are_dropped_without_execution(stack, capture, start_engine):
    """Section 2: a non-matching record advances the iterator; no execution, no log, no DLQ."""
    name = stack.pipe(
        "ins",
        stack.destination("ins", "/ins"),
        filters=[{"Pattern": json.dumps({"eventName": ["INSERT", "MODIFY"]})}],
        log_level="TRACE",
    )
    engine = start_engine(stack.prefix)
    engine.wait_for_state(name, "RUNNING")
    stack.put("Austin")
    stack.delete("Austin")
    stack.put("Boston")  # proves the engine moved past the REMOVE
    requests = capture.wait_for(2)
    engine.metrics.wait_for(2, pipe=name)
    assert [r.json()["dynamodb"]["Keys"]["Location"]["S"] for r in requests] == ["Austin", "Boston"]
    assert [r.json()["eventName"] for r in requests] == ["INSERT", "INSERT"]
    counters = engine.details()[name]["counters"]
    assert counters["read"] == 3 and counters["filtered"] == 1 and counters["succeeded"] == 2
    assert [e["eventName"] for e in engine.metrics.query(pipe=name)] == ["INSERT", "INSERT"]
    executions = {r["executionId"] for r in stack.log_records()}
    assert len(executions) == 2
    assert stack.client("sqs").receive_message(QueueUrl=stack.dlq_url).get("Messages") is None


def test_two_pipes_on_one_stream_each_see_every_record(stack, capture, start_engine):
    """Section 6: each pipe has its own iterators and checkpoints on the shared stream."""
    a = stack.pipe("a", stack.destination("a", "/a/*"), http={"PathParameterValues": ["x"]})
    b = stack.pipe("b", stack.destination("b", "/b/*", method="POST"), http={"PathParameterValues": ["y"]})
    engine = start_engine(stack.prefix)
    engine.wait_for_state(a, "RUNNING")
    engine.wait_for_state(b, "RUNNING")
    cities = ["Denver", "Miami", "Seattle", "Dallas"]
    for city in cities:
        stack.put(city)
    for prefix in ("/a/x", "/b/y"):
        got = capture.wait_for(len(cities), prefix)
        assert [r.json()["dynamodb"]["Keys"]["Location"]["S"] for r in got] == cities  # per-shard order
    assert {r.method for r in capture.matching("/b/")} == {"POST"}


def test_log_records_in_order_at_info_and_trace_with_execution_data(stack, capture, start_engine):
    """Section 7: levels include lower ones; message order; execution data with ALL; key redacted."""
    info = stack.pipe("info", stack.destination("i", "/i"), template=TEMPLATE, log_level="INFO")
    trace = stack.pipe("trace", stack.destination("t", "/t"), template=TEMPLATE, log_level="TRACE")
    engine = start_engine(stack.prefix)
    engine.wait_for_state(info, "RUNNING")
    engine.wait_for_state(trace, "RUNNING")
    stack.put("Chicago")
    engine.metrics.wait_for(1, pipe=info)
    engine.metrics.wait_for(1, pipe=trace)  # logs are flushed before an execution is measured

    def records_of(pipe_name: str) -> list[dict]:
        arn = f"arn:aws:pipes:us-east-1:123456789012:pipe/{pipe_name}"
        return [r for r in stack.log_records() if r["resourceArn"] == arn]

    info_records = records_of(info)
    assert [r["messageType"] for r in info_records] == [
        "ExecutionStarted",
        "TargetStageEntered",
        "TargetStageSucceeded",
        "ExecutionSucceeded",
    ]
    assert len({r["executionId"] for r in info_records}) == 1
    assert all(r["logLevel"] == "INFO" and isinstance(r["timestamp"], int) for r in info_records)
    started = json.loads(info_records[0]["payload"])
    assert started[0]["eventName"] == "INSERT" and started[0]["eventSourceARN"] == stack.stream_arn

    trace_records = records_of(trace)
    assert [r["messageType"] for r in trace_records] == [
        "ExecutionStarted",
        "TargetStageEntered",
        "TargetTransformationStarted",
        "TargetTransformationSucceeded",
        "TargetInvocationStarted",
        "TargetInvocationSucceeded",
        "TargetStageSucceeded",
        "ExecutionSucceeded",
    ]
    assert json.loads(trace_records[3]["payload"]) == {"Location": "Chicago", "MaxTemp": "25"}
    request = json.loads(trace_records[4]["awsRequest"])
    assert request["headers"]["Authorization"] == "<redacted>"
    assert json.loads(trace_records[5]["awsResponse"])["statusCode"] == 200
    raw = json.dumps(stack.log_records())
    assert API_KEY not in raw
    streams = stack.client("logs").describe_log_streams(logGroupName=stack.log_group)["logStreams"]
    assert any(s["logStreamName"].endswith(f"/{trace}/{engine.run_id}") for s in streams)


def test_trim_horizon_reads_older_records_and_latest_does_not(stack, capture, start_engine):
    """Section 6: StartingPosition TRIM_HORIZON vs LATEST (both positioned when picked up)."""
    stack.put("Early1")
    stack.put("Early2")
    trim = stack.pipe("trim", stack.destination("trim", "/trim"), starting_position="TRIM_HORIZON")
    latest = stack.pipe("latest", stack.destination("latest", "/latest"), starting_position="LATEST")
    engine = start_engine(stack.prefix)
    engine.wait_for_state(trim, "RUNNING")
    engine.wait_for_state(latest, "RUNNING")
    stack.put("Late")
    assert [r.json()["dynamodb"]["Keys"]["Location"]["S"] for r in capture.wait_for(3, "/trim")] == [
        "Early1",
        "Early2",
        "Late",
    ]
    # order is kept per shard, so older records would have arrived before "Late"
    assert [r.json()["dynamodb"]["Keys"]["Location"]["S"] for r in capture.wait_for(1, "/latest")] == ["Late"]
