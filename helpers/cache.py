"""The Momento side of a weather row: make sure the cache exists, read a value and its TTL, wait.

Reads go through the real ``momento`` SDK (the local server in local mode, Momento in the cloud),
so what a notebook shows is what any Momento client would see.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from momento.responses import CacheGet, CreateCache

from helpers import clients
from helpers.cache_ttl import remaining_ttl
from helpers.config import Settings, load_settings
from helpers.errors import WeatherlabError
from helpers.progress import wait_until


class CacheError(WeatherlabError):
    """Momento answered with an error; the message says which call and what to do."""


def ensure_cache(settings: Settings | None = None) -> str:
    """Create the configured cache if it is missing; returns "created" or "exists"."""
    settings = settings or load_settings()
    with clients.cache_client(settings) as client:
        response = client.create_cache(settings.cache_name)
    if isinstance(response, CreateCache.Success):
        return "created"
    if isinstance(response, CreateCache.CacheAlreadyExists):
        return "exists"
    raise CacheError(
        f"could not create cache {settings.cache_name!r}: {response}. Check the Momento API key."
    )


@dataclass(frozen=True)
class CachedValue:
    """What the cache holds for one key: the parsed value (None on a miss) and seconds left."""

    key: str
    value: dict[str, Any] | str | None
    ttl_remaining: float | None

    @property
    def hit(self) -> bool:
        return self.value is not None


def read(key: str, settings: Settings | None = None) -> CachedValue:
    """Get ``key`` from the cache (JSON values parsed) with its remaining TTL."""
    settings = settings or load_settings()
    with clients.cache_client(settings) as client:
        response = client.get(settings.cache_name, key)
    if isinstance(response, CacheGet.Miss):
        return CachedValue(key, None, None)
    if not isinstance(response, CacheGet.Hit):
        raise CacheError(f"get {key!r} from cache {settings.cache_name!r} failed: {response}")
    text = response.value_string
    try:
        value: dict[str, Any] | str = json.loads(text)
    except ValueError:
        value = text
    ttl = remaining_ttl(clients.momento_credentials(settings), settings.cache_name, key)
    return CachedValue(key, value, ttl)


def wait_for(
    key: str,
    predicate: Callable[[CachedValue], bool],
    *,
    settings: Settings | None = None,
    timeout: float = 30.0,
    what: str = "the cache to change",
) -> CachedValue:
    """Poll ``key`` until ``predicate(value)`` holds; :class:`TimeoutError` naming ``what`` otherwise."""
    settings = settings or load_settings()
    return wait_until(lambda: _checked(read(key, settings), predicate), timeout=timeout, what=what)


def _checked(value: CachedValue, predicate: Callable[[CachedValue], bool]) -> CachedValue | None:
    return value if predicate(value) else None


def wait_for_hit(key: str, settings: Settings | None = None, timeout: float = 30.0) -> CachedValue:
    """Wait until ``key`` is in the cache."""
    return wait_for(key, lambda v: v.hit, settings=settings, timeout=timeout, what=f"{key!r} to be cached")


def wait_for_miss(key: str, settings: Settings | None = None, timeout: float = 30.0) -> CachedValue:
    """Wait until ``key`` is gone from the cache (deleted or expired)."""
    return wait_for(
        key, lambda v: not v.hit, settings=settings, timeout=timeout, what=f"{key!r} to leave the cache"
    )
