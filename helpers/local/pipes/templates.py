"""EventBridge Pipes input transformation: ``InputTemplate`` + one record -> the request body.

Contract:
- :func:`compile_template` validates a template once (call it when a pipe is picked up: it raises
  :class:`TemplateError` for a malformed placeholder, an unknown ``<aws.pipes.*>`` variable or a
  template over 8192 characters); :func:`render_template` renders it for one record and returns a
  :class:`Rendered` body plus the JSONPaths that found nothing. Rendering never raises.
- No template (``None`` or ``""``): the body is the whole record as compact JSON.
- Placeholders: ``<$.path>`` (dot names with ``-`` ``_`` ``/``, ``[n]``, ``*``; see ``jsonpath``) and the
  reserved ``<aws.pipes.pipe-arn>``, ``<aws.pipes.pipe-name>``, ``<aws.pipes.source-arn>``,
  ``<aws.pipes.enrichment-arn>``, ``<aws.pipes.target-arn>``, ``<aws.pipes.event.ingestion-time>``,
  ``<aws.pipes.event>`` and ``<aws.pipes.event.json>``. Only ``<`` followed by ``$`` or ``aws.`` starts a
  placeholder; any other ``<`` is text.

Rules (AWS page eb-pipes-input-transformation and the reference's section 3):
- A template whose first non-blank character is ``{`` or ``[`` is a JSON template; where a placeholder
  stands as a JSON value, strings are quoted by the engine (``{"a": <$.x>}`` -> ``{"a": "v"}``), numbers,
  booleans and null are written as JSON, objects and arrays are inserted raw (compact JSON). Inside a
  JSON string (``"Body is <$.body>"``), strings are inserted as they are and objects/arrays lose their
  inner quotes, so writing the quotes yourself gives the same result for strings.
- Values are never escaped and never converted: a DynamoDB ``N`` of "25" renders as the string "25".
- [U] Any other template is free text (e.g. ``Hello, <$.name>`` or ``<$.body>``): every placeholder
  renders as inside a string (AWS documents ``<$.body>`` of ``{"key": "value"}`` becoming
  ``{key: value}``). The result is sent as is, even when it is not JSON.
- [U] A path that finds nothing renders ``null`` as a JSON value and nothing inside a string, and is
  listed in ``Rendered.missing_paths`` (AWS: "the variable isn't created"). ``<aws.pipes.enrichment-arn>``
  of a pipe without enrichment renders the same way, without being listed.
- [U] A wildcard path renders the JSON array of everything it reaches.
- [U] ``<aws.pipes.event>`` is the record's compact JSON as a string value: quoted and escaped as a
  JSON value, escaped inside a string, raw in a free-text template. ``<aws.pipes.event.json>`` is the
  record inserted raw and, as AWS states, may only stand as a JSON value (otherwise TemplateError).
- [U] ``<aws.pipes.event.ingestion-time>`` is ISO-8601 UTC with milliseconds: ``2024-03-08T00:00:00.000Z``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from typing import Any

from helpers.local.pipes.jsonpath import JsonPath, JsonPathError, parse_path

MAX_TEMPLATE_CHARS = 8192
RESERVED_VARIABLES = (
    "aws.pipes.pipe-arn",
    "aws.pipes.pipe-name",
    "aws.pipes.source-arn",
    "aws.pipes.enrichment-arn",
    "aws.pipes.target-arn",
    "aws.pipes.event.ingestion-time",
    "aws.pipes.event",
    "aws.pipes.event.json",
)


class TemplateError(ValueError):
    """An input template Pipes cannot apply; the message names the placeholder and its offset."""


@dataclass(frozen=True)
class PipeContext:
    """What the reserved ``<aws.pipes.*>`` variables read, for one record."""

    pipe_arn: str
    pipe_name: str
    source_arn: str
    target_arn: str
    enrichment_arn: str | None
    ingestion_time: datetime


@dataclass(frozen=True)
class Rendered:
    """A rendered body and the template JSONPaths that found no value in the record."""

    body: str
    missing_paths: list[str]


class _Context(Enum):
    VALUE = "a JSON value"
    STRING = "inside a JSON string"
    TEXT = "free text"


@dataclass(frozen=True)
class _Placeholder:
    source: str  # the text between < and >
    path: JsonPath | None  # None for a reserved variable
    where: _Context


@dataclass(frozen=True)
class Template:
    """A compiled template: literal text and placeholders in order."""

    text: str
    parts: tuple[str | _Placeholder, ...]

    def render(self, event: dict[str, Any], context: PipeContext) -> Rendered:
        """Render for one record; see the module contract."""
        out: list[str] = []
        missing: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            if part.path is not None:
                found, value = part.path.find(event)
                if not found and part.source not in missing:
                    missing.append(part.source)
            else:
                found, value = _reserved(part, event, context)
            out.append(_render(value, part.where) if found else _absent(part.where))
        return Rendered(body="".join(out), missing_paths=missing)


class _Verbatim(str):
    """Text that is already in its final form (no quoting)."""

    __slots__ = ()


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _render(value: Any, where: _Context) -> str:
    if isinstance(value, _Verbatim):
        return str(value)
    if where is _Context.VALUE:
        return f'"{value}"' if isinstance(value, str) else _compact(value)
    if isinstance(value, str):
        return value
    text = _compact(value)
    return text.replace('"', "") if isinstance(value, dict | list) else text


def _absent(where: _Context) -> str:
    return "null" if where is _Context.VALUE else ""


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _reserved(part: _Placeholder, event: dict[str, Any], context: PipeContext) -> tuple[bool, Any]:
    name = part.source
    if name == "aws.pipes.event.json":
        return True, event
    if name == "aws.pipes.event":
        text = _compact(event)
        if part.where is _Context.TEXT:
            return True, text
        escaped = json.dumps(text, ensure_ascii=False)  # a JSON string literal, quotes included
        return True, _Verbatim(escaped if part.where is _Context.VALUE else escaped[1:-1])
    if name == "aws.pipes.event.ingestion-time":
        return True, _iso(context.ingestion_time)
    value = {
        "aws.pipes.pipe-arn": context.pipe_arn,
        "aws.pipes.pipe-name": context.pipe_name,
        "aws.pipes.source-arn": context.source_arn,
        "aws.pipes.target-arn": context.target_arn,
        "aws.pipes.enrichment-arn": context.enrichment_arn,
    }[name]
    return value is not None, value


def _placeholder(template: str, start: int, where: _Context) -> tuple[_Placeholder, int]:
    end = template.find(">", start + 1)
    if end == -1:
        raise TemplateError(f"input template: placeholder at offset {start} is not closed with '>'")
    source = template[start + 1 : end]
    if source.startswith("$"):
        try:
            path = parse_path(source)
        except JsonPathError as error:
            raise TemplateError(f"input template: placeholder at offset {start}: {error}") from None
        return _Placeholder(source, path, where), end + 1
    if source not in RESERVED_VARIABLES:
        raise TemplateError(
            f"input template: unknown variable <{source}> at offset {start}; "
            f"the reserved ones are {', '.join(f'<{v}>' for v in RESERVED_VARIABLES)}"
        )
    if source == "aws.pipes.event.json" and where is not _Context.VALUE:
        raise TemplateError(
            f"input template: <aws.pipes.event.json> at offset {start} is {where.value}; it is not "
            "escaped, so it may only stand as a JSON field value (remove the quotes around it), "
            "or use <aws.pipes.event>"
        )
    return _Placeholder(source, None, where), end + 1


@lru_cache(maxsize=256)
def compile_template(template: str) -> Template:
    """Validate and compile an ``InputTemplate`` or raise :class:`TemplateError`."""
    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateError(
            f"input template is {len(template)} characters; the limit is {MAX_TEMPLATE_CHARS}"
        )
    is_json = template.lstrip()[:1] in ("{", "[")
    parts: list[str | _Placeholder] = []
    literal: list[str] = []
    in_string = False
    position = 0
    while position < len(template):
        char = template[position]
        if char == "<" and template.startswith(("$", "aws."), position + 1):
            where = _Context.TEXT if not is_json else _Context.STRING if in_string else _Context.VALUE
            placeholder, position = _placeholder(template, position, where)
            parts.extend(["".join(literal), placeholder])
            literal = []
            continue
        if is_json and in_string and char == "\\":
            literal.append(template[position : position + 2])
            position += 2
            continue
        if is_json and char == '"':
            in_string = not in_string
        literal.append(char)
        position += 1
    parts.append("".join(literal))
    return Template(text=template, parts=tuple(p for p in parts if p != ""))


def render_template(template: str | None, event: dict[str, Any], context: PipeContext) -> Rendered:
    """Render ``template`` for ``event``; no template means the whole record as compact JSON."""
    if not template:
        return Rendered(body=_compact(event), missing_paths=[])
    return compile_template(template).render(event, context)
