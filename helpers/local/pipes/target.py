"""The API destination target: resolve it, then send HTTP requests the way EventBridge does.

Contract:
- :func:`resolve_api_destination` reads the destination (endpoint with ``*`` wildcards, method, rate
  limit) and its connection; for API_KEY auth the key comes from the connection's ``SecretArn``
  (``{"api_key_name", "api_key_value"}``) and is kept as a :class:`~helpers.config.Secret`.
  Connection ``InvocationHttpParameters`` are taken from the secret when present (it holds the values
  that ``DescribeConnection`` hides for secret parameters), else from the description.
- :func:`request_headers` builds AWS's headers: ``User-Agent``, ``Content-Type`` (unless one is given),
  ``Range``, ``Accept-Encoding``, ``Connection: close``, the given parameters, then the auth header with
  the key as is (no "Bearer"). ``Host`` and ``Content-Length`` are added by the HTTP client.
- :class:`HttpSender` sends one request with a timeout (5 s as in AWS unless configured) and never
  raises for HTTP-level failures: it returns an :class:`HttpResult` saying what happened.
- :class:`RateLimiter` spaces requests to at most ``InvocationRateLimitPerSecond`` per destination.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from helpers.config import Secret

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_RATE_LIMIT = 300
_MAX_RESPONSE_CHARS = 64 * 1024
AWS_DEFAULT_HEADERS = {
    "User-Agent": "Amazon/EventBridge/ApiDestinations",
    "Content-Type": "application/json; charset=utf-8",
    "Range": "bytes=0-1048575",
    "Accept-Encoding": "gzip,deflate",
    "Connection": "close",
}


class TargetResolutionError(RuntimeError):
    """The API destination, its connection or its secret cannot be read; the message says which."""


@dataclass(frozen=True)
class ApiDestination:
    """A resolved API destination and what its connection adds to every request."""

    arn: str
    endpoint: str
    method: str
    rate_limit: int
    connection_arn: str
    auth_header_name: str | None = None
    auth_header_value: Secret = field(default_factory=lambda: Secret(""))
    connection_parameters: dict[str, Any] | None = None


def _name_from_arn(arn: str, kind: str) -> str:
    """``arn:...:api-destination/<name>/<uuid>`` -> ``<name>`` (same for ``connection``)."""
    marker = f":{kind}/"
    if marker not in arn:
        raise TargetResolutionError(f"{arn!r} is not an EventBridge {kind} ARN")
    return arn.split(marker, 1)[1].split("/", 1)[0]


def _secret_parameters(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The secret's snake_case ``invocation_http_parameters`` in the API's PascalCase shape."""
    params = raw.get("invocation_http_parameters")
    if not isinstance(params, dict):
        return None
    out: dict[str, Any] = {}
    for snake, pascal in (
        ("header_parameters", "HeaderParameters"),
        ("query_string_parameters", "QueryStringParameters"),
        ("body_parameters", "BodyParameters"),
    ):
        if params.get(snake):
            out[pascal] = [
                {
                    "Key": p.get("key"),
                    "Value": p.get("value"),
                    "IsValueSecret": bool(p.get("is_value_secret")),
                }
                for p in params[snake]
            ]
    return out or None


def resolve_api_destination(events: Any, secrets: Any, destination_arn: str) -> ApiDestination:
    """Describe the destination and its connection and read the API key; see the module contract."""
    try:
        dest = events.describe_api_destination(Name=_name_from_arn(destination_arn, "api-destination"))
        conn = events.describe_connection(Name=_name_from_arn(dest["ConnectionArn"], "connection"))
    except Exception as exc:  # boto errors: make them say what to check
        raise TargetResolutionError(
            f"cannot resolve API destination {destination_arn}: {exc}. Create the destination and its "
            "connection before (or soon after) the pipe; the engine retries."
        ) from exc
    auth = conn.get("AuthParameters") or {}
    described_params = auth.get("InvocationHttpParameters")
    header_name: str | None = None
    header_value = Secret("")
    params = described_params
    if conn.get("AuthorizationType") == "API_KEY" or conn.get("SecretArn"):
        secret_arn = conn.get("SecretArn")
        if not secret_arn:
            raise TargetResolutionError(
                f"connection {conn.get('Name')} has no SecretArn to read its key from"
            )
        try:
            raw = json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])
        except Exception as exc:
            raise TargetResolutionError(
                f"cannot read the secret of connection {conn.get('Name')} ({type(exc).__name__}); "
                "check that the connection was created through the Events API"
            ) from exc
        if conn.get("AuthorizationType") == "API_KEY":
            header_name = (auth.get("ApiKeyAuthParameters") or {}).get("ApiKeyName") or raw.get(
                "api_key_name"
            )
            header_value = Secret(str(raw.get("api_key_value", "")))
        params = _secret_parameters(raw) or described_params
    return ApiDestination(
        arn=destination_arn,
        endpoint=dest["InvocationEndpoint"],
        method=dest.get("HttpMethod", "POST"),
        rate_limit=int(dest.get("InvocationRateLimitPerSecond") or DEFAULT_RATE_LIMIT),
        connection_arn=dest["ConnectionArn"],
        auth_header_name=header_name,
        auth_header_value=header_value,
        connection_parameters=params,
    )


class RefreshingDestination:
    """An API destination re-read at most every ``max_age`` seconds, so connection changes (a rotated
    API key, new invocation parameters) reach the next invocation, as they do in AWS. If a re-read
    fails the last good resolution is kept and the failure logged."""

    def __init__(self, resolve: Any, initial: ApiDestination, max_age: float = 1.0) -> None:
        self._resolve, self._value, self._max_age = resolve, initial, max_age
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def get(self) -> ApiDestination:
        with self._lock:
            if time.monotonic() - self._at >= self._max_age:
                try:
                    self._value = self._resolve()
                except TargetResolutionError as exc:
                    log.warning("keeping the last resolution of %s: %s", self._value.arn, exc)
                self._at = time.monotonic()
            return self._value


def request_headers(destination: ApiDestination, parameter_headers: dict[str, str]) -> dict[str, str]:
    """AWS's default headers, then the pipe/connection header parameters, then the auth header."""
    headers = dict(AWS_DEFAULT_HEADERS)
    lower = {k.lower(): k for k in headers}
    for key, value in parameter_headers.items():
        existing = lower.get(key.lower())
        if existing is not None:
            del headers[existing]
        headers[key] = value
        lower[key.lower()] = key
    if destination.auth_header_name:
        headers[destination.auth_header_name] = destination.auth_header_value.reveal()
    return headers


def redact_url(url: str, secret_keys: set[str]) -> str:
    """``url`` with the values of query parameters named in ``secret_keys`` replaced (for logs)."""
    parts = urlsplit(url)
    if not secret_keys or not parts.query:
        return url
    pairs = [
        f"{k}=<redacted>" if unquote(k) in secret_keys else f"{k}={v}"
        for k, _, v in (p.partition("=") for p in parts.query.split("&"))
    ]
    return urlunsplit(parts._replace(query="&".join(pairs)))


def redact_headers(headers: dict[str, str], secret_names: set[str]) -> dict[str, str]:
    """A copy of ``headers`` safe to log: values of ``secret_names`` (case-insensitive) replaced."""
    hidden = {n.lower() for n in secret_names}
    return {k: ("<redacted>" if k.lower() in hidden else v) for k, v in headers.items()}


@dataclass(frozen=True)
class HttpResult:
    """What one request produced. ``status`` is None when no response arrived."""

    status: int | None
    headers: dict[str, str]
    body: str
    error: str | None
    timed_out: bool
    connection_failed: bool
    started_at: float
    finished_at: float


class HttpSender:
    """Sends requests with one ``httpx.Client`` per thread (a client is not shared across threads)."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._lock = threading.Lock()

    def _client(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(timeout=self.timeout, follow_redirects=False, trust_env=False)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def send(self, method: str, url: str, headers: dict[str, str], body: str) -> HttpResult:
        """Send one request; timeouts and connection failures come back as flags, not exceptions."""
        started = time.time()
        try:
            resp = self._client().request(method, url, headers=headers, content=body.encode("utf-8"))
        except httpx.TimeoutException as exc:
            return HttpResult(
                None,
                {},
                "",
                f"Timeout after {self.timeout}s ({type(exc).__name__})",
                True,
                False,
                started,
                time.time(),
            )
        except httpx.TransportError as exc:
            return HttpResult(
                None,
                {},
                "",
                f"Connection failure: {type(exc).__name__}: {exc}",
                False,
                True,
                started,
                time.time(),
            )
        text = resp.text[:_MAX_RESPONSE_CHARS]
        error = None if resp.is_success else f"Target returned HTTP {resp.status_code}"
        return HttpResult(
            resp.status_code, dict(resp.headers), text, error, False, False, started, time.time()
        )

    def close(self) -> None:
        """Close every client this sender opened."""
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()


class RateLimiter:
    """At most ``rate`` acquisitions per second, spaced evenly; waits on ``stop`` so it never spins."""

    def __init__(self, rate: int) -> None:
        self.rate = max(1, int(rate))
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self, stop: threading.Event) -> bool:
        """Wait for a slot; False if ``stop`` was set meanwhile."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + 1.0 / self.rate
        wait = slot - time.monotonic()
        return not (wait > 0 and stop.wait(wait))
