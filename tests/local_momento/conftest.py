"""Fixtures for the local Momento server tests: one embedded server per session, on free ports."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from momento import CacheClient, Configurations, CredentialProvider

from helpers.local.momento import LocalMomentoServer

HOST = "127.0.0.1"
#: Small values so idle long polls, heartbeats and history overflow are quick to exercise.
LONG_POLL_TIMEOUT = 1.0
HEARTBEAT_INTERVAL = 0.5
TOPIC_HISTORY = 20


@pytest.fixture(scope="session")
def topic_history() -> int:
    """Messages the session server retains per topic."""
    return TOPIC_HISTORY


@pytest.fixture(scope="session")
def api_key() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def request_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the session server writes its JSON request log."""
    return tmp_path_factory.mktemp("momento") / "requests.log"


@pytest.fixture(scope="session")
def momento_server(api_key: str, request_log: Path) -> Iterator[LocalMomentoServer]:
    server = LocalMomentoServer(
        api_key,
        log_file=request_log,
        long_poll_timeout=LONG_POLL_TIMEOUT,
        heartbeat_interval=HEARTBEAT_INTERVAL,
        topic_history=TOPIC_HISTORY,
    )
    with server:
        yield server


@pytest.fixture(scope="session")
def make_provider(momento_server: LocalMomentoServer) -> Callable[[str], CredentialProvider]:
    """Build a credential provider for the local server with any key (port != 443 -> plaintext)."""

    def make(key: str) -> CredentialProvider:
        return CredentialProvider(key, HOST, HOST, HOST, momento_server.grpc_port)

    return make


@pytest.fixture(scope="session")
def provider(make_provider: Callable[[str], CredentialProvider], api_key: str) -> CredentialProvider:
    return make_provider(api_key)


@pytest.fixture(scope="session")
def cache_client(provider: CredentialProvider) -> Iterator[CacheClient]:
    with CacheClient.create(Configurations.Laptop.v1(), provider, timedelta(seconds=60)) as client:
        yield client


@pytest.fixture
def cache_name(cache_client: CacheClient) -> Iterator[str]:
    """A fresh cache for one test, deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    created = cache_client.create_cache(name)
    assert type(created).__name__ == "Success", created
    yield name
    cache_client.delete_cache(name)


@pytest.fixture(scope="session")
def http(momento_server: LocalMomentoServer, api_key: str) -> Iterator[httpx.Client]:
    """An HTTP client that authenticates with the Authorization header."""
    with httpx.Client(
        base_url=momento_server.http_endpoint, headers={"Authorization": api_key}, timeout=10
    ) as client:
        yield client


@pytest.fixture(scope="session")
def anonymous_http(momento_server: LocalMomentoServer) -> Iterator[httpx.Client]:
    """An HTTP client without credentials."""
    with httpx.Client(base_url=momento_server.http_endpoint, timeout=10) as client:
        yield client
