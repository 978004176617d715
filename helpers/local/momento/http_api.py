"""HTTP face of the local Momento server: the Momento HTTP API that EventBridge API destinations call.

Routes (aiohttp.web; behaviour lives in :mod:`.store`):

* ``GET|PUT|DELETE /cache/{cache}?key=|key_base64=`` (``ttl_seconds`` required on PUT): 200 with the
  value as octet-stream, 204 on set/delete, 404 ``Cache Not Found`` / ``Key Not Found``;
* ``POST /topics/{cache}/{topic}``: 204; an explicit ``application/octet-stream`` is binary, any
  other body that decodes as UTF-8 is text (``text/plain``, ``application/json``, curl's form type);
* ``GET /topics/{cache}/{topic}?sequence_number=&sequence_page=``: a long poll answering 200 JSON
  ``{"items": [...]}`` as soon as at least one item or discontinuity exists, or with an empty list
  after the idle timeout;
* ``GET /health``: 200 ``{"status": "ok"}`` without auth.

Auth: ``Authorization: <key>`` header or ``token=<key>`` query (both -> 400, none -> 401, wrong ->
403). Other errors: 400 bad/missing parameter, 429 size limits (Momento's "limit exceeded"), 500
unexpected. Query strings are never logged (they may carry the key).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .store import (
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
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Bodies up to this size reach the store, which answers oversized items with a clear 429.
MAX_BODY_BYTES = 16 * 1024 * 1024
_STORE_KEY = web.AppKey("store", MomentoStore)
_LOG_KEY = web.AppKey("log", object)
_POLL_KEY = web.AppKey("long_poll_timeout", float)
_UNAUTHENTICATED_PATHS = frozenset({"/health"})

_STATUS: list[tuple[type[StoreError], int]] = [
    (CacheNotFound, 404),
    (InvalidArgument, 400),
    (LimitExceeded, 429),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
]


def build_http_app(store: MomentoStore, log: RequestLog, *, long_poll_timeout: float) -> web.Application:
    """The aiohttp application for the Momento HTTP API on top of ``store``."""
    app = web.Application(middlewares=[_errors_auth_and_log], client_max_size=MAX_BODY_BYTES)
    app[_STORE_KEY] = store
    app[_LOG_KEY] = log
    app[_POLL_KEY] = long_poll_timeout
    app.router.add_get("/health", _health)
    app.router.add_get("/cache/{cache}", _get_item)
    app.router.add_put("/cache/{cache}", _set_item)
    app.router.add_delete("/cache/{cache}", _delete_item)
    app.router.add_post("/topics/{cache}/{topic}", _publish)
    app.router.add_get("/topics/{cache}/{topic}", _long_poll)
    return app


@web.middleware
async def _errors_auth_and_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        if request.path not in _UNAUTHENTICATED_PATHS:
            request.app[_STORE_KEY].check_auth(_presented_key(request))
        response = await handler(request)
        status = response.status
        return response
    except StoreError as err:
        status = _status_for(err)
        return web.Response(status=status, text=_error_text(err))
    except web.HTTPException as err:
        status = err.status
        raise
    except Exception:
        return web.json_response({"error": "Internal Server Error"}, status=500)
    finally:
        request.app[_LOG_KEY](
            {
                "proto": "http",
                "method": request.method,
                "path": request.path,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            }
        )


def _presented_key(request: web.Request) -> str | None:
    header, token = request.headers.get("Authorization"), request.query.get("token")
    if header is not None and token is not None:
        raise InvalidArgument("send the API key in the Authorization header or the token query, not both")
    return header if header is not None else token


def _status_for(err: StoreError) -> int:
    return next((status for kind, status in _STATUS if isinstance(err, kind)), 500)


def _error_text(err: StoreError) -> str:
    return f"Cache Not Found: {err.message}" if isinstance(err, CacheNotFound) else err.message


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _get_item(request: web.Request) -> web.Response:
    value = request.app[_STORE_KEY].get(request.match_info["cache"], _key(request))
    if value is None:
        return web.Response(status=404, text="Key Not Found")
    return web.Response(body=value, content_type="application/octet-stream")


async def _set_item(request: web.Request) -> web.Response:
    ttl = _int_param(request, "ttl_seconds", required=True)
    cache, key = request.match_info["cache"], _key(request)
    request.app[_STORE_KEY].set(cache, key, await request.read(), ttl)
    return web.Response(status=204)


async def _delete_item(request: web.Request) -> web.Response:
    request.app[_STORE_KEY].delete(request.match_info["cache"], _key(request))
    return web.Response(status=204)


async def _publish(request: web.Request) -> web.Response:
    body = await request.read()
    value: str | bytes = body
    if "Content-Type" not in request.headers or request.content_type != "application/octet-stream":
        try:
            value = body.decode("utf-8")
        except UnicodeDecodeError:
            value = body
    request.app[_STORE_KEY].publish(request.match_info["cache"], request.match_info["topic"], value)
    return web.Response(status=204)


async def _long_poll(request: web.Request) -> web.Response:
    sequence_number = _int_param(request, "sequence_number")
    sequence_page = _int_param(request, "sequence_page")
    store, timeout = request.app[_STORE_KEY], request.app[_POLL_KEY]
    subscription = store.subscribe(
        request.match_info["cache"], request.match_info["topic"], sequence_number, sequence_page
    )
    deadline = time.monotonic() + timeout
    try:
        events = subscription.poll()
        while not events:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await subscription.wait(remaining):
                break
            events = subscription.poll()
    finally:
        subscription.close()
    return web.json_response({"items": [_event_json(event) for event in events]})


def _event_json(event: TopicEvent) -> dict[str, Any]:
    if isinstance(event, Discontinuity):
        return {
            "discontinuity": {
                "last_topic_sequence": event.last_sequence,
                "new_topic_sequence": event.new_sequence,
                "new_sequence_page": event.new_page,
            }
        }
    if isinstance(event.value, str):
        value: dict[str, str] = {"text": event.value}
    else:
        value = {"binary": base64.b64encode(event.value).decode("ascii")}
    return {
        "item": {
            "topic_sequence_number": event.sequence_number,
            "sequence_page": event.sequence_page,
            "value": value,
        }
    }


def _key(request: web.Request) -> bytes:
    key, key_b64 = request.query.get("key"), request.query.get("key_base64")
    if (key is None) == (key_b64 is None):
        raise InvalidArgument("pass exactly one of the query parameters 'key' or 'key_base64'")
    if key is not None:
        return key.encode("utf-8")
    try:
        padded = key_b64 + "=" * (-len(key_b64) % 4)
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("'key_base64' is not valid base64") from None


def _int_param(request: web.Request, name: str, *, required: bool = False) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        if required:
            raise InvalidArgument(f"missing required query parameter {name!r} (an integer)")
        return 0
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgument(f"query parameter {name!r} must be an integer, got {json.dumps(raw)}") from None
