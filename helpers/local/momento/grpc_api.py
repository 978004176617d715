"""gRPC face of the local Momento server (what the unmodified ``momento`` SDK talks to).

grpc.aio servicers from ``momento-wire-types``: control (caches), cache data (get/set/delete, TTL
lookup, a few extras) and pub/sub (publish, subscribe as a server stream). Behaviour lives in
:mod:`.store`; this module only maps requests, metadata and :class:`~.store.StoreError` subclasses to
wire messages and status codes, following the measured SDK behaviour:

* ``authorization`` metadata carries the raw key on every call; data calls name the cache in the
  ``cache`` metadata, control and pub/sub calls in the request body;
* never answer with INTERNAL or UNAVAILABLE (the SDK retries those on get/set/delete);
* a subscription registers its cursor, then sends a heartbeat as its very first message; errors are
  sent before that heartbeat so the SDK reports them as ``TopicSubscribe.Error``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from momento_wire_types import cacheclient_pb2 as cache_pb
from momento_wire_types import cacheclient_pb2_grpc as cache_grpc
from momento_wire_types import cachepubsub_pb2 as pubsub_pb
from momento_wire_types import cachepubsub_pb2_grpc as pubsub_grpc
from momento_wire_types import common_pb2 as common_pb
from momento_wire_types import controlclient_pb2 as control_pb
from momento_wire_types import controlclient_pb2_grpc as control_grpc

from .store import (
    MAX_ITEM_BYTES,
    MAX_TOPIC_MESSAGE_BYTES,
    MAX_TTL_SECONDS,
    CacheAlreadyExists,
    CacheNotFound,
    Discontinuity,
    InvalidArgument,
    LimitExceeded,
    MomentoStore,
    PermissionDenied,
    StoreError,
    TopicEvent,
    Unauthenticated,
)

RequestLog = Callable[[dict[str, Any]], None]

#: Room above the 5 MiB item limit so oversized items get a clear error instead of a transport one;
#: keepalive settings that accept the SDK's 5 s pings on idle connections.
SERVER_OPTIONS: list[tuple[str, int]] = [
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 1000),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 1000),
    ("grpc.http2.max_ping_strikes", 0),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.so_reuseport", 0),
]

_STATUS: list[tuple[type[StoreError], grpc.StatusCode]] = [
    (CacheNotFound, grpc.StatusCode.NOT_FOUND),
    (CacheAlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (LimitExceeded, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
]


def status_for(err: StoreError) -> tuple[grpc.StatusCode, tuple[tuple[str, str], ...]]:
    """The gRPC status (and ``err`` trailer for limits, which the SDK reads) for a store error."""
    trailers = (("err", err.reason),) if isinstance(err, LimitExceeded) else ()
    for kind, code in _STATUS:
        if isinstance(err, kind):
            return code, trailers
    return grpc.StatusCode.UNKNOWN, trailers


class _Servicer:
    """Shared plumbing: auth, error mapping and one log line per call."""

    def __init__(self, store: MomentoStore, log: RequestLog) -> None:
        self._store = store
        self._log = log

    async def _run(
        self,
        op: str,
        context: grpc.aio.ServicerContext,
        handler: Callable[[dict[str, str]], Any],
        cache: str = "",
    ) -> Any:
        started = time.perf_counter()
        metadata = _metadata(context)
        status = grpc.StatusCode.OK
        try:
            self._store.check_auth(metadata.get("authorization"))
            return handler(metadata)
        except StoreError as err:
            status, trailers = status_for(err)
            await context.abort(status, err.message, trailing_metadata=trailers)
        except Exception:
            status = grpc.StatusCode.UNKNOWN
            raise
        finally:
            self._log_call(op, metadata.get("cache", cache), status, started)

    def _log_call(self, op: str, cache: str, status: grpc.StatusCode, started: float) -> None:
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        self._log(
            {"proto": "grpc", "op": op, "cache": cache, "status": status.name, "duration_ms": duration_ms}
        )


class ControlServicer(_Servicer, control_grpc.ScsControlServicer):
    """``/control_client.ScsControl``: create, delete, list and flush caches."""

    async def CreateCache(self, request, context):  # noqa: N802 - gRPC method name
        def handle(_: dict[str, str]) -> control_pb._CreateCacheResponse:
            self._store.create_cache(request.cache_name)
            return control_pb._CreateCacheResponse()

        return await self._run("CreateCache", context, handle, request.cache_name)

    async def DeleteCache(self, request, context):  # noqa: N802
        def handle(_: dict[str, str]) -> control_pb._DeleteCacheResponse:
            self._store.delete_cache(request.cache_name)
            return control_pb._DeleteCacheResponse()

        return await self._run("DeleteCache", context, handle, request.cache_name)

    async def ListCaches(self, request, context):  # noqa: N802
        def handle(_: dict[str, str]) -> control_pb._ListCachesResponse:
            cache_limits = control_pb._CacheLimits(
                max_item_size_kb=MAX_ITEM_BYTES // 1024, max_ttl_seconds=MAX_TTL_SECONDS
            )
            topic_limits = control_pb._TopicLimits(
                max_publish_message_size_kb=MAX_TOPIC_MESSAGE_BYTES // 1024
            )
            caches = [
                control_pb._Cache(cache_name=name, cache_limits=cache_limits, topic_limits=topic_limits)
                for name in self._store.list_caches()
            ]
            return control_pb._ListCachesResponse(cache=caches)

        return await self._run("ListCaches", context, handle)

    async def FlushCache(self, request, context):  # noqa: N802
        def handle(_: dict[str, str]) -> control_pb._FlushCacheResponse:
            self._store.flush_cache(request.cache_name)
            return control_pb._FlushCacheResponse()

        return await self._run("FlushCache", context, handle, request.cache_name)


class CacheServicer(_Servicer, cache_grpc.ScsServicer):
    """``/cache_client.Scs``: Get, Set, Delete, ItemGetTtl, SetIfNotExists, Increment."""

    async def Get(self, request, context):  # noqa: N802
        def handle(md: dict[str, str]) -> cache_pb._GetResponse:
            value = self._store.get(_cache(md), request.cache_key)
            if value is None:
                return cache_pb._GetResponse(result=cache_pb.Miss)
            return cache_pb._GetResponse(result=cache_pb.Hit, cache_body=value)

        return await self._run("Get", context, handle)

    async def Set(self, request, context):  # noqa: N802
        def handle(md: dict[str, str]) -> cache_pb._SetResponse:
            ttl = request.ttl_milliseconds / 1000
            self._store.set(_cache(md), request.cache_key, request.cache_body, ttl)
            return cache_pb._SetResponse(result=cache_pb.Ok)

        return await self._run("Set", context, handle)

    async def Delete(self, request, context):  # noqa: N802
        def handle(md: dict[str, str]) -> cache_pb._DeleteResponse:
            self._store.delete(_cache(md), request.cache_key)
            return cache_pb._DeleteResponse()

        return await self._run("Delete", context, handle)

    async def ItemGetTtl(self, request, context):  # noqa: N802
        def handle(md: dict[str, str]) -> cache_pb._ItemGetTtlResponse:
            remaining = self._store.remaining_ttl(_cache(md), request.cache_key)
            if remaining is None:
                return cache_pb._ItemGetTtlResponse(missing=cache_pb._ItemGetTtlResponse._Missing())
            found = cache_pb._ItemGetTtlResponse._Found(remaining_ttl_millis=max(0, int(remaining * 1000)))
            return cache_pb._ItemGetTtlResponse(found=found)

        return await self._run("ItemGetTtl", context, handle)

    async def SetIfNotExists(self, request, context):  # noqa: N802
        def handle(md: dict[str, str]) -> cache_pb._SetIfNotExistsResponse:
            cache, key, response = _cache(md), request.cache_key, cache_pb._SetIfNotExistsResponse
            if self._store.get(cache, key) is not None:
                return response(not_stored=response._NotStored())
            self._store.set(cache, key, request.cache_body, request.ttl_milliseconds / 1000)
            return response(stored=response._Stored())

        return await self._run("SetIfNotExists", context, handle)

    async def Increment(self, request, context):  # noqa: N802
        def handle(md: dict[str, str]) -> cache_pb._IncrementResponse:
            cache, key = _cache(md), request.cache_key
            current = self._store.get(cache, key)
            try:
                value = int(current or b"0") + request.amount
            except ValueError:
                raise InvalidArgument(
                    "the stored value is not an integer and cannot be incremented"
                ) from None
            self._store.set(cache, key, str(value).encode(), request.ttl_milliseconds / 1000)
            return cache_pb._IncrementResponse(value=value)

        return await self._run("Increment", context, handle)


class PubsubServicer(_Servicer, pubsub_grpc.PubsubServicer):
    """``/cache_client.pubsub.Pubsub``: Publish, and Subscribe as a server stream with heartbeats."""

    def __init__(self, store: MomentoStore, log: RequestLog, heartbeat_interval: float) -> None:
        super().__init__(store, log)
        self._heartbeat_interval = heartbeat_interval

    async def Publish(self, request, context):  # noqa: N802
        def handle(_: dict[str, str]) -> common_pb._Empty:
            kind = request.value.WhichOneof("kind")
            value = request.value.binary if kind == "binary" else request.value.text
            self._store.publish(request.cache_name, request.topic, value)
            return common_pb._Empty()

        return await self._run("Publish", context, handle, request.cache_name)

    async def Subscribe(self, request, context) -> AsyncIterator[pubsub_pb._SubscriptionItem]:  # noqa: N802
        started = time.perf_counter()
        status = grpc.StatusCode.OK
        subscription = None
        try:
            self._store.check_auth(_metadata(context).get("authorization"))
            subscription = self._store.subscribe(
                request.cache_name,
                request.topic,
                request.resume_at_topic_sequence_number,
                request.sequence_page,
            )
            yield _HEARTBEAT  # registered first, so nothing published after this point is lost
            while not subscription.stopping:  # a stopping server ends the stream with OK
                events = subscription.poll()
                for event in events:
                    yield _subscription_item(event)
                idle = not events and not await subscription.wait(self._heartbeat_interval)
                if idle and not subscription.stopping:
                    yield _HEARTBEAT
        except StoreError as err:
            status, trailers = status_for(err)
            await context.abort(status, err.message, trailing_metadata=trailers)
        except (asyncio.CancelledError, GeneratorExit):
            status = grpc.StatusCode.CANCELLED
            raise
        finally:
            if subscription is not None:
                subscription.close()
            self._log_call("Subscribe", request.cache_name, status, started)


_HEARTBEAT = pubsub_pb._SubscriptionItem(heartbeat=pubsub_pb._Heartbeat())


def _subscription_item(event: TopicEvent) -> pubsub_pb._SubscriptionItem:
    if isinstance(event, Discontinuity):
        discontinuity = pubsub_pb._Discontinuity(
            last_topic_sequence=event.last_sequence,
            new_topic_sequence=event.new_sequence,
            new_sequence_page=event.new_page,
        )
        return pubsub_pb._SubscriptionItem(discontinuity=discontinuity)
    value = (
        pubsub_pb._TopicValue(text=event.value)
        if isinstance(event.value, str)
        else pubsub_pb._TopicValue(binary=event.value)
    )
    item = pubsub_pb._TopicItem(
        topic_sequence_number=event.sequence_number, sequence_page=event.sequence_page, value=value
    )
    return pubsub_pb._SubscriptionItem(item=item)


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {key: value for key, value in (context.invocation_metadata() or ()) if isinstance(value, str)}


def _cache(metadata: dict[str, str]) -> str:
    cache = metadata.get("cache")
    if not cache:
        raise InvalidArgument("missing 'cache' metadata: data calls must name the cache")
    return cache


def build_grpc_server(store: MomentoStore, log: RequestLog, *, heartbeat_interval: float) -> grpc.aio.Server:
    """A grpc.aio server with all servicers registered (no port bound yet). Call on the serving loop."""
    server = grpc.aio.server(options=SERVER_OPTIONS)
    control_grpc.add_ScsControlServicer_to_server(ControlServicer(store, log), server)
    cache_grpc.add_ScsServicer_to_server(CacheServicer(store, log), server)
    pubsub_grpc.add_PubsubServicer_to_server(PubsubServicer(store, log, heartbeat_interval), server)
    return server
