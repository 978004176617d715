"""DynamoDB stream records (as boto3's ``get_records`` returns them) -> the event shape Pipes delivers.

Contract:
- :func:`to_pipes_event` returns a new JSON-ready dict (the input is not modified) with the keys in the
  order of the reference record: ``eventID``, ``eventName``, ``eventVersion``, ``eventSource``,
  ``awsRegion``, ``dynamodb`` {``ApproximateCreationDateTime``, ``Keys``, ``NewImage``, ``OldImage``,
  ``SequenceNumber``, ``SizeBytes``, ``StreamViewType``}, ``eventSourceARN``; any other field (such as
  ``userIdentity`` on TTL deletions) follows, unchanged. Raises :class:`RecordError` for a record without
  ``eventName`` or ``dynamodb``, or a stream ARN that is not a DynamoDB stream ARN.
- :func:`filterable_view` returns the record as filters see it: without the fields Pipes adds after
  filtering (``eventSource``, ``eventSourceARN``, ``awsRegion``, ``eventVersion``).

Conversions (reference section 1):
- ``ApproximateCreationDateTime`` (a datetime from boto3, or epoch seconds as int/float/str) becomes
  whole epoch seconds, an int; a naive datetime is taken as UTC.
- Attribute values stay in DynamoDB JSON: ``N`` stays a string; ``B``/``BS`` bytes (boto3 decodes them)
  become base64 text, as in the JSON AWS sends.
- ``eventSourceARN`` is the stream ARN. ``awsRegion`` is the stream ARN's region, ``eventSource`` is
  ``aws:dynamodb`` and ``eventVersion`` is ``1.1`` (what DynamoDB Streams reports in AWS), whatever an
  emulator put there (moto writes ``1.0`` and ``us-east-1``).
"""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from numbers import Real
from typing import Any

EVENT_SOURCE = "aws:dynamodb"
EVENT_VERSION = "1.1"
AFTER_FILTER_FIELDS = ("eventSource", "eventSourceARN", "awsRegion", "eventVersion")
_STREAM_FIELDS = (
    "ApproximateCreationDateTime",
    "Keys",
    "NewImage",
    "OldImage",
    "SequenceNumber",
    "SizeBytes",
    "StreamViewType",
)
_TOP_FIELDS = (
    "eventID",
    "eventName",
    "eventVersion",
    "eventSource",
    "awsRegion",
    "dynamodb",
    "eventSourceARN",
)


class RecordError(ValueError):
    """A stream record or stream ARN that cannot be turned into a Pipes event."""


def _json_ready(value: Any) -> Any:
    """A deep copy with bytes as base64 text (DynamoDB JSON's form of binary values)."""
    if isinstance(value, dict):
        return {key: _json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_ready(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _epoch_seconds(value: Any) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return math.floor(moment.timestamp())
    if isinstance(value, Real) and not isinstance(value, bool):
        return math.floor(value)
    if isinstance(value, str):
        try:
            return math.floor(float(value))
        except ValueError:
            pass
    raise RecordError(f"ApproximateCreationDateTime {value!r} is neither a datetime nor epoch seconds")


def _region(stream_arn: str) -> str:
    parts = stream_arn.split(":", 5) if isinstance(stream_arn, str) else []
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "dynamodb" or "/stream/" not in parts[5]:
        raise RecordError(
            f"{stream_arn!r} is not a DynamoDB stream ARN "
            "(arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>)"
        )
    return parts[3]


def to_pipes_event(stream_record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """Convert one ``get_records`` record into the event a pipe delivers; see the module contract."""
    if not isinstance(stream_record, dict) or "eventName" not in stream_record:
        raise RecordError("a stream record needs eventName (INSERT, MODIFY or REMOVE)")
    stream = stream_record.get("dynamodb")
    if not isinstance(stream, dict):
        raise RecordError(f"stream record {stream_record.get('eventID')!r} has no dynamodb section")
    region = _region(stream_arn)

    dynamodb: dict[str, Any] = {}
    for name in _STREAM_FIELDS:
        if name in stream:
            dynamodb[name] = _json_ready(stream[name])
    if "ApproximateCreationDateTime" in stream:
        dynamodb["ApproximateCreationDateTime"] = _epoch_seconds(stream["ApproximateCreationDateTime"])
    for name, value in stream.items():
        if name not in dynamodb:
            dynamodb[name] = _json_ready(value)

    event: dict[str, Any] = {
        "eventID": stream_record.get("eventID"),
        "eventName": stream_record["eventName"],
        "eventVersion": EVENT_VERSION,
        "eventSource": EVENT_SOURCE,
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    for name, value in stream_record.items():
        if name not in _TOP_FIELDS:
            event[name] = _json_ready(value)
    return event


def filterable_view(event: dict[str, Any]) -> dict[str, Any]:
    """The event without the fields Pipes adds after filtering (a shallow copy)."""
    return {key: value for key, value in event.items() if key not in AFTER_FILTER_FIELDS}
