"""``python -m helpers.local.momento`` as a real process: JSON first line, loopback only, clean SIGTERM."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from momento import CacheClient, Configurations, CredentialProvider
from momento.responses import CreateCache
from momento_wire_types import cachepubsub_pb2 as pubsub_pb
from momento_wire_types import cachepubsub_pb2_grpc as pubsub_grpc

from helpers.cache_ttl import sdk_channel, sdk_metadata
from helpers.local.momento import LocalMomentoServer, main

_LISTEN = "0A"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, int], str, Path]]:
    key = secrets.token_urlsafe(24)
    key_file, log_file = tmp_path / "key", tmp_path / "server.log"
    key_file.write_text(key + "\n")
    command = [sys.executable, "-m", "helpers.local.momento", "--grpc-port", "0", "--http-port", "0"]
    process = subprocess.Popen(
        [*command, "--api-key-file", str(key_file), "--log-file", str(log_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_line = process.stdout.readline()  # type: ignore[union-attr]
        assert first_line, "the server printed no JSON line; see its stderr"
        yield process, json.loads(first_line), key, log_file
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        process.stdout.close()  # type: ignore[union-attr]
        process.stderr.close()  # type: ignore[union-attr]


def _listening(port: int) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses listening on ``port`` (IPv4-mapped IPv6 included), read from /proc/net/tcp*."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            hex_address, hex_port = fields[1].split(":")
            if fields[3] != _LISTEN or int(hex_port, 16) != port:
                continue
            raw = b"".join(bytes.fromhex(hex_address[i : i + 8])[::-1] for i in range(0, len(hex_address), 8))
            address = ipaddress.ip_address(raw)
            mapped = getattr(address, "ipv4_mapped", None)
            found.append(mapped or address)
    return found


def test_serves_prints_ports_logs_and_stops_on_sigterm(served) -> None:
    process, ports, key, log_file = served
    assert set(ports) == {"grpc_port", "http_port", "pid"} and ports["pid"] == process.pid
    assert httpx.get(f"http://127.0.0.1:{ports['http_port']}/health", timeout=5).json() == {"status": "ok"}
    provider = CredentialProvider(key, "127.0.0.1", "127.0.0.1", "127.0.0.1", ports["grpc_port"])
    with CacheClient.create(Configurations.Laptop.v1(), provider, timedelta(seconds=60)) as client:
        assert isinstance(client.create_cache("proc"), CreateCache.Success)
    for port in (ports["grpc_port"], ports["http_port"]):
        addresses = _listening(port)
        assert addresses, f"nothing listens on port {port}"
        assert all(a == ipaddress.ip_address("127.0.0.1") for a in addresses), f"{port}: {addresses}"
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
    entries = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert any(entry.get("op") == "CreateCache" and entry["status"] == "OK" for entry in entries)
    assert entries[-1] == {"ts": entries[-1]["ts"], "event": "stopped"}
    assert key not in log_file.read_text()


def test_sigint_also_stops_cleanly(served) -> None:
    process, _, _, _ = served
    process.send_signal(signal.SIGINT)
    assert process.wait(10) == 0


def test_key_never_comes_from_argv_and_bad_files_are_reported(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--grpc-port", "0", "--http-port", "0", "--api-key", "secret"])
    assert main(["--grpc-port", "0", "--http-port", "0", "--api-key-file", str(tmp_path / "missing")]) == 2
    (tmp_path / "empty").write_text("\n")
    assert main(["--grpc-port", "0", "--http-port", "0", "--api-key-file", str(tmp_path / "empty")]) == 2
    assert "empty" in capsys.readouterr().err


def test_embedded_stop_answers_long_polls_and_ends_streams() -> None:
    key = secrets.token_urlsafe(16)
    server = LocalMomentoServer(key, long_poll_timeout=60).start()
    provider = CredentialProvider(key, "127.0.0.1", "127.0.0.1", "127.0.0.1", server.grpc_port)
    with CacheClient.create(Configurations.Laptop.v1(), provider, timedelta(seconds=60)) as client:
        client.create_cache("c")
    with sdk_channel(provider) as channel:
        request = pubsub_pb._SubscriptionRequest(cache_name="c", topic="t")
        stream = pubsub_grpc.PubsubStub(channel).Subscribe(
            request, metadata=sdk_metadata(provider), timeout=30
        )
        assert next(stream).WhichOneof("kind") == "heartbeat"
        answers: list[httpx.Response] = []
        poll = threading.Thread(
            target=lambda: answers.append(
                httpx.get(f"{server.http_endpoint}/topics/c/t", headers={"Authorization": key}, timeout=30)
            )
        )
        poll.start()
        while server.subscriber_count("c", "t") < 2:
            time.sleep(0.02)
        server.stop()
        poll.join(10)
        assert list(stream) == []  # the stream ended with OK instead of hanging until its deadline
    assert answers[0].status_code == 200 and answers[0].json() == {"items": []}
