"""helpers.measure: a burst of real writes, the engine's latency measurements, summary and plot."""

from __future__ import annotations

import matplotlib
import pytest

from helpers import measure
from helpers.weather import get_row

matplotlib.use("Agg")


def test_burst_is_measured_on_both_pipes_and_summarized(lab, location) -> None:
    n = 5
    cache_put, topic_publish = lab.names.cache_put_pipe, lab.names.topic_publish_pipe

    burst = measure.burst(n, lab, prefix=location("burst"))

    assert len(set(burst.locations)) == n
    assert all(get_row(where, lab) is not None for where in burst.locations)
    found = measure.wait_for_latencies({cache_put: n, topic_publish: n}, lab, since=burst.started, timeout=60)
    summary = {row["pipe"]: row for row in measure.summarize(found)}
    assert {cache_put, topic_publish} <= set(summary)
    for pipe in (cache_put, topic_publish):
        row = summary[pipe]
        assert row["n"] == len(found[pipe]) >= n
        assert 0 <= row["median_ms"] <= row["p90_ms"] <= row["p99_ms"] <= row["max_ms"]
        assert row["max_ms"] == round(max(found[pipe]), 1)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        ([4.0, 1.0, 3.0, 2.0], 0, 1.0),
        ([4.0, 1.0, 3.0, 2.0], 100, 4.0),
        ([float(v) for v in range(1, 11)], 90, 9.1),
        ([10.0, 20.0], 25, 12.5),
        ([7.0], 99, 7.0),
    ],
)
def test_percentile_interpolates_linearly(values, q, expected) -> None:
    assert measure.percentile(values, q) == pytest.approx(expected)


def test_summarize_orders_pipes_and_skips_empty_ones() -> None:
    rows = measure.summarize({"b": [3.0, 1.0, 2.0], "a": [10.0], "empty": []})

    assert [r["pipe"] for r in rows] == ["a", "b"]
    assert rows[1] == {"pipe": "b", "n": 3, "median_ms": 2.0, "p90_ms": 2.8, "p99_ms": 3.0, "max_ms": 3.0}


def test_plot_returns_a_figure_with_one_histogram_per_pipe() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig = measure.plot(
        {"weather-stats-demo-cache-put-pipe": [5.0, 7.0, 9.0, 30.0], "other": [1.0, 2.0], "empty": []}
    )
    try:
        assert isinstance(fig, Figure)
        assert [ax.get_title() for ax in fig.axes] == ["other", "cache-put-pipe"]
        assert all(ax.patches for ax in fig.axes)  # histogram bars were drawn
        assert all({line.get_label() for line in ax.lines} == {"p50", "p99"} for ax in fig.axes)
    finally:
        plt.close(fig)
