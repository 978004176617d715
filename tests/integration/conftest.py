"""Fixtures for the integration tests of the notebook-facing helpers.

One real local cloud per session (moto server, local Momento server, local pipes engine, started by
``supervisor.up`` in a temporary state dir) with the real stack deployed and the cache created. Tests
share it and keep out of each other's way by writing distinct ``Location`` names (:func:`location`).
Settings ignore the developer's environment and ``.env``, so a local cloud the user runs is never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import cache, faults, observe, stack
from helpers.config import Settings, load_settings
from helpers.local import supervisor
from helpers.progress import wait_until


def isolated_settings(state_dir: Path, **changes: Any) -> Settings:
    """Local-mode settings with their own state dir, independent of the environment and ``.env``."""
    return load_settings(env={}, dotenv_path="/nonexistent", mode="local", state_dir=state_dir, **changes)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a running local cloud with the weather stack deployed and the cache created."""
    settings = isolated_settings(tmp_path_factory.mktemp("lab") / "state")
    try:
        supervisor.up(settings)
        stack.deploy(settings, progress=lambda *a: None)
        cache.ensure_cache(settings)
        yield settings
    finally:
        supervisor.down(settings)


@pytest.fixture
def location(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """``location(label)`` -> a Location name no other test (or run) writes."""
    test = request.node.name.removeprefix("test_")[:40]
    return lambda label="row": f"it-{test}-{label}-{uuid.uuid4().hex[:6]}"


def locations_of(message: observe.DlqMessage, settings: Settings) -> set[str]:
    """The Locations of the stream records a DLQ message points to."""
    return {r["dynamodb"]["Keys"]["Location"]["S"] for r in observe.stream_records_of(message, settings)}


def pipe_of(message: observe.DlqMessage) -> str:
    """The name of the pipe that dead-lettered ``message``."""
    return message.body["context"]["partnerResourceArn"].rsplit("/", 1)[-1]


class DeadLetters:
    """The DLQ messages about one Location (the queue is shared by every test of the session)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def now(self, where: str) -> list[observe.DlqMessage]:
        """The messages visible now whose stream records are about ``where``."""
        return [m for m in observe.read_dlq(self.settings) if where in locations_of(m, self.settings)]

    def wait(self, where: str, pipes: set[str], timeout: float = 30.0) -> list[observe.DlqMessage]:
        """The messages about ``where`` once every pipe in ``pipes`` dead-lettered it (TimeoutError after
        ``timeout`` seconds naming what is missing)."""

        def probe() -> list[observe.DlqMessage] | None:
            mine = self.now(where)
            return mine if pipes <= {pipe_of(m) for m in mine} else None

        return wait_until(
            probe, timeout=timeout, what=f"DLQ messages of {sorted(pipes)} for {where!r}", show=False
        )


@pytest.fixture
def dead_letters(lab: Settings) -> DeadLetters:
    """A :class:`DeadLetters` reader on the lab's DLQ."""
    return DeadLetters(lab)


@pytest.fixture
def clean_dlq(lab: Settings) -> Iterator[Settings]:
    """The lab with an empty DLQ before and after the test."""
    observe.purge_dlq(lab)
    yield lab
    observe.purge_dlq(lab)


class ApiKeyGuard:
    """Breaks and repairs the connection's API key through :mod:`helpers.faults`, remembering the state."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.broken = False

    def break_key(self) -> str:
        self.broken = True
        return faults.use_wrong_api_key(self.settings)

    def restore(self) -> str:
        state = faults.restore_api_key(self.settings)
        self.broken = False
        return state


@pytest.fixture
def api_key(clean_dlq: Settings) -> Iterator[ApiKeyGuard]:
    """An :class:`ApiKeyGuard` on the lab (empty DLQ); the real key is put back if the test left it broken."""
    guard = ApiKeyGuard(clean_dlq)
    try:
        yield guard
    finally:
        if guard.broken:
            guard.restore()


@pytest.fixture
def execution_ids_of(lab: Settings) -> Callable[[str, float], dict[str, set[str]]]:
    """``execution_ids_of(location, since)`` -> pipe name -> ids of executions whose input held it."""

    def find(where: str, since: float) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for record in observe.pipe_log_records(lab, since=since):
            if record.get("messageType") == "ExecutionStarted" and f'"S": "{where}"' in record.get(
                "payload", ""
            ):
                pipe = record["resourceArn"].rsplit("/", 1)[-1]
                found.setdefault(pipe, set()).add(record["executionId"])
        return found

    return find
