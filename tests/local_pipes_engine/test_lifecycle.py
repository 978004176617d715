"""Pipe stop/start/delete, engine restarts with checkpoints, and the engine as a process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter

from helpers.local.pipes.checkpoints import CheckpointStore
from helpers.local.pipes.status import engine_health, read_executions

ROLE = "arn:aws:iam::123456789012:role/pipe-role"


def _cities(requests) -> list[str]:
    return [r.json()["dynamodb"]["Keys"]["Location"]["S"] for r in requests]


def test_stop_start_resumes_from_checkpoint_and_delete_forgets(stack, capture, start_engine, tmp_path):
    """Section 8: records written while a pipe is stopped are delivered when it starts again."""
    name = stack.pipe("p", stack.destination("p", "/p"))
    engine = start_engine(stack.prefix)
    engine.wait_for_state(name, "RUNNING")
    stack.put("Albany")
    capture.wait_for(1)

    pipes = stack.client("pipes")
    pipes.stop_pipe(Name=name)
    engine.wait_for_state(name, "STOPPED", timeout=2.0)
    stack.put("Buffalo")
    stack.put("Utica")
    time.sleep(0.5)  # several poll intervals: a stopped pipe delivers nothing
    assert _cities(capture.requests) == ["Albany"]

    pipes.start_pipe(Name=name)
    engine.wait_for_state(name, "RUNNING", timeout=2.0)
    assert _cities(capture.wait_for(3)) == ["Albany", "Buffalo", "Utica"]

    pipe_arn = f"arn:aws:pipes:us-east-1:123456789012:pipe/{name}"
    store = CheckpointStore(tmp_path / "engine-state")
    assert store.get(pipe_arn, engine.metrics.query(pipe=name)[-1]["shardId"]) is not None
    pipes.delete_pipe(Name=name)
    deadline = time.monotonic() + 2.0
    while name in engine.status():
        assert time.monotonic() < deadline, "the deleted pipe is still run after 2 s"
        time.sleep(0.02)
    stack.put("Ithaca")
    time.sleep(0.3)
    assert len(capture.requests) == 3
    assert json.loads(store.path.read_text())["pipes"].get(pipe_arn) is None


def test_engine_restart_loses_nothing(stack, capture, start_engine, tmp_path):
    """Checkpoints: stop the engine mid-stream, write more, start a new engine: every record arrives,
    at most the one in flight twice."""
    name = stack.pipe("p", stack.destination("p", "/p"))
    capture.respond(*[(200, 0.05)] * 50)  # a slow target keeps records in flight
    state = tmp_path / "restart-state"
    first = start_engine(stack.prefix, state_dir=state)
    first.wait_for_state(name, "RUNNING")
    written = [f"City{i:02d}" for i in range(12)]
    for city in written[:8]:
        stack.put(city)
    capture.wait_for(3)
    first.stop()
    delivered_by_first = len(capture.requests)
    assert delivered_by_first < 8, "the first engine should have been stopped mid-stream"
    for city in written[8:]:
        stack.put(city)

    second = start_engine(stack.prefix, state_dir=state)
    second.wait_for_state(name, "RUNNING")
    deadline = time.monotonic() + 15
    while set(_cities(capture.requests)) != set(written):
        assert time.monotonic() < deadline, f"missing: {set(written) - set(_cities(capture.requests))}"
        time.sleep(0.05)
    counts = Counter(_cities(capture.requests))
    assert sum(c - 1 for c in counts.values()) <= 1, counts
    seen = list(dict.fromkeys(_cities(capture.requests)))
    assert seen == written  # per-shard order survives the restart


def test_engine_process_prints_port_serves_health_and_stops_on_sigterm(moto_url, stack, capture, tmp_path):
    """__main__: first stdout line is JSON; /health and /executions work; SIGTERM exits 0."""
    name = stack.pipe("p", stack.destination("p", "/p"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helpers.local.pipes",
            "--aws-endpoint",
            moto_url,
            "--region",
            "us-east-1",
            "--state-dir",
            str(tmp_path / "proc-state"),
            "--status-port",
            "0",
            "--name-prefix",
            stack.prefix,
            "--discovery-interval",
            "0.1",
            "--log-file",
            str(tmp_path / "engine.log"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(proc.stdout.readline())
        assert first["pid"] == proc.pid and first["status_port"] > 0
        url = f"http://127.0.0.1:{first['status_port']}"
        deadline = time.monotonic() + 15
        while engine_health(url)["pipes"].get(name) != "RUNNING":
            assert time.monotonic() < deadline, f"health: {engine_health(url)}"
            time.sleep(0.05)
        assert engine_health(url)["status"] == "ok"
        stack.put("Salem")
        capture.wait_for(1)
        deadline = time.monotonic() + 5
        while not read_executions(url, pipe=name):
            assert time.monotonic() < deadline, "no execution record served"
            time.sleep(0.05)
        (execution,) = read_executions(url, pipe=name, limit=10)
        assert execution["status"] == "SUCCEEDED" and execution["eventName"] == "INSERT"
        assert read_executions(url, pipe="no-such-pipe") == []
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    assert proc.stdout.read() == ""  # nothing but the first line on stdout
    assert (tmp_path / "proc-state" / "checkpoints.json").exists()
    assert "stopped" in (tmp_path / "engine.log").read_text()
