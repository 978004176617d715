"""In-memory behaviour of the local Momento server: caches, items with TTL, topics, limits, auth.

No wire code lives here: ``grpc_api`` and ``http_api`` translate requests into calls on
:class:`MomentoStore` and translate its exceptions (subclasses of :class:`StoreError`) into status
codes. The store is confined to the server's asyncio loop (both protocols run on that loop), so it
needs no locks; topic waiters use :mod:`asyncio` primitives.

Topic semantics (as the SDK and the HTTP long poll expect them):

* sequence numbers start at 1 per topic and increase by one per publish; every topic instance has a
  random non-zero *sequence page* that changes when the topic is recreated (e.g. server restart);
* a subscription at sequence number 0 starts "from latest" (only messages published afterwards);
* a subscription at ``n > 0`` replays the retained history from ``n``; if ``n`` is older than the
  bounded history, or the page is from another topic instance, a :class:`Discontinuity` comes first.
"""

from __future__ import annotations

import asyncio
import hmac
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

#: Limits of the real service (on-demand tier).
MAX_ITEM_BYTES = 5 * 1024 * 1024
MAX_TTL_SECONDS = 24 * 60 * 60
MAX_TOPIC_MESSAGE_BYTES = 4 * 1024
MAX_NAME_LENGTH = 255
DEFAULT_TOPIC_HISTORY = 1000


class StoreError(Exception):
    """Base of all errors the store reports; ``message`` is safe to send to clients."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CacheNotFound(StoreError):
    """The named cache does not exist (no implicit creation)."""


class CacheAlreadyExists(StoreError):
    """``create_cache`` was called for a cache that exists."""


class InvalidArgument(StoreError):
    """A name, key, TTL or sequence parameter is missing or out of range."""


class LimitExceeded(StoreError):
    """A size limit was hit; ``reason`` is Momento's ``err`` code (e.g. ``item_size_limit_exceeded``)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Unauthenticated(StoreError):
    """No API key was presented."""


class PermissionDenied(StoreError):
    """An API key was presented but it is not the server's key."""


@dataclass(frozen=True)
class TopicItem:
    """One published message. ``value`` is ``str`` for text and ``bytes`` for binary payloads."""

    sequence_number: int
    sequence_page: int
    value: str | bytes


@dataclass(frozen=True)
class Discontinuity:
    """The subscriber missed messages: it continues at ``new_sequence`` on ``new_page``."""

    last_sequence: int
    new_sequence: int
    new_page: int


TopicEvent = TopicItem | Discontinuity


@dataclass
class _Item:
    value: bytes
    expires_at: float  # time.monotonic()


@dataclass
class _Cache:
    items: dict[bytes, _Item] = field(default_factory=dict)
    topics: dict[str, _Topic] = field(default_factory=dict)


class _Topic:
    """Retained history, the next sequence number and a wake-up event for waiting subscribers."""

    def __init__(self, history: int) -> None:
        self.page = random.randint(1, 2**31 - 1)
        self.next_sequence = 1
        self.history: deque[TopicItem] = deque(maxlen=history)
        self.subscribers = 0
        self.closed = False  # the cache was deleted
        self.stopping = False  # the server is shutting down
        self._changed = asyncio.Event()

    def publish(self, value: str | bytes) -> TopicItem:
        item = TopicItem(self.next_sequence, self.page, value)
        self.next_sequence += 1
        self.history.append(item)
        self._notify()
        return item

    def close(self) -> None:
        self.closed = True
        self._notify()

    def stop(self) -> None:
        self.stopping = True
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def oldest_retained(self) -> int:
        return self.history[0].sequence_number if self.history else self.next_sequence


class Subscription:
    """A cursor on one topic. Created by :meth:`MomentoStore.subscribe`; always :meth:`close` it.

    The cursor is positioned when it is created, so a message published right after ``subscribe``
    returns is never lost, even before the first :meth:`poll`.
    """

    def __init__(self, cache: str, topic: _Topic, sequence_number: int, sequence_page: int) -> None:
        self.cache = cache
        self._topic = topic
        self._closed = False
        self._pending: Discontinuity | None = None
        topic.subscribers += 1
        if sequence_number <= 0:
            self._next = topic.next_sequence
        elif sequence_page not in (0, topic.page):
            self._next = topic.oldest_retained
            self._pending = Discontinuity(sequence_number - 1, self._next, topic.page)
        elif sequence_number > topic.next_sequence:
            self._next = topic.next_sequence
            self._pending = Discontinuity(sequence_number - 1, self._next, topic.page)
        else:
            self._next = sequence_number

    def poll(self, limit: int = 100) -> list[TopicEvent]:
        """Events available now (possibly none); raises :class:`CacheNotFound` if the cache was deleted."""
        topic = self._topic
        if topic.closed:
            raise CacheNotFound(f"cache {self.cache!r} was deleted while subscribed")
        events: list[TopicEvent] = []
        if self._pending is not None:
            events.append(self._pending)
            self._pending = None
        if self._next < topic.oldest_retained:  # fell behind the bounded history
            events.append(Discontinuity(self._next - 1, topic.oldest_retained, topic.page))
            self._next = topic.oldest_retained
        if topic.history and self._next < topic.next_sequence:
            start = self._next - topic.history[0].sequence_number
            for index in range(start, min(len(topic.history), start + limit)):
                events.append(topic.history[index])
            self._next = events[-1].sequence_number + 1  # type: ignore[union-attr]
        return events

    @property
    def stopping(self) -> bool:
        """True once the server shuts down: answer what you have and end the subscription."""
        return self._topic.stopping

    async def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for something to :meth:`poll`; False when nothing arrived
        (or the server is stopping)."""
        topic = self._topic
        if topic.stopping:
            return False
        if topic.closed or self._pending is not None or self._next < topic.next_sequence:
            return True
        try:
            await asyncio.wait_for(topic._changed.wait(), timeout)
        except TimeoutError:
            return False
        return not topic.stopping

    def close(self) -> None:
        """Unregister the subscriber (idempotent)."""
        if not self._closed:
            self._closed = True
            self._topic.subscribers -= 1


class MomentoStore:
    """Caches and topics shared by both protocols, guarded by one API key.

    Args:
        api_key: the only key accepted; compared in constant time, never logged.
        topic_history: messages retained per topic for resuming subscribers.
        clock: monotonic seconds (injectable for tests of the store alone).
    """

    def __init__(
        self,
        api_key: str,
        *,
        topic_history: int = DEFAULT_TOPIC_HISTORY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not api_key:
            raise ValueError("the local Momento server needs a non-empty API key")
        self._key = api_key.encode()
        self._history = topic_history
        self._clock = clock
        self._caches: dict[str, _Cache] = {}
        self._stopping = False

    # -- auth -------------------------------------------------------------------------------------
    def check_auth(self, presented: str | None) -> None:
        """Raise :class:`Unauthenticated` (no key) or :class:`PermissionDenied` (wrong key)."""
        if not presented:
            raise Unauthenticated("missing API key: send it in the Authorization header or token query")
        if not hmac.compare_digest(presented.encode(), self._key):
            raise PermissionDenied("invalid API key: use the key the local Momento server was started with")

    # -- control ----------------------------------------------------------------------------------
    def create_cache(self, name: str) -> None:
        _check_name(name, "cache name")
        if name in self._caches:
            raise CacheAlreadyExists(f"cache {name!r} already exists")
        self._caches[name] = _Cache()

    def delete_cache(self, name: str) -> None:
        cache = self._cache(name)
        for topic in cache.topics.values():
            topic.close()
        del self._caches[name]

    def list_caches(self) -> list[str]:
        return sorted(self._caches)

    def flush_cache(self, name: str) -> None:
        """Remove every item (topics are untouched, as in Momento)."""
        self._cache(name).items.clear()

    # -- items ------------------------------------------------------------------------------------
    def set(self, cache: str, key: bytes, value: bytes, ttl_seconds: float) -> None:
        """Store ``value`` for ``ttl_seconds`` (0 < ttl <= 24 h); key + value at most 5 MiB."""
        items = self._cache(cache).items
        _check_key(key)
        if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
            raise InvalidArgument(
                f"TTL must be > 0 and at most {MAX_TTL_SECONDS} seconds, got {ttl_seconds:g}"
            )
        size = len(key) + len(value)
        if size > MAX_ITEM_BYTES:
            raise LimitExceeded(
                f"item size limit exceeded: key + value is {size} bytes, the limit is {MAX_ITEM_BYTES}",
                "item_size_limit_exceeded",
            )
        items[key] = _Item(bytes(value), self._clock() + ttl_seconds)

    def get(self, cache: str, key: bytes) -> bytes | None:
        item = self._live_item(cache, key)
        return None if item is None else item.value

    def delete(self, cache: str, key: bytes) -> None:
        items = self._cache(cache).items
        _check_key(key)
        items.pop(key, None)

    def remaining_ttl(self, cache: str, key: bytes) -> float | None:
        """Seconds until ``key`` expires, or None when it is missing or expired."""
        item = self._live_item(cache, key)
        return None if item is None else item.expires_at - self._clock()

    def sweep_expired(self) -> int:
        """Drop expired items (reads also ignore them); returns how many were dropped."""
        now, dropped = self._clock(), 0
        for cache in self._caches.values():
            expired = [key for key, item in cache.items.items() if item.expires_at <= now]
            for key in expired:
                del cache.items[key]
            dropped += len(expired)
        return dropped

    # -- topics -----------------------------------------------------------------------------------
    def publish(self, cache: str, topic: str, value: str | bytes) -> TopicItem:
        """Append a message (text or binary, at most 4 KiB) and wake the topic's subscribers."""
        size = len(value.encode()) if isinstance(value, str) else len(value)
        if size > MAX_TOPIC_MESSAGE_BYTES:
            raise LimitExceeded(
                f"topic message is {size} bytes, the limit is {MAX_TOPIC_MESSAGE_BYTES}",
                "request_size_limit_exceeded",
            )
        return self._topic(cache, topic).publish(value)

    def subscribe(
        self, cache: str, topic: str, sequence_number: int = 0, sequence_page: int = 0
    ) -> Subscription:
        """A registered cursor at ``sequence_number`` (0 = from latest) on ``sequence_page``."""
        if sequence_number < 0 or sequence_page < 0:
            raise InvalidArgument("sequence_number and sequence_page must be >= 0")
        return Subscription(cache, self._topic(cache, topic), sequence_number, sequence_page)

    def stop(self) -> None:
        """Shutdown: wake every waiting subscriber so long polls answer and streams end."""
        self._stopping = True
        for cache in self._caches.values():
            for topic in cache.topics.values():
                topic.stop()

    def subscriber_count(self, cache: str, topic: str) -> int:
        found = self._caches.get(cache)
        entry = found.topics.get(topic) if found else None
        return entry.subscribers if entry else 0

    # -- internals --------------------------------------------------------------------------------
    def _cache(self, name: str) -> _Cache:
        _check_name(name, "cache name")
        try:
            return self._caches[name]
        except KeyError:
            raise CacheNotFound(f"cache {name!r} does not exist; create it first") from None

    def _topic(self, cache: str, topic: str) -> _Topic:
        topics = self._cache(cache).topics
        _check_name(topic, "topic name")
        if topic not in topics:
            topics[topic] = _Topic(self._history)
            topics[topic].stopping = self._stopping
        return topics[topic]

    def _live_item(self, cache: str, key: bytes) -> _Item | None:
        items = self._cache(cache).items
        _check_key(key)
        item = items.get(key)
        if item is not None and item.expires_at <= self._clock():
            del items[key]
            return None
        return item


def _check_name(name: str, what: str) -> None:
    if not name:
        raise InvalidArgument(f"{what} must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"{what} must be at most {MAX_NAME_LENGTH} characters")


def _check_key(key: bytes) -> None:
    if not key:
        raise InvalidArgument("key must not be empty")
