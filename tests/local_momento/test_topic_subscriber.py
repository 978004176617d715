"""helpers.topics.TopicSubscriber (real momento SDK subscription) against the local server.

Covered: stream renewal, resume after the endpoint drops and comes back on the same port, a server
shutdown and a deleted cache (server-side stream ends, which freeze the bare SDK iterator), two
subscribers, clean stop, refusals at start, and a bounded CPU sanity check instead of timing asserts.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import grpc
import pytest
from momento import CacheClient, Configurations, CredentialProvider, TopicClient, TopicConfigurations

from helpers.cache_ttl import MomentoCallError
from helpers.local.momento import LocalMomentoServer
from helpers.topics import TopicMessage, TopicSubscriber

CONFIG = TopicConfigurations.Default.v1()
HOST = "127.0.0.1"


def _publish(provider: CredentialProvider, cache: str, topic: str, *values: str | bytes) -> None:
    with TopicClient(CONFIG, provider) as client:
        for value in values:
            response = client.publish(cache, topic, value)
            assert type(response).__name__ == "Success", response


def _cpu_while_idle(seconds: float) -> float:
    """Process CPU seconds spent while the test thread sleeps (a spinning thread shows ~1 per second)."""
    before = time.process_time()
    time.sleep(seconds)
    return time.process_time() - before


def _eventually(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout:g} s"
        time.sleep(0.05)


class _Relay:
    """A TCP relay on 127.0.0.1 that can drop every connection and come back on the same port."""

    def __init__(self, target_port: int) -> None:
        self.port = 0
        self._target = target_port
        self._server: asyncio.base_events.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="relay", daemon=True)
        self._thread.start()

    def up(self) -> None:
        asyncio.run_coroutine_threadsafe(self._up(), self._loop).result(5)

    def down(self) -> None:
        asyncio.run_coroutine_threadsafe(self._down(), self._loop).result(5)

    def close(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _up(self) -> None:
        self._server = await asyncio.start_server(self._relay, HOST, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _down(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.transport.abort()  # like a killed server process: connections reset
            self._writers.clear()
            await self._server.wait_closed()
            self._server = None

    async def _relay(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        try:
            server_in, server_out = await asyncio.open_connection(HOST, self._target)
        except OSError:
            client_out.transport.abort()
            return
        self._writers += [client_out, server_out]
        await asyncio.gather(_pump(client_in, server_out), _pump(server_in, client_out))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


@pytest.fixture
def relay(momento_server: LocalMomentoServer) -> Iterator[_Relay]:
    relay = _Relay(momento_server.grpc_port)
    relay.up()
    yield relay
    relay.close()


def test_renews_streams_without_losing_or_repeating(
    provider: CredentialProvider, cache_name: str, momento_server: LocalMomentoServer
) -> None:
    seen: list[TopicMessage] = []
    subscriber = TopicSubscriber(provider, cache_name, "long", on_message=seen.append, stream_timeout=0.7)
    with subscriber, TopicClient(CONFIG, provider) as client:
        cpu_before = time.process_time()
        for i in range(8):  # spread over ~4 stream lifetimes
            client.publish(cache_name, "long", f"m{i}")
            time.sleep(0.4)
        received = subscriber.wait_for(8, timeout=10)
        cpu_used = time.process_time() - cpu_before
        assert subscriber.stream_restarts >= 3
        assert subscriber.running and subscriber.error is None
    assert [m.value for m in received] == [f"m{i}" for i in range(8)]
    assert [m.sequence_number for m in received] == list(range(1, 9))
    assert seen == received
    assert cpu_used < 1.6, f"{cpu_used:.2f} s of CPU in ~3.2 s: something spins"
    assert not subscriber.running
    _eventually(lambda: momento_server.subscriber_count(cache_name, "long") == 0, "the server released it")


def test_resumes_after_the_endpoint_drops_and_returns_on_the_same_port(
    provider: CredentialProvider, make_provider, api_key: str, cache_name: str, relay: _Relay
) -> None:
    via_relay = CredentialProvider(api_key, HOST, HOST, HOST, relay.port)
    with TopicSubscriber(via_relay, cache_name, "t") as subscriber:
        _publish(provider, cache_name, "t", "before")
        subscriber.wait_for(1, timeout=5)
        relay.down()  # the stream ends with an error status; reconnects are refused
        _publish(provider, cache_name, "t", "while-down-1", "while-down-2")
        assert _cpu_while_idle(1.5) < 0.75, "the subscriber spins while the endpoint is down"
        assert subscriber.running and subscriber.received == 1
        relay.up()
        received = subscriber.wait_for(3, timeout=15)
        _publish(provider, cache_name, "t", "after")
        received = subscriber.wait_for(4, timeout=5)
    assert [(m.sequence_number, m.value) for m in received] == [
        (1, "before"),
        (2, "while-down-1"),
        (3, "while-down-2"),
        (4, "after"),
    ]
    assert subscriber.stream_restarts >= 1
    assert subscriber.error is None


def test_a_server_shutdown_neither_freezes_nor_spins_it(api_key: str) -> None:
    server = LocalMomentoServer(api_key, heartbeat_interval=0.5).start()
    provider = CredentialProvider(api_key, HOST, HOST, HOST, server.grpc_port)
    with CacheClient.create(Configurations.Laptop.v1(), provider, timedelta(seconds=10)) as cache_client:
        cache_client.create_cache("shutdown-cache")
    subscriber = TopicSubscriber(provider, "shutdown-cache", "t").start()
    server.stop()  # the server ends the stream with status OK, then refuses connections
    _eventually(lambda: subscriber.stream_restarts >= 1, "the subscriber noticed the end of its stream")
    assert _cpu_while_idle(1.5) < 0.75, "the subscriber spins after the server ended its stream"
    assert subscriber.running and subscriber.error is None
    subscriber.stop(timeout=3)
    assert not subscriber.running


def test_two_subscribers_each_get_every_message(
    provider: CredentialProvider, cache_name: str, momento_server: LocalMomentoServer
) -> None:
    first = TopicSubscriber(provider, cache_name, "fan").start()
    second = TopicSubscriber(provider, cache_name, "fan").start()
    assert momento_server.subscriber_count(cache_name, "fan") == 2
    _publish(provider, cache_name, "fan", "a", b"b", "c")
    values = [[m.value for m in subscriber.wait_for(3, timeout=5)] for subscriber in (first, second)]
    first.stop()
    second.stop()
    assert values == [["a", b"b", "c"], ["a", b"b", "c"]]
    _eventually(lambda: momento_server.subscriber_count(cache_name, "fan") == 0, "both streams released")


def test_stops_cleanly_while_idle(
    provider: CredentialProvider, cache_name: str, momento_server: LocalMomentoServer
) -> None:
    subscriber = TopicSubscriber(provider, cache_name, "quiet").start()
    assert _cpu_while_idle(1.2) < 0.6, "an idle subscriber uses CPU"  # several heartbeats pass meanwhile
    subscriber.stop(timeout=3)
    assert not subscriber.running
    subscriber.stop()  # idempotent
    _eventually(lambda: momento_server.subscriber_count(cache_name, "quiet") == 0, "the server released it")


def test_starts_at_a_given_position_and_keeps_bytes(provider: CredentialProvider, cache_name: str) -> None:
    _publish(provider, cache_name, "t", "one", b"\x00two", "three")
    with TopicSubscriber(provider, cache_name, "t", resume_at_sequence_number=2) as subscriber:
        received = subscriber.wait_for(2, timeout=5)
    assert [(m.sequence_number, m.value) for m in received] == [(2, b"\x00two"), (3, "three")]
    assert received[0].text == "\x00two"


def test_a_failing_callback_does_not_end_it(provider: CredentialProvider, cache_name: str) -> None:
    def explode(message: TopicMessage) -> None:
        raise ValueError(f"bad row {message.sequence_number}")

    with TopicSubscriber(provider, cache_name, "t", on_message=explode) as subscriber:
        _publish(provider, cache_name, "t", "a", "b")
        assert len(subscriber.wait_for(2, timeout=5)) == 2
    assert [str(err) for err in subscriber.callback_errors] == ["bad row 1", "bad row 2"]


def test_wait_for_times_out_with_a_clear_message(provider: CredentialProvider, cache_name: str) -> None:
    subscriber = TopicSubscriber(provider, cache_name, "silent").start()
    with pytest.raises(TimeoutError, match="received 0 of 1 messages on topic 'silent'"):
        subscriber.wait_for(1, timeout=0.3)
    subscriber.stop()
    with pytest.raises(TimeoutError, match="the subscriber was stopped"):
        subscriber.wait_for(1, timeout=5)


def test_refusals_are_raised_at_start(provider: CredentialProvider, make_provider, cache_name: str) -> None:
    with pytest.raises(MomentoCallError, match="create the cache") as missing:
        TopicSubscriber(provider, "no-such-cache", "t").start()
    assert missing.value.code == grpc.StatusCode.NOT_FOUND
    wrong = TopicSubscriber(make_provider(secrets.token_urlsafe(8)), cache_name, "t")
    with pytest.raises(MomentoCallError, match="PERMISSION_DENIED") as refused:
        wrong.start()
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert not wrong.running


def test_unreachable_server_times_out_at_start() -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind((HOST, 0))
        port = probe.getsockname()[1]
    nowhere = CredentialProvider("k", HOST, HOST, HOST, port)
    subscriber = TopicSubscriber(nowhere, "c", "t")
    with pytest.raises(TimeoutError, match="is the server up"):
        subscriber.start(timeout=1.0)
    assert not subscriber.running


def test_deleted_cache_ends_the_subscriber_with_an_error(provider: CredentialProvider, cache_client) -> None:
    cache_client.create_cache("doomed-cache")
    subscriber = TopicSubscriber(provider, "doomed-cache", "t").start()
    cache_client.delete_cache("doomed-cache")  # the server ends the stream; resubscribing is refused
    with pytest.raises(MomentoCallError, match="NOT_FOUND"):
        subscriber.wait_for(1, timeout=5)
    subscriber.stop()
    assert not subscriber.running
