"""Session-wide fixtures: the synthesized template (synthesized once, cached on disk)."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """The weather stack as synthesized with default settings (reference names)."""
    from helpers.config import load_settings
    from helpers.stack import synth

    return synth(load_settings(env={}, dotenv_path="/nonexistent"))
