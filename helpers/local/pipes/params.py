"""Target ``HttpParameters`` + connection ``InvocationHttpParameters`` + one record -> URL and headers.

Contract:
- :func:`build_invocation` returns an :class:`Invocation`: the URL with every ``*`` of the destination's
  endpoint filled and the query string appended, the parameter headers (AWS's default headers and the
  auth header are the caller's business), and ``missing``: one ``"<section>.<key>: <path>"`` entry per
  dynamic query/header value the record lacks (that entry is dropped, as the reference suggests [U]).
- :func:`validate_http_parameters` checks the configuration alone (call it when a pipe is picked up).
- Both raise :class:`ParameterError`, whose message says what to fix: bad shapes, keys or values over
  512 characters, header names that are not HTTP tokens, static header values outside printable ASCII,
  a ``*`` count that differs from the number of ``PathParameterValues``, a JSONPath outside the
  supported subset, a connection value that is absent (secret values must be filled in first).
  :func:`build_invocation` also raises it for a record-level problem: a dynamic path value the record
  lacks (there is no URL without it) [U], or a dynamic header value with control or non-ASCII
  characters (it cannot be sent as an HTTP header) [U].

Rules (reference section 4, AWS pages eb-pipes-event-target and eb-api-destinations):
- A value (or key) is dynamic when it starts with ``$.``: a whole-value JSONPath evaluated on the
  record (not on the rendered template). Strings are used as they are, numbers and booleans as JSON
  text, objects and arrays as compact JSON; [U] a JSON ``null`` counts as missing.
- [U] Each path value is percent-encoded as one path segment and each query key and value is
  percent-encoded (RFC 3986: everything but ``A-Z a-z 0-9 - . _ ~``, so a space is ``%20`` and ``/`` is
  ``%2F``); UTF-8 first. A query string already in the endpoint is kept, and ours follows it.
- Connection ``InvocationHttpParameters`` (``{"HeaderParameters": [{"Key", "Value", "IsValueSecret"}],
  "QueryStringParameters": [...]}``) win over the target's on overlap (header names compared without
  case). ``BodyParameters`` are not applied by this module.
- [U] More ``PathParameterValues`` than ``*`` is a configuration error, like too few.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from helpers.local.pipes.jsonpath import JsonPathError, parse_path

MAX_PARAMETER_CHARS = 512
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-zA-Z]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
_UNRESERVED = "-._~"


class ParameterError(ValueError):
    """HTTP parameters that cannot be applied; the message names the parameter and what to fix."""


@dataclass(frozen=True)
class Invocation:
    """Where to send one record: the full URL, the parameter headers, and the dropped dynamic entries."""

    url: str
    headers: dict[str, str]
    missing: list[str]


@dataclass(frozen=True)
class _Spec:
    path_values: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]
    query: tuple[tuple[str, str], ...]
    connection_headers: tuple[tuple[str, str], ...]
    connection_query: tuple[tuple[str, str], ...]


def _is_dynamic(value: str) -> bool:
    return value.startswith("$.")


def _check_string(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ParameterError(f"{where} must be a string, got {value!r}")
    if len(value) > MAX_PARAMETER_CHARS:
        raise ParameterError(f"{where} is {len(value)} characters; the limit is {MAX_PARAMETER_CHARS}")
    if _is_dynamic(value):
        try:
            parse_path(value)
        except JsonPathError as error:
            raise ParameterError(f"{where}: {error}") from None
    return value


def _check_header(where: str, name: str, value: str) -> None:
    if not _is_dynamic(name) and not _TOKEN.fullmatch(name):
        raise ParameterError(f"{where}: {name!r} is not a valid HTTP header name (use letters, digits, -)")
    if not _is_dynamic(value) and not _HEADER_VALUE.fullmatch(value):
        raise ParameterError(f"{where} {name!r}: the value must be printable ASCII without line breaks")


def _mapping(where: str, raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ParameterError(f"{where} must be an object of name -> value, got {raw!r}")
    return tuple((_check_string(f"{where} key", k), _check_string(f"{where}.{k}", v)) for k, v in raw.items())


def _connection_list(where: str, raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ParameterError(f"connection {where} must be a list of {{Key, Value, IsValueSecret}}")
    entries = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("Key"), str):
            raise ParameterError(f"connection {where} entry {item!r} needs a string Key")
        key = item["Key"]
        if not isinstance(item.get("Value"), str):
            raise ParameterError(
                f"connection {where} {key!r} has no value; read secret values from the connection's "
                "secret before building requests"
            )
        entries.append(
            (
                _check_string(f"connection {where} key", key),
                _check_string(f"connection {where}.{key}", item["Value"]),
            )
        )
    return tuple(entries)


def _spec(http_parameters: dict[str, Any] | None, connection_parameters: dict[str, Any] | None) -> _Spec:
    target = http_parameters or {}
    connection = connection_parameters or {}
    if not isinstance(target, dict) or not isinstance(connection, dict):
        raise ParameterError("HttpParameters and InvocationHttpParameters must be objects")
    path_values = target.get("PathParameterValues") or []
    if not isinstance(path_values, list):
        raise ParameterError(f"PathParameterValues must be a list of strings, got {path_values!r}")
    spec = _Spec(
        path_values=tuple(_check_string(f"PathParameterValues[{i}]", v) for i, v in enumerate(path_values)),
        headers=_mapping("HeaderParameters", target.get("HeaderParameters")),
        query=_mapping("QueryStringParameters", target.get("QueryStringParameters")),
        connection_headers=_connection_list("HeaderParameters", connection.get("HeaderParameters")),
        connection_query=_connection_list("QueryStringParameters", connection.get("QueryStringParameters")),
    )
    for name, value in spec.headers:
        _check_header("HeaderParameters", name, value)
    for name, value in spec.connection_headers:
        _check_header("connection HeaderParameters", name, value)
    return spec


def _split_endpoint(endpoint: str, wildcards: int) -> tuple[Any, list[str]]:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ParameterError(f"endpoint {endpoint!r} must be an absolute http(s) URL")
    pieces = parts.path.split("*")
    if len(pieces) - 1 != wildcards:
        raise ParameterError(
            f"endpoint {endpoint!r} has {len(pieces) - 1} '*' wildcard(s) but PathParameterValues has "
            f"{wildcards} value(s); give exactly one value per '*', in order"
        )
    return parts, pieces


def validate_http_parameters(
    endpoint: str, http_parameters: dict[str, Any] | None, connection_parameters: dict[str, Any] | None = None
) -> None:
    """Check a pipe's HTTP parameters against its destination endpoint, without a record."""
    spec = _spec(http_parameters, connection_parameters)
    _split_endpoint(endpoint, len(spec.path_values))


def _resolve(value: str, event: dict[str, Any]) -> str | None:
    """A static value as is; a JSONPath's value as text, or None when the record lacks it."""
    if not _is_dynamic(value):
        return value
    found, result = parse_path(value).find(event)
    if not found or result is None:
        return None
    if isinstance(result, str):
        return result
    return json.dumps(result, separators=(",", ":"), ensure_ascii=False)


def _resolve_pairs(
    section: str, pairs: tuple[tuple[str, str], ...], event: dict[str, Any], missing: list[str]
) -> list[tuple[str, str]]:
    resolved = []
    for key, value in pairs:
        name, text = _resolve(key, event), _resolve(value, event)
        if name is None or text is None:
            missing.append(f"{section}.{key}: {value if name is not None else key}")
            continue
        resolved.append((name, text))
    return resolved


def _encode(text: str) -> str:
    return quote(text, safe=_UNRESERVED)


def build_invocation(
    endpoint: str,
    http_parameters: dict[str, Any] | None,
    event: dict[str, Any],
    connection_parameters: dict[str, Any] | None = None,
) -> Invocation:
    """Build the URL and parameter headers for one record; see the module contract."""
    spec = _spec(http_parameters, connection_parameters)
    parts, pieces = _split_endpoint(endpoint, len(spec.path_values))
    path = pieces[0]
    for number, (value, following) in enumerate(zip(spec.path_values, pieces[1:], strict=True)):
        resolved = _resolve(value, event)
        if resolved is None:
            raise ParameterError(
                f"PathParameterValues[{number}] {value} has no value in this record; the URL cannot be built"
            )
        path += _encode(resolved) + following

    missing: list[str] = []
    query = _resolve_pairs("QueryStringParameters", spec.query, event, missing)
    overriding = {key for key, _ in spec.connection_query}
    query = [(k, v) for k, v in query if k not in overriding] + list(spec.connection_query)
    query_text = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in query)
    if parts.query and query_text:
        query_text = f"{parts.query}&{query_text}"
    url = urlunsplit((parts.scheme, parts.netloc, path, query_text or parts.query, parts.fragment))

    headers: dict[str, str] = {}
    for name, value in _resolve_pairs("HeaderParameters", spec.headers, event, missing):
        if not _TOKEN.fullmatch(name):
            raise ParameterError(f"HeaderParameters: the record gives {name!r}, not a valid HTTP header name")
        if not _HEADER_VALUE.fullmatch(value):
            raise ParameterError(
                f"HeaderParameters.{name}: the record's value has control or non-ASCII characters, "
                "which cannot be sent in an HTTP header"
            )
        headers[name] = value
    for name, value in spec.connection_headers:
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value
    return Invocation(url=url, headers=headers, missing=missing)
