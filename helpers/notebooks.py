"""Execute the walkthrough: every numbered notebook in order, with papermill, headless.

Executed copies go to ``build/notebooks/`` and an HTML rendering of each to ``build/html/``. The
kernel name and working directory are set explicitly so the run does not depend on the caller's
shell. A failing notebook stops the run (later notebooks build on earlier ones).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from helpers.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
KERNEL = "weatherlab"
CELL_TIMEOUT = 600


@dataclass
class NotebookRun:
    """The outcome of one notebook."""

    name: str
    status: str
    seconds: float
    error: str = ""


def walkthrough(only: list[str] | None = None) -> list[Path]:
    """The numbered notebooks in order (``NN-*.ipynb``), optionally only those matching ``only``."""
    paths = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    if only:
        paths = [p for p in paths if any(token in p.name for token in only)]
    return paths


def run_notebook(path: Path, mode: str, *, kernel: str = KERNEL) -> NotebookRun:
    """Execute one notebook with papermill (parameters: ``mode``) and render it to HTML."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    out = BUILD / "notebooks" / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(path),
            str(out),
            parameters={"mode": mode},
            kernel_name=kernel,
            cwd=str(path.parent),
            execution_timeout=CELL_TIMEOUT,
            progress_bar=False,
            log_output=False,
        )
        status, error = "passed", ""
    except papermill.PapermillExecutionError as exc:
        status, error = "failed", f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"[:300]
    except Exception as exc:  # kernel died, timeout, missing kernel: report, do not hide
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:300]
    seconds = time.perf_counter() - started
    if out.is_file():
        html_dir = BUILD / "html"
        html_dir.mkdir(parents=True, exist_ok=True)
        body, _ = HTMLExporter().from_notebook_node(nbformat.read(out, as_version=4))
        (html_dir / f"{path.stem}.html").write_text(body)
    return NotebookRun(path.name, status, seconds, error)


def run_all(mode: str | None = None, only: list[str] | None = None) -> int:
    """Run the walkthrough, print a table (notebook, status, seconds); 0 if all passed, else 1."""
    mode = mode or load_settings().mode
    console = Console()
    paths = walkthrough(only)
    if not paths:
        console.print(f"[red]no notebooks found in {NOTEBOOKS}[/red]")
        return 1
    results: list[NotebookRun] = []
    for path in paths:
        console.print(f"running {path.name} ({mode} mode) ...")
        result = run_notebook(path, mode)
        results.append(result)
        console.print(f"  {result.status} in {result.seconds:.1f} s {result.error}")
        if result.status != "passed":
            break
    table = Table(title=f"walkthrough ({mode} mode) - executed copies in build/notebooks, HTML in build/html")
    for column in ("notebook", "status", "seconds", "error"):
        table.add_column(column)
    for r in results:
        colour = "green" if r.status == "passed" else "red"
        table.add_row(r.name, f"[{colour}]{r.status}[/{colour}]", f"{r.seconds:.1f}", r.error)
    for path in paths[len(results) :]:
        table.add_row(path.name, "[yellow]not run[/yellow]", "", "an earlier notebook failed")
    console.print(table)
    return 0 if len(results) == len(paths) and all(r.status == "passed" for r in results) else 1
