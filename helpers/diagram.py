"""A picture of the data flow, generated from the synthesized template (not drawn by hand).

:func:`flow` reads who feeds whom from the template's references (pipe Source/Target, DLQ,
log group, connection -> secret); :func:`draw` lays that out in columns with matplotlib.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from helpers.stack import display_value

SHORT_TYPES = {
    "AWS::DynamoDB::Table": "DynamoDB table",
    "AWS::Pipes::Pipe": "Pipe",
    "AWS::Events::ApiDestination": "API destination",
    "AWS::Events::Connection": "Connection",
    "AWS::SecretsManager::Secret": "Secret",
    "AWS::SQS::Queue": "SQS DLQ",
    "AWS::Logs::LogGroup": "Log group",
}
MOMENTO = "Momento"
COLUMNS = {
    MOMENTO: 3,
    "AWS::DynamoDB::Table": 0,
    "AWS::Pipes::Pipe": 1,
    "AWS::Events::ApiDestination": 2,
    "AWS::Events::Connection": 3,
    "AWS::SecretsManager::Secret": 4,
    "AWS::SQS::Queue": 2,
    "AWS::Logs::LogGroup": 2,
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str


def _referenced_id(value: Any) -> str | None:
    """The logical id a property points to through Ref or Fn::GetAtt (first one found)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
        for inner in value.values():
            found = _referenced_id(inner)
            if found:
                return found
    if isinstance(value, list):
        for inner in value:
            found = _referenced_id(inner)
            if found:
                return found
    return None


def _label(logical_id: str, resource: dict[str, Any]) -> str:
    props = resource.get("Properties", {})
    key = next((k for k in ("TableName", "QueueName", "Name", "LogGroupName") if k in props), None)
    name = display_value(props[key]) if key else logical_id
    return f"{SHORT_TYPES.get(resource['Type'], resource['Type'])}\n{name}"


def flow(template: dict[str, Any]) -> tuple[dict[str, str], list[Edge]]:
    """Nodes (logical id -> label) and the edges records and secrets travel along."""
    resources = template["Resources"]
    nodes = {lid: _label(lid, r) for lid, r in resources.items() if r["Type"] in SHORT_TYPES}
    nodes[MOMENTO] = "Momento HTTP API\n(cache set/delete, topic publish)"
    edges: list[Edge] = []
    for lid, res in resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Pipes::Pipe":
            criteria = props.get("SourceParameters", {}).get("FilterCriteria", {}).get("Filters", [])
            patterns = " | ".join(
                json.dumps(json.loads(f["Pattern"]), separators=(",", ":")) for f in criteria
            )
            edges.append(Edge(_referenced_id(props["Source"]) or "?", lid, patterns or "every record"))
            edges.append(Edge(lid, _referenced_id(props["Target"]) or "?", "HTTP"))
            dlq = (
                props.get("SourceParameters", {}).get("DynamoDBStreamParameters", {}).get("DeadLetterConfig")
            )
            if dlq:
                edges.append(Edge(lid, _referenced_id(dlq) or "?", "failures"))
            logs = props.get("LogConfiguration", {}).get("CloudwatchLogsLogDestination")
            if logs:
                edges.append(
                    Edge(lid, _referenced_id(logs) or "?", props["LogConfiguration"].get("Level", ""))
                )
        elif res["Type"] == "AWS::Events::ApiDestination":
            path = display_value(props["InvocationEndpoint"]).rsplit("}", 1)[-1]
            edges.append(Edge(lid, MOMENTO, f"{props['HttpMethod']} {path}"))
            edges.append(Edge(lid, _referenced_id(props["ConnectionArn"]) or "?", "auth"))
        elif res["Type"] == "AWS::Events::Connection":
            secret = _referenced_id(props.get("AuthParameters", {}))
            if secret:
                edges.append(Edge(lid, secret, "API key"))
    return nodes, [e for e in edges if e.source in nodes and e.target in nodes]


def draw(template: dict[str, Any]) -> Any:
    """A matplotlib Figure of :func:`flow`, one column per stage."""
    import matplotlib.pyplot as plt

    nodes, edges = flow(template)
    resources = template["Resources"]
    columns: dict[int, list[str]] = {}
    for lid in nodes:
        columns.setdefault(COLUMNS[lid if lid == MOMENTO else resources[lid]["Type"]], []).append(lid)
    pos: dict[str, tuple[float, float]] = {}
    height = max(len(ids) for ids in columns.values())
    for col, ids in columns.items():
        offset = (height - len(ids)) / 2
        for row, lid in enumerate(ids):
            pos[lid] = (col * 3.2, height - 1 - row - offset)
    fig, ax = plt.subplots(figsize=(16, max(4, height * 1.3)))
    for edge in edges:
        (x1, y1), (x2, y2) = pos[edge.source], pos[edge.target]
        ax.annotate(
            "",
            xy=(x2 - 0.9, y2),
            xytext=(x1 + 0.9, y1),
            arrowprops={"arrowstyle": "->", "color": "grey", "lw": 1},
        )
        if (
            edge.label
            and edge.target in (MOMENTO,)
            or resources[edge.source]["Type"] == "AWS::DynamoDB::Table"
        ):
            ax.text(
                (x1 + x2) / 2, (y1 + y2) / 2 + 0.12, edge.label, fontsize=7, ha="center", color="darkblue"
            )
    for lid, (x, y) in pos.items():
        ax.text(
            x,
            y,
            nodes[lid],
            ha="center",
            va="center",
            fontsize=7.5,
            wrap=True,
            bbox={"boxstyle": "round", "facecolor": "#eef4ff", "edgecolor": "#5577aa"},
        )
    ax.set_xlim(-1.6, max(x for x, _ in pos.values()) + 1.6)
    ax.set_ylim(-0.8, height - 0.2)
    ax.axis("off")
    ax.set_title("Data flow, read from the synthesized template")
    fig.tight_layout()
    return fig
