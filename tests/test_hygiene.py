"""Repository hygiene: clean notebooks, ignored secrets, lint, and packaging kept consistent."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)


def test_notebooks_are_committed_without_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{path.name}: a cell has outputs (clear them before commit)"
                assert cell.get("execution_count") is None, f"{path.name}: a cell has an execution count"


def test_dotenv_is_ignored_and_untracked():
    assert git("check-ignore", "-q", ".env").returncode == 0, ".env must be git-ignored"
    assert git("ls-files", "--error-unmatch", ".env").returncode != 0, ".env must not be tracked"
    assert git("check-ignore", "-q", ".weatherlab/local.json").returncode == 0, "local state must be ignored"


def test_env_example_documents_every_setting():
    from helpers.config import ENV_VARS

    text = (ROOT / ".env.example").read_text()
    for var in (*ENV_VARS.values(), "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert re.search(rf"^#?\s*{var}=", text, re.M), f".env.example lacks {var}"
    assert re.search(r"^MOMENTO_API_KEY=$", text, re.M), ".env.example must not carry a key value"


def test_ruff_is_clean_including_notebooks():
    for command in (["check", "."], ["format", "--check", "."]):
        proc = subprocess.run([str(BIN / "ruff"), *command], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, f"ruff {' '.join(command)}:\n{proc.stdout}{proc.stderr}"


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python="))
    version = python.split("=", 1)[1]
    assert f">={version}" in project["requires-python"], (
        "environment.yml's Python must be the minimum supported"
    )
    assert any(isinstance(d, str) and d.startswith("nodejs") for d in deps), "conda users need nodejs for CDK"
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    extras = set(project["optional-dependencies"])
    assert pip == [f'-e ".[{",".join(sorted(extras))}]"'], (
        "environment.yml must install the package with all extras"
    )


def test_dependencies_have_bounded_ranges():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [d for ds in project["optional-dependencies"].values() for d in ds]
    for dep in deps:
        assert ">=" in dep and "<" in dep.split(">=", 1)[1], f"{dep}: give a lower and an upper bound"


def test_cdk_cli_is_pinned_locally():
    package = json.loads((ROOT / "package.json").read_text())
    version = package["devDependencies"]["aws-cdk"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), "pin an exact aws-cdk CLI version"
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == version


def test_ci_runs_make_test_only():
    lines = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[-1] == "make test"
