"""helpers.observe: pipe log records, executions, delivery counts, pipe states, the DLQ and redrive,
all read from the local cloud the pipes engine writes to."""

from __future__ import annotations

import time

from helpers import cache, observe
from helpers.progress import wait_until
from helpers.weather import WeatherRow, get_row, put_row


def _pipes(settings) -> tuple[str, str, str]:
    names = settings.names
    return names.cache_put_pipe, names.topic_publish_pipe, names.cache_delete_pipe


def test_executions_of_a_delivered_row(lab, location, execution_ids_of) -> None:
    cache_put, topic_publish, _ = _pipes(lab)
    where, started = location(), time.time()
    put_row(WeatherRow(where, 80, 60, 90, ttl=300), lab)
    cache.wait_for_hit(where, lab, timeout=30)

    def finished() -> list[observe.Execution] | None:
        ids = set().union(*execution_ids_of(where, started).values())
        runs = [
            e
            for e in observe.executions(observe.pipe_log_records(lab, since=started))
            if e.execution_id in ids
        ]
        return runs if len(runs) == 2 and all(r.status != "RUNNING" for r in runs) else None

    runs = wait_until(finished, timeout=30, what=f"both executions of {where!r} to end", show=False)

    assert sorted(r.pipe for r in runs) == sorted([cache_put, topic_publish])
    for run in runs:
        assert run.status == "SUCCEEDED" and run.error == "" and run.http_status is None
        assert run.stages[0] == "ExecutionStarted" and run.stages[-1] == "ExecutionSucceeded"
        ranks = [observe.STAGE_ORDER.index(s) for s in run.stages]
        assert ranks == sorted(ranks)
        assert run.duration_ms >= 0
        row = run.as_row()
        assert row["pipe"] == run.pipe and row["status"] == "SUCCEEDED"
        assert row["stages"].startswith("ExecutionStarted > ")


def test_pipe_log_records_filter_by_pipe_and_since(lab, location, execution_ids_of) -> None:
    cache_put, topic_publish, _ = _pipes(lab)
    where, started = location(), time.time()
    put_row(WeatherRow(where, 80, 60, 90, ttl=300), lab)

    def both_started() -> dict[str, set[str]] | None:
        found = execution_ids_of(where, started)
        return found if len(found) == 2 else None

    ids = wait_until(both_started, timeout=30, what=f"executions of {where!r} in the pipe logs", show=False)

    only_put = observe.pipe_log_records(lab, pipe_name=cache_put, since=started)
    assert only_put and all(r["resourceArn"].endswith(f":pipe/{cache_put}") for r in only_put)
    assert ids[cache_put] <= {r["executionId"] for r in only_put}
    assert not ids[topic_publish] & {r["executionId"] for r in only_put}
    assert [r["timestamp"] for r in only_put] == sorted(r["timestamp"] for r in only_put)

    mine = [r for r in observe.pipe_log_records(lab, since=started) if r["executionId"] in ids[cache_put]]
    later = (max(r["timestamp"] for r in mine) + 1) / 1000
    assert not ids[cache_put] & {r["executionId"] for r in observe.pipe_log_records(lab, since=later)}


def test_delivery_counts_count_successes_and_failures(clean_dlq, location) -> None:
    lab = clean_dlq
    cache_put, topic_publish, _ = _pipes(lab)
    started = time.time()
    good, bad = location("good"), location("no-ttl")
    put_row(WeatherRow(good, 80, 60, 90, ttl=300), lab)
    put_row(WeatherRow(bad, 80, 60, 90, ttl=None), lab)  # Momento refuses a put without TTL

    def counted() -> dict[str, dict[str, int]] | None:
        counts = observe.delivery_counts(lab, since=started)
        put, publish = counts.get(cache_put, {}), counts.get(topic_publish, {})
        done = put.get("delivered", 0) >= 1 and put.get("failed", 0) >= 1 and publish.get("delivered", 0) >= 2
        return counts if done else None

    counts = wait_until(counted, timeout=30, what="one failed and three delivered executions", show=False)
    assert counts[topic_publish]["failed"] == 0


def test_pipe_states_are_running(lab) -> None:
    states = observe.pipe_states(lab)

    assert [s["pipe"] for s in states] == list(_pipes(lab))
    assert all(s["state"] == "RUNNING" and s["desired"] == "RUNNING" for s in states)


def test_read_dlq_explains_a_row_without_ttl(clean_dlq, location) -> None:
    lab = clean_dlq
    where, started = location("no-ttl"), time.time()
    put_row(WeatherRow(where, 70, 50, 10, ttl=None), lab)

    dead = observe.read_dlq(lab, expect=1, timeout=30)

    assert len(dead) == 1
    message = dead[0]
    assert message.body["context"]["partnerResourceArn"].endswith(f":pipe/{lab.names.cache_put_pipe}")
    assert message.body["context"]["condition"] == "RetryAttemptsExhausted"
    explained = {row["field"]: row for row in message.explain()}
    assert set(observe.DLQ_FIELDS) <= set(explained)
    for field, meaning in observe.DLQ_FIELDS.items():
        assert explained[field]["value"], f"{field} has no value"
        assert explained[field]["meaning"] == meaning
    assert explained["DDBStreamBatchInfo.batchSize"]["value"] == "1"
    assert explained["localEngineDetail"]["meaning"] == "engine extension"
    assert "400" in explained["localEngineDetail"]["value"]

    records = observe.stream_records_of(message, lab)
    assert len(records) == 1
    record = records[0]
    assert record["eventName"] == "INSERT"
    assert record["dynamodb"]["Keys"]["Location"]["S"] == where
    assert record["dynamodb"]["SequenceNumber"] == message.batch["startSequenceNumber"]
    assert "TTL" not in record["dynamodb"]["NewImage"]

    failed = [
        e
        for e in observe.executions(
            observe.pipe_log_records(lab, pipe_name=lab.names.cache_put_pipe, since=started)
        )
        if e.status == "FAILED"
    ]
    assert failed and failed[-1].http_status == 400 and failed[-1].stages[-1] == "ExecutionFailed"


def test_read_dlq_of_an_empty_queue_returns_nothing(clean_dlq) -> None:
    assert observe.read_dlq(clean_dlq) == []


def test_redrive_writes_a_record_dead_lettered_by_two_pipes_once(api_key, dead_letters, location) -> None:
    lab = api_key.settings
    cache_put, topic_publish, _ = _pipes(lab)
    where = location("no-ttl")
    api_key.break_key()
    put_row(WeatherRow(where, 75, 55, 20, ttl=None), lab)
    dead = dead_letters.wait(where, {cache_put, topic_publish})
    assert len(dead) == 2 and dead[0].batch["startSequenceNumber"] == dead[1].batch["startSequenceNumber"]
    api_key.restore()
    fixed: list[str] = []

    def add_ttl(record):
        if record["dynamodb"]["Keys"]["Location"]["S"] != where:
            return None
        fixed.append(record["dynamodb"]["SequenceNumber"])
        return {**record["dynamodb"]["NewImage"], "TTL": {"N": "300"}}

    written = observe.redrive(dead, add_ttl, lab)

    assert written == 1 and len(fixed) == 1
    assert get_row(where, lab).ttl == 300
    cached = cache.wait_for_hit(where, lab, timeout=30)
    assert cached.value["Location"] == where and 0 < cached.ttl_remaining <= 300
    left = {m.message_id for m in observe.read_dlq(lab)}
    assert not left & {m.message_id for m in dead}


def test_purge_dlq_deletes_every_message(clean_dlq, dead_letters, location) -> None:
    lab = clean_dlq
    first, second = location("no-ttl-1"), location("no-ttl-2")
    for where in (first, second):
        put_row(WeatherRow(where, 70, 50, 10, ttl=None), lab)
    for where in (first, second):
        dead_letters.wait(where, {lab.names.cache_put_pipe})

    assert observe.purge_dlq(lab) >= 2
    assert observe.read_dlq(lab) == []
    assert observe.purge_dlq(lab) == 0
