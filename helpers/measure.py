"""Propagation latency: how long a DynamoDB write takes to reach Momento, per pipe.

Latency of one execution = target response time - the stream record's creation time
(``ApproximateCreationDateTime``). Local mode reads the pipes engine's per-execution measurements
(millisecond precision); cloud mode derives the same from the pipes' log records (AWS gives the
creation time in whole seconds, so cloud numbers are coarser).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from helpers.config import Settings, load_settings
from helpers.progress import wait_until
from helpers.weather import put_row, random_row


@dataclass(frozen=True)
class Burst:
    """What :func:`burst` wrote: when it started and the locations it used."""

    started: float
    locations: list[str]


def burst(n: int, settings: Settings | None = None, *, prefix: str = "Burst", ttl: int = 300) -> Burst:
    """Write ``n`` random rows with distinct locations as fast as DynamoDB takes them."""
    settings = settings or load_settings()
    started = time.time()
    locations = [f"{prefix}-{i:04d}" for i in range(n)]
    for location in locations:
        put_row(random_row(location, ttl=ttl), settings)
    return Burst(started, locations)


def _local_latencies(settings: Settings, since: float) -> dict[str, list[float]]:
    from helpers.local.pipes.status import read_executions
    from helpers.local.state import read_state

    found: dict[str, list[float]] = {}
    for record in read_executions(read_state(settings).pipes_status_url, limit=100_000):
        if record.get("status") == "SUCCEEDED" and record.get("recordCreatedAt", 0) >= since:
            found.setdefault(record["pipe"], []).append(float(record["latencyMs"]))
    return found


def _cloud_latencies(settings: Settings, since: float) -> dict[str, list[float]]:
    from helpers.observe import pipe_log_records

    created: dict[str, float] = {}
    found: dict[str, list[float]] = {}
    for record in pipe_log_records(settings, since=since - 1):
        exec_id, kind = record.get("executionId"), record.get("messageType")
        if kind == "ExecutionStarted" and record.get("payload"):
            events = json.loads(record["payload"])
            event = events[0] if isinstance(events, list) else events
            created[exec_id] = float(event["dynamodb"]["ApproximateCreationDateTime"]) * 1000
        elif kind == "ExecutionSucceeded" and exec_id in created:
            pipe = record["resourceArn"].rsplit("/", 1)[-1]
            found.setdefault(pipe, []).append(record["timestamp"] - created[exec_id])
    return found


def latencies(settings: Settings | None = None, *, since: float) -> dict[str, list[float]]:
    """Successful executions since ``since`` (epoch s): pipe name -> latencies in ms."""
    settings = settings or load_settings()
    return _local_latencies(settings, since) if settings.is_local else _cloud_latencies(settings, since)


def wait_for_latencies(
    expected: dict[str, int], settings: Settings | None = None, *, since: float, timeout: float = 120.0
) -> dict[str, list[float]]:
    """Wait until each pipe in ``expected`` (name -> count) has that many measurements."""
    settings = settings or load_settings()

    def probe() -> dict[str, list[float]] | None:
        found = latencies(settings, since=since)
        return found if all(len(found.get(p, [])) >= n for p, n in expected.items()) else None

    return wait_until(
        probe, timeout=timeout, what=f"{sum(expected.values())} deliveries to be measured", interval=0.5
    )


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; values must not be empty."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(found: dict[str, Iterable[float]]) -> list[dict[str, Any]]:
    """One row per pipe: count, median, p90, p99 and max in ms."""
    rows = []
    for pipe, values in sorted(found.items()):
        v = list(values)
        if v:
            rows.append(
                {
                    "pipe": pipe,
                    "n": len(v),
                    "median_ms": round(statistics.median(v), 1),
                    "p90_ms": round(percentile(v, 90), 1),
                    "p99_ms": round(percentile(v, 99), 1),
                    "max_ms": round(max(v), 1),
                }
            )
    return rows


def plot(found: dict[str, list[float]]) -> Any:
    """Histogram of latencies per pipe with the median and p99 marked; a matplotlib Figure."""
    import matplotlib.pyplot as plt

    pipes = [p for p in sorted(found) if found[p]]
    fig, axes = plt.subplots(1, len(pipes), figsize=(5 * len(pipes), 3.5), squeeze=False)
    for ax, pipe in zip(axes[0], pipes, strict=True):
        values = found[pipe]
        ax.hist(values, bins=min(30, max(5, len(values) // 3)), color="#5577aa")
        for q, style in ((50, "-"), (99, "--")):
            ax.axvline(percentile(values, q), color="darkred", linestyle=style, label=f"p{q}")
        ax.set_title(pipe.replace("weather-stats-demo-", ""), fontsize=9)
        ax.set_xlabel("write -> Momento response (ms)")
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel("executions")
    fig.tight_layout()
    return fig
