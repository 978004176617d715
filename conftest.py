"""Test-session isolation for pytest (unit, integration and the notebooks under nbval).

The whole session uses its own local-cloud state folder, so `make test` never touches a local
cloud the user has running, and whatever the notebooks started is stopped when the session ends,
even if a notebook failed half-way.
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


def pytest_unconfigure(config: object) -> None:
    from helpers.config import load_settings
    from helpers.local import supervisor

    try:
        supervisor.down(load_settings(mode="local", state_dir=_STATE_DIR))
    finally:
        shutil.rmtree(_STATE_DIR, ignore_errors=True)
