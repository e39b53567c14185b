# The one entry point for people and CI. `make run` and `make test` work on a fresh clone.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test test-fast lint format bench chaos up down clean help

# The suite waits on servers far more than it computes, so test files run side by side on
# two workers, each with its own nats-server (three overloaded two cores: a publish waited
# past its 5 s). A file's tests stay on one worker, so its module fixtures (a TLS cluster, a
# permissioned server) are built once. One process when NATS_URL names a shared server:
# every test empties the server it is given. `make test TEST_WORKERS=0` runs in one process.
TEST_WORKERS ?= $(if $(NATS_URL),0,2)
PARALLEL := -n $(TEST_WORKERS) --dist loadfile

help:
	@echo "make run    - local NATS + intake, ledger, oversight on SQLite, with demo data"
	@echo "make test   - the whole test suite against a real nats-server (and PostgreSQL if DATABASE_URL)"
	@echo "make lint   - ruff, mypy (strict on libs/common), import contracts"
	@echo "make bench  - benchmarks, one line per figure"
	@echo "make chaos  - 3,000 reports while every process is killed; exits 1 if anything is lost"
	@echo "make up / down - the containerised deployment (needs Docker)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m leadctl.embedded

# The browser tests need Debian's Chromium and a CJK font: installed here when missing (as
# root). Elsewhere the script says what to run and the browser tests skip, saying why; under
# CI=true a missing browser stops the run. Lighthouse (npm, pinned) goes under var/node the
# same way: without it the Lighthouse test skips, saying why, unless CI=true. The deployment
# checks' tools that PyPI does not carry (promtool from Debian's prometheus, openssl) come
# from install-ops-tools.sh, the same way.
test: $(STAMP)
	bash tools/install-browser.sh || [ "$${CI:-}" != true ]
	bash tools/install-lighthouse.sh || [ "$${CI:-}" != true ]
	bash tools/install-ops-tools.sh || [ "$${CI:-}" != true ]
	$(BIN)/python -m pytest $(PARALLEL)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not integration"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs/common/src
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The load generator is ApacheBench (Debian's apache2-utils), installed here when missing (as
# root); elsewhere the script says what to run and the run stops. The machine's line (cores,
# CPU, whether the disk really syncs) comes first, then one line per figure, each script's
# wall time against its budget and the total against the 10 minutes (bench/run_all.py; it
# exits 1 if a script failed). BENCH_SCALE=1 runs the million-sized figures instead.
bench: $(STAMP)
	bash tools/install-bench-tools.sh
	@$(BIN)/python -m bench.run_all

# The torture run: kill -9 of each service (the ledger twice), nats-server killed and started
# again, the ledger's database locked for 15 s, in a temporary directory on free ports.
# CHAOS_ARGS passes options, e.g. CHAOS_ARGS="--seed 1234" to repeat a run.
chaos: $(STAMP)
	$(BIN)/python -m leadctl.chaos $(CHAOS_ARGS)

up:
	docker compose -f deploy/compose.yaml --env-file deploy/.env up -d --build

down:
	docker compose -f deploy/compose.yaml --env-file deploy/.env down

clean:
	rm -rf var
