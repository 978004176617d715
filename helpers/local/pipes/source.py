"""The DynamoDB stream source of one pipe: shards, shard iterators, positions and polling.

Contract:
- Every shard is read in order by one thread; a child shard starts only when its parent is finished
  (or its parent is no longer listed), so per-key order holds across shard splits.
- A batch is at most ``BatchSize`` records (``GetRecords`` ``Limit``). The handler gets each batch and
  returns True once it is complete (delivered, dead-lettered or filtered out); only then is the last
  sequence number checkpointed. False means "abandoned because the pipe is stopping": no checkpoint,
  so the batch is read again next time (at-least-once).
- Position on pick-up: the checkpoint if there is one (``AFTER_SEQUENCE_NUMBER``), else the pipe's
  ``StartingPosition``. LATEST is resolved by reading the open shard to its current end once and
  checkpointing the last sequence number seen, so a restart before the first record loses nothing.
  Shards that appear after pick-up are read from TRIM_HORIZON (they hold only newer records).
- Polling: when a read returns records the next read follows at once; when idle it waits
  ``poll_interval`` seconds (default 50 ms, AWS polls every 250 ms) on the stop event, never spinning.
  An idle read keeps its iterator (DynamoDB iterators stay valid for 15 minutes), which also keeps
  moto from accumulating one iterator object per idle poll. Expired or failing iterators are
  re-acquired from the checkpoint with a capped backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from helpers.local.pipes.checkpoints import CheckpointStore

log = logging.getLogger(__name__)

#: handler(shard_id, records) -> True when the batch is complete and may be checkpointed
BatchHandler = Callable[[str, list[dict[str, Any]]], bool]

_SCAN_LIMIT = 1000
_ERROR_BACKOFF_START = 0.2
_ERROR_BACKOFF_MAX = 5.0


@dataclass(frozen=True)
class Shard:
    """One shard of a stream as ``DescribeStream`` lists it."""

    shard_id: str
    parent_id: str | None
    closed: bool


def list_shards(streams: Any, stream_arn: str) -> list[Shard]:
    """Every shard of ``stream_arn`` (follows ``LastEvaluatedShardId`` pagination)."""
    shards: list[Shard] = []
    kwargs: dict[str, Any] = {"StreamArn": stream_arn}
    while True:
        desc = streams.describe_stream(**kwargs)["StreamDescription"]
        for raw in desc.get("Shards", []):
            closed = "EndingSequenceNumber" in raw.get("SequenceNumberRange", {})
            shards.append(Shard(raw["ShardId"], raw.get("ParentShardId"), closed))
        last = desc.get("LastEvaluatedShardId")
        if not last:
            return shards
        kwargs["ExclusiveStartShardId"] = last


@dataclass(frozen=True)
class SourceSettings:
    """What one pipe's source needs, taken from ``DynamoDBStreamParameters`` and the engine options."""

    pipe_arn: str
    stream_arn: str
    starting_position: str  # TRIM_HORIZON | LATEST
    batch_size: int
    poll_interval: float
    shard_refresh_interval: float = 10.0


class ShardPoller:
    """Reads one shard for one pipe, in order, until the shard ends or ``stop`` is set."""

    def __init__(
        self,
        streams: Any,
        settings: SourceSettings,
        shard: Shard,
        checkpoints: CheckpointStore,
        handler: BatchHandler,
        stop: threading.Event,
        *,
        initial: bool,
    ) -> None:
        self._streams = streams
        self._s = settings
        self._shard = shard
        self._checkpoints = checkpoints
        self._handler = handler
        self._stop = stop
        self._initial = initial
        self.positioned = threading.Event()
        self.finished = threading.Event()

    def _iterator(self, kind: str, sequence_number: str | None = None) -> str | None:
        kwargs: dict[str, Any] = {
            "StreamArn": self._s.stream_arn,
            "ShardId": self._shard.shard_id,
            "ShardIteratorType": kind,
        }
        if sequence_number is not None:
            kwargs["SequenceNumber"] = sequence_number
        return self._streams.get_shard_iterator(**kwargs).get("ShardIterator")

    def _from_checkpoint(self) -> tuple[bool, str | None]:
        """(known, iterator) from the stored position; known is False when there is none."""
        cp = self._checkpoints.get(self._s.pipe_arn, self._shard.shard_id)
        if cp is None:
            return False, None
        if cp.finished:
            return True, None
        if cp.sequence_number is None:
            return True, self._iterator("TRIM_HORIZON")
        return True, self._iterator("AFTER_SEQUENCE_NUMBER", cp.sequence_number)

    def _position(self) -> str | None:
        known, iterator = self._from_checkpoint()
        if known:
            return iterator
        if self._s.starting_position == "TRIM_HORIZON" or not self._initial:
            self._checkpoints.commit(self._s.pipe_arn, self._shard.shard_id, None)
            return self._iterator("TRIM_HORIZON")
        return self._position_at_end()

    def _position_at_end(self) -> str | None:
        """LATEST, made durable: read to the shard's current end and checkpoint the last record."""
        if self._shard.closed:
            self._checkpoints.commit(self._s.pipe_arn, self._shard.shard_id, None, finished=True)
            return None
        iterator = self._iterator("TRIM_HORIZON")
        last: str | None = None
        while iterator and not self._stop.is_set():
            resp = self._streams.get_records(ShardIterator=iterator, Limit=_SCAN_LIMIT)
            records = resp.get("Records", [])
            if not records:
                break
            last = records[-1]["dynamodb"]["SequenceNumber"]
            iterator = resp.get("NextShardIterator")
        self._checkpoints.commit(self._s.pipe_arn, self._shard.shard_id, last)
        return iterator

    def _finish(self) -> None:
        self._checkpoints.commit(self._s.pipe_arn, self._shard.shard_id, None, finished=True)
        self.finished.set()

    def run(self) -> None:
        """The polling loop (runs in its own thread)."""
        backoff = _ERROR_BACKOFF_START
        iterator: str | None = None
        need_position = True
        while not self._stop.is_set():
            try:
                if need_position:
                    iterator = self._position()
                    need_position = False
                    self.positioned.set()
                    if iterator is None:
                        self._finish()
                        return
                resp = self._streams.get_records(ShardIterator=iterator, Limit=self._s.batch_size)
            except (ClientError, BotoCoreError) as exc:
                code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else type(exc).__name__
                if code == "TrimmedDataAccessException":
                    log.error(
                        "%s %s: checkpoint older than the stream's retention; records were lost, "
                        "resuming at TRIM_HORIZON",
                        self._s.pipe_arn,
                        self._shard.shard_id,
                    )
                    self._checkpoints.commit(self._s.pipe_arn, self._shard.shard_id, None)
                elif code != "ExpiredIteratorException":
                    log.warning(
                        "%s %s: stream read failed (%s); retrying in %.1fs",
                        self._s.pipe_arn,
                        self._shard.shard_id,
                        exc,
                        backoff,
                    )
                    if self._stop.wait(backoff):
                        return
                    backoff = min(backoff * 2, _ERROR_BACKOFF_MAX)
                need_position = True
                continue
            backoff = _ERROR_BACKOFF_START
            records = resp.get("Records", [])
            next_iterator = resp.get("NextShardIterator")
            if records:
                try:
                    completed = self._handler(self._shard.shard_id, records)
                except Exception:  # a bug or an unexpected record must not silently end the shard's thread
                    log.exception(
                        "%s %s: batch failed unexpectedly; it will be read again in %.1fs",
                        self._s.pipe_arn,
                        self._shard.shard_id,
                        _ERROR_BACKOFF_MAX,
                    )
                    if self._stop.wait(_ERROR_BACKOFF_MAX):
                        return
                    need_position = True
                    continue
                if not completed:
                    return
                last = records[-1]["dynamodb"]["SequenceNumber"]
                self._checkpoints.commit(self._s.pipe_arn, self._shard.shard_id, last)
                iterator = next_iterator
                if iterator is None:
                    self._finish()
                    return
            elif next_iterator is None:
                self._finish()
                return
            elif self._stop.wait(self._s.poll_interval):
                return


class StreamSource:
    """All shards of one pipe's stream: starts a :class:`ShardPoller` thread per ready shard."""

    def __init__(
        self,
        streams: Any,
        settings: SourceSettings,
        checkpoints: CheckpointStore,
        handler: BatchHandler,
        stop: threading.Event,
    ) -> None:
        self._streams = streams
        self._s = settings
        self._checkpoints = checkpoints
        self._handler = handler
        self._stop = stop
        self._pollers: dict[str, ShardPoller] = {}
        self._threads: list[threading.Thread] = []
        self.ready = threading.Event()

    def _start_ready_shards(self, shards: list[Shard], *, initial: bool) -> None:
        listed = {s.shard_id for s in shards}
        for shard in shards:
            if shard.shard_id in self._pollers:
                continue
            parent = self._pollers.get(shard.parent_id or "")
            parent_done = shard.parent_id not in listed or (parent is not None and parent.finished.is_set())
            if not parent_done:
                cp = self._checkpoints.get(self._s.pipe_arn, shard.parent_id or "")
                parent_done = cp is not None and cp.finished
            if not parent_done:
                continue
            poller = ShardPoller(
                self._streams, self._s, shard, self._checkpoints, self._handler, self._stop, initial=initial
            )
            thread = threading.Thread(
                target=poller.run, name=f"pipe-shard-{shard.shard_id[-8:]}", daemon=True
            )
            self._pollers[shard.shard_id] = poller
            self._threads.append(thread)
            thread.start()

    def run(self) -> None:
        """Lists shards, starts pollers, re-lists every ``shard_refresh_interval`` until stopped."""
        initial = True
        while not self._stop.is_set():
            try:
                shards = list_shards(self._streams, self._s.stream_arn)
            except (ClientError, BotoCoreError) as exc:
                log.warning(
                    "%s: cannot describe stream %s (%s); retrying", self._s.pipe_arn, self._s.stream_arn, exc
                )
                if self._stop.wait(1.0):
                    break
                continue
            # shards whose parent is still open wait for it; re-check often until they started
            self._start_ready_shards(shards, initial=initial)
            if initial:
                for poller in list(self._pollers.values()):
                    while not poller.positioned.is_set() and not self._stop.is_set():
                        poller.positioned.wait(0.05)
                self.ready.set()
                initial = False
            waiting = len(self._pollers) < len(shards)
            if self._stop.wait(0.2 if waiting else self._s.shard_refresh_interval):
                break

    def join(self, timeout: float) -> bool:
        """Wait for the shard threads to end; True if all did within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)
