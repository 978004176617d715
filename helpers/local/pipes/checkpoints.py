"""Where each pipe stands in each shard, persisted so an engine restart loses nothing.

One JSON file, ``<state_dir>/checkpoints.json``, rewritten atomically (temporary file, fsync,
``os.replace``) on every commit::

    {"version": 1,
     "pipes": {"<pipe arn>": {"pipeCreated": "<CreationTime>", "streamArn": "<stream arn>",
                              "shards": {"<shard id>": {"sequenceNumber": "123" | null,
                                                        "finished": false, "updated": "<iso>"}}}}}

Contract:
- ``sequenceNumber`` is the last record of the last *completed* batch; the engine resumes with
  ``AFTER_SEQUENCE_NUMBER`` so only the batch that was in flight can be delivered twice.
- ``sequenceNumber: null`` means "resume from the shard's beginning" (``TRIM_HORIZON``). It is written
  when a LATEST pipe finds an empty shard, so records written while the engine is down are not lost.
- Commits are monotonic: a late commit from a runner that was being replaced never moves a
  position backwards.
- An entry belongs to one incarnation of a pipe (its ARN + CreationTime + stream ARN). A pipe that is
  deleted and created again under the same name starts afresh.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FILE_NAME = "checkpoints.json"
_VERSION = 1


@dataclass(frozen=True)
class ShardCheckpoint:
    """A stored position: resume after ``sequence_number`` (or from the start if it is None)."""

    sequence_number: str | None
    finished: bool = False


class CheckpointStore:
    """Thread-safe, file-backed per pipe+shard positions. See the module docstring for the contract."""

    def __init__(self, state_dir: Path | str) -> None:
        self._dir = Path(state_dir)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._path = self._dir / FILE_NAME
        self._lock = threading.Lock()
        self._data: dict[str, Any] = self._load()

    @property
    def path(self) -> Path:
        """The JSON file holding every checkpoint."""
        return self._path

    def _load(self) -> dict[str, Any]:
        if not self._path.exists():
            return {"version": _VERSION, "pipes": {}}
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RuntimeError(
                f"checkpoint file {self._path} is unreadable ({exc}); move it away to restart the pipes "
                "from their StartingPosition"
            ) from exc
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            raise RuntimeError(f"checkpoint file {self._path} has an unknown format; move it away")
        data.setdefault("pipes", {})
        return data

    def _save(self) -> None:
        payload = json.dumps(self._data, indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=".checkpoints-", suffix=".tmp", dir=self._dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def bind(self, pipe_arn: str, pipe_created: str, stream_arn: str) -> None:
        """Claim the entry of ``pipe_arn`` for this incarnation; a stale entry is discarded."""
        with self._lock:
            entry = self._data["pipes"].get(pipe_arn)
            if entry and entry.get("pipeCreated") == pipe_created and entry.get("streamArn") == stream_arn:
                return
            self._data["pipes"][pipe_arn] = {
                "pipeCreated": pipe_created,
                "streamArn": stream_arn,
                "shards": {},
            }
            self._save()

    def get(self, pipe_arn: str, shard_id: str) -> ShardCheckpoint | None:
        """The stored position of ``shard_id`` for the pipe, or None if the pipe never read it."""
        with self._lock:
            shard = self._data["pipes"].get(pipe_arn, {}).get("shards", {}).get(shard_id)
        if shard is None:
            return None
        return ShardCheckpoint(shard.get("sequenceNumber"), bool(shard.get("finished")))

    def commit(
        self, pipe_arn: str, shard_id: str, sequence_number: str | None, *, finished: bool = False
    ) -> None:
        """Persist a position. Never moves backwards; ``None`` is only stored for an unread shard."""
        with self._lock:
            entry = self._data["pipes"].get(pipe_arn)
            if entry is None:  # pipe forgotten (deleted) meanwhile: nothing to keep
                return
            shards = entry.setdefault("shards", {})
            old = shards.get(shard_id)
            if old is not None:
                old_seq = old.get("sequenceNumber")
                if sequence_number is None or old_seq is not None and int(sequence_number) < int(old_seq):
                    sequence_number = old_seq
                finished = finished or bool(old.get("finished"))
                if old_seq == sequence_number and bool(old.get("finished")) == finished:
                    return
            shards[shard_id] = {
                "sequenceNumber": sequence_number,
                "finished": finished,
                "updated": datetime.now(UTC).isoformat(timespec="milliseconds"),
            }
            self._save()

    def forget(self, pipe_arn: str) -> None:
        """Drop everything known about a pipe (it was deleted)."""
        with self._lock:
            if self._data["pipes"].pop(pipe_arn, None) is not None:
                self._save()
