"""The ``weatherlab`` console script, run as a real process: the local cloud's life cycle, deploy,
outputs, destroy (with :func:`helpers.stack.leftovers` before and after), and ``momento serve``.

The module has its own state dir (its own local cloud), so destroying its stack and stopping its
processes never affects the shared lab of the other tests. The tests run in file order: the last one
stops the local cloud that the module fixture started.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers import stack
from helpers.config import Settings, load_settings
from helpers.local import supervisor
from helpers.local.state import state_path

WEATHERLAB = Path(sys.executable).parent / "weatherlab"
PARTS = ("aws", "momento", "pipes")


@dataclass
class Cli:
    """Runs ``weatherlab`` with this module's state dir; ``settings`` are the ones the command sees."""

    env: dict[str, str]
    settings: Settings

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(WEATHERLAB), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert proc.returncode == 0, (
                f"`weatherlab {' '.join(args)}` exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str, check: bool = True) -> Any:
        return json.loads(self.run(*args, check=check).stdout)

    def local_key(self) -> str:
        return json.loads(state_path(self.settings).read_text())["momento_api_key"]


def gone(pid: int) -> bool:
    """True when ``pid`` no longer exists (or is a zombie nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] in "ZX"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """A local cloud started with ``weatherlab local up`` in a state dir of its own (stopped at the end)."""
    state_dir = tmp_path_factory.mktemp("cli") / "state"
    env = {**os.environ, "WEATHERLAB_STATE_DIR": str(state_dir), "WEATHERLAB_MODE": "local"}
    runner = Cli(env, load_settings(env=env, mode="local"))
    try:
        up = runner.run("local", "up")
        assert runner.local_key() not in up.stdout + up.stderr
        yield runner
    finally:
        supervisor.down(runner.settings)


def test_local_status_json_describes_every_part_without_the_key(cli: Cli) -> None:
    proc = cli.run("local", "status", "--json")
    report = json.loads(proc.stdout)

    assert cli.local_key() not in proc.stdout + proc.stderr
    for key in (
        "aws_endpoint",
        "aws_region",
        "momento_grpc_host",
        "momento_grpc_port",
        "momento_http_endpoint",
    ):
        assert report[key], f"{key} is empty"
    assert report["state_file"] == str(state_path(cli.settings))
    assert report["aws_endpoint"].startswith("http://127.0.0.1:")
    assert report["momento_grpc_host"] == "127.0.0.1" and report["momento_grpc_port"] > 0
    for part in PARTS:
        assert isinstance(report[part]["pid"], int) and not gone(report[part]["pid"])
        assert report[part]["healthy"] is True, report[part]


def test_deploy_outputs_and_destroy_leave_nothing_behind(cli: Cli) -> None:
    names = cli.settings.names
    deployed = cli.run("deploy")
    assert cli.local_key() not in deployed.stdout + deployed.stderr

    outputs = cli.json("outputs", "--json")
    assert isinstance(outputs, dict) and outputs["TableName"] == names.table
    assert all(isinstance(v, str) and v for v in outputs.values())
    before = stack.leftovers(cli.settings)
    assert f"table {names.table}" in before and f"pipe {names.cache_put_pipe}" in before

    cli.run("destroy")

    assert stack.leftovers(cli.settings) == []
    missing = cli.run("outputs", "--json", check=False)
    assert missing.returncode == 1 and "weatherlab deploy" in missing.stdout


def test_local_down_stops_every_process_and_removes_the_state(cli: Cli) -> None:
    pids = [cli.json("local", "status", "--json")[part]["pid"] for part in PARTS]
    assert not any(gone(pid) for pid in pids)

    cli.run("local", "down")

    assert all(gone(pid) for pid in pids), [p for p in pids if not gone(p)]
    assert not state_path(cli.settings).exists()
    after = cli.run("local", "status", "--json", check=False)
    assert after.returncode == 1 and json.loads(after.stdout)["running"] is False


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        _, err = proc.communicate(timeout=5)
        pytest.fail(f"no handshake line within {timeout} s (exit code {proc.returncode}); stderr:\n{err}")
    return line


def test_momento_serve_prints_its_ports_then_stops_on_sigterm(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("a-local-test-key\n")
    proc = subprocess.Popen(
        [
            str(WEATHERLAB),
            "momento",
            "serve",
            "--grpc-port",
            "0",
            "--http-port",
            "0",
            "--api-key-file",
            str(key_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        hello = json.loads(_first_line(proc, timeout=30))
        assert hello["pid"] == proc.pid
        assert hello["grpc_port"] > 0 and hello["http_port"] > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{hello['http_port']}/health", timeout=5) as response:
            assert response.status == 200

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
