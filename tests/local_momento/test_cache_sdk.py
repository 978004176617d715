"""The unmodified momento SDK (sync and async cache clients) against the local server."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import grpc
import pytest
from momento import CacheClient, CacheClientAsync, Configurations, CredentialProvider
from momento.errors import MomentoErrorCode
from momento.responses import (
    CacheDelete,
    CacheFlush,
    CacheGet,
    CacheIncrement,
    CacheSet,
    CacheSetIfNotExists,
    CreateCache,
    DeleteCache,
    ListCaches,
)

from helpers.cache_ttl import MomentoCallError, remaining_ttl

FIVE_MIB = 5 * 1024 * 1024


def _names(response: ListCaches.Response) -> set[str]:
    assert isinstance(response, ListCaches.Success), response
    return {cache.name for cache in response.caches}


def _error_code(response: object) -> MomentoErrorCode:
    assert hasattr(response, "error_code"), f"expected an error response, got {response!r}"
    return response.error_code  # type: ignore[attr-defined]


def test_the_documented_cache_example_runs(provider: CredentialProvider) -> None:
    """Momento's cache example, only the credential provider differs."""
    cache = f"example-{uuid.uuid4().hex[:8]}"
    with CacheClient.create(Configurations.Laptop.v1(), provider, timedelta(seconds=60)) as client:
        assert isinstance(client.create_cache(cache), CreateCache.Success)
        assert isinstance(client.set(cache, "test-key", "test-value"), CacheSet.Success)
        response = client.get(cache, "test-key")
        assert isinstance(response, CacheGet.Hit)
        assert response.value_string == "test-value"
        assert isinstance(client.delete_cache(cache), DeleteCache.Success)


def test_create_list_delete_cache(cache_client: CacheClient) -> None:
    name = f"ctl-{uuid.uuid4().hex[:8]}"
    assert isinstance(cache_client.create_cache(name), CreateCache.Success)
    assert isinstance(cache_client.create_cache(name), CreateCache.CacheAlreadyExists)
    assert name in _names(cache_client.list_caches())
    assert isinstance(cache_client.delete_cache(name), DeleteCache.Success)
    assert name not in _names(cache_client.list_caches())
    assert _error_code(cache_client.delete_cache(name)) == MomentoErrorCode.NOT_FOUND_ERROR


def test_flush_cache_removes_items(cache_client: CacheClient, cache_name: str) -> None:
    cache_client.set(cache_name, "a", "1")
    cache_client.set(cache_name, "b", "2")
    assert isinstance(cache_client.flush_cache(cache_name), CacheFlush.Success)
    assert isinstance(cache_client.get(cache_name, "a"), CacheGet.Miss)
    assert isinstance(cache_client.get(cache_name, "b"), CacheGet.Miss)
    assert _error_code(cache_client.flush_cache("no-such-cache")) == MomentoErrorCode.NOT_FOUND_ERROR


def test_get_set_delete(cache_client: CacheClient, cache_name: str) -> None:
    assert isinstance(cache_client.get(cache_name, "k"), CacheGet.Miss)
    assert isinstance(cache_client.set(cache_name, "k", "välue"), CacheSet.Success)
    hit = cache_client.get(cache_name, "k")
    assert isinstance(hit, CacheGet.Hit) and hit.value_string == "välue"
    cache_client.set(cache_name, b"\x00bin", b"\xff\x00\x01")
    hit = cache_client.get(cache_name, b"\x00bin")
    assert isinstance(hit, CacheGet.Hit) and hit.value_bytes == b"\xff\x00\x01"
    assert isinstance(cache_client.delete(cache_name, "k"), CacheDelete.Success)
    assert isinstance(cache_client.get(cache_name, "k"), CacheGet.Miss)
    assert isinstance(cache_client.delete(cache_name, "never-set"), CacheDelete.Success)


def test_set_if_not_exists_and_increment(cache_client: CacheClient, cache_name: str) -> None:
    assert isinstance(cache_client.set_if_not_exists(cache_name, "once", "1"), CacheSetIfNotExists.Stored)
    assert isinstance(cache_client.set_if_not_exists(cache_name, "once", "2"), CacheSetIfNotExists.NotStored)
    assert cache_client.get(cache_name, "once").value_string == "1"  # type: ignore[union-attr]
    first = cache_client.increment(cache_name, "counter", 5)
    second = cache_client.increment(cache_name, "counter", 2)
    assert isinstance(second, CacheIncrement.Success) and (first.value, second.value) == (5, 7)  # type: ignore[union-attr]


def test_missing_cache_is_not_found_everywhere(cache_client: CacheClient) -> None:
    for response in (
        cache_client.get("no-such-cache", "k"),
        cache_client.set("no-such-cache", "k", "v"),
        cache_client.delete("no-such-cache", "k"),
    ):
        assert _error_code(response) == MomentoErrorCode.NOT_FOUND_ERROR


def test_ttl_expiry_and_remaining_ttl(
    cache_client: CacheClient, provider: CredentialProvider, cache_name: str
) -> None:
    cache_client.set(cache_name, "long", "x", timedelta(seconds=30))
    cache_client.set(cache_name, "short", "y", timedelta(seconds=1))
    left = remaining_ttl(provider, cache_name, "long")
    assert left is not None and 25 < left <= 30
    assert remaining_ttl(provider, cache_name, "absent") is None
    assert isinstance(cache_client.get(cache_name, "short"), CacheGet.Hit)
    time.sleep(1.2)
    assert isinstance(cache_client.get(cache_name, "short"), CacheGet.Miss)
    assert remaining_ttl(provider, cache_name, "short") is None


def test_remaining_ttl_errors(make_provider, provider: CredentialProvider, cache_name: str) -> None:
    with pytest.raises(MomentoCallError, match="create the cache") as missing:
        remaining_ttl(provider, "no-such-cache", "k")
    assert missing.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(MomentoCallError) as refused:
        remaining_ttl(make_provider("wrong-key"), cache_name, "k")
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_wrong_or_missing_key_is_refused(make_provider, cache_name: str) -> None:
    wrong = make_provider("wrong-key")
    with CacheClient.create(Configurations.Laptop.v1(), wrong, timedelta(seconds=60)) as c:
        assert _error_code(c.get(cache_name, "k")) == MomentoErrorCode.PERMISSION_ERROR
        assert _error_code(c.set(cache_name, "k", "v")) == MomentoErrorCode.PERMISSION_ERROR
        assert _error_code(c.list_caches()) == MomentoErrorCode.PERMISSION_ERROR
        assert _error_code(c.create_cache("x")) == MomentoErrorCode.PERMISSION_ERROR
    local = CredentialProvider.for_momento_local("127.0.0.1", make_provider("").port)  # no key at all
    with CacheClient.create(Configurations.Laptop.v1(), local, timedelta(seconds=60)) as c:
        assert _error_code(c.get(cache_name, "k")) == MomentoErrorCode.AUTHENTICATION_ERROR


def test_item_size_limit(cache_client: CacheClient, cache_name: str) -> None:
    # key + value = 5 MiB is allowed, one byte more is refused (both fit the SDK's own 5_243_000 bytes).
    assert isinstance(cache_client.set(cache_name, "k", b"x" * (FIVE_MIB - 1)), CacheSet.Success)
    too_big = cache_client.set(cache_name, "k", b"x" * FIVE_MIB)
    assert _error_code(too_big) == MomentoErrorCode.LIMIT_EXCEEDED_ERROR
    assert "Item size limit exceeded" in too_big.message  # type: ignore[union-attr]


def test_ttl_bounds(cache_client: CacheClient, cache_name: str) -> None:
    assert isinstance(cache_client.set(cache_name, "k", "v", timedelta(hours=24)), CacheSet.Success)
    too_long = cache_client.set(cache_name, "k", "v", timedelta(hours=24, seconds=1))
    assert _error_code(too_long) == MomentoErrorCode.INVALID_ARGUMENT_ERROR


def test_async_client_covers_the_same_operations(provider: CredentialProvider) -> None:
    async def scenario() -> None:
        name = f"async-{uuid.uuid4().hex[:8]}"
        async with await CacheClientAsync.create(
            Configurations.Laptop.v1(), provider, timedelta(seconds=60)
        ) as client:
            assert isinstance(await client.create_cache(name), CreateCache.Success)
            assert isinstance(await client.create_cache(name), CreateCache.CacheAlreadyExists)
            assert name in _names(await client.list_caches())
            assert isinstance(await client.set(name, "k", "v", timedelta(seconds=1)), CacheSet.Success)
            hit = await client.get(name, "k")
            assert isinstance(hit, CacheGet.Hit) and hit.value_string == "v"
            assert isinstance(await client.get(name, "absent"), CacheGet.Miss)
            await asyncio.sleep(1.2)
            assert isinstance(await client.get(name, "k"), CacheGet.Miss)
            await client.set(name, "k2", "v2")
            assert isinstance(await client.delete(name, "k2"), CacheDelete.Success)
            assert isinstance(await client.get(name, "k2"), CacheGet.Miss)
            await client.set(name, "k3", "v3")
            assert isinstance(await client.flush_cache(name), CacheFlush.Success)
            assert isinstance(await client.get(name, "k3"), CacheGet.Miss)
            assert _error_code(await client.get("no-such-cache", "k")) == MomentoErrorCode.NOT_FOUND_ERROR
            assert isinstance(await client.delete_cache(name), DeleteCache.Success)

    asyncio.run(scenario())
