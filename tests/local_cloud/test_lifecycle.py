"""`weatherlab local up | status | down` as functions, with real processes in a private state dir:
idempotent up, a killed child detected and healed, loopback only, nothing left behind, own pids only;
and the client factory pointed at what `up` started."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from helpers import clients
from helpers.config import Secret
from helpers.local import supervisor
from helpers.local.state import NotRunningError, read_state

REQUIRED_KEYS = {
    "aws_endpoint",
    "aws_region",
    "momento_grpc_host",
    "momento_grpc_port",
    "momento_http_endpoint",
}


def _session_members(leaders: set[int]) -> set[int]:
    """Every live process whose session is led by one of ``leaders`` (the parts and their children)."""
    members = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue
            if int(text[text.rindex(")") + 2 :].split()[3]) in leaders:
                members.add(int(entry.name))
    return members


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


def _wait_gone(pid: int, alive: Any) -> None:
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def settings(tmp_path: Path, helpers_ns: Any) -> Any:
    settings = helpers_ns.settings(tmp_path / "state")
    yield settings
    supervisor.down(settings)  # whatever a failed test left running


def test_up_up_status_down(settings: Any, helpers_ns: Any) -> None:
    expected = [p for p in supervisor.PARTS if supervisor.available(p)]
    assert {"aws", "momento"} <= set(expected)
    first = supervisor.up(settings)
    assert first["started"] == expected and first["reused"] == []
    assert all(first[part]["healthy"] for part in expected), first

    state_file = Path(first["state_file"])
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.state_dir.stat().st_mode) == 0o700
    key = json.loads(state_file.read_text())["momento_api_key"]
    key_file = settings.state_dir / "momento-api-key"
    assert key_file.read_text() == key and stat.S_IMODE(key_file.stat().st_mode) == 0o600

    second = supervisor.up(settings)
    assert second["started"] == [] and second["reused"] == expected
    report = supervisor.status(settings)
    assert REQUIRED_KEYS | {"state_file", "aws", "momento", "pipes"} <= set(report)
    assert {part: report[part]["pid"] for part in expected} == {part: first[part]["pid"] for part in expected}
    for part in ("aws", "momento", "pipes"):
        assert {"pid", "healthy", "endpoint", "log_file"} <= set(report[part])
        assert report[part]["healthy"] == (part in expected)
    for shown in (first, second, report):
        assert key not in json.dumps(shown)

    state = read_state(settings)
    assert (state.aws_endpoint, state.momento_http_endpoint) == (
        report["aws_endpoint"],
        report["momento_http_endpoint"],
    )
    assert (state.momento_grpc_host, state.momento_grpc_port) == ("127.0.0.1", report["momento_grpc_port"])
    assert state.momento_api_key == Secret(key) and key not in repr(state)
    assert state.pipes_status_url == report["pipes"]["endpoint"]

    pids = {report[part]["pid"] for part in expected}
    family = _session_members(pids)
    sockets = helpers_ns.listening(family)
    assert {pid for _, _, pid in sockets} >= pids, "every part listens"
    assert all(_loopback(address) for address, _, _ in sockets), sockets

    result = supervisor.down(settings)
    assert result["stopped"] == {part: "stopped" for part in reversed(expected)}
    for pid in family:
        assert not helpers_ns.alive(pid), f"process {pid} outlived down"
    assert not settings.state_dir.exists()
    with pytest.raises(NotRunningError, match="run `weatherlab local up`"):
        read_state(settings)
    assert supervisor.status(settings)["running"] is False
    assert supervisor.down(settings)["stopped"] == {}


def test_killed_children_are_detected_and_healed(settings: Any, helpers_ns: Any) -> None:
    first = supervisor.up(settings)
    old_momento = first["momento"]["pid"]
    os.kill(old_momento, signal.SIGKILL)
    _wait_gone(old_momento, helpers_ns.alive)
    report = supervisor.status(settings)
    assert (
        report["momento"]["healthy"] is False and "run `weatherlab local up`" in report["momento"]["reason"]
    )
    assert report["aws"]["healthy"] is True

    healed = supervisor.up(settings)
    assert healed["started"] == ["momento"] and "aws" in healed["reused"]
    assert healed["momento"]["healthy"] and healed["momento"]["pid"] != old_momento
    assert healed["momento_http_endpoint"] == first["momento_http_endpoint"]  # ports kept when free
    assert "note" not in healed

    old_aws = healed["aws"]["pid"]
    os.kill(old_aws, signal.SIGKILL)
    _wait_gone(old_aws, helpers_ns.alive)
    again = supervisor.up(settings)
    restarted = ["aws", "pipes"] if supervisor.available("pipes") else ["aws"]
    assert again["started"] == restarted and "deploy" in again["note"]
    assert all(again[p]["healthy"] for p in ("aws", "momento"))

    everything = {first[p]["pid"] for p in ("aws", "momento")} | {again[p]["pid"] for p in restarted}
    supervisor.down(settings)
    assert not [pid for pid in everything if helpers_ns.alive(pid)]


def test_down_signals_only_its_own_processes(settings: Any, helpers_ns: Any) -> None:
    supervisor.up(settings)
    state_file = settings.state_dir / "local.json"
    data = json.loads(state_file.read_text())
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        real_aws = data["parts"]["aws"]["pid"]
        data["parts"]["aws"]["pid"] = stranger.pid  # pid of a process the supervisor did not start
        state_file.write_text(json.dumps(data))
        result = supervisor.down(settings)
        assert result["stopped"]["aws"] == "not running"
        assert stranger.poll() is None, "down signalled a process it did not start"
    finally:
        stranger.kill()
        stranger.wait(timeout=10)
    os.kill(real_aws, signal.SIGTERM)  # the real moto server, which the doctored state hid
    _wait_gone(real_aws, helpers_ns.alive)


def test_clients_point_at_the_local_cloud(local_cloud: Any) -> None:
    key = clients.momento_api_key(local_cloud)
    assert isinstance(key, Secret) and key.reveal() == read_state(local_cloud).momento_api_key.reveal()
    with urllib.request.urlopen(
        f"{clients.momento_http_endpoint(local_cloud)}/health", timeout=5
    ) as response:
        assert response.status == 200
    assert clients.aws_client("sts", local_cloud).get_caller_identity()["Account"] == "123456789012"

    provider = clients.momento_credentials(local_cloud)
    assert (provider.cache_endpoint, provider.port) == (
        "127.0.0.1",
        read_state(local_cloud).momento_grpc_port,
    )
    with clients.cache_client(local_cloud) as cache:
        cache.create_cache("lifecycle-cache")
        cache.set("lifecycle-cache", "Phoenix", "80")
        assert cache.get("lifecycle-cache", "Phoenix").value_string == "80"
    with clients.topic_client(local_cloud) as topics:
        assert type(topics.publish("lifecycle-cache", "t", "hello")).__name__ == "Success"


def test_cloud_mode_credentials_come_from_settings(helpers_ns: Any, tmp_path: Path) -> None:
    claims = base64.urlsafe_b64encode(json.dumps({"t": "g", "id": "x"}).encode()).decode().rstrip("=")
    v2_key = f"eyJhbGciOiJIUzI1NiJ9.{claims}.c2ln"
    cloud = helpers_ns.settings(
        tmp_path,
        mode="cloud",
        momento_api_key=v2_key,
        momento_api_endpoint="https://api.cache.cell-4-us-west-2-1.prod.a.momentohq.com/",
    )
    provider = clients.momento_credentials(cloud)
    assert (provider.cache_endpoint, provider.port) == ("cache.cell-4-us-west-2-1.prod.a.momentohq.com", 443)
    assert clients.momento_api_key(cloud).reveal() == v2_key
    assert clients.momento_http_endpoint(cloud) == "https://api.cache.cell-4-us-west-2-1.prod.a.momentohq.com"
