"""Topics through the unmodified momento SDK (sync and async) and the raw Subscribe stream."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import grpc
import pytest
from momento import CredentialProvider, TopicClient, TopicClientAsync, TopicConfigurations
from momento.errors import MomentoErrorCode
from momento.responses import TopicPublish, TopicSubscribe, TopicSubscriptionItem
from momento_wire_types import cachepubsub_pb2 as pubsub_pb
from momento_wire_types import cachepubsub_pb2_grpc as pubsub_grpc

from helpers.cache_ttl import sdk_channel, sdk_metadata
from helpers.local.momento import LocalMomentoServer

CONFIG = TopicConfigurations.Default.v1()


def _raw_stream(provider: CredentialProvider, cache: str, topic: str, *, seq: int = 0, page: int = 0, n: int):
    """The first ``n`` raw Subscribe messages (heartbeats included)."""
    with sdk_channel(provider) as channel:
        request = pubsub_pb._SubscriptionRequest(
            cache_name=cache, topic=topic, resume_at_topic_sequence_number=seq, sequence_page=page
        )
        call = pubsub_grpc.PubsubStub(channel).Subscribe(request, metadata=sdk_metadata(provider), timeout=5)
        messages = [next(call) for _ in range(n)]
        call.cancel()
        return messages


def _wait_for_no_subscribers(server: LocalMomentoServer, cache: str, topic: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while server.subscriber_count(cache, topic) != 0:
        assert time.monotonic() < deadline, "the server still counts a subscriber after unsubscribe"
        time.sleep(0.05)


def test_documented_sync_topic_example(provider: CredentialProvider, cache_name: str) -> None:
    with TopicClient(CONFIG, provider) as client:
        subscription = client.subscribe(cache_name, "my_topic")
        assert isinstance(subscription, TopicSubscribe.Subscription), subscription
        assert isinstance(client.publish(cache_name, "my_topic", "hello"), TopicPublish.Success)
        assert isinstance(client.publish(cache_name, "my_topic", b"\x00\xff"), TopicPublish.Success)
        first, second = next(subscription), next(subscription)  # never iterate past what was published
        subscription.unsubscribe()
    assert isinstance(first, TopicSubscriptionItem.Text) and first.value == "hello"
    assert isinstance(second, TopicSubscriptionItem.Binary) and second.value == b"\x00\xff"
    assert (first.sequence_number, second.sequence_number) == (1, 2)
    assert first.sequence_page == second.sequence_page != 0


def test_two_async_subscribers_receive_everything_in_order(
    provider: CredentialProvider, cache_name: str, momento_server: LocalMomentoServer
) -> None:
    async def scenario() -> list[list[tuple[int, str]]]:
        async with TopicClientAsync(CONFIG, provider) as client:
            subscriptions = [await client.subscribe(cache_name, "weather") for _ in range(2)]
            assert all(isinstance(s, TopicSubscribe.SubscriptionAsync) for s in subscriptions)
            assert momento_server.subscriber_count(cache_name, "weather") == 2
            for i in range(5):
                assert isinstance(await client.publish(cache_name, "weather", f"m{i}"), TopicPublish.Success)
            received = []
            for subscription in subscriptions:
                items = [await subscription.__anext__() for _ in range(5)]
                received.append([(item.sequence_number, item.value) for item in items])
                subscription.unsubscribe()
            return received

    first, second = asyncio.run(scenario())
    assert first == second == [(i + 1, f"m{i}") for i in range(5)]
    _wait_for_no_subscribers(momento_server, cache_name, "weather")


def test_resume_after_a_gap_replays_missed_messages(provider: CredentialProvider, cache_name: str) -> None:
    async def scenario() -> tuple[list[int], list[str]]:
        async with TopicClientAsync(CONFIG, provider) as client:
            subscription = await client.subscribe(cache_name, "t")
            await client.publish(cache_name, "t", "seen-1")
            last = await subscription.__anext__()
            subscription.unsubscribe()
            for text in ("missed-1", "missed-2"):  # published while nobody listens
                await client.publish(cache_name, "t", text)
            resumed = await client.subscribe(
                cache_name,
                "t",
                resume_at_topic_sequence_number=last.sequence_number + 1,
                resume_at_topic_sequence_page=last.sequence_page,
            )
            items = [await resumed.__anext__() for _ in range(2)]
            resumed.unsubscribe()
            return [item.sequence_number for item in items], [item.value for item in items]

    numbers, values = asyncio.run(scenario())
    assert numbers == [2, 3]
    assert values == ["missed-1", "missed-2"]


def test_discontinuity_when_the_position_is_gone(
    provider: CredentialProvider, cache_name: str, topic_history: int
) -> None:
    with TopicClient(CONFIG, provider) as client:
        for i in range(topic_history + 5):
            client.publish(cache_name, "busy", f"m{i}")
    heartbeat, gap, first = _raw_stream(provider, cache_name, "busy", seq=1, n=3)
    assert heartbeat.WhichOneof("kind") == "heartbeat"
    assert gap.WhichOneof("kind") == "discontinuity"
    assert (gap.discontinuity.last_topic_sequence, gap.discontinuity.new_topic_sequence) == (0, 6)
    assert first.item.topic_sequence_number == 6 and first.item.value.text == "m5"
    # a position on another sequence page (e.g. before a server restart) also starts over, with the new page
    other = first.item.sequence_page + 1
    _, other_page, _ = _raw_stream(provider, cache_name, "busy", seq=3, page=other, n=3)
    assert other_page.discontinuity.new_sequence_page == first.item.sequence_page
    # the SDK consumes discontinuities and carries on with the oldest retained message
    with TopicClient(CONFIG, provider) as client:
        subscription = client.subscribe(cache_name, "busy", resume_at_topic_sequence_number=1)
        item = next(subscription)
        subscription.unsubscribe()
    assert (item.sequence_number, item.value) == (6, "m5")


def test_heartbeats_while_idle(provider: CredentialProvider, cache_name: str) -> None:
    messages = _raw_stream(provider, cache_name, "quiet", n=3)
    assert [m.WhichOneof("kind") for m in messages] == ["heartbeat"] * 3


def test_unsubscribe_ends_the_async_reader_and_frees_the_server(
    provider: CredentialProvider, cache_name: str, momento_server: LocalMomentoServer
) -> None:
    async def scenario() -> asyncio.Task:
        config = CONFIG.with_client_timeout(timedelta(hours=1))
        async with TopicClientAsync(config, provider) as client:
            subscription = await client.subscribe(cache_name, "t")
            assert momento_server.subscriber_count(cache_name, "t") == 1
            reader = asyncio.create_task(subscription.__anext__())
            await asyncio.sleep(0.2)
            subscription.unsubscribe()
            done, _ = await asyncio.wait({reader}, timeout=5)
            assert reader in done, "the async reader kept waiting after unsubscribe()"
            return reader

    reader = asyncio.run(scenario())
    # momento 1.29.1 ends the pending read with asyncio.CancelledError (or a CANCELLED error item)
    if not reader.cancelled():
        ended = reader.result()
        assert isinstance(ended, TopicSubscriptionItem.Error)
        assert ended.error_code == MomentoErrorCode.CANCELLED_ERROR
    _wait_for_no_subscribers(momento_server, cache_name, "t")


def test_topic_errors(provider: CredentialProvider, make_provider, cache_name: str) -> None:
    with TopicClient(CONFIG, provider) as client:
        missing = client.subscribe("no-such-cache", "t")
        assert isinstance(missing, TopicSubscribe.Error)
        assert missing.error_code == MomentoErrorCode.NOT_FOUND_ERROR
        published = client.publish("no-such-cache", "t", "x")
        assert isinstance(published, TopicPublish.Error)
        assert published.error_code == MomentoErrorCode.NOT_FOUND_ERROR
        assert isinstance(client.publish(cache_name, "t", "x" * 4096), TopicPublish.Success)
        too_big = client.publish(cache_name, "t", b"x" * 4097)
        assert isinstance(too_big, TopicPublish.Error)
        assert too_big.error_code == MomentoErrorCode.LIMIT_EXCEEDED_ERROR
    with TopicClient(CONFIG, make_provider("wrong-key")) as client:
        refused = client.subscribe(cache_name, "t")
        assert isinstance(refused, TopicSubscribe.Error)
        assert refused.error_code == MomentoErrorCode.PERMISSION_ERROR
        assert client.publish(cache_name, "t", "x").error_code == MomentoErrorCode.PERMISSION_ERROR  # type: ignore[union-attr]


def test_deleting_the_cache_ends_subscriptions(provider: CredentialProvider, cache_client) -> None:
    name, topic = "short-lived-cache", "deleted"
    cache_client.create_cache(name)
    with sdk_channel(provider) as channel:
        request = pubsub_pb._SubscriptionRequest(cache_name=name, topic=topic)
        call = pubsub_grpc.PubsubStub(channel).Subscribe(request, metadata=sdk_metadata(provider), timeout=5)
        assert next(call).WhichOneof("kind") == "heartbeat"
        cache_client.delete_cache(name)
        with pytest.raises(grpc.RpcError) as ended:
            for _ in call:
                pass
    assert ended.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
