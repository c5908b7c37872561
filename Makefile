# The two commands a newcomer needs: `make run` and `make test`.
# Both create .venv and install the project on first use (and again when pyproject.toml changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint install bench messages faults faults-tracker

install: $(STAMP)

# The example external plugin (tests/external_plugin) is installed too: the tests find it
# through its entry point, as the hub finds any installed plugin.
PLUGIN := tests/external_plugin

$(STAMP): pyproject.toml $(PLUGIN)/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
		echo "Could not create a virtualenv. On Debian/Ubuntu: sudo apt-get install python3-venv"; \
		exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet -e $(PLUGIN)
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/drivershub run

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

messages: $(STAMP)
	$(BIN)/drivershub messages

# Every part by default; one part: make bench BENCH_ARGS="--only interactions"
BENCH_ARGS ?=

bench: $(STAMP)
	$(BIN)/python tests/benchmarks/run.py $(BENCH_ARGS)

# Discord down for long, the bot killed mid-batch (tests/faults/run.py); needs PostgreSQL at
# 127.0.0.1:5432 (FAULTS_ARGS="--pg postgres://user@host:port/postgres" to change). About 3 min.
FAULTS_ARGS ?=

faults: $(STAMP)
	$(BIN)/python -m tests.faults.run $(FAULTS_ARGS)

# The database restarted while trackers send (tests/faults/tracker.py): a PostgreSQL cluster
# of its own (initdb, pg_ctl; as the postgres user under root), not the shared server.
faults-tracker: $(STAMP)
	$(BIN)/python -m tests.faults.tracker
