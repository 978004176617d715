"""Change messages on the topic, read through the real SDK subscription (helpers.changes)."""

from __future__ import annotations

import pytest

from helpers import clients
from helpers.changes import changes, wait_for_changes
from helpers.topics import TopicSubscriber
from helpers.weather import WeatherRow, delete_row, put_row


def test_insert_modify_remove_arrive_in_order_and_filtered(lab, location) -> None:
    city, other = location("city"), location("other")
    with TopicSubscriber(clients.momento_credentials(lab), lab.cache_name, lab.topic_name) as subscriber:
        put_row(WeatherRow(city, 60, 45, 80, ttl=300), lab)
        put_row(WeatherRow(other, 70, 50, 10, ttl=300), lab)
        put_row(WeatherRow(city, 62, 47, 70, ttl=300), lab)
        delete_row(city, lab)

        upserts = wait_for_changes(subscriber, locations=[city], event_types=["INSERT", "MODIFY"], count=2)
        assert [(c["EventType"], c["MaxTemp"]) for c in upserts] == [("INSERT", "60"), ("MODIFY", "62")]
        removal = wait_for_changes(subscriber, locations=[city], event_types=["REMOVE"])[-1]
        assert removal["Location"] == city and removal["MaxTemp"] is None  # a REMOVE has no NewImage
        sequences = [c["sequence"] for c in changes(subscriber)]
        assert sequences == sorted(sequences)
        assert {c["Location"] for c in changes(subscriber)} >= {city, other}


def test_waiting_for_a_change_that_never_comes_times_out_clearly(lab, location) -> None:
    subscriber = TopicSubscriber(clients.momento_credentials(lab), lab.cache_name, lab.topic_name)
    with subscriber, pytest.raises(TimeoutError, match=r"1 REMOVE message\(s\) about it-.* on the topic"):
        wait_for_changes(subscriber, locations=[location("never")], event_types=["REMOVE"], timeout=1)
