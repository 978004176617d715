"""The local Momento server process: one store served over gRPC and HTTP on one asyncio loop.

Two ways to run it:

* embedded: ``with LocalMomentoServer(api_key) as server: ...`` runs both protocols on a private
  asyncio loop in a background thread (ports 0 = pick free ones);
* standalone: ``python -m helpers.local.momento --grpc-port P --http-port Q --api-key-file F
  [--log-file L]`` (what ``weatherlab momento serve`` calls). The first stdout line is
  ``{"grpc_port": N, "http_port": M, "pid": PID}``; SIGTERM/SIGINT shut it down cleanly.

Both bind 127.0.0.1 only, read the key from the caller (never from argv) and write one JSON line per
request to the log file, without the key or query strings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from .grpc_api import build_grpc_server
from .http_api import build_http_app
from .store import DEFAULT_TOPIC_HISTORY, MomentoStore

HOST = "127.0.0.1"
DEFAULT_LONG_POLL_TIMEOUT = 5.0
DEFAULT_HEARTBEAT_INTERVAL = 5.0
_SWEEP_INTERVAL = 5.0
_GRPC_GRACE = 0.5
_HTTP_SHUTDOWN_TIMEOUT = 1.0


class _JsonLineLog:
    """Request log sink: one JSON object per line, or nothing without a file."""

    def __init__(self, path: Path | None) -> None:
        self._file: IO[str] | None = None
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8", buffering=1)

    def __call__(self, entry: dict[str, Any]) -> None:
        if self._file is None:
            return
        line = json.dumps({"ts": round(time.time(), 3), **entry}, separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class _Runtime:
    """Both protocols bound on the running loop; ``start``/``stop`` must be awaited on that loop."""

    def __init__(
        self, api_key: str, grpc_port: int, http_port: int, log_file: Path | None, **tuning: float
    ) -> None:
        self._args = (api_key, grpc_port, http_port)
        self._log_file = log_file
        self._tuning = tuning
        self.store: MomentoStore | None = None
        self.grpc_port = 0
        self.http_port = 0
        self._grpc: Any = None
        self._runner: web.AppRunner | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._log: _JsonLineLog | None = None

    async def start(self) -> None:
        api_key, grpc_port, http_port = self._args
        self._log = _JsonLineLog(self._log_file)
        self.store = MomentoStore(api_key, topic_history=int(self._tuning["topic_history"]))
        try:
            self._grpc = build_grpc_server(
                self.store, self._log, heartbeat_interval=self._tuning["heartbeat_interval"]
            )
            self.grpc_port = _bind_grpc(self._grpc, grpc_port)
            await self._grpc.start()
            app = build_http_app(self.store, self._log, long_poll_timeout=self._tuning["long_poll_timeout"])
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=_HTTP_SHUTDOWN_TIMEOUT)
            await self._runner.setup()
            await web.TCPSite(self._runner, HOST, http_port).start()
            self.http_port = self._runner.addresses[0][1]
        except BaseException:
            await self.stop()
            raise
        self._sweeper = asyncio.create_task(self._sweep())
        self._log({"event": "started", "grpc_port": self.grpc_port, "http_port": self.http_port})

    async def stop(self) -> None:
        if self.store is not None:
            self.store.stop()  # long polls answer, subscription streams end
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._runner is not None:
            await self._runner.cleanup()
        if self._grpc is not None:
            await self._grpc.stop(_GRPC_GRACE)
        if self._log is not None:
            self._log({"event": "stopped"})
            self._log.close()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(_SWEEP_INTERVAL)
            assert self.store is not None
            self.store.sweep_expired()


def _bind_grpc(server: Any, port: int) -> int:
    try:
        bound = server.add_insecure_port(f"{HOST}:{port}")
    except RuntimeError as err:
        raise OSError(f"could not bind gRPC to {HOST}:{port} ({err}); pick a free port or 0") from None
    if bound == 0:
        raise OSError(f"could not bind gRPC to {HOST}:{port}; pick a free port or 0")
    return bound


class LocalMomentoServer:
    """An embedded local Momento server (gRPC for the SDK, HTTP for API destinations).

    Args:
        api_key: the only key accepted on both protocols.
        grpc_port, http_port: ports on 127.0.0.1; 0 picks a free one (read the properties after start).
        log_file: where to append JSON request log lines; None disables the request log.
        long_poll_timeout: seconds an idle HTTP long poll waits before answering ``{"items": []}``.
        heartbeat_interval: seconds between heartbeats on an idle gRPC subscription.
        topic_history: messages retained per topic for resuming subscribers.

    ``start()`` returns once both ports accept connections; ``stop()`` ends subscriptions and long
    polls and joins the background thread. Also a context manager.
    """

    def __init__(
        self,
        api_key: str,
        grpc_port: int = 0,
        http_port: int = 0,
        log_file: Path | None = None,
        *,
        long_poll_timeout: float = DEFAULT_LONG_POLL_TIMEOUT,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        topic_history: int = DEFAULT_TOPIC_HISTORY,
    ) -> None:
        self._runtime = _Runtime(
            api_key,
            grpc_port,
            http_port,
            log_file,
            long_poll_timeout=long_poll_timeout,
            heartbeat_interval=heartbeat_interval,
            topic_history=topic_history,
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        return f"LocalMomentoServer(grpc_port={self.grpc_port}, http_port={self.http_port})"

    @property
    def grpc_port(self) -> int:
        return self._runtime.grpc_port

    @property
    def http_port(self) -> int:
        return self._runtime.http_port

    @property
    def http_endpoint(self) -> str:
        """Base URL of the HTTP API, e.g. ``http://127.0.0.1:8081``."""
        return f"http://{HOST}:{self.http_port}"

    def start(self, timeout: float = 15.0) -> LocalMomentoServer:
        """Start serving in a background thread; raises if the ports cannot be bound in time."""
        if self._thread is not None:
            raise RuntimeError("this LocalMomentoServer was already started; create a new one")
        self._thread = threading.Thread(target=self._run, name="local-momento", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the local Momento server did not start within {timeout:g} s")
        if self._error is not None:
            self._thread.join(timeout)
            raise RuntimeError(f"the local Momento server failed to start: {self._error}") from self._error
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop both protocols and join the thread (idempotent)."""
        if self._thread is None or self._loop is None or self._stop is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the local Momento server did not stop within {timeout:g} s")

    def subscriber_count(self, cache: str, topic: str, timeout: float = 5.0) -> int:
        """Active subscriptions (gRPC streams and HTTP long polls) on ``topic``, read on the server loop."""
        if self._loop is None:
            raise RuntimeError("the local Momento server is not running; call start() first")
        store = self._runtime.store
        assert store is not None

        async def count() -> int:
            return store.subscriber_count(cache, topic)

        return asyncio.run_coroutine_threadsafe(count(), self._loop).result(timeout)

    def __enter__(self) -> LocalMomentoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # reported by start()
            self._error = err
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await self._runtime.start()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self._runtime.stop()


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="weatherlab momento serve",
        allow_abbrev=False,
        description="Serve a local Momento (gRPC for the SDK, HTTP API for API destinations) on 127.0.0.1.",
    )
    parser.add_argument("--grpc-port", type=int, required=True, help="gRPC port (0 = pick a free one)")
    parser.add_argument("--http-port", type=int, required=True, help="HTTP port (0 = pick a free one)")
    parser.add_argument("--api-key-file", type=Path, required=True, help="file holding the API key")
    parser.add_argument("--log-file", type=Path, default=None, help="append JSON request log lines here")
    args = parser.parse_args(argv)
    for name in ("grpc_port", "http_port"):
        if not 0 <= getattr(args, name) <= 65535:
            parser.error(f"--{name.replace('_', '-')} must be between 0 and 65535")
    return args


def _read_key(path: Path) -> str:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise ValueError(f"cannot read the API key file {str(path)!r}: {err.strerror}") from None
    key = lines[0].strip() if lines else ""
    if not key:
        raise ValueError(f"the API key file {str(path)!r} is empty; write the key on its first line")
    return key


async def _serve_until_signal(runtime: _Runtime) -> None:
    await runtime.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ports = {"grpc_port": runtime.grpc_port, "http_port": runtime.http_port, "pid": os.getpid()}
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await runtime.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGTERM/SIGINT; returns the process exit code (0 clean, 1 failed, 2 usage)."""
    args = _parse_args(argv)
    try:
        api_key = _read_key(args.api_key_file)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    runtime = _Runtime(
        api_key,
        args.grpc_port,
        args.http_port,
        args.log_file,
        long_poll_timeout=DEFAULT_LONG_POLL_TIMEOUT,
        heartbeat_interval=DEFAULT_HEARTBEAT_INTERVAL,
        topic_history=DEFAULT_TOPIC_HISTORY,
    )
    try:
        asyncio.run(_serve_until_signal(runtime))
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
