"""Process entry of the local pipes engine.

    python -m helpers.local.pipes --aws-endpoint URL --region R --state-dir DIR --status-port 0 \
        [--log-file FILE] [--discovery-interval S] [--poll-interval S] [--http-timeout S] \
        [--backoff-base S] [--name-prefix P] [--log-level INFO]

The first line on stdout is JSON ``{"status_port": N, "pid": PID}`` (flushed at once) so a supervisor
can find the status server; nothing else is written to stdout. SIGTERM or SIGINT stops the engine
cleanly: in-flight requests may finish, positions already reached stay checkpointed, and the exit
status is 0.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from helpers.local.pipes.engine import EngineOptions, PipesEngine
from helpers.local.pipes.status import serve_status


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(
        prog="python -m helpers.local.pipes", description="Local EventBridge Pipes engine"
    )
    p.add_argument("--aws-endpoint", required=True, help="URL of the moto server, e.g. http://127.0.0.1:5000")
    p.add_argument("--region", default="us-east-1")
    p.add_argument(
        "--state-dir", required=True, type=Path, help="where checkpoints and executions.jsonl live"
    )
    p.add_argument(
        "--status-port", type=int, default=0, help="status server port on 127.0.0.1 (0 = any free)"
    )
    p.add_argument("--log-file", type=Path, help="engine log file (default: stderr)")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--discovery-interval", type=float, default=0.25, help="seconds between ListPipes calls")
    p.add_argument("--poll-interval", type=float, default=0.05, help="seconds between idle GetRecords calls")
    p.add_argument("--http-timeout", type=float, default=5.0, help="target request timeout (AWS: 5)")
    p.add_argument("--backoff-base", type=float, default=1.0, help="first retry delay in seconds")
    p.add_argument("--name-prefix", help="run only pipes whose name starts with this")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the engine until SIGTERM/SIGINT; returns the exit status."""
    args = parse_args(argv)
    handler: logging.Handler = (
        logging.FileHandler(args.log_file, encoding="utf-8")
        if args.log_file
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(args.log_level.upper())
    for noisy in ("botocore", "boto3", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    options = EngineOptions(
        aws_endpoint=args.aws_endpoint,
        region=args.region,
        state_dir=args.state_dir,
        name_prefix=args.name_prefix,
        discovery_interval=args.discovery_interval,
        poll_interval=args.poll_interval,
        http_timeout=args.http_timeout,
        backoff_base=args.backoff_base,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    engine = PipesEngine(options)
    server = serve_status(engine, args.status_port)
    engine.start()
    sys.stdout.write(json.dumps({"status_port": server.server_address[1], "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    while not stop.wait(1.0):
        pass
    engine.stop()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
