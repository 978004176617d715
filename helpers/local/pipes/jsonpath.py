"""The small JSONPath subset EventBridge Pipes evaluates at run time; shared by templates and params.

Contract:
- :func:`parse_path` accepts ``$`` followed by one or more steps: ``.name`` (letters, digits, ``_``,
  ``-``, ``/``; the syntax the EventBridge docs list), ``[n]`` (a non-negative array index), and the
  wildcards ``.*`` / ``[*]``. Anything else (filters, slices, quoted names, recursive descent, a bare
  ``$``) raises :class:`JsonPathError` naming the offset. Parsed paths are cached.
- :meth:`JsonPath.find` returns ``(True, value)`` or ``(False, None)`` when the path does not exist.
  A definite path (no wildcard) yields the single value found, which may be JSON ``null``. A path with
  a wildcard yields the list of every value it reaches, in document order, and counts as missing when
  that list is empty (as Jayway JsonPath, which AWS uses, returns lists for indefinite paths).
- A name step on an array, or an index on an object, finds nothing (no implicit flattening).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_STEP = re.compile(r"\.(?P<name>[\w/-]+)|\.(?P<dot_star>\*)|\[(?P<index>\d+)\]|\[(?P<br_star>\*)\]")


class JsonPathError(ValueError):
    """A JSONPath outside the supported subset; the message names the path and the offset."""


@dataclass(frozen=True)
class JsonPath:
    """A parsed path: ``steps`` holds names (str), indices (int) and ``None`` for each wildcard."""

    text: str
    steps: tuple[str | int | None, ...]

    @property
    def is_definite(self) -> bool:
        """True when the path names at most one value (it has no wildcard)."""
        return None not in self.steps

    def find(self, document: Any) -> tuple[bool, Any]:
        """Evaluate on ``document``: ``(found, value)``; see the module contract for wildcards."""
        nodes = [document]
        for step in self.steps:
            following: list[Any] = []
            for node in nodes:
                if step is None:  # wildcard
                    if isinstance(node, dict):
                        following.extend(node.values())
                    elif isinstance(node, list):
                        following.extend(node)
                elif isinstance(step, int):
                    if isinstance(node, list) and step < len(node):
                        following.append(node[step])
                elif isinstance(node, dict) and step in node:
                    following.append(node[step])
            nodes = following
            if not nodes:
                return False, None
        if self.is_definite:
            return True, nodes[0]
        return True, nodes


@lru_cache(maxsize=1024)
def parse_path(text: str) -> JsonPath:
    """Parse ``text`` (e.g. ``$.dynamodb.Keys.Location.S``) or raise :class:`JsonPathError`."""
    if not isinstance(text, str) or not text.startswith("$"):
        raise JsonPathError(f"JSONPath {text!r} must start with '$.' (for example $.detail.state)")
    steps: list[str | int | None] = []
    position = 1
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None:
            raise JsonPathError(
                f"JSONPath {text!r}: unsupported syntax at offset {position} ({text[position:]!r}); "
                "use dot names (letters, digits, _ - /), [n] indices and * wildcards only"
            )
        if match.group("name") is not None:
            steps.append(match.group("name"))
        elif match.group("index") is not None:
            steps.append(int(match.group("index")))
        else:
            steps.append(None)
        position = match.end()
    if not steps:
        raise JsonPathError(f"JSONPath {text!r} selects nothing: add at least one step, as in $.detail")
    return JsonPath(text=text, steps=tuple(steps))
