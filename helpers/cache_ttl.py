"""Remaining TTL of a cache item ("expires in N s"), which the Python SDK cannot ask for.

The ``momento`` Python SDK (1.29) has no ItemGetTtl call, but the RPC
``/cache_client.Scs/ItemGetTtl`` exists on the service. :func:`remaining_ttl` calls it on a gRPC
channel built the way the SDK builds its own (TLS on port 443, plaintext otherwise; ``authorization``
and ``cache`` metadata), so it works against the real service and the local server alike.

:class:`MomentoCallError` and :func:`explain_status` are shared with :mod:`helpers.topics`, so a
failed call reads the same whichever helper made it.
"""

from __future__ import annotations

import grpc
from momento.auth import CredentialProvider
from momento_wire_types import cacheclient_pb2 as cache_pb
from momento_wire_types import cacheclient_pb2_grpc as cache_grpc

from helpers.errors import WeatherlabError

#: The SDK's own message size limit (5 MB plus headroom) and its topic keepalive settings.
_CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.max_send_message_length", 5_243_000),
    ("grpc.max_receive_message_length", 5_243_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.keepalive_time_ms", 5_000),
    ("grpc.keepalive_timeout_ms", 1_000),
]

_HINTS = {
    grpc.StatusCode.NOT_FOUND: "create the cache first (CacheClient.create_cache)",
    grpc.StatusCode.UNAUTHENTICATED: "the API key is missing; check the credential provider",
    grpc.StatusCode.PERMISSION_DENIED: "the API key was refused; check it matches the server's key",
    grpc.StatusCode.UNAVAILABLE: "the Momento endpoint is not reachable; is the (local) server running?",
    grpc.StatusCode.DEADLINE_EXCEEDED: "the call timed out; is the (local) server running and responsive?",
}


class MomentoCallError(WeatherlabError):
    """A direct gRPC call to Momento failed; the message names the status and what to do next."""

    def __init__(self, message: str, code: grpc.StatusCode | None) -> None:
        super().__init__(message)
        self.code = code


def sdk_channel(credential_provider: CredentialProvider) -> grpc.Channel:
    """A channel to the provider's cache endpoint, built like the SDK's (caller closes it)."""
    if credential_provider.port == 443:
        return grpc.secure_channel(
            credential_provider.cache_endpoint, grpc.ssl_channel_credentials(), options=_CHANNEL_OPTIONS
        )
    target = f"{credential_provider.cache_endpoint}:{credential_provider.port}"
    return grpc.insecure_channel(target, options=_CHANNEL_OPTIONS)


def sdk_metadata(credential_provider: CredentialProvider, cache: str | None = None) -> list[tuple[str, str]]:
    """Call metadata as the SDK sends it: the raw key, plus ``cache`` for data calls."""
    metadata = [("authorization", credential_provider.auth_token), ("runtime-version", "python:weatherlab")]
    if cache is not None:
        metadata.append(("cache", cache))
    return metadata


def explain_status(code: grpc.StatusCode | None, details: str, what: str) -> MomentoCallError:
    """A :class:`MomentoCallError` saying that ``what`` failed with ``code``, and what to try next."""
    name = code.name if code is not None else "UNKNOWN"
    hint = _HINTS.get(code, "see the status details") if code is not None else "see the status details"
    return MomentoCallError(f"{what} failed with {name}: {details}; {hint}", code)


def explain_rpc_error(err: grpc.RpcError, what: str) -> MomentoCallError:
    """Turn a gRPC error into a :class:`MomentoCallError` that says what failed and what to try."""
    code = err.code() if hasattr(err, "code") else None
    details = err.details() if hasattr(err, "details") else str(err)
    return explain_status(code, details, what)


def remaining_ttl(
    credential_provider: CredentialProvider, cache: str, key: str | bytes, timeout: float = 5.0
) -> float | None:
    """Seconds until ``key`` in ``cache`` expires, or None when the item is missing (or expired).

    Raises :class:`MomentoCallError` when the call fails (cache not found, wrong key, unreachable
    endpoint, timeout after ``timeout`` seconds).
    """
    raw_key = key.encode("utf-8") if isinstance(key, str) else key
    with sdk_channel(credential_provider) as channel:
        stub = cache_grpc.ScsStub(channel)
        try:
            response = stub.ItemGetTtl(
                cache_pb._ItemGetTtlRequest(cache_key=raw_key),
                metadata=sdk_metadata(credential_provider, cache),
                timeout=timeout,
            )
        except grpc.RpcError as err:
            raise explain_rpc_error(err, f"ItemGetTtl on cache {cache!r}") from None
    if response.WhichOneof("result") == "found":
        return response.found.remaining_ttl_millis / 1000
    return None
