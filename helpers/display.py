"""Small, readable notebook output: tables from rows of dicts, rendered as HTML (and plain text).

HTML renders in JupyterLab and in the executed copies' HTML; the plain-text form keeps headless
logs and nbval comparisons readable.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any


class Table:
    """Rows of dicts shown as a table; ``_repr_html_`` for Jupyter, ``str`` for terminals and logs."""

    def __init__(self, rows: Iterable[Mapping[str, Any]], title: str = "") -> None:
        self.rows = [dict(r) for r in rows]
        self.title = title
        self.columns: list[str] = []
        for row in self.rows:
            self.columns += [c for c in row if c not in self.columns]

    @staticmethod
    def _cell(value: Any) -> str:
        if isinstance(value, (dict, list)):
            return json.dumps(value, separators=(", ", ": "))
        return "" if value is None else str(value)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(
                f"<td style='text-align:left'>{html.escape(self._cell(r.get(c)))}</td>" for c in self.columns
            )
            + "</tr>"
            for r in self.rows
        )
        caption = (
            f"<caption style='text-align:left'><b>{html.escape(self.title)}</b></caption>"
            if self.title
            else ""
        )
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __str__(self) -> str:
        widths = {c: max([len(c)] + [len(self._cell(r.get(c))) for r in self.rows]) for c in self.columns}
        lines = [self.title] if self.title else []
        lines.append("  ".join(c.ljust(widths[c]) for c in self.columns))
        lines.append("  ".join("-" * widths[c] for c in self.columns))
        lines += ["  ".join(self._cell(r.get(c)).ljust(widths[c]) for c in self.columns) for r in self.rows]
        return "\n".join(lines)

    __repr__ = __str__

    def __len__(self) -> int:
        return len(self.rows)


def table(rows: Iterable[Mapping[str, Any]] | Mapping[str, Any], title: str = "") -> Table:
    """A :class:`Table` from rows, or from one mapping (shown as key/value rows)."""
    if isinstance(rows, Mapping):
        rows = [{"name": k, "value": v} for k, v in rows.items()]
    return Table(rows, title)
