# The commands in the README. Each sets up .venv (once, again when pyproject.toml changes) and runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: serve test lint typecheck docs bench clean

$(VENV)/.installed-run: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

## serve: run Switchyard on the embedded default (SQLite in ~/.local/share/switchyard)
serve: $(VENV)/.installed-run
	$(BIN)/switchyard serve

## test: the whole test suite (needs PostgreSQL and Redis on 127.0.0.1, as in CI)
test: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

## lint: ruff and mypy (strict on the package)
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

## docs: regenerate the configuration table in README.md from the settings class
docs: $(VENV)/.installed-run
	$(BIN)/python -m switchyard.settings_docs --write README.md

## bench: the benchmark harness (~15 min; BENCH_QUICK=1 for a ~5 min smoke run) — see bench/README.md
bench: $(VENV)/.installed-run
	@command -v wrk >/dev/null || apt-get install -y wrk
	timeout 5400 $(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
