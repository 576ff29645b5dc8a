# Everything a developer or CI runs. The venv is made from pyproject.toml on first use.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow soak bench lint install clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Start the bot (no TELEGRAM_BOT_TOKEN: a console chat on the example chi bộ).
run: $(STAMP)
	$(BIN)/python -m bot run

## The whole suite, on SQLite and on a throwaway PostgreSQL.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

## The one-hour soak of issue 6 on both databases (test-slow runs it for 2 minutes).
soak: $(STAMP)
	LAMTHEO_SOAK_SECONDS=3600 $(BIN)/python -m pytest -q -s tests/test_soak.py

## The benchmarks of issue 7 on both databases, one table (BENCH="--quick" for a short run;
## add --record to keep the figures in bench/RESULTS.md).
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
