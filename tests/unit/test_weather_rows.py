"""Weather rows: validation, DynamoDB item round trip, random data."""

from __future__ import annotations

import random

import pytest

from helpers.weather import CITIES, WeatherError, WeatherRow, random_row


def test_reference_phoenix_row_as_item():
    row = WeatherRow("Phoenix", 80, 60, 90, ttl=300)
    assert row.to_item() == {
        "Location": {"S": "Phoenix"},
        "MaxTemp": {"N": "80"},
        "MinTemp": {"N": "60"},
        "ChancesOfPrecipitation": {"N": "90"},
        "TTL": {"N": "300"},
    }
    assert WeatherRow.from_item(row.to_item()) == row


def test_row_without_ttl_has_no_ttl_attribute():
    row = WeatherRow("Seattle", 60, 50, 100, ttl=None)
    assert "TTL" not in row.to_item()
    assert WeatherRow.from_item(row.to_item()).ttl is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"location": ""}, "Location"),
        ({"max_temp": 50, "min_temp": 60}, "MinTemp <= MaxTemp"),
        ({"max_temp": 200}, "MaxTemp"),
        ({"chances_of_precipitation": 101}, "ChancesOfPrecipitation"),
        ({"ttl": 0}, "TTL"),
        ({"ttl": 86401}, "TTL"),
        ({"max_temp": 80.5}, "whole number"),
        ({"ttl": True}, "TTL"),
    ],
)
def test_invalid_rows_are_refused_with_the_field_named(kwargs, message):
    base = {"location": "Phoenix", "max_temp": 80, "min_temp": 60, "chances_of_precipitation": 90, "ttl": 300}
    with pytest.raises(WeatherError, match=message):
        WeatherRow(**{**base, **kwargs})


def test_from_item_names_what_is_wrong():
    with pytest.raises(WeatherError, match="not a weather row"):
        WeatherRow.from_item({"Location": {"S": "X"}})


def test_random_rows_are_valid_and_use_reference_cities_and_ttls():
    rng = random.Random(7)
    rows = [random_row(rng=rng) for _ in range(200)]
    assert {r.location for r in rows} <= set(CITIES)
    assert {r.ttl for r in rows} == {120, 300}
    assert random_row("Boston", ttl=None, rng=rng).ttl is None
    assert random_row("Boston", ttl=5, rng=rng).ttl == 5
