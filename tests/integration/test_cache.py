"""helpers.cache through the real momento SDK against the local Momento server, fed by the pipes."""

from __future__ import annotations

import pytest

from helpers import cache
from helpers.weather import WeatherRow, get_row, put_row


def test_read_a_hit_parses_json_and_gives_the_remaining_ttl(lab, location) -> None:
    where = location()
    put_row(WeatherRow(where, 80, 60, 90, ttl=300), lab)

    cache.wait_for_hit(where, lab, timeout=30)
    value = cache.read(where, lab)

    assert value.hit and value.key == where
    assert isinstance(value.value, dict)
    assert value.value["Location"] == where
    assert {str(value.value[k]) for k in ("MaxTemp", "MinTemp", "ChancesOfPrecipitation")} == {
        "80",
        "60",
        "90",
    }
    assert value.ttl_remaining is not None and 0 < value.ttl_remaining <= 300


def test_read_a_miss(lab, location) -> None:
    value = cache.read(location("never-written"), lab)

    assert not value.hit
    assert value.value is None and value.ttl_remaining is None


def test_a_short_ttl_row_is_cached_then_expires(lab, location) -> None:
    where = location()
    put_row(WeatherRow(where, 70, 50, 10, ttl=2), lab)

    hit = cache.wait_for_hit(where, lab, timeout=30)
    assert hit.hit and hit.value["Location"] == where
    assert hit.ttl_remaining is not None and hit.ttl_remaining <= 2

    gone = cache.wait_for_miss(where, lab, timeout=30)
    assert not gone.hit
    assert get_row(where, lab) is not None  # expired in the cache only; the table keeps the row


def test_wait_for_times_out_naming_what_it_waited_for(lab, location) -> None:
    where = location("never-written")

    with pytest.raises(TimeoutError, match="a unicorn to be cached"):
        cache.wait_for(where, lambda v: v.hit, settings=lab, timeout=1, what="a unicorn to be cached")


def test_wait_for_hit_times_out_for_a_key_that_never_arrives(lab, location) -> None:
    where = location("never-written")

    with pytest.raises(TimeoutError, match=where):
        cache.wait_for_hit(where, lab, timeout=1)


def test_ensure_cache_creates_a_missing_cache_then_reports_it_exists(lab, location) -> None:
    other = lab.with_(cache_name=location("cache"))

    assert cache.ensure_cache(other) == "created"
    assert cache.ensure_cache(other) == "exists"
    assert cache.ensure_cache(lab) == "exists"  # the fixture created the configured one
