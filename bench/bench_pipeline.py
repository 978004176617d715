"""End-to-end propagation latency of the local pipeline, per pipe: DynamoDB write -> Momento response.

Starts its own local cloud (in a temporary state folder), deploys the stack, then measures two
workloads in one run so their numbers compare: ``spaced`` (one write every 100 ms: the latency a
learner sees) and ``burst`` (writes as fast as DynamoDB takes them: queueing behind one shard).
Prints a table and writes ``bench/results/pipeline.json``.

    python bench/bench_pipeline.py [--writes 100]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from helpers import cache, measure, stack
from helpers.config import load_settings
from helpers.local import supervisor
from helpers.weather import put_row, random_row

RESULTS = Path(__file__).resolve().parent / "results" / "pipeline.json"


def run(writes: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="weatherlab-bench-") as state_dir:
        settings = load_settings(mode="local", state_dir=state_dir)
        started = time.perf_counter()
        supervisor.up(settings)
        up_seconds = time.perf_counter() - started
        try:
            started = time.perf_counter()
            stack.deploy(settings, progress=lambda *a: None)
            deploy_seconds = time.perf_counter() - started
            cache.ensure_cache(settings)
            pipes = {settings.names.cache_put_pipe: writes, settings.names.topic_publish_pipe: writes}
            results = {}
            for workload, pause in (("spaced", 0.1), ("burst", 0.0)):
                since = time.time()
                for i in range(writes):
                    put_row(random_row(f"{workload}-{i:04d}", ttl=300), settings)
                    time.sleep(pause)
                found = measure.wait_for_latencies(pipes, settings, since=since, timeout=300)
                results[workload] = measure.summarize(found)
        finally:
            supervisor.down(settings)
    return {
        "benchmark": "pipeline propagation latency (local mode)",
        "writes_per_workload": writes,
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "local_up_seconds": round(up_seconds, 2),
        "deploy_seconds": round(deploy_seconds, 2),
        "workloads": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=100, help="writes per workload (default 100)")
    report = run(parser.parse_args().writes)
    print(f"local up {report['local_up_seconds']} s, deploy {report['deploy_seconds']} s")
    for workload, rows in report["workloads"].items():
        print(f"\n{workload}:")
        print(f"  {'pipe':<40} {'n':>4} {'median':>8} {'p90':>8} {'p99':>8} {'max':>8}  (ms)")
        for r in rows:
            cells = " ".join(f"{r[k]:>8}" for k in ("median_ms", "p90_ms", "p99_ms", "max_ms"))
            print(f"  {r['pipe']:<40} {r['n']:>4} {cells}")
    spaced = {r["pipe"]: r["median_ms"] for r in report["workloads"]["spaced"]}
    burst = {r["pipe"]: r["median_ms"] for r in report["workloads"]["burst"]}
    report["burst_over_spaced_median"] = {p: round(burst[p] / spaced[p], 2) for p in spaced if spaced[p]}
    print("\nburst/spaced median ratio:", report["burst_over_spaced_median"])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
