"""helpers.faults: a wrong connection key makes real deliveries fail into the DLQ; restoring it heals."""

from __future__ import annotations

import time

from helpers import cache, observe
from helpers.progress import wait_until
from helpers.weather import WeatherRow, put_row


def test_wrong_api_key_dead_letters_deliveries_and_restore_heals(
    api_key, dead_letters, location, execution_ids_of
) -> None:
    lab = api_key.settings
    cache_put, topic_publish = lab.names.cache_put_pipe, lab.names.topic_publish_pipe
    broken, started = location("broken"), time.time()

    api_key.break_key()
    put_row(WeatherRow(broken, 75, 55, 20, ttl=300), lab)

    dead = dead_letters.wait(broken, {cache_put, topic_publish})
    assert {m.body["context"]["condition"] for m in dead} == {"RetryAttemptsExhausted"}
    assert {m.body["localEngineDetail"]["httpStatusCode"] for m in dead} <= {401, 403}
    assert not cache.read(broken, lab).hit
    ids = set().union(*execution_ids_of(broken, started).values())
    failed = [
        e for e in observe.executions(observe.pipe_log_records(lab, since=started)) if e.execution_id in ids
    ]
    assert {e.pipe for e in failed} == {cache_put, topic_publish}
    assert all(e.status == "FAILED" and e.http_status in (401, 403) for e in failed)

    api_key.restore()
    healed, healed_at = location("healed"), time.time()
    put_row(WeatherRow(healed, 76, 56, 21, ttl=300), lab)

    assert cache.wait_for_hit(healed, lab, timeout=30).value["Location"] == healed

    def publish_ended():
        ids = execution_ids_of(healed, healed_at).get(topic_publish, set())
        runs = [
            e
            for e in observe.executions(observe.pipe_log_records(lab, since=healed_at))
            if e.execution_id in ids
        ]
        return runs if runs and runs[-1].status != "RUNNING" else None

    runs = wait_until(publish_ended, timeout=30, what=f"the topic publish of {healed!r}", show=False)
    assert runs[-1].status == "SUCCEEDED"
    assert dead_letters.now(healed) == []
