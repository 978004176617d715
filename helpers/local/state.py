"""The local cloud's state file: where the running parts are, and the generated local Momento key.

One JSON file, ``<state_dir>/local.json``, written atomically with mode 0600 inside a 0700 folder.
:mod:`helpers.local.supervisor` writes it; everything else reads it through :func:`read_state`.
It holds, per part (``aws``, ``momento``, ``pipes``), the process id, its start time and exact command
line (so only our own processes are ever signalled), its endpoint and log file; and the local Momento
API key under ``momento_api_key``. This module also owns the private-file helpers that other local
state (the deployer's stack records) uses.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.config import Secret, Settings
from helpers.errors import WeatherlabError

STATE_FILE = "local.json"
PARTS = ("aws", "momento", "pipes")
NOT_RUNNING = "local cloud is not running: run `weatherlab local up`"


class LocalCloudError(WeatherlabError):
    """The local cloud could not be started, reached or stopped; the message says what to do."""


class NotRunningError(LocalCloudError):
    """There is no local state: the local cloud has not been started (or was stopped)."""


@dataclass(frozen=True)
class PartState:
    """One supervised process: identity (pid, start time, argv), where it listens, where it logs."""

    pid: int
    argv: list[str]
    start_time: int  # clock ticks since boot (/proc/<pid>/stat field 22), guards against pid reuse
    log_file: str
    endpoint: str = ""
    health_url: str = ""
    ports: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "argv": self.argv,
            "start_time": self.start_time,
            "log_file": self.log_file,
            "endpoint": self.endpoint,
            "health_url": self.health_url,
            "ports": self.ports,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartState:
        return cls(
            pid=int(data["pid"]),
            argv=list(data["argv"]),
            start_time=int(data["start_time"]),
            log_file=data["log_file"],
            endpoint=data.get("endpoint", ""),
            health_url=data.get("health_url", ""),
            ports={k: int(v) for k, v in data.get("ports", {}).items()},
        )


@dataclass(frozen=True)
class LocalState:
    """Everything a client needs to reach the local cloud (read it with :func:`read_state`)."""

    state_file: Path
    aws_region: str
    momento_api_key: Secret
    api_key_file: str
    parts: dict[str, PartState]

    @property
    def aws_endpoint(self) -> str:
        return self.parts["aws"].endpoint if "aws" in self.parts else ""

    @property
    def momento_grpc_host(self) -> str:
        return "127.0.0.1"

    @property
    def momento_grpc_port(self) -> int:
        return self.parts["momento"].ports.get("grpc", 0) if "momento" in self.parts else 0

    @property
    def momento_http_endpoint(self) -> str:
        return self.parts["momento"].endpoint if "momento" in self.parts else ""

    @property
    def pipes_status_url(self) -> str:
        return self.parts["pipes"].endpoint if "pipes" in self.parts else ""

    def pid(self, part: str) -> int | None:
        return self.parts[part].pid if part in self.parts else None

    def log_file(self, part: str) -> str | None:
        return self.parts[part].log_file if part in self.parts else None

    def to_json(self) -> dict[str, Any]:
        """The file's content (it includes the key: write it only with :func:`write_private_json`)."""
        return {
            "version": 1,
            "aws_region": self.aws_region,
            "momento_api_key": self.momento_api_key.reveal(),
            "api_key_file": self.api_key_file,
            "parts": {name: part.to_json() for name, part in self.parts.items()},
        }


def state_path(settings: Settings) -> Path:
    """Where the state file of ``settings.state_dir`` lives (it may not exist)."""
    return Path(settings.state_dir) / STATE_FILE


def load_state(settings: Settings) -> LocalState | None:
    """The recorded state, or None when there is none. A corrupt file is a :class:`LocalCloudError`."""
    path = state_path(settings)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise LocalCloudError(
            f"the local state file {path} is unreadable ({exc}); run `weatherlab local down` to clean up."
        ) from exc
    try:
        return LocalState(
            state_file=path,
            aws_region=data["aws_region"],
            momento_api_key=Secret(data.get("momento_api_key", "")),
            api_key_file=data.get("api_key_file", ""),
            parts={name: PartState.from_json(p) for name, p in data.get("parts", {}).items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LocalCloudError(
            f"the local state file {path} is incomplete ({exc!r}); run `weatherlab local down` to clean up."
        ) from exc


def read_state(settings: Settings) -> LocalState:
    """The running local cloud's state; :class:`NotRunningError` if ``weatherlab local up`` never ran."""
    state = load_state(settings)
    if state is None or "aws" not in state.parts:
        raise NotRunningError(f"{NOT_RUNNING} (no state in {settings.state_dir})")
    return state


def write_state(settings: Settings, state: LocalState) -> Path:
    """Write the state file atomically (0600 in a 0700 folder); return its path."""
    return write_private_json(state_path(settings), state.to_json())


def remove_state(settings: Settings) -> None:
    """Delete the state file if present."""
    state_path(settings).unlink(missing_ok=True)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and restrict it to the user (0700)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_private_json(path: Path, data: Any) -> Path:
    """Write ``data`` as JSON to ``path`` atomically, readable only by the user (0600)."""
    return write_private_text(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def write_private_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically with mode 0600 (temp file in the same folder, then rename)."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def locked(path: Path, timeout: float = 60.0, what: str = "the local cloud") -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created 0600) for the duration of the block.

    Waits at most ``timeout`` seconds, then raises :class:`LocalCloudError` naming ``what``.
    """
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LocalCloudError(
                        f"another weatherlab command is still changing {what} (lock {path} held for "
                        f"{timeout:.0f} s); wait for it to finish and try again."
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)
