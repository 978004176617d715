"""Shared fixtures: the reference's stream records (pipes-semantics.md section 1) as Pipes delivers them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from helpers.local.pipes.templates import PipeContext

STREAM_ARN = "arn:aws:dynamodb:us-east-1:111122223333:table/weather-stats-demo/stream/2024-07-30T17:20:48.118"

# The reference record of pipes-semantics.md section 1, verbatim (MODIFY).
_MODIFY: dict[str, Any] = {
    "eventID": "c814968f8803051fa5700a2a0b9fe599",
    "eventName": "MODIFY",
    "eventVersion": "1.1",
    "eventSource": "aws:dynamodb",
    "awsRegion": "us-east-1",
    "dynamodb": {
        "ApproximateCreationDateTime": 1672592664,
        "Keys": {"Location": {"S": "Seattle"}},
        "NewImage": {"Location": {"S": "Seattle"}, "MaxTemp": {"N": "25"}, "TTL": {"N": "120"}},
        "OldImage": {"Location": {"S": "Seattle"}, "MaxTemp": {"N": "22"}, "TTL": {"N": "120"}},
        "SequenceNumber": "3044600000000017324272463",
        "SizeBytes": 505,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    },
    "eventSourceARN": STREAM_ARN,
}

_FULL_IMAGE = {
    "Location": {"S": "Phoenix"},
    "MaxTemp": {"N": "80"},
    "MinTemp": {"N": "60"},
    "ChancesOfPrecipitation": {"N": "90"},
    "TTL": {"N": "300"},
}


def _weather_record(name: str) -> dict[str, Any]:
    """A seed-stack.md weather row as INSERT (NewImage), MODIFY (both images) or REMOVE (OldImage)."""
    record = copy.deepcopy(_MODIFY)
    record["eventName"] = name
    stream = record["dynamodb"]
    stream["Keys"] = {"Location": {"S": "Phoenix"}}
    stream["NewImage"] = copy.deepcopy(_FULL_IMAGE)
    stream["OldImage"] = {**copy.deepcopy(_FULL_IMAGE), "MaxTemp": {"N": "78"}}
    if name == "INSERT":
        del stream["OldImage"]
    if name == "REMOVE":
        del stream["NewImage"]
    return record


@pytest.fixture
def reference_record() -> dict[str, Any]:
    """The verbatim MODIFY record of pipes-semantics.md section 1 (a fresh copy per test)."""
    return copy.deepcopy(_MODIFY)


@pytest.fixture
def weather_records() -> dict[str, dict[str, Any]]:
    """Phoenix weather-row records keyed by event name: INSERT, MODIFY, REMOVE."""
    return {name: _weather_record(name) for name in ("INSERT", "MODIFY", "REMOVE")}


@pytest.fixture
def pipe_context() -> PipeContext:
    """A pipe without enrichment, ingesting at a fixed instant."""
    return PipeContext(
        pipe_arn="arn:aws:pipes:us-east-1:123456789012:pipe/example",
        pipe_name="example",
        source_arn=STREAM_ARN,
        target_arn="arn:aws:events:us-east-1:123456789012:api-destination/dest/0000",
        enrichment_arn=None,
        ingestion_time=datetime(2024, 3, 8, 12, 30, 15, 250000, tzinfo=UTC),
    )
