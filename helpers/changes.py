"""The change messages the topic-publish pipe puts on the topic, as a notebook reads them.

Each message is the pipe's input template rendered on one stream record: ``EventType`` (INSERT,
MODIFY or REMOVE), ``Location`` and the temperatures (null for a REMOVE, which has no NewImage).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from helpers.progress import wait_until
from helpers.topics import TopicSubscriber


def changes(subscriber: TopicSubscriber) -> list[dict[str, Any]]:
    """Every JSON message received so far, oldest first, each with its topic ``sequence`` number."""
    found = []
    for message in subscriber.messages:
        try:
            body = json.loads(message.text)
        except ValueError:
            continue  # not a change message: someone else publishes on the topic
        if isinstance(body, dict):
            found.append({"sequence": message.sequence_number, **body})
    return found


def wait_for_changes(
    subscriber: TopicSubscriber,
    *,
    locations: Iterable[str],
    event_types: Iterable[str] = ("INSERT", "MODIFY", "REMOVE"),
    count: int = 1,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """The newest ``count`` changes about ``locations`` of the given event types, once that many arrived.

    :class:`TimeoutError` after ``timeout`` seconds names what was awaited.
    """
    places, kinds = set(locations), set(event_types)

    def probe() -> list[dict[str, Any]] | None:
        found = [
            c for c in changes(subscriber) if c.get("Location") in places and c.get("EventType") in kinds
        ]
        return found[-count:] if len(found) >= count else None

    what = f"{count} {'/'.join(sorted(kinds))} message(s) about {', '.join(sorted(places))} on the topic"
    return wait_until(probe, timeout=timeout, what=what)
