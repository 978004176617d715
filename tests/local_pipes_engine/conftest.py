"""Fixtures for the pipes engine tests: a real moto server process, a capturing HTTP target, and a
builder that creates table+stream, DLQ, log group, connection, API destinations and pipes with boto3.

Every test uses its own name prefix, and every engine only runs pipes with that prefix, so tests
sharing the session's moto server never see each other's pipes.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from helpers.clients import aws_client
from helpers.local.pipes.engine import EngineOptions, PipesEngine

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/pipe-role"
API_KEY = "test-key-0123456789"


def free_port() -> int:
    """A port the OS just handed out on 127.0.0.1 (bound to 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """URL of a moto server subprocess on a free port (killed at the end of the session)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"moto server exited with {proc.returncode}")
        try:
            return httpx.get(url + "/moto-api/", timeout=1.0).status_code < 500
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 30.0, "the moto server to answer", interval=0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class Captured:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: str
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class CaptureServer:
    """Records every request; answers with the planned (status, delay, headers) in order, then 200."""

    url: str = ""
    requests: list[Captured] = field(default_factory=list)
    plan: list[tuple[int, float, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def respond(self, *responses: int | tuple[int, float] | tuple[int, float, dict[str, str]]) -> None:
        """Queue responses: a status, (status, delay_s) or (status, delay_s, headers)."""
        with self.lock:
            for item in responses:
                status, delay, headers = (item, 0.0, {}) if isinstance(item, int) else (*item, {})[:3]
                self.plan.append((status, delay, headers))

    def take(self) -> tuple[int, float, dict[str, str]]:
        with self.lock:
            return self.plan.pop(0) if self.plan else (200, 0.0, {})

    def matching(self, prefix: str = "") -> list[Captured]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def wait_for(self, count: int, prefix: str = "", timeout: float = 10.0) -> list[Captured]:
        """Wait until at least ``count`` requests under ``prefix`` arrived; return them all."""
        wait_until(lambda: len(self.matching(prefix)) >= count, timeout, f"{count} request(s) to {prefix!r}")
        return self.matching(prefix)


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    """A capturing HTTP server on 127.0.0.1:<free port>."""
    state = CaptureServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8") if length else ""
            url = urlsplit(self.path)
            with state.lock:
                state.requests.append(
                    Captured(
                        self.command, url.path, parse_qs(url.query), dict(self.headers), body, time.time()
                    )
                )
            status, delay, headers = state.take()
            if delay:
                time.sleep(delay)
            payload = json.dumps({"status": status}).encode()
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the engine gave up (timeout) and closed the socket
                pass
            self.close_connection = True

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


class Stack:
    """Creates, with plain boto3 calls, what a pipe needs; names share one unique prefix."""

    def __init__(self, moto_url: str, target_url: str) -> None:
        self.moto_url = moto_url
        self.target_url = target_url
        self.prefix = f"t{uuid.uuid4().hex[:8]}-"
        self._clients: dict[str, Any] = {}
        self.table = self.prefix + "table"
        created = self.client("dynamodb").create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "Location", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "Location", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        self.stream_arn = created["TableDescription"]["LatestStreamArn"]
        sqs = self.client("sqs")
        self.dlq_url = sqs.create_queue(QueueName=self.prefix + "dlq")["QueueUrl"]
        self.dlq_arn = sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.log_group = self.prefix + "logs"
        self.client("logs").create_log_group(logGroupName=self.log_group)
        self.log_group_arn = f"arn:aws:logs:{REGION}:123456789012:log-group:{self.log_group}:*"
        self.connection_arn = self.client("events").create_connection(
            Name=self.prefix + "conn",
            AuthorizationType="API_KEY",
            AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "Authorization", "ApiKeyValue": API_KEY}},
        )["ConnectionArn"]

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = aws_client(service, endpoint_url=self.moto_url, region_name=REGION)
        return self._clients[service]

    def destination(self, name: str, path: str, method: str = "PUT", rate: int = 300) -> str:
        """An API destination to ``<capture url><path>`` (``*`` wildcards allowed)."""
        return self.client("events").create_api_destination(
            Name=self.prefix + name,
            ConnectionArn=self.connection_arn,
            InvocationEndpoint=self.target_url + path,
            HttpMethod=method,
            InvocationRateLimitPerSecond=rate,
        )["ApiDestinationArn"]

    def pipe(
        self,
        name: str,
        destination_arn: str,
        *,
        filters: list[dict[str, Any]] | None = None,
        template: str | None = None,
        http: dict[str, Any] | None = None,
        retries: int = 0,
        dlq: bool = True,
        starting_position: str = "LATEST",
        log_level: str | None = None,
    ) -> str:
        """Create a pipe named ``<prefix><name>``; returns its full name."""
        ddb: dict[str, Any] = {
            "StartingPosition": starting_position,
            "BatchSize": 1,
            "MaximumRetryAttempts": retries,
        }
        if dlq:
            ddb["DeadLetterConfig"] = {"Arn": self.dlq_arn}
        source: dict[str, Any] = {"DynamoDBStreamParameters": ddb}
        if filters is not None:
            source["FilterCriteria"] = {"Filters": filters}
        target: dict[str, Any] = {}
        if template is not None:
            target["InputTemplate"] = template
        if http is not None:
            target["HttpParameters"] = http
        kwargs: dict[str, Any] = {}
        if log_level:
            kwargs["LogConfiguration"] = {
                "CloudwatchLogsLogDestination": {"LogGroupArn": self.log_group_arn},
                "Level": log_level,
                "IncludeExecutionData": ["ALL"],
            }
        full = self.prefix + name
        self.client("pipes").create_pipe(
            Name=full,
            Source=self.stream_arn,
            Target=destination_arn,
            RoleArn=ROLE_ARN,
            SourceParameters=source,
            TargetParameters=target,
            DesiredState="RUNNING",
            **kwargs,
        )
        return full

    def put(self, location: str, max_temp: int = 25, ttl: int | None = 120) -> None:
        item = {"Location": {"S": location}, "MaxTemp": {"N": str(max_temp)}, "MinTemp": {"N": "10"}}
        if ttl is not None:
            item["TTL"] = {"N": str(ttl)}
        self.client("dynamodb").put_item(TableName=self.table, Item=item)

    def delete(self, location: str) -> None:
        self.client("dynamodb").delete_item(TableName=self.table, Key={"Location": {"S": location}})

    def dlq_messages(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Receive until ``count`` DLQ messages arrived (they are deleted from the queue)."""
        got: list[dict[str, Any]] = []

        def poll() -> bool:
            resp = self.client("sqs").receive_message(
                QueueUrl=self.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            )
            for msg in resp.get("Messages", []):
                got.append(json.loads(msg["Body"]))
                self.client("sqs").delete_message(QueueUrl=self.dlq_url, ReceiptHandle=msg["ReceiptHandle"])
            return len(got) >= count

        wait_until(poll, timeout, f"{count} DLQ message(s)", interval=0.1)
        return got

    def log_records(self) -> list[dict[str, Any]]:
        """Every pipe log record in the log group, in timestamp order."""
        events = self.client("logs").filter_log_events(logGroupName=self.log_group).get("events", [])
        return [
            json.loads(e["message"]) for e in sorted(events, key=lambda e: (e["timestamp"], e["eventId"]))
        ]


@pytest.fixture
def stack(moto_url: str, capture: CaptureServer) -> Stack:
    """A fresh stack (own prefix) in the session's moto server, targeting ``capture``."""
    return Stack(moto_url, capture.url)


@pytest.fixture
def start_engine(moto_url: str, tmp_path: Path) -> Iterator[Callable[..., PipesEngine]]:
    """``start_engine(prefix, **options)`` -> a started in-process engine (stopped at teardown)."""
    engines: list[PipesEngine] = []

    def start(prefix: str, state_dir: Path | None = None, **overrides: Any) -> PipesEngine:
        options = {
            "aws_endpoint": moto_url,
            "region": REGION,
            "state_dir": state_dir or tmp_path / "engine-state",
            "name_prefix": prefix,
            "discovery_interval": 0.1,
            "poll_interval": 0.05,
            "backoff_base": 0.02,
            "backoff_cap": 0.2,
            "resolve_retry_interval": 0.3,
            **overrides,
        }
        engine = PipesEngine(EngineOptions(**options))
        engine.start()
        engines.append(engine)
        return engine

    yield start
    for engine in engines:
        engine.stop(timeout=5.0)
