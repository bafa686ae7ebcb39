# Kassa: `make demo` and `make test` are all a newcomer needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY_VERSION ?= 3.11
VENV := .venv
BIN := $(VENV)/bin
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
STAMP := $(VENV)/.synced

.PHONY: help venv test lint demo bench serve clean

help:
	@echo "make demo   - seed a demo chain on a fresh SQLite hub and show what it did"
	@echo "make test   - lint, import contracts, mypy on wire/, then the whole test suite"
	@echo "make bench  - run the benchmarks and write docs/BENCHMARKS.md"
	@echo "make lint   - ruff, import-linter and mypy only"
	@echo "make serve  - run the hub on http://127.0.0.1:8000 (SQLite in var/)"

$(UV):
	python3 -m pip install --user --quiet "uv==0.13.8" || python3 -m pip install --quiet "uv==0.13.8"

# Creates .venv with uv if missing and installs every extra exactly as locked.
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --python $(PY_VERSION)
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy wire

test: lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/kassa demo

bench: $(STAMP)
	$(BIN)/python -m bench.run

serve: $(STAMP)
	KASSA_COOKIE_SECURE=false $(BIN)/kassa hub migrate
	KASSA_COOKIE_SECURE=false $(BIN)/kassa hub serve

clean:
	rm -rf $(VENV) var/demo .pytest_cache .mypy_cache .ruff_cache
