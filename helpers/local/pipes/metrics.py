"""Per-execution measurements: what happened to each record and how long it took to arrive.

One record per execution (one stream record that passed the filter)::

    {"pipe": str, "executionId": str, "eventID": str, "eventName": str, "shardId": str,
     "sequenceNumber": str, "status": "SUCCEEDED" | "FAILED", "condition": str | None,
     "deadLettered": bool, "httpStatus": int | None, "attempts": int, "error": str | None,
     "recordCreatedAt": float,   # ApproximateCreationDateTime, epoch seconds
     "respondedAt": float,       # when the target's (last) response arrived, epoch seconds
     "latencyMs": float}         # respondedAt - recordCreatedAt, in milliseconds

Kept in an in-memory ring buffer (newest ``capacity`` records) and appended, one JSON object a line,
to ``<state_dir>/executions.jsonl`` so benchmarks can read them after the engine has gone.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

FILE_NAME = "executions.jsonl"


class ExecutionMetrics:
    """Thread-safe store of execution records (see the module docstring for their fields)."""

    def __init__(self, state_dir: Path | str | None, capacity: int = 10_000) -> None:
        self._ring: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Condition()
        self._path: Path | None = None
        if state_dir is not None:
            Path(state_dir).mkdir(parents=True, exist_ok=True)
            self._path = Path(state_dir) / FILE_NAME

    @property
    def path(self) -> Path | None:
        """The JSONL file records are appended to (None when kept in memory only)."""
        return self._path

    def add(self, record: dict[str, Any]) -> None:
        """Keep ``record`` and append it to the JSONL file."""
        line = json.dumps(record, sort_keys=True)
        with self._lock:
            self._ring.append(record)
            if self._path is not None:
                with self._path.open("a", encoding="utf-8") as handle:
                    handle.write(line + "\n")
            self._lock.notify_all()

    def query(self, pipe: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest ``limit`` records (oldest first), optionally of one pipe only."""
        with self._lock:
            records = [r for r in self._ring if pipe is None or r.get("pipe") == pipe]
        return records[-limit:] if limit > 0 else []

    def wait_for(self, count: int, pipe: str | None = None, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` records (of ``pipe``) are kept; TimeoutError says how many are."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                records = [r for r in self._ring if pipe is None or r.get("pipe") == pipe]
                if len(records) >= count:
                    return records
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(records)} of {count} execution(s) of {pipe or 'any pipe'} after {timeout}s; "
                        "is the pipe RUNNING and its source receiving records?"
                    )
                self._lock.wait(remaining)
