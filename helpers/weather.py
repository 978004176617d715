"""Weather rows: generate, validate, convert to and from DynamoDB items, write and delete.

A row is what every demo of the reference writes: ``Location`` (the key), ``MaxTemp``, ``MinTemp``,
``ChancesOfPrecipitation`` and ``TTL`` — a *relative* number of seconds that the cache-put pipe
hands to Momento as ``ttl_seconds`` (not an epoch). A row without ``TTL`` is allowed on purpose:
the cache put then fails at Momento and the record lands in the dead-letter queue.

This module talks to DynamoDB only; reading the Momento side is :mod:`helpers.cache`'s job.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from helpers.clients import aws_client
from helpers.config import Settings, load_settings

#: The reference's demo cities.
CITIES = (
    "Phoenix",
    "Seattle",
    "New York",
    "Chicago",
    "Miami",
    "Denver",
    "Boston",
    "Austin",
    "Atlanta",
    "San Diego",
)
TTL_CHOICES = (120, 300)
MAX_TTL_SECONDS = 24 * 3600  # Momento's on-demand TTL limit


class WeatherError(ValueError):
    """A weather row is invalid; the message names the field and the allowed range."""


@dataclass(frozen=True)
class WeatherRow:
    """One row of the weather table. Temperatures in °F, precipitation in %, ``ttl`` in seconds."""

    location: str
    max_temp: int
    min_temp: int
    chances_of_precipitation: int
    ttl: int | None = 300

    def __post_init__(self) -> None:
        if not isinstance(self.location, str) or not self.location.strip() or len(self.location) > 255:
            raise WeatherError("Location must be a non-empty text of at most 255 characters.")
        for name in ("max_temp", "min_temp", "chances_of_precipitation"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise WeatherError(f"{name} must be a whole number, not {value!r}.")
        if not -100 <= self.min_temp <= self.max_temp <= 150:
            raise WeatherError("temperatures must satisfy -100 <= MinTemp <= MaxTemp <= 150 (°F).")
        if not 0 <= self.chances_of_precipitation <= 100:
            raise WeatherError("ChancesOfPrecipitation must be between 0 and 100 (%).")
        if self.ttl is not None and (
            not isinstance(self.ttl, int)
            or isinstance(self.ttl, bool)
            or not 1 <= self.ttl <= MAX_TTL_SECONDS
        ):
            raise WeatherError(f"TTL must be whole seconds from 1 to {MAX_TTL_SECONDS}, or None (no TTL).")

    def to_item(self) -> dict[str, dict[str, str]]:
        """The row as a DynamoDB item in attribute-value form (numbers as ``N`` strings)."""
        item = {
            "Location": {"S": self.location},
            "MaxTemp": {"N": str(self.max_temp)},
            "MinTemp": {"N": str(self.min_temp)},
            "ChancesOfPrecipitation": {"N": str(self.chances_of_precipitation)},
        }
        if self.ttl is not None:
            item["TTL"] = {"N": str(self.ttl)}
        return item

    @classmethod
    def from_item(cls, item: dict[str, dict[str, str]]) -> WeatherRow:
        """Parse a DynamoDB item; a clear :class:`WeatherError` if it is not a weather row."""
        try:
            return cls(
                location=item["Location"]["S"],
                max_temp=int(item["MaxTemp"]["N"]),
                min_temp=int(item["MinTemp"]["N"]),
                chances_of_precipitation=int(item["ChancesOfPrecipitation"]["N"]),
                ttl=int(item["TTL"]["N"]) if "TTL" in item else None,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise WeatherError(f"not a weather row: {item!r} ({exc})") from exc

    def as_dict(self) -> dict[str, Any]:
        """The row with the table's attribute names, for display."""
        return {
            "Location": self.location,
            "MaxTemp": self.max_temp,
            "MinTemp": self.min_temp,
            "ChancesOfPrecipitation": self.chances_of_precipitation,
            "TTL": self.ttl,
        }


def random_row(
    location: str | None = None, *, ttl: int | None = -1, rng: random.Random | None = None
) -> WeatherRow:
    """A plausible random row ("populate with random data"). ``ttl=-1`` picks 120 or 300 s."""
    rng = rng or random.Random()
    low = rng.randint(20, 75)
    return WeatherRow(
        location=location or rng.choice(CITIES),
        max_temp=low + rng.randint(5, 30),
        min_temp=low,
        chances_of_precipitation=rng.randint(0, 100),
        ttl=rng.choice(TTL_CHOICES) if ttl == -1 else ttl,
    )


def item_with_ttl(stream_record: dict[str, Any], ttl: int = 300) -> dict[str, Any] | None:
    """A redrive fix: the row of a failed stream record, given ``ttl`` if it had no TTL; None for a
    REMOVE (nothing to write back)."""
    item = stream_record.get("dynamodb", {}).get("NewImage")
    if item is None:
        return None
    return {**item, "TTL": item.get("TTL", {"N": str(ttl)})}


def table_name(settings: Settings | None = None) -> str:
    """The weather table's name for these settings (the stack's ``TableName`` output)."""
    return (settings or load_settings()).names.table


def put_row(row: WeatherRow, settings: Settings | None = None) -> None:
    """Write ``row`` (an INSERT, or a MODIFY when the Location exists)."""
    settings = settings or load_settings()
    aws_client("dynamodb", settings).put_item(TableName=table_name(settings), Item=row.to_item())


def delete_row(location: str, settings: Settings | None = None) -> bool:
    """Delete the row of ``location`` (a REMOVE record); True if a row was there."""
    settings = settings or load_settings()
    response = aws_client("dynamodb", settings).delete_item(
        TableName=table_name(settings), Key={"Location": {"S": location}}, ReturnValues="ALL_OLD"
    )
    return "Attributes" in response


def get_row(location: str, settings: Settings | None = None) -> WeatherRow | None:
    """The row of ``location`` read back from DynamoDB (consistent read), or None."""
    settings = settings or load_settings()
    response = aws_client("dynamodb", settings).get_item(
        TableName=table_name(settings), Key={"Location": {"S": location}}, ConsistentRead=True
    )
    return WeatherRow.from_item(response["Item"]) if "Item" in response else None


def list_rows(settings: Settings | None = None) -> list[WeatherRow]:
    """Every row in the table, sorted by Location (the table is small by design)."""
    settings = settings or load_settings()
    paginator = aws_client("dynamodb", settings).get_paginator("scan")
    items = [i for page in paginator.paginate(TableName=table_name(settings)) for i in page.get("Items", [])]
    return sorted((WeatherRow.from_item(i) for i in items), key=lambda r: r.location)
