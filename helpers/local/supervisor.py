"""``weatherlab local up | down | status``: start, watch and stop the local cloud's processes.

Three detached processes (own session, so they outlive a notebook kernel or the CLI), each bound to
127.0.0.1 on a free port:

* ``aws``: moto with documented gap fixes, ``python -m helpers.local.aws_server -H 127.0.0.1 -p PORT``;
* ``momento``: the local Momento server (gRPC + HTTP), ``python -m helpers.local.momento``;
* ``pipes``: the local EventBridge Pipes engine, ``python -m helpers.local.pipes``.

A part whose module is not installed yet is reported as unavailable and not started. The supervisor
knows how to start, probe and stop the processes, not what they do. Only processes whose pid, start
time and command line match the state file are ever signalled.
"""

from __future__ import annotations

import functools
import importlib.util
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers.config import Secret, Settings
from helpers.local.processes import (
    HOST,
    first_json_line,
    free_port,
    http_ok,
    is_ours,
    listening_sockets,
    proc_stat,
    spawn,
    tail,
    terminate,
    wait_ready,
)
from helpers.local.state import (
    PARTS,
    LocalCloudError,
    LocalState,
    PartState,
    load_state,
    locked,
    private_dir,
    remove_state,
    state_path,
    write_private_text,
    write_state,
)

#: part -> the module run with ``python -m``
MODULES = {
    "aws": "helpers.local.aws_server",
    "momento": "helpers.local.momento",
    "pipes": "helpers.local.pipes",
}
START_TIMEOUT = 30.0  # seconds for a part to print its first line and answer its health check
HEALTH_GRACE = 15.0  # seconds a live but silent part gets (a busy machine) before `up` restarts it
Progress = Callable[[str, str], None]


def available(part: str) -> bool:
    """True when the part's module can be run with ``python -m`` here (found without importing it)."""
    top, *rest = MODULES[part].split(".")
    spec = importlib.util.find_spec(top)  # a top-level lookup imports nothing
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location).joinpath(*rest)
        if (path / "__main__.py").is_file() or path.with_suffix(".py").is_file():
            return True
    return False


def _healthy(name: str, part: PartState) -> tuple[bool, str]:
    """(healthy, reason) of one part: our process, answering its health URL (and owning its port)."""
    if not is_ours(part):
        return False, "process is gone (or its pid now belongs to another program)"
    if not http_ok(part.health_url):
        return False, f"no answer from {part.health_url}"
    if name == "aws" and (HOST, part.ports["http"]) not in listening_sockets(part.pid):
        return False, f"port {part.ports['http']} is served by another process"
    return True, ""


def _healthy_within(name: str, part: PartState, grace: float) -> bool:
    """Healthy now, or within ``grace`` seconds if the process is ours and alive (just busy)."""
    deadline = time.monotonic() + grace
    while True:
        if _healthy(name, part)[0]:
            return True
        if not is_ours(part) or time.monotonic() > deadline:
            return False
        time.sleep(0.25)


def _part_state(proc: subprocess.Popen[bytes], argv: list[str], log: Path, **kwargs: Any) -> PartState:
    stat = proc_stat(proc.pid)
    if stat is None:
        raise LocalCloudError(f"{argv[2]} (pid {proc.pid}) vanished right after starting; see {log}")
    return PartState(pid=proc.pid, argv=argv, start_time=stat[1], log_file=str(log), **kwargs)


def _moto_ready(url: str, port: int, pid: int) -> bool:
    return http_ok(f"{url}/moto-api/") and (HOST, port) in listening_sockets(pid)


def _start_aws(logs: Path, prev: PartState | None) -> PartState:
    log = logs / "aws.log"
    candidates = [prev.ports["http"]] if prev else []
    for attempt in range(4):
        port = candidates[attempt] if attempt < len(candidates) else free_port()
        argv = [sys.executable, "-m", MODULES["aws"], "-H", HOST, "-p", str(port)]
        proc = spawn(argv, log, log)
        url = f"http://{HOST}:{port}"
        try:
            wait_ready(
                f"moto server on port {port}",
                functools.partial(_moto_ready, url, port, proc.pid),
                proc,
                log,
                START_TIMEOUT,
            )
        except LocalCloudError:
            if "Address already in use" in tail(log, 40) and attempt < 3:
                continue  # someone took the port between our probe and the bind: try another one
            raise
        return _part_state(proc, argv, log, endpoint=url, health_url=f"{url}/moto-api/", ports={"http": port})
    raise LocalCloudError("could not find a free port for the moto server after 4 attempts")


def _start_handshake(name: str, argv_tail: list[str], logs: Path, fallback: list[str] | None) -> PartState:
    """Start a part that prints a JSON handshake line first; ``fallback`` = args to retry with (port 0)."""
    log, out, err = logs / f"{name}.log", logs / f"{name}.stdout", logs / f"{name}.stderr"
    argv = [sys.executable, "-m", MODULES[name], *argv_tail, "--log-file", str(log)]
    proc = spawn(argv, out, err)
    try:
        hello = wait_ready(
            f"{MODULES[name]} (handshake)", lambda: first_json_line(out), proc, err, START_TIMEOUT
        )
    except LocalCloudError:
        if fallback is None:
            raise
        return _start_handshake(name, fallback, logs, None)
    if int(hello.get("pid", proc.pid)) != proc.pid:
        terminate(proc.pid)
        raise LocalCloudError(
            f"{MODULES[name]} reported pid {hello.get('pid')} but was started as {proc.pid}"
        )
    ports = {k.removesuffix("_port"): int(v) for k, v in hello.items() if k.endswith("_port")}
    http = ports.get("http", ports.get("status", 0))
    endpoint = f"http://{HOST}:{http}"
    wait_ready(f"{MODULES[name]} health", lambda: http_ok(f"{endpoint}/health"), proc, err, START_TIMEOUT)
    return _part_state(proc, argv, log, endpoint=endpoint, health_url=f"{endpoint}/health", ports=ports)


def _start(
    name: str, settings: Settings, parts: dict[str, PartState], key_file: Path, prev: PartState | None
) -> PartState:
    logs = private_dir(Path(settings.state_dir) / "logs")
    if name == "aws":
        return _start_aws(logs, prev)
    if name == "momento":  # when healing, try the previous ports first so endpoints stay the same

        def ports(grpc: int, http: int) -> list[str]:
            return ["--grpc-port", str(grpc), "--http-port", str(http), "--api-key-file", str(key_file)]

        grpc, http = (prev.ports.get("grpc", 0), prev.ports.get("http", 0)) if prev else (0, 0)
        return _start_handshake(name, ports(grpc, http), logs, ports(0, 0) if grpc and http else None)
    pipes_dir = private_dir(Path(settings.state_dir) / "pipes")
    tail = ["--aws-endpoint", parts["aws"].endpoint, "--region", settings.aws_region,
            "--state-dir", str(pipes_dir), "--status-port", "0"]  # fmt: skip
    return _start_handshake(name, tail, logs, None)


def _stop(part: PartState) -> str:
    if not is_ours(part):
        return "not running"
    terminate(part.pid)
    return "stopped"


# ----------------------------------------------------------------------------- public API
def _lock(settings: Settings) -> Any:
    return locked(Path(settings.state_dir) / ".lock", what=f"the local cloud in {settings.state_dir}")


def up(settings: Settings, progress: Progress | None = None) -> dict[str, Any]:
    """Start the local cloud, or reuse the healthy parts of a running one; returns :func:`status` plus
    ``started`` and ``reused`` part lists (and a ``note`` when the moto server had to be restarted).

    Parts that died or never became healthy are stopped (only if still ours) and started again;
    the Momento API key and, where free, the previous ports are kept so existing endpoints stay valid.
    """
    report = progress or (lambda part, status: None)
    with _lock(settings):
        try:
            old = load_state(settings)
        except LocalCloudError:
            old = None  # unreadable state: nothing we can trust to signal; start afresh
        key = old.momento_api_key if old and old.momento_api_key else Secret(secrets.token_urlsafe(32))
        key_file = write_private_text(Path(settings.state_dir) / "momento-api-key", key.reveal())
        parts: dict[str, PartState] = {}
        started, reused = [], []
        for name in PARTS:
            prev = old.parts.get(name) if old else None
            if not available(name):
                if prev:
                    _stop(prev)
                report(name, "unavailable")
                continue
            if (
                prev
                and not (name == "pipes" and "aws" in started)
                and _healthy_within(name, prev, HEALTH_GRACE)
            ):
                parts[name] = prev
                reused.append(name)
                report(name, "reused")
                continue
            if prev:
                _stop(prev)
            report(name, "starting")
            try:
                parts[name] = _start(name, settings, parts, key_file, prev)
            except LocalCloudError as exc:
                raise LocalCloudError(
                    f"{exc}\n(`weatherlab local down` stops the parts that did start; fix the cause and run "
                    "`weatherlab local up` again)"
                ) from exc
            started.append(name)
            write_state(settings, _state(settings, key, key_file, {**(old.parts if old else {}), **parts}))
            report(name, "healthy")
        write_state(settings, _state(settings, key, key_file, parts))
    result = status(settings)
    result.update(started=started, reused=reused)
    if old and "aws" in old.parts and "aws" in started:
        result["note"] = "the moto server was restarted and its data is gone: run `weatherlab deploy` again."
    return result


def _state(settings: Settings, key: Secret, key_file: Path, parts: dict[str, PartState]) -> LocalState:
    return LocalState(state_path(settings), settings.aws_region, key, str(key_file), dict(parts))


def status(settings: Settings) -> dict[str, Any]:
    """Health and endpoints of each part, as JSON-ready data. Never contains the API key."""
    state = load_state(settings)
    parts = state.parts if state else {}
    result: dict[str, Any] = {
        "running": bool(state and parts),
        "state_file": str(state_path(settings)),
        "aws_region": state.aws_region if state else settings.aws_region,
        "aws_endpoint": state.aws_endpoint if state else "",
        "momento_grpc_host": HOST,
        "momento_grpc_port": state.momento_grpc_port if state else 0,
        "momento_http_endpoint": state.momento_http_endpoint if state else "",
        "pipes_status_url": state.pipes_status_url if state else "",
    }
    for name in PARTS:
        part = parts.get(name)
        entry: dict[str, Any] = {"pid": None, "healthy": False, "endpoint": "", "log_file": "",
                                 "available": available(name)}  # fmt: skip
        if part:
            healthy, reason = _healthy(name, part)
            entry.update(pid=part.pid, healthy=healthy, endpoint=part.endpoint, log_file=part.log_file)
            if not healthy:
                entry["reason"] = f"{reason}: run `weatherlab local up` to restart it"
        else:
            entry["reason"] = "not started" if entry["available"] else f"{MODULES[name]} is not installed"
        result[name] = entry
    return result


def down(settings: Settings, *, keep_logs: bool = False) -> dict[str, Any]:
    """Stop exactly the processes ``up`` started (by recorded pid) and remove the local state.

    Removes the state file, the key file, the deployer's stack records (their resources lived in the
    moto server) and the pipes engine's checkpoints; the logs too unless ``keep_logs``.
    Returns ``{"stopped": {part: "stopped" | "not running"}, "pids": {...}, "removed": [...]}``.
    """
    root = Path(settings.state_dir)
    with _lock(settings):
        try:
            state = load_state(settings)
        except LocalCloudError:
            state = None
        parts = state.parts if state else {}
        stopped = {name: _stop(parts[name]) for name in reversed(PARTS) if name in parts}
        removed = []
        targets = [state_path(settings), root / "momento-api-key", root / "stacks", root / "pipes"]
        for path in [*targets, *([] if keep_logs else [root / "logs"])]:
            if path.exists():
                _remove(path)
                removed.append(str(path))
        remove_state(settings)
        (root / ".lock").unlink(missing_ok=True)
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()
    return {"stopped": stopped, "pids": {n: p.pid for n, p in parts.items()}, "removed": removed}


def _remove(path: Path) -> None:
    if path.is_dir():
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
