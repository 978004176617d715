"""helpers.widgets: the create form and the dashboard, driven like a learner would, against the lab."""

from __future__ import annotations

import json

from helpers import cache
from helpers.progress import wait_until
from helpers.weather import CITIES, WeatherRow, get_row
from helpers.widgets import Dashboard, RowForm


def _fill(form: RowForm, row: WeatherRow) -> None:
    form.location.value, form.max_temp.value, form.min_temp.value = row.location, row.max_temp, row.min_temp
    form.precipitation.value, form.ttl.value = row.chances_of_precipitation, row.ttl


def test_fill_random_describes_a_valid_row(lab) -> None:
    form = RowForm(lab)

    filled = form.fill_random()

    assert form.row() == filled
    assert filled.location in CITIES and filled.ttl in (120, 300)


def test_submit_writes_the_row_and_reports_it(lab, location) -> None:
    written: list[WeatherRow] = []
    form = RowForm(lab, on_written=written.append)
    form.fill_random()
    form.location.value = location()
    expected = form.row()

    result = form.submit()

    assert result == expected and written == [expected]
    assert get_row(expected.location, lab) == expected
    assert "wrote" in form.status.value and expected.location in form.status.value


def test_submit_shows_an_invalid_row_as_an_error_without_raising(lab, location) -> None:
    written: list[WeatherRow] = []
    form = RowForm(lab, on_written=written.append)
    where = location()
    form.location.value, form.max_temp.value, form.min_temp.value = where, 50, 100  # MinTemp > MaxTemp

    assert form.submit() is None

    assert "darkred" in form.status.value and "MinTemp" in form.status.value
    assert written == [] and get_row(where, lab) is None


def test_dashboard_panels_follow_a_written_row_and_close_cleanly(lab, location) -> None:
    dashboard = Dashboard(lab, refresh_seconds=0.2).start()
    try:
        assert dashboard.subscriber is not None and dashboard.subscriber.running
        assert len(dashboard._threads) == 2 and all(t.is_alive() for t in dashboard._threads)
        assert dashboard.start() is dashboard  # idempotent: no second subscriber or threads
        assert len(dashboard._threads) == 2

        unseen = location("unseen")
        dashboard.watch.value = unseen
        dashboard.refresh_side_by_side()
        assert unseen in dashboard.side_by_side.value
        assert "not in the cache" in dashboard.side_by_side.value and "no row" in dashboard.side_by_side.value

        where = location()
        row = WeatherRow(where, 81, 61, 42, ttl=300)
        _fill(dashboard.form, row)
        assert dashboard.form.submit() == row
        assert dashboard.watch.value == where  # the form's on_written points the watch at the new row

        cache.wait_for_hit(where, lab, timeout=30)
        dashboard.refresh_side_by_side()
        side = dashboard.side_by_side.value
        assert where in side and "Expires in" in side and "no row" not in side
        assert json.dumps(row.as_dict(), indent=2).replace('"', "&quot;") in side

        messages = wait_until(
            lambda: dashboard.messages.value if where in dashboard.messages.value else None,
            timeout=30,
            what=f"the messages panel to show {where!r}",
            show=False,
        )
        assert "INSERT" in messages and "no messages yet" not in messages

        dashboard.refresh_deliveries()
        deliveries = dashboard.deliveries.value
        assert deliveries.startswith("<table>") and "delivered" in deliveries
        assert lab.names.cache_put_pipe in deliveries and lab.names.topic_publish_pipe in deliveries

        dashboard.side_by_side.value = ""  # the background refresh fills it again on its own
        wait_until(
            lambda: True if "Expires in" in dashboard.side_by_side.value else None,
            timeout=30,
            what="the background refresh to keep the side-by-side panel current",
            show=False,
        )
    finally:
        dashboard.close()

    assert not dashboard.subscriber.running
    assert not any(t.is_alive() for t in dashboard._threads)
    dashboard.close()  # safe to call twice
