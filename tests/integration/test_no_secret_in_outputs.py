"""The local Momento key never shows in an executed notebook, even in the one that prints log records,
DLQ messages and connection changes (notebook 6), run headless with papermill exactly as `make demo` does."""

from __future__ import annotations

from pathlib import Path

from helpers import clients
from helpers.config import Settings
from helpers.notebooks import BUILD, NOTEBOOKS, run_notebook


def test_notebook_6_outputs_never_contain_the_api_key(lab: Settings, monkeypatch) -> None:
    monkeypatch.setenv("WEATHERLAB_STATE_DIR", str(lab.state_dir))  # the kernel inherits it
    key = clients.momento_api_key(lab).reveal()
    assert len(key) >= 16

    result = run_notebook(NOTEBOOKS / "06-logs-and-dlq.ipynb", "local")

    assert result.status == "passed", result.error
    executed = (BUILD / "notebooks" / "06-logs-and-dlq.ipynb").read_text()
    html = (BUILD / "html" / "06-logs-and-dlq.html").read_text()
    assert "api_key_value" not in executed
    assert key not in executed and key not in html
    assert Path(BUILD / "notebooks" / "06-logs-and-dlq.ipynb").stat().st_size < 500_000, "outputs stay small"
