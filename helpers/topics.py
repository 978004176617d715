"""A topic subscriber a notebook can keep for an hour, built on the real ``momento`` SDK subscription.

:class:`TopicSubscriber` runs one daemon thread with its own asyncio loop and a ``TopicClientAsync``.
Each SDK subscription (``subscribe(cache, topic, resume_at_topic_sequence_number=,
resume_at_topic_sequence_page=)``) is read with the SDK's own async iterator, and is replaced by a
fresh one at the last ``sequence_number + 1`` and page whenever it ends, so nothing is lost or repeated.

SDK hazards (momento 1.29.1, measured against :mod:`helpers.local.momento`) and how they are handled:

* The client timeout is the deadline of the whole Subscribe stream. The client is built with a timeout
  of at least 24 h, and every stream is proactively renewed (``unsubscribe()`` + resubscribe at the
  resume position) after ``stream_timeout`` seconds, so the SDK deadline is never reached.
* ``unsubscribe()`` ends a pending ``__anext__`` cleanly (it raises ``asyncio.CancelledError``; the
  loop stays responsive). Renewal and :meth:`TopicSubscriber.stop` use it.
* When the *server* ends a stream (status OK on a server shutdown or a deleted cache, an error status,
  a dropped connection, the deadline), ``SubscriptionAsync.__anext__`` loops forever without yielding:
  its gRPC ``read()`` returns EOF (or raises) at once, the SDK swallows that and reads again. Measured:
  the event loop freezes at 100% CPU. The public SDK API offers no way out, so after each successful
  ``subscribe()`` this helper wraps the subscription's gRPC call (the private attribute
  ``SubscriptionAsync._client_stream``) in :class:`_EndOfStreamGuard`. The guard passes every message
  through unchanged and turns the end of the stream into ``StopAsyncIteration``, which the SDK itself
  maps to ``TopicSubscriptionItem.Error`` (CANCELLED_ERROR) - so ``__anext__`` returns and the helper
  resubscribes. The guard also sees discontinuities, which the SDK drops silently, and moves the resume
  position accordingly. If a future SDK renames the attribute, :meth:`TopicSubscriber.start` raises a
  clear error instead of risking a frozen loop.
* Every failed ``subscribe()`` leaks one of the client's 100 stream slots (measured: the 101st attempt
  answers CLIENT_RESOURCE_EXHAUSTED forever). The helper therefore closes the client and builds a new
  one after each failed attempt, then waits with exponential backoff (never a busy loop).

Errors retrying cannot fix (cache not found, missing or wrong key, invalid names) end the subscriber and
are raised by :meth:`~TopicSubscriber.start` or :meth:`~TopicSubscriber.wait_for`.

Limitation (inherent to the protocol): until the first message arrives there is no sequence number to
resume from, so a re-subscription "from latest" may miss messages published while it reconnects. Pass
``resume_at_sequence_number`` to start at a known position.

Usage::

    sub = TopicSubscriber(provider, "weather", "updates", on_message=print_row).start()
    ...
    sub.wait_for(3, timeout=30)   # -> list[TopicMessage]
    sub.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
from momento import TopicClientAsync, TopicConfigurations
from momento.auth import CredentialProvider
from momento.errors import MomentoErrorCode
from momento.responses import TopicSubscribe, TopicSubscriptionItem
from momento_wire_types import cachepubsub_pb2 as pubsub_pb

from helpers.cache_ttl import MomentoCallError, explain_status

_log = logging.getLogger(__name__)

#: SDK error codes that retrying cannot fix: the subscriber stops and reports them.
_FATAL = frozenset(
    {
        MomentoErrorCode.NOT_FOUND_ERROR,
        MomentoErrorCode.AUTHENTICATION_ERROR,
        MomentoErrorCode.PERMISSION_ERROR,
        MomentoErrorCode.INVALID_ARGUMENT_ERROR,
        MomentoErrorCode.BAD_REQUEST_ERROR,
    }
)
_MIN_BACKOFF = 0.2
_MAX_BACKOFF = 10.0
#: A stream that lived at least this long before the server ended it is resumed without waiting.
_HEALTHY_STREAM_SECONDS = 1.0
#: How long one ``subscribe()`` may wait for the server's first heartbeat before it is retried.
_SUBSCRIBE_TIMEOUT = 10.0
#: The SDK client timeout (= deadline of every stream); renewal happens long before it.
_MIN_CLIENT_TIMEOUT = timedelta(hours=24)


@dataclass(frozen=True)
class TopicMessage:
    """One received message: ``value`` is ``str`` for text and ``bytes`` for binary payloads."""

    sequence_number: int
    sequence_page: int
    value: str | bytes
    received_at: float  # time.time()

    @property
    def text(self) -> str:
        """The value as text (binary payloads decoded as UTF-8, undecodable bytes replaced)."""
        return self.value if isinstance(self.value, str) else self.value.decode("utf-8", "replace")


class _EndOfStreamGuard:
    """Stands in for an SDK subscription's gRPC call so that a server-side end cannot spin the SDK.

    ``read()`` returns messages unchanged; when the stream has ended (EOF or an error status) it
    records ``ended = (code, details)`` and raises ``StopAsyncIteration``, which the SDK's
    ``__anext__`` answers with ``TopicSubscriptionItem.Error``. ``asyncio.CancelledError`` (our own
    ``unsubscribe()``) passes through untouched.
    """

    def __init__(self, call: Any, on_discontinuity: Callable[[pubsub_pb._Discontinuity], None]) -> None:
        self._call = call
        self._on_discontinuity = on_discontinuity
        self.ended: tuple[grpc.StatusCode | None, str] | None = None

    async def read(self) -> pubsub_pb._SubscriptionItem:
        try:
            message = await self._call.read()
        except grpc.aio.AioRpcError as err:
            self.ended = (err.code(), err.details() or "")
            raise StopAsyncIteration from None
        except Exception as err:  # anything else would also make the SDK read again at once
            self.ended = (None, repr(err))
            raise StopAsyncIteration from None
        if message is grpc.aio.EOF:
            self.ended = (await self._call.code(), await self._call.details() or "")
            raise StopAsyncIteration
        if message.WhichOneof("kind") == "discontinuity":
            self._on_discontinuity(message.discontinuity)
        return message

    def cancel(self) -> bool:
        return self._call.cancel()


class TopicSubscriber:
    """Subscribe to ``topic`` in ``cache`` with the ``momento`` SDK in a background thread until :meth:`stop`.

    Args:
        credential_provider: from ``helpers.clients`` (cloud or local); never built here.
        cache, topic: what to subscribe to; the cache must exist.
        on_message: called in the subscriber thread for every message; exceptions it raises are
            kept in :attr:`callback_errors` and do not end the subscription.
        stream_timeout: seconds each SDK subscription lives before it is transparently renewed at the
            resume position (the SDK's own stream deadline is set far beyond it).
        resume_at_sequence_number, resume_at_sequence_page: where to start; 0 means "from latest".
        max_messages: how many received messages :attr:`messages` keeps (oldest dropped first).
    """

    def __init__(
        self,
        credential_provider: CredentialProvider,
        cache: str,
        topic: str,
        on_message: Callable[[TopicMessage], object] | None = None,
        *,
        stream_timeout: float = 900.0,
        resume_at_sequence_number: int = 0,
        resume_at_sequence_page: int = 0,
        max_messages: int = 10_000,
    ) -> None:
        if stream_timeout <= 0:
            raise ValueError("stream_timeout must be a positive number of seconds")
        self.cache, self.topic = cache, topic
        self._provider = credential_provider
        self._on_message = on_message
        self._stream_timeout = stream_timeout
        client_timeout = max(_MIN_CLIENT_TIMEOUT, timedelta(seconds=4 * stream_timeout))
        self._config = TopicConfigurations.Default.latest().with_client_timeout(client_timeout)
        self._next_sequence = resume_at_sequence_number
        self._page = resume_at_sequence_page
        self._messages: deque[TopicMessage] = deque(maxlen=max_messages)
        self._received = 0
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Owned by the loop thread: the live subscription, a pending subscribe(), the wake-up event.
        self._current: Any = None
        self._pending: asyncio.Task[Any] | None = None
        self._wakeup: asyncio.Event | None = None
        self._last_failure = "no attempt finished yet"
        self.error: MomentoCallError | None = None
        self.callback_errors: list[BaseException] = []
        self.stream_restarts = 0
        self.discontinuities = 0

    # -- public surface ---------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> TopicSubscriber:
        """Subscribe and return once the server confirmed it (the SDK received the first heartbeat).

        Raises :class:`~helpers.cache_ttl.MomentoCallError` if the server refused the subscription
        (e.g. cache not found, wrong key) and TimeoutError if it did not answer within ``timeout``.
        """
        if self._thread is not None:
            raise RuntimeError("this TopicSubscriber was already started; create a new one")
        name = f"topic-{self.cache}-{self.topic}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        if not self._subscribed.wait(timeout):
            self.stop()
            where = f"{self._provider.cache_endpoint}:{self._provider.port}"
            raise TimeoutError(
                f"no answer from Momento at {where} within {timeout:g} s while subscribing to "
                f"{self.topic!r} in cache {self.cache!r} (last attempt: {self._last_failure}); "
                "is the server up?"
            )
        if self.error is not None:
            self.stop()
            raise self.error
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Unsubscribe and join the thread (idempotent); TimeoutError if it does not end in time."""
        self._stopping.set()
        with self._changed:
            loop = self._loop
            self._changed.notify_all()
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already finished
                loop.call_soon_threadsafe(self._wake)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"subscriber thread of {self.topic!r} did not stop within {timeout:g} s")

    @property
    def running(self) -> bool:
        """True while the background thread is subscribed or resubscribing."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def messages(self) -> list[TopicMessage]:
        """A snapshot of the received messages, oldest first (at most ``max_messages``)."""
        with self._changed:
            return list(self._messages)

    @property
    def received(self) -> int:
        """How many messages arrived since start (including ones dropped from :attr:`messages`)."""
        with self._changed:
            return self._received

    def wait_for(self, n: int, timeout: float) -> list[TopicMessage]:
        """Block until at least ``n`` messages arrived in total, then return :attr:`messages`.

        Raises TimeoutError after ``timeout`` seconds, or the subscription's error if it ended.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._received < n:
                if self.error is not None:
                    raise self.error
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    stopped = self._stopping.is_set()
                    reason = "the subscriber was stopped" if stopped else f"{timeout:g} s passed"
                    raise TimeoutError(
                        f"received {self._received} of {n} messages on topic {self.topic!r} in cache "
                        f"{self.cache!r} before {reason}; is anything publishing to it?"
                    )
                self._changed.wait(remaining)
            return list(self._messages)

    def __enter__(self) -> TopicSubscriber:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- background thread: one asyncio loop ------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # never expected; reported instead of dying silently
            _log.exception("topic subscriber thread failed")
            self._fail(
                MomentoCallError(f"the subscriber of {self.topic!r} failed unexpectedly: {err!r}", None)
            )

    async def _main(self) -> None:
        self._wakeup = asyncio.Event()
        with self._changed:
            self._loop = asyncio.get_running_loop()
        client: TopicClientAsync | None = None
        backoff = _MIN_BACKOFF
        try:
            while not self._stopping.is_set():
                if client is None:
                    client = TopicClientAsync(self._config, self._provider)
                started = time.monotonic()
                outcome = await self._one_stream(client)
                if self._stopping.is_set() or outcome == "fatal":
                    return
                if outcome == "failed":  # a failed subscribe() leaks a stream slot: use a new client
                    await client.close()
                    client = None
                else:
                    self.stream_restarts += 1
                    if outcome == "renewed" or time.monotonic() - started >= _HEALTHY_STREAM_SECONDS:
                        backoff = _MIN_BACKOFF
                        continue
                with contextlib.suppress(asyncio.TimeoutError):  # never a busy loop
                    await asyncio.wait_for(self._wakeup.wait(), backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)
        finally:
            if client is not None:
                await client.close()

    async def _one_stream(self, client: TopicClientAsync) -> str:
        """Subscribe once and read until the stream ends: "renewed", "ended", "failed" or "fatal"."""
        subscribing = asyncio.ensure_future(
            client.subscribe(
                self.cache,
                self.topic,
                resume_at_topic_sequence_number=self._next_sequence,
                resume_at_topic_sequence_page=self._page,
            )
        )
        self._pending = subscribing
        try:
            await asyncio.wait({subscribing}, timeout=_SUBSCRIBE_TIMEOUT)
        finally:
            self._pending = None
        if not subscribing.done():
            subscribing.cancel()
            await asyncio.wait({subscribing})  # let the SDK unwind its half-open stream
            self._last_failure = f"no first heartbeat within {_SUBSCRIBE_TIMEOUT:g} s"
            return "failed"
        if subscribing.cancelled():  # stop() while subscribing
            return "failed"
        response = subscribing.result()
        if isinstance(response, TopicSubscribe.Error):
            return self._refused(response)
        subscription: TopicSubscribe.SubscriptionAsync = response
        if not hasattr(subscription, "_client_stream"):
            subscription.unsubscribe()
            hint = "pin momento 1.29 or update helpers/topics.py"
            self._fail(MomentoCallError(f"SubscriptionAsync._client_stream is gone; {hint}", None))
            return "fatal"
        guard = _EndOfStreamGuard(subscription._client_stream, self._discontinuity)
        subscription._client_stream = guard
        return await self._read(subscription, guard)

    async def _read(self, subscription: TopicSubscribe.SubscriptionAsync, guard: _EndOfStreamGuard) -> str:
        renewed = False

        def renew() -> None:
            nonlocal renewed
            renewed = True
            subscription.unsubscribe()

        self._current = subscription
        self._subscribed.set()
        timer = asyncio.get_running_loop().call_later(self._stream_timeout, renew)
        try:
            if self._stopping.is_set():
                return "ended"
            while True:
                try:
                    item = await subscription.__anext__()
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():  # the loop itself is shutting down
                        raise
                    return "renewed" if renewed else "ended"  # our own unsubscribe()
                if isinstance(item, TopicSubscriptionItem.Text | TopicSubscriptionItem.Binary):
                    self._deliver(
                        TopicMessage(item.sequence_number, item.sequence_page, item.value, time.time())
                    )
                elif guard.ended is not None:
                    code, details = guard.ended
                    _log.debug("server ended the stream on %r: %s %s", self.topic, code, details)
                    self._last_failure = f"stream ended with {code.name if code else 'an error'}: {details}"
                    return "ended"
                else:  # an unreadable item; the stream itself is fine
                    _log.debug("skipping a subscription item: %s", item)
        finally:
            timer.cancel()
            self._current = None
            subscription.unsubscribe()

    def _wake(self) -> None:
        """On the loop: end the live stream, a pending subscribe() and any backoff wait."""
        if self._wakeup is not None:
            self._wakeup.set()
        if self._current is not None:
            self._current.unsubscribe()
        if self._pending is not None:
            self._pending.cancel()

    def _refused(self, response: TopicSubscribe.Error) -> str:
        grpc_details = getattr(response.inner_exception.transport_details, "grpc", None)
        code = grpc_details.code if grpc_details is not None else None
        details = grpc_details.details if grpc_details is not None else response.inner_exception.message
        if response.error_code in _FATAL:
            what = f"subscribing to {self.topic!r} in cache {self.cache!r}"
            self._fail(explain_status(code, details, what))
            return "fatal"
        self._last_failure = f"{response.error_code.name}: {details}"
        _log.debug("subscribe to %r failed (%s); retrying", self.topic, self._last_failure)
        return "failed"

    def _discontinuity(self, discontinuity: pubsub_pb._Discontinuity) -> None:
        self.discontinuities += 1
        self._next_sequence = discontinuity.new_topic_sequence
        self._page = discontinuity.new_sequence_page

    def _deliver(self, message: TopicMessage) -> None:
        self._next_sequence = message.sequence_number + 1
        self._page = message.sequence_page
        with self._changed:
            self._messages.append(message)
            self._received += 1
            self._changed.notify_all()
        if self._on_message is not None:
            try:
                self._on_message(message)
            except Exception as err:  # a notebook callback must not kill the subscription
                self.callback_errors.append(err)
                _log.debug("on_message raised %r", err)

    def _fail(self, error: MomentoCallError) -> None:
        with self._changed:
            self.error = error
            self._changed.notify_all()
        self._subscribed.set()
