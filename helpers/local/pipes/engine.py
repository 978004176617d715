"""The engine: discovers pipes through the pipes API and runs each RUNNING one.

Contract:
- Every ``discovery_interval`` (default 0.25 s) the engine lists pipes (optionally only those whose
  name starts with ``name_prefix``). A pipe runs when its CurrentState *and* DesiredState are RUNNING
  (moto reports a pipe created with DesiredState STOPPED as RUNNING), its source is a DynamoDB stream,
  its target an EventBridge API destination and it has no enrichment; other pipes are shown as
  UNSUPPORTED and left alone.
- A changed ``LastModifiedTime`` triggers a ``DescribePipe``; if the pipe's configuration changed, its
  runner is stopped and a new one started from the same checkpoint. A stopped pipe's runner is stopped;
  a deleted pipe's runner is stopped and its checkpoints forgotten. All within about a second.
- Filters and the InputTemplate are compiled when a pipe is picked up. A malformed or unsupported
  pattern (or template) marks the pipe CREATE_FAILED (UPDATE_FAILED after an update) with the reason,
  logged at ERROR, until the pipe is updated. moto offers no call to set a pipe's CurrentState or
  StateReason, so states live in the engine status (:meth:`PipesEngine.status`, ``/health``).
- A pipe whose API destination, connection or secret cannot be read, or whose HttpParameters do not
  fit the destination's endpoint, is START_FAILED and retried every ``resolve_retry_interval``
  seconds (a deployer may create the pipe before its destination).
- Engine states per pipe: STARTING (positioning in the stream), RUNNING, STOPPED (or moto's transient
  state), CREATE_FAILED, UPDATE_FAILED, START_FAILED, UNSUPPORTED.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers.clients import aws_client
from helpers.local.pipes.checkpoints import CheckpointStore
from helpers.local.pipes.dlq import DeadLetterSender
from helpers.local.pipes.execution import PipeSpec, RecordExecutor
from helpers.local.pipes.logs import PipeLogWriter
from helpers.local.pipes.metrics import ExecutionMetrics
from helpers.local.pipes.params import ParameterError, validate_http_parameters
from helpers.local.pipes.patterns import PatternError, compile_filters
from helpers.local.pipes.retry import RetryPolicy
from helpers.local.pipes.source import SourceSettings, StreamSource
from helpers.local.pipes.target import (
    ApiDestination,
    HttpSender,
    RateLimiter,
    RefreshingDestination,
    TargetResolutionError,
    resolve_api_destination,
)
from helpers.local.pipes.templates import PipeContext, TemplateError, compile_template

log = logging.getLogger(__name__)

_SERVICES = ("pipes", "dynamodbstreams", "events", "secretsmanager", "logs", "sqs", "sns")
_VOLATILE_FIELDS = (
    "CurrentState",
    "DesiredState",
    "StateReason",
    "LastModifiedTime",
    "Tags",
    "ResponseMetadata",
)


@dataclass(frozen=True)
class EngineOptions:
    """How the engine reaches AWS (moto) and how fast it reacts. Times are seconds."""

    aws_endpoint: str
    region: str
    state_dir: Path
    name_prefix: str | None = None
    discovery_interval: float = 0.25
    poll_interval: float = 0.05
    http_timeout: float = 5.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    resolve_retry_interval: float = 2.0
    destination_refresh_interval: float = 1.0  # connection changes (a rotated key) apply this fast
    pipe_stop_timeout: float = 1.0
    engine_stop_timeout: float = 6.0


def is_supported(summary: dict[str, Any]) -> str | None:
    """None if the engine can run this pipe, else the reason it cannot."""
    source, target = summary.get("Source", ""), summary.get("Target", "")
    if not (source.startswith("arn:") and ":dynamodb:" in source and "/stream/" in source):
        return f"source {source} is not a DynamoDB stream"
    if not (target.startswith("arn:") and ":events:" in target and ":api-destination/" in target):
        return f"target {target} is not an EventBridge API destination"
    if summary.get("Enrichment"):
        return "enrichment is not supported by the local engine"
    return None


def fingerprint(description: dict[str, Any]) -> str:
    """A stable digest of a pipe's configuration (state, tags and timestamps excluded)."""
    config = {k: v for k, v in description.items() if k not in _VOLATILE_FIELDS}
    return json.dumps(config, sort_keys=True, default=str)


def build_spec(description: dict[str, Any], options: EngineOptions) -> PipeSpec:
    """The executable form of a described pipe; PatternError / TemplateError for a bad filter or template."""
    source_params = description.get("SourceParameters") or {}
    ddb = source_params.get("DynamoDBStreamParameters") or {}
    target_params = description.get("TargetParameters") or {}
    if target_params.get("InputTemplate"):
        compile_template(target_params["InputTemplate"])
    return PipeSpec(
        name=description["Name"],
        arn=description["Arn"],
        stream_arn=description["Source"],
        target_arn=description["Target"],
        filters=compile_filters((source_params.get("FilterCriteria") or {}).get("Filters")),
        input_template=target_params.get("InputTemplate"),
        http_parameters=target_params.get("HttpParameters"),
        dead_letter_arn=(ddb.get("DeadLetterConfig") or {}).get("Arn"),
        policy=RetryPolicy.from_source_parameters(
            ddb, backoff_base=options.backoff_base, backoff_cap=options.backoff_cap
        ),
        context=PipeContext(
            pipe_arn=description["Arn"],
            pipe_name=description["Name"],
            source_arn=description["Source"],
            target_arn=description["Target"],
            enrichment_arn=description.get("Enrichment"),
            ingestion_time=datetime.now(UTC),
        ),
    )


class PipeRunner:
    """Runs one pipe (one configuration of it) in a thread until :meth:`request_stop`."""

    def __init__(self, engine: PipesEngine, description: dict[str, Any], spec: PipeSpec) -> None:
        self._engine = engine
        self.description = description
        self.spec = spec
        self.stop_event = threading.Event()
        self.state = "STARTING"
        self.reason: str | None = None
        self.executor: RecordExecutor | None = None
        self._source: StreamSource | None = None
        self._sender = HttpSender(engine.options.http_timeout)
        self._logs = PipeLogWriter(
            engine.client("logs"), spec.arn, spec.name, description.get("LogConfiguration"), engine.run_id
        )
        self._thread = threading.Thread(target=self._run, name=f"pipe-{spec.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        self.stop_event.set()

    def join(self, timeout: float) -> bool:
        """Wait for the runner and its shard threads; True if they all ended in time."""
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        done = not self._thread.is_alive()
        if self._source is not None:
            done = self._source.join(max(0.0, deadline - time.monotonic())) and done
        if done:
            self._logs.flush()
            self._sender.close()
        return done

    @property
    def current_state(self) -> str:
        if self.state == "STARTING" and self._source is not None and self._source.ready.is_set():
            self.state = "RUNNING"
        return self.state

    def _run(self) -> None:
        try:
            self._serve()
        except Exception as exc:  # never let a runner die silently: say so in the status and the log
            log.exception("pipe %s: runner failed", self.spec.name)
            self.state, self.reason = "START_FAILED", f"engine error: {exc}; update or restart the pipe"

    def _serve(self) -> None:
        engine, stop = self._engine, self.stop_event

        def resolve() -> ApiDestination:
            return resolve_api_destination(
                engine.client("events"), engine.client("secretsmanager"), self.spec.target_arn
            )

        while True:
            try:
                destination = resolve()
                validate_http_parameters(
                    destination.endpoint, self.spec.http_parameters, destination.connection_parameters
                )
                break
            except (TargetResolutionError, ParameterError) as exc:
                if self.state != "START_FAILED":
                    log.error("pipe %s: %s", self.spec.name, exc)
                self.state, self.reason = "START_FAILED", str(exc)
                if stop.wait(engine.options.resolve_retry_interval):
                    return
        self.state, self.reason = "STARTING", None
        self.executor = RecordExecutor(
            self.spec,
            RefreshingDestination(resolve, destination, engine.options.destination_refresh_interval),
            sender=self._sender,
            limiter=engine.limiter(destination.arn, destination.rate_limit),
            logs=self._logs,
            dead_letters=engine.dead_letters,
            metrics=engine.metrics,
            stop=stop,
        )
        ddb = (self.description.get("SourceParameters") or {}).get("DynamoDBStreamParameters") or {}
        engine.checkpoints.bind(
            self.spec.arn, str(self.description.get("CreationTime")), self.spec.stream_arn
        )
        settings = SourceSettings(
            pipe_arn=self.spec.arn,
            stream_arn=self.spec.stream_arn,
            starting_position=ddb.get("StartingPosition", "LATEST"),
            batch_size=int(ddb.get("BatchSize") or 1),
            poll_interval=engine.options.poll_interval,
        )
        self._source = StreamSource(
            engine.client("dynamodbstreams"), settings, engine.checkpoints, self.executor.handle_batch, stop
        )
        log.info("pipe %s: running (%s -> %s)", self.spec.name, self.spec.stream_arn, destination.endpoint)
        self._source.run()


@dataclass
class _Entry:
    """What the engine knows about one listed pipe."""

    arn: str
    state: str
    reason: str | None = None
    version: tuple[str, str] | None = None
    fingerprint: str | None = None
    runner: PipeRunner | None = None
    failed_config: str | None = None


class PipesEngine:
    """Discovers and runs pipes. ``start()`` returns at once; ``stop()`` ends in-flight work cleanly."""

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self.run_id = uuid.uuid4().hex[:12]
        self.checkpoints = CheckpointStore(options.state_dir)
        self.metrics = ExecutionMetrics(options.state_dir)
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._limiters: dict[tuple[str, int], RateLimiter] = {}
        self._entries: dict[str, _Entry] = {}
        self._draining: list[PipeRunner] = []
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pipes-discovery", daemon=True)
        for service in _SERVICES:  # built up front: creating boto3 clients from many threads is not safe
            self.client(service)
        self.dead_letters = DeadLetterSender(self.client("sqs"), self.client("sns"))

    # -------------------------------------------------------------- shared resources
    def client(self, service: str) -> Any:
        """The engine's boto3 client for ``service`` (built once, through helpers.clients)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = aws_client(
                    service, endpoint_url=self.options.aws_endpoint, region_name=self.options.region
                )
            return self._clients[service]

    def limiter(self, destination_arn: str, rate: int) -> RateLimiter:
        """The rate limiter shared by every pipe that calls ``destination_arn``."""
        with self._lock:
            return self._limiters.setdefault((destination_arn, rate), RateLimiter(rate))

    # -------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start discovering and running pipes in background threads."""
        log.info(
            "pipes engine %s: watching %s (%s)", self.run_id, self.options.aws_endpoint, self.options.region
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop every pipe: in-flight requests may finish (up to ``timeout``); checkpoints stay consistent."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        with self._lock:
            runners = [e.runner for e in self._entries.values() if e.runner] + self._draining
        for runner in runners:
            runner.request_stop()
        deadline = time.monotonic() + (self.options.engine_stop_timeout if timeout is None else timeout)
        for runner in runners:
            if not runner.join(max(0.0, deadline - time.monotonic())):
                log.warning(
                    "pipe %s: still busy at shutdown; its in-flight batch will be redelivered",
                    runner.spec.name,
                )
        log.info("pipes engine %s: stopped", self.run_id)

    # -------------------------------------------------------------- status
    def status(self) -> dict[str, str]:
        """``{pipe name: engine state}`` for every listed pipe."""
        return {name: info["state"] for name, info in self.details().items()}

    def details(self) -> dict[str, dict[str, Any]]:
        """Per pipe: state, reason, ARN and counters (read, filtered, succeeded, failed, dead_lettered)."""
        with self._lock:
            out = {}
            for name, entry in self._entries.items():
                runner = entry.runner
                state = runner.current_state if runner else entry.state
                reason = runner.reason if runner else entry.reason
                counters = runner.executor.counters.as_dict() if runner and runner.executor else {}
                out[name] = {"state": state, "reason": reason, "arn": entry.arn, "counters": counters}
            return out

    def wait_for_state(self, name: str, states: str | tuple[str, ...], timeout: float = 10.0) -> str:
        """Block until pipe ``name`` is in one of ``states``; TimeoutError names the state it is in."""
        wanted = (states,) if isinstance(states, str) else states
        deadline = time.monotonic() + timeout
        while True:
            state = self.status().get(name)
            if state in wanted:
                return state
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"pipe {name} is {state or 'not listed'} after {timeout}s, not {wanted}: "
                    "check the engine log and `weatherlab local status`"
                )
            self._stop.wait(0.02)

    # -------------------------------------------------------------- discovery
    def _loop(self) -> None:
        warned = False
        while not self._stop.is_set():
            try:
                self.discover_once()
                warned = False
            except Exception as exc:  # moto down or restarting: keep the pipes as they are
                if not warned:
                    log.warning("pipes engine: cannot list pipes (%s); retrying", exc)
                    warned = True
            self._stop.wait(self.options.discovery_interval)

    def _list(self) -> list[dict[str, Any]]:
        pipes_api, kwargs, out = self.client("pipes"), {}, []
        if self.options.name_prefix:
            kwargs["NamePrefix"] = self.options.name_prefix
        while True:
            page = pipes_api.list_pipes(**kwargs)
            out.extend(page.get("Pipes", []))
            if not page.get("NextToken"):
                return out
            kwargs["NextToken"] = page["NextToken"]

    def discover_once(self) -> None:
        """List pipes once and make the runners match them."""
        summaries = self._list()
        with self._lock:
            listed = {s["Name"] for s in summaries}
            for summary in summaries:
                try:
                    self._reconcile(summary)
                except Exception as exc:  # one pipe's trouble (e.g. deleted meanwhile) must not stop the rest
                    log.warning("pipe %s: cannot reconcile (%s); retrying", summary.get("Name"), exc)
            for name in [n for n in self._entries if n not in listed]:
                entry = self._entries.pop(name)
                self._stop_runner(entry)
                self.checkpoints.forget(entry.arn)
                log.info("pipe %s: deleted", name)

    def _stop_runner(self, entry: _Entry) -> None:
        runner, entry.runner = entry.runner, None
        if runner is None:
            return
        runner.request_stop()
        if not runner.join(self.options.pipe_stop_timeout):
            self._draining.append(runner)  # an in-flight request is finishing; joined at engine stop
        self._draining = [r for r in self._draining if not r.join(0)]

    def _reconcile(self, summary: dict[str, Any]) -> None:
        name = summary["Name"]
        entry = self._entries.setdefault(name, _Entry(arn=summary["Arn"], state="STARTING"))
        unsupported = is_supported(summary)
        if unsupported:
            if entry.state != "UNSUPPORTED":
                log.info("pipe %s: not run by the local engine (%s)", name, unsupported)
            self._stop_runner(entry)
            entry.state, entry.reason, entry.version = "UNSUPPORTED", unsupported, None
            return
        if not (summary.get("CurrentState") == "RUNNING" and summary.get("DesiredState") == "RUNNING"):
            if entry.runner:
                log.info("pipe %s: stopping", name)
            self._stop_runner(entry)
            current = summary.get("CurrentState", "STOPPED")
            entry.state, entry.reason = ("STOPPED" if current == "RUNNING" else current), None
            entry.version = entry.fingerprint = entry.failed_config = None
            return
        version = (str(summary.get("CreationTime")), str(summary.get("LastModifiedTime")))
        if entry.version == version:
            return
        description = self.client("pipes").describe_pipe(Name=name)
        entry.version = version
        digest = fingerprint(description)
        if entry.runner is not None and entry.fingerprint == digest:
            return
        if entry.failed_config is not None and entry.failed_config == digest:
            return
        updating = entry.runner is not None or entry.fingerprint is not None
        self._stop_runner(entry)
        entry.fingerprint = digest
        try:
            spec = build_spec(description, self.options)
        except (PatternError, TemplateError) as exc:
            what = "FilterCriteria" if isinstance(exc, PatternError) else "InputTemplate"
            entry.state = "UPDATE_FAILED" if updating else "CREATE_FAILED"
            entry.reason, entry.failed_config = f"Invalid {what}: {exc}", digest
            log.error("pipe %s: %s: %s; fix it with UpdatePipe", name, entry.state, entry.reason)
            return
        entry.failed_config, entry.state, entry.reason = None, "STARTING", None
        entry.runner = PipeRunner(self, description, spec)
        entry.runner.start()
        log.info("pipe %s: %s", name, "updated, restarting" if updating else "picked up")
