"""Fixtures for the local cloud tests: one real local cloud (moto + local Momento [+ pipes engine])
per session in a temporary state dir, started with ``supervisor.up`` and stopped with ``down``."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.clients import aws_client
from helpers.config import Settings, load_settings
from helpers.local import supervisor

HERE = Path(__file__).parent


def make_settings(state_dir: Path, **changes: Any) -> Settings:
    """Settings isolated from the developer's environment and .env, with their own state dir."""
    return load_settings(env={}, dotenv_path="/nonexistent", state_dir=state_dir, **changes)


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a running local cloud (session-wide; ``down`` at the end)."""
    settings = make_settings(tmp_path_factory.mktemp("cloud") / "state")
    try:
        supervisor.up(settings)
        yield settings
    finally:
        supervisor.down(settings)


@pytest.fixture
def aws(local_cloud: Settings) -> Any:
    """``aws(service)`` -> a boto3 client on the session's moto server (through the client factory)."""
    return lambda service: aws_client(service, local_cloud)


@pytest.fixture(scope="session")
def hand_template() -> dict[str, Any]:
    """A hand-written template with the real stack's resource types plus every supported intrinsic."""
    return json.loads((HERE / "weather_template.json").read_text())


def listening_sockets(pids: set[int]) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every TCP listening socket owned by ``pids``, from ``ss -ltnpH``."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, timeout=10, check=True).stdout
    found = []
    for line in out.splitlines():
        cols = line.split()
        address, _, port = cols[3].rpartition(":")
        for pid in map(int, re.findall(r"pid=(\d+)", line)):
            if pid in pids:
                found.append((address.strip("[]"), int(port), pid))
    return found


def process_exists(pid: int) -> bool:
    """True while ``/proc/<pid>`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.fixture(scope="session")
def helpers_ns() -> Any:
    """The helper functions above, for test modules (importlib import mode: no conftest imports)."""

    class Namespace:
        settings = staticmethod(make_settings)
        listening = staticmethod(listening_sockets)
        alive = staticmethod(process_exists)

    return Namespace
