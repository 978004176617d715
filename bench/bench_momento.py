"""Benchmark of the local Momento server, driven by the real momento SDK and httpx.

Starts ``python -m helpers.local.momento`` on free ports, then measures:

* SDK (sync CacheClient) set/get latency, sequential: median and p99;
* SDK (CacheClientAsync) get throughput with concurrent requests: requests per second;
* publish-to-receive latency (TopicClientAsync publisher and subscriber): median and p99;
* HTTP API PUT/GET latency with httpx (keep-alive): median and p99.

Prints a table and writes ``bench/results/momento.json``. Run: ``.venv/bin/python bench/bench_momento.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from momento import (
    CacheClient,
    CacheClientAsync,
    Configurations,
    CredentialProvider,
    TopicClientAsync,
    TopicConfigurations,
)
from momento.responses import CacheGet, CacheSet

RESULTS = Path(__file__).resolve().parent / "results" / "momento.json"
N_SEQUENTIAL = 1000
N_CONCURRENT = 4000
CONCURRENCY = 32
N_TOPIC = 300
N_HTTP = 500
CACHE = "bench"


def _summary(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    return {
        "median_ms": round(statistics.median(ms), 3),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 3),
        "n": len(ms),
    }


def _timed(op: Callable[[], Any], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        op()
        samples.append(time.perf_counter() - started)
    return samples


def _bench_sdk_sync(provider: CredentialProvider) -> dict[str, Any]:
    value = b"x" * 256
    with CacheClient.create(Configurations.Laptop.v1(), provider, timedelta(minutes=5)) as client:
        client.create_cache(CACHE)
        for i in range(50):  # warm up the channel
            client.set(CACHE, f"warm{i}", value)

        def set_one() -> None:
            assert isinstance(client.set(CACHE, "k", value), CacheSet.Success)

        def get_one() -> None:
            assert isinstance(client.get(CACHE, "k"), CacheGet.Hit)

        sets, gets = _timed(set_one, N_SEQUENTIAL), _timed(get_one, N_SEQUENTIAL)
    return {
        "set": _summary(sets),
        "get": _summary(gets),
        "sequential_ops_per_s": round(2 * N_SEQUENTIAL / (sum(sets) + sum(gets)), 1),
    }


async def _bench_sdk_concurrent(provider: CredentialProvider) -> dict[str, Any]:
    async with await CacheClientAsync.create(
        Configurations.Laptop.v1(), provider, timedelta(minutes=5)
    ) as client:
        await client.set(CACHE, "k", b"x" * 256)
        queue = iter(range(N_CONCURRENT))

        async def worker() -> None:
            for _ in queue:
                assert isinstance(await client.get(CACHE, "k"), CacheGet.Hit)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return {
        "get_requests_per_s": round(N_CONCURRENT / elapsed, 1),
        "concurrency": CONCURRENCY,
        "n": N_CONCURRENT,
    }


async def _bench_topics(provider: CredentialProvider) -> dict[str, Any]:
    config = TopicConfigurations.Default.latest().with_client_timeout(timedelta(hours=1))
    async with TopicClientAsync(config, provider) as client:
        subscription = await client.subscribe(CACHE, "bench")
        samples = []
        started_all = time.perf_counter()
        for i in range(N_TOPIC):
            started = time.perf_counter()
            await client.publish(CACHE, "bench", f"message {i}")
            item = await subscription.__anext__()
            samples.append(time.perf_counter() - started)
            assert item.value == f"message {i}"  # type: ignore[union-attr]
        elapsed = time.perf_counter() - started_all
        subscription.unsubscribe()
    return {"publish_to_receive": _summary(samples), "round_trips_per_s": round(N_TOPIC / elapsed, 1)}


def _bench_http(base_url: str, key: str) -> dict[str, Any]:
    with httpx.Client(base_url=base_url, headers={"Authorization": key}) as http:
        url = f"/cache/{CACHE}"

        def put() -> None:
            assert (
                http.put(url, params={"key": "h", "ttl_seconds": 300}, content=b"x" * 256).status_code == 204
            )

        def get() -> None:
            assert http.get(url, params={"key": "h"}).status_code == 200

        _timed(put, 20)
        puts, gets = _timed(put, N_HTTP), _timed(get, N_HTTP)
    return {"put": _summary(puts), "get": _summary(gets)}


def main() -> int:
    key = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "key"
        key_file.write_text(key)
        command = [sys.executable, "-m", "helpers.local.momento", "--grpc-port", "0", "--http-port", "0"]
        server = subprocess.Popen(
            [*command, "--api-key-file", str(key_file)], stdout=subprocess.PIPE, text=True
        )
        try:
            ports = json.loads(server.stdout.readline())  # type: ignore[union-attr]
            provider = CredentialProvider(key, "127.0.0.1", "127.0.0.1", "127.0.0.1", ports["grpc_port"])
            results: dict[str, Any] = {
                "sdk_sync": _bench_sdk_sync(provider),
                "sdk_async": asyncio.run(_bench_sdk_concurrent(provider)),
                "topics": asyncio.run(_bench_topics(provider)),
                "http": _bench_http(f"http://127.0.0.1:{ports['http_port']}", key),
            }
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(15)
    results["environment"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "note": "client and server on the same machine; server in its own process",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    sdk, topics, http = results["sdk_sync"], results["topics"], results["http"]
    print(f"SDK set            median {sdk['set']['median_ms']:.3f} ms   p99 {sdk['set']['p99_ms']:.3f} ms")
    print(f"SDK get            median {sdk['get']['median_ms']:.3f} ms   p99 {sdk['get']['p99_ms']:.3f} ms")
    print(f"SDK sequential     {sdk['sequential_ops_per_s']:.0f} req/s")
    rate = results["sdk_async"]["get_requests_per_s"]
    print(f"SDK async get      {rate:.0f} req/s (concurrency {CONCURRENCY})")
    pub = topics["publish_to_receive"]
    print(f"publish->receive   median {pub['median_ms']:.3f} ms   p99 {pub['p99_ms']:.3f} ms")
    print(f"HTTP PUT           median {http['put']['median_ms']:.3f} ms   p99 {http['put']['p99_ms']:.3f} ms")
    print(f"HTTP GET           median {http['get']['median_ms']:.3f} ms   p99 {http['get']['p99_ms']:.3f} ms")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
