"""The weatherlab dashboard: the reference web app as one ipywidgets panel a learner keeps open.

* create form (Location, Max/Min Temp °F, Precipitation %, TTL s, "random data") and delete form;
* "Published messages": what the topic subscriber receives, pretty JSON with the time;
* "Cache vs DynamoDB": the cached value with "expires in N s" beside the DynamoDB row;
* per-pipe delivery counters from the pipes' log records.

Background threads only set widget traits (no printing from threads). :meth:`Dashboard.close`
stops them and the subscriber. All logic lives in the modules this one calls.
"""

from __future__ import annotations

import html
import json
import threading
import time
from datetime import datetime
from typing import Any

import ipywidgets as w

from helpers import cache, clients, observe
from helpers.config import Settings, load_settings
from helpers.topics import TopicMessage, TopicSubscriber
from helpers.weather import CITIES, WeatherRow, delete_row, get_row, put_row, random_row

MAX_SHOWN_MESSAGES = 20


def _message_html(messages: list[TopicMessage]) -> str:
    items = []
    for m in reversed(messages[-MAX_SHOWN_MESSAGES:]):
        try:
            body = json.dumps(json.loads(m.text), indent=2)
        except ValueError:
            body = m.text
        stamp = datetime.fromtimestamp(m.received_at).strftime("%H:%M:%S")
        items.append(f"<div><b>#{m.sequence_number}</b> at {stamp}<pre>{html.escape(body)}</pre></div>")
    return "".join(items) or "<i>no messages yet: create or delete a row</i>"


def _side_by_side_html(location: str, cached: cache.CachedValue | None, row: WeatherRow | None) -> str:
    if cached is None or not cached.hit:
        left = "<i>not in the cache</i>"
    else:
        left = f"<pre>{html.escape(json.dumps(cached.value, indent=2))}</pre>"
        if cached.ttl_remaining is not None:
            left += f"<b>Expires in {cached.ttl_remaining:.0f} s</b>"
    right = f"<pre>{html.escape(json.dumps(row.as_dict(), indent=2))}</pre>" if row else "<i>no row</i>"
    return (
        f"<h4>{html.escape(location)}</h4><table><tr><th>Momento cache</th><th>DynamoDB</th></tr>"
        f"<tr><td style='vertical-align:top'>{left}</td>"
        f"<td style='vertical-align:top'>{right}</td></tr></table>"
    )


class RowForm:
    """The create form of the reference web app: fields, "random data", and a write button."""

    def __init__(self, settings: Settings, on_written: Any = None) -> None:
        self.settings = settings
        self.on_written = on_written
        self.location = w.Combobox(description="Location", options=list(CITIES), value="Phoenix")
        self.max_temp = w.BoundedIntText(description="Max Temp °F", min=-100, max=150, value=80)
        self.min_temp = w.BoundedIntText(description="Min Temp °F", min=-100, max=150, value=60)
        self.precipitation = w.BoundedIntText(description="Precip. %", min=0, max=100, value=90)
        self.ttl = w.BoundedIntText(description="TTL s", min=1, max=86400, value=300)
        self.random_button = w.Button(description="Populate with random data", icon="random")
        self.create_button = w.Button(description="Create / update", button_style="primary")
        self.status = w.HTML()
        self.random_button.on_click(lambda _: self.fill_random())
        self.create_button.on_click(lambda _: self.submit())

    def fill_random(self) -> WeatherRow:
        """Fill the fields with a random row (and return it)."""
        row = random_row()
        self.location.value, self.max_temp.value, self.min_temp.value = (
            row.location,
            row.max_temp,
            row.min_temp,
        )
        self.precipitation.value, self.ttl.value = row.chances_of_precipitation, row.ttl or 300
        return row

    def row(self) -> WeatherRow:
        """The row the fields describe (raises WeatherError if it is invalid)."""
        return WeatherRow(
            self.location.value,
            self.max_temp.value,
            self.min_temp.value,
            self.precipitation.value,
            self.ttl.value,
        )

    def submit(self) -> WeatherRow | None:
        """Write the row; errors are shown in the form, never raised into the UI loop."""
        try:
            row = self.row()
            put_row(row, self.settings)
        except Exception as exc:
            self.status.value = f"<span style='color:darkred'>{html.escape(str(exc))}</span>"
            return None
        self.status.value = (
            f"wrote {html.escape(row.location)}: watch it arrive in the cache and on the topic"
        )
        if self.on_written:
            self.on_written(row)
        return row

    def widget(self) -> w.Widget:
        return w.VBox(
            [
                w.HTML("<h3>Create</h3>"),
                self.location,
                self.max_temp,
                self.min_temp,
                self.precipitation,
                self.ttl,
                w.HBox([self.random_button, self.create_button]),
                self.status,
            ]
        )


class Dashboard:
    """Build with ``Dashboard(settings).show()``; call :meth:`close` when done."""

    def __init__(self, settings: Settings | None = None, *, refresh_seconds: float = 1.0) -> None:
        self.settings = settings or load_settings()
        self.refresh_seconds = refresh_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started_at = time.time()
        self.subscriber: TopicSubscriber | None = None

        self.form = RowForm(self.settings, on_written=lambda row: setattr(self.watch, "value", row.location))
        self.delete_location = w.Combobox(description="Location", options=list(CITIES), value="Phoenix")
        self.delete_button = w.Button(description="Delete", button_style="danger")
        self.status = w.HTML()
        self.messages = w.HTML(value=_message_html([]))
        self.watch = w.Combobox(description="Watch", options=list(CITIES), value="Phoenix")
        self.side_by_side = w.HTML()
        self.deliveries = w.HTML()

        self.delete_button.on_click(lambda _: self._delete())

    # -- actions (run in the kernel's thread when a button is clicked) ---------------------------
    def _delete(self) -> None:
        try:
            existed = delete_row(self.delete_location.value, self.settings)
        except Exception as exc:
            self.status.value = f"<span style='color:darkred'>{html.escape(str(exc))}</span>"
            return
        self.status.value = f"deleted {html.escape(self.delete_location.value)}" if existed else "no such row"

    # -- background refresh ------------------------------------------------------------------------
    def _on_message(self, _message: TopicMessage) -> None:
        if self.subscriber is not None:
            self.messages.value = _message_html(self.subscriber.messages)

    def _loop(self, interval: float, refresh: Any) -> None:
        while not self._stop.wait(interval):
            try:
                refresh()
            except Exception as exc:  # keep refreshing; show the problem instead of dying silently
                self.status.value = (
                    f"<span style='color:darkred'>refresh failed: {html.escape(str(exc))}</span>"
                )

    def refresh_side_by_side(self) -> None:
        location = self.watch.value
        self.side_by_side.value = _side_by_side_html(
            location, cache.read(location, self.settings), get_row(location, self.settings)
        )

    def refresh_deliveries(self) -> None:
        counts = observe.delivery_counts(self.settings, since=self.started_at)
        rows = "".join(
            f"<tr><td>{html.escape(p)}</td><td>{c['delivered']}</td><td>{c['failed']}</td></tr>"
            for p, c in sorted(counts.items())
        )
        self.deliveries.value = (
            "<table><tr><th>pipe</th><th>delivered</th><th>failed</th></tr>" + rows + "</table>"
        )

    def start(self) -> Dashboard:
        """Subscribe to the topic and start the refresh threads (idempotent)."""
        if self._threads:
            return self
        self.subscriber = TopicSubscriber(
            clients.momento_credentials(self.settings),
            self.settings.cache_name,
            self.settings.topic_name,
            on_message=self._on_message,
        ).start()
        for interval, refresh in (
            (self.refresh_seconds, self.refresh_side_by_side),
            (max(2.0, self.refresh_seconds * 2), self.refresh_deliveries),
        ):
            thread = threading.Thread(target=self._loop, args=(interval, refresh), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def widget(self) -> w.Widget:
        """The whole dashboard as one widget tree."""
        create = self.form.widget()
        delete = w.VBox([w.HTML("<h3>Delete</h3>"), self.delete_location, self.delete_button])
        published = w.VBox(
            [w.HTML("<h3>Published messages</h3>"), self.messages],
            layout=w.Layout(max_height="400px", overflow="auto", width="40%"),
        )
        compare = w.VBox([w.HTML("<h3>Get item from cache</h3>"), self.watch, self.side_by_side])
        return w.VBox(
            [
                w.HBox([create, delete]),
                self.status,
                w.HBox([published, compare]),
                w.HTML("<h3>Deliveries per pipe</h3>"),
                self.deliveries,
            ]
        )

    def show(self) -> w.Widget:
        """Start the background parts and return the widget (display it as a cell's last line)."""
        self.start()
        return self.widget()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the refresh threads and the subscriber; safe to call twice."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        if self.subscriber is not None:
            self.subscriber.stop(timeout)
