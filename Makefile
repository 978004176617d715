# weatherlab: `make demo` runs the walkthrough locally, `make test` runs the test suite.
# Both start with `make setup`, which is incremental: a second run reuses .venv and node_modules.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.weatherlab-installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup demo test lab lint clean

setup: $(STAMP) node_modules/.weatherlab-installed

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name weatherlab --display-name "weatherlab (Python 3)" >/dev/null
	@touch $@

node_modules/.weatherlab-installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: setup
	$(BIN)/weatherlab synth
	$(BIN)/weatherlab notebooks run --mode local

test: setup
	$(BIN)/python -m pytest

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	-$(BIN)/weatherlab local down
	rm -rf build .weatherlab
