# RDF Ledger — the two commands: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 5000
export FLASK_APP := app

.PHONY: run test venv lint migrate seed serve clean bench flask

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=python3"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

venv: $(STAMP)

## make run: set up, migrate the SQLite file, load demo data on first run, serve on :$(PORT)
## (PORT=5077 make run for another port)
run: export RDF_ENV := development
run: $(STAMP)
	$(BIN)/flask --app app db-upgrade
	$(BIN)/flask --app app seed-demo --if-empty
	$(BIN)/flask --app app run --host 127.0.0.1 --port $(PORT)

## make flask ARGS="rotate-token finance": any `flask --app app` command with the project's
## venv; RDF_ENV is development (the local demo: no secret needed) unless the environment sets it
flask: $(STAMP)
	RDF_ENV=$${RDF_ENV:-development} $(BIN)/flask --app app $(ARGS)

## make test: set up, then ruff, ruff format --check, lint-imports, mypy and the whole
## pytest suite (add RDF_TEST_POSTGRES_URL for PostgreSQL)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP)
	@echo "see bench/README.md"

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .hypothesis
