"""The template-driven data-flow picture, the notebook table, and the waiting helper."""

from __future__ import annotations

import json
import time

import pytest

from helpers.diagram import MOMENTO, draw, flow
from helpers.display import table
from helpers.progress import wait_until


def test_flow_follows_the_template(template):
    nodes, edges = flow(template)
    by_type = {
        t: [lid for lid, r in template["Resources"].items() if r["Type"] == t]
        for t in ("AWS::DynamoDB::Table", "AWS::Pipes::Pipe", "AWS::SQS::Queue")
    }
    table_id = by_type["AWS::DynamoDB::Table"][0]
    from_table = {e.target: e.label for e in edges if e.source == table_id}
    assert set(from_table) == set(by_type["AWS::Pipes::Pipe"])
    assert sorted(from_table.values()) == sorted(
        ['{"eventName":["INSERT","MODIFY"]}', '{"eventName":["REMOVE"]}', "every record"]
    )
    dlq = by_type["AWS::SQS::Queue"][0]
    assert {e.source for e in edges if e.target == dlq} == set(by_type["AWS::Pipes::Pipe"])
    assert sorted(e.label for e in edges if e.target == MOMENTO) == [
        "DELETE /cache/*",
        "POST /topics/*/*",
        "PUT /cache/*",
    ]
    assert nodes[MOMENTO].startswith("Momento")


def test_draw_returns_a_figure(template):
    import matplotlib

    matplotlib.use("Agg")
    fig = draw(template)
    assert len(fig.axes[0].texts) >= 12


def test_table_renders_html_and_text():
    t = table([{"a": 1, "b": {"x": "<y>"}}, {"a": 2, "c": None}], title="T")
    html = t._repr_html_()
    assert "<caption" in html and "&lt;y&gt;" in html and "<th style='text-align:left'>c</th>" in html
    text = str(t).splitlines()
    assert text[0] == "T" and text[1].split() == ["a", "b", "c"]
    assert json.loads(text[3].split(None, 1)[1]) == {"x": "<y>"}
    assert len(table({"k": "v"})) == 1


def test_wait_until_returns_the_first_result():
    calls = iter([None, None, "done"])
    assert wait_until(lambda: next(calls), timeout=5, what="x", interval=0.01, show=False) == "done"


def test_wait_until_times_out_with_a_clear_message():
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="gave up waiting for the moon after 0 s"):
        wait_until(lambda: None, timeout=0.3, what="the moon", interval=0.05, show=False)
    assert time.monotonic() - started < 3
