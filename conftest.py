"""Test-session isolation for pytest (unit, integration and the notebooks under nbval).

The whole session uses its own local-cloud state folder, so `make test` never touches a local
cloud the user has running. When notebooks are collected, their local cloud is started and the
stack deployed up front; whatever runs is stopped when the session ends, even after a failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
_STATE_DIR = tempfile.mkdtemp(prefix="weatherlab-test-state-")


def pytest_configure(config: object) -> None:
    os.environ["WEATHERLAB_STATE_DIR"] = _STATE_DIR
    os.environ["WEATHERLAB_MODE"] = "local"


def pytest_collection_finish(session: object) -> None:
    """When notebooks are collected (nbval), start their local cloud, deploy the stack and create the
    cache before the first cell runs, so any single notebook can be tested on its own too (notebooks
    1 and 2 then find everything in place and reuse it: both steps are idempotent)."""
    if any(str(getattr(item, "path", "")).endswith(".ipynb") for item in getattr(session, "items", [])):
        from helpers import cache, stack
        from helpers.config import load_settings
        from helpers.local import supervisor

        settings = load_settings(mode="local", state_dir=_STATE_DIR)
        supervisor.up(settings)
        stack.deploy(settings, progress=lambda *event: None)
        cache.ensure_cache(settings)


def pytest_unconfigure(config: object) -> None:
    from helpers.config import load_settings
    from helpers.local import supervisor

    try:
        supervisor.down(load_settings(mode="local", state_dir=_STATE_DIR))
    finally:
        shutil.rmtree(_STATE_DIR, ignore_errors=True)
