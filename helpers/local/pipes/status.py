"""The engine's HTTP status endpoint: the server (stdlib, threaded) and a tiny client.

Routes (127.0.0.1 only):
- ``GET /health`` -> 200 ``{"status": "ok", "run_id": str, "pipes": {name: state},
  "details": {name: {"state", "reason", "arn", "counters"}}}``
- ``GET /executions?pipe=NAME&limit=N`` -> 200 JSON list of execution records (see ``metrics.py``),
  oldest first, at most N (default 1000).
Anything else is 404; a bad ``limit`` is 400.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

if TYPE_CHECKING:
    from helpers.local.pipes.engine import PipesEngine


class _Handler(BaseHTTPRequestHandler):
    engine: PipesEngine  # set on the subclass made by serve_status

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/health":
            details = self.engine.details()
            pipes = {name: info["state"] for name, info in details.items()}
            self._send(
                200, {"status": "ok", "run_id": self.engine.run_id, "pipes": pipes, "details": details}
            )
        elif url.path == "/executions":
            try:
                limit = int(query.get("limit", ["1000"])[0])
            except ValueError:
                self._send(400, {"error": "limit must be an integer"})
                return
            pipe = query.get("pipe", [None])[0]
            self._send(200, self.engine.metrics.query(pipe=pipe, limit=limit))
        else:
            self._send(404, {"error": f"no route {url.path}; try /health or /executions"})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep stdout clean
        return


def serve_status(engine: PipesEngine, port: int = 0) -> ThreadingHTTPServer:
    """Start the status server on 127.0.0.1:``port`` (0 = any free port) in a daemon thread."""
    handler = type("StatusHandler", (_Handler,), {"engine": engine})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="pipes-status", daemon=True).start()
    return server


def engine_health(status_url: str, timeout: float = 5.0) -> dict[str, Any]:
    """``GET /health`` of the engine at ``status_url`` (e.g. ``http://127.0.0.1:PORT``)."""
    resp = httpx.get(status_url.rstrip("/") + "/health", timeout=timeout, trust_env=False)
    resp.raise_for_status()
    return resp.json()


def read_executions(status_url: str, pipe: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """The engine's newest ``limit`` execution records (oldest first), optionally of one pipe."""
    params: dict[str, Any] = {"limit": limit}
    if pipe is not None:
        params["pipe"] = pipe
    resp = httpx.get(
        f"{status_url.rstrip('/')}/executions?{urlencode(params)}", timeout=10.0, trust_env=False
    )
    resp.raise_for_status()
    return resp.json()
