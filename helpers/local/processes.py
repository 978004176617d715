"""Processes the local cloud starts: detached spawning, identity checks, readiness, termination.

Generic: nothing here knows what a process does. A process counts as "ours" only while its pid,
start time and exact command line match what was recorded when it was started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers.local.state import LocalCloudError, PartState

HOST = "127.0.0.1"
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL

#: Popen objects of the children this process started, so they are reaped (no zombies) when stopped.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) of a process, or None if it does not exist."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:  # reap our own exited child
        _CHILDREN.pop(pid, None)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def is_ours(part: PartState) -> bool:
    """The recorded process is alive (not a zombie) and is still the very process we started."""
    stat = proc_stat(part.pid)
    if stat is None or stat[0] in ("Z", "X") or stat[1] != part.start_time:
        return False
    try:
        argv = Path(f"/proc/{part.pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    except OSError:
        return False
    return [a.decode(errors="replace") for a in argv] == part.argv


def http_ok(url: str, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback URL we built)
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket ``pid`` listens on (from /proc; IPv6 shown as hex)."""
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    for fd in fds:
        try:  # connections come and go while we look: skip fds that closed meanwhile
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A = LISTEN
                addr, port = cols[1].split(":")
                if len(addr) == 8:
                    addr = socket.inet_ntoa(bytes.fromhex(addr)[::-1])
                found.append((addr, int(port, 16)))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def spawn(argv: list[str], stdout: Path, stderr: Path) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached (own session); the files are handed over, the parent keeps no pipe."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with stdout.open("wb") as out, stderr.open("ab") as err:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if stderr == stdout else err,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    _CHILDREN[proc.pid] = proc
    return proc


def wait_ready(
    what: str, check: Callable[[], Any], proc: subprocess.Popen[bytes], log: Path, timeout: float
) -> Any:
    """Poll ``check`` every 50 ms until it returns something truthy; fail if ``proc`` exits or on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if proc.poll() is not None:
            _CHILDREN.pop(proc.pid, None)
            raise LocalCloudError(
                f"{what} exited with code {proc.returncode}; last lines of {log}:\n{tail(log)}"
            )
        if time.monotonic() > deadline:
            terminate(proc.pid)
            raise LocalCloudError(
                f"{what} did not become ready within {timeout:.0f} s; last lines of {log}:\n{tail(log)}"
            )
        time.sleep(0.05)


def first_json_line(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    if "\n" not in text:
        return None
    try:
        return json.loads(text.split("\n", 1)[0])
    except ValueError as exc:
        raise LocalCloudError(f"{path}: the first output line is not the JSON handshake ({exc})") from exc


def terminate(pid: int, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM the process group led by ``pid`` (our own session), wait, then SIGKILL; reap if our child."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig) if os.getpgid(pid) == pid else os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            stat = proc_stat(pid)
            if stat is None or stat[0] in ("Z", "X"):
                child = _CHILDREN.pop(pid, None)
                if child is not None:
                    child.wait(timeout=5)
                return
            time.sleep(0.05)
    raise LocalCloudError(f"process {pid} survived SIGKILL for 5 s; check it with `ps -p {pid}`")
