"""helpers.weather against DynamoDB on the moto server: put, get, list, delete."""

from __future__ import annotations

from helpers.weather import WeatherRow, delete_row, get_row, list_rows, put_row


def test_put_get_list_and_delete_a_row(lab, location) -> None:
    where = location()
    row = WeatherRow(where, 80, 60, 90, ttl=300)

    put_row(row, lab)

    assert get_row(where, lab) == row
    assert row in list_rows(lab)
    assert delete_row(where, lab) is True
    assert get_row(where, lab) is None
    assert where not in {r.location for r in list_rows(lab)}


def test_put_again_updates_the_row_and_keeps_a_missing_ttl_missing(lab, location) -> None:
    where = location()
    put_row(WeatherRow(where, 80, 60, 90, ttl=300), lab)

    put_row(WeatherRow(where, 85, 61, 10, ttl=None), lab)

    assert get_row(where, lab) == WeatherRow(where, 85, 61, 10, ttl=None)
    assert [r for r in list_rows(lab) if r.location == where] == [WeatherRow(where, 85, 61, 10, ttl=None)]


def test_list_rows_is_sorted_by_location(lab, location) -> None:
    names = [location("b"), location("a")]
    for name in names:
        put_row(WeatherRow(name, 70, 50, 0, ttl=300), lab)

    listed = [r.location for r in list_rows(lab)]

    assert set(names) <= set(listed)
    assert listed == sorted(listed)


def test_deleting_a_missing_row_returns_false(lab, location) -> None:
    where = location()

    assert delete_row(where, lab) is False
    assert get_row(where, lab) is None
