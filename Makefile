# Everything a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export OAUTH_SERVER_PORT ?= 5000
export PARTNERS_DEMO_PORT ?= 5001
# Where CI's PostgreSQL listens; each test run creates and drops its own database there.
POSTGRES_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

export OAUTH_SERVER_INSTANCE ?= $(CURDIR)/instance

.PHONY: install run test test-sqlite test-postgres lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $@

run: install
	@mkdir -p "$(OAUTH_SERVER_INSTANCE)"
	$(BIN)/oauth-server db upgrade
	@OUTBOUND_ALLOW_LOOPBACK=$${OUTBOUND_ALLOW_LOOPBACK:-true} $(BIN)/oauth-server demo seed > "$(OAUTH_SERVER_INSTANCE)/demo.json"
	@OUTBOUND_ALLOW_LOOPBACK=$${OUTBOUND_ALLOW_LOOPBACK:-true} $(BIN)/python -m oauth_server.devrun "$(OAUTH_SERVER_INSTANCE)/demo.json" $(OAUTH_SERVER_PORT) $(PARTNERS_DEMO_PORT)

test: install
	$(MAKE) test-sqlite
	@if [ "$$CI" = "true" ] || [ -n "$$TEST_POSTGRES" ]; then $(MAKE) test-postgres; fi

test-sqlite: install
	$(BIN)/pytest

test-postgres: install
	TEST_DATABASE_URL=$(POSTGRES_TEST_URL) $(BIN)/pytest

lint: install
	$(BIN)/ruff check oauth_server partners_demo tests
	$(BIN)/mypy

# Not part of `make test` or CI: a few minutes of load on loopback (see README, Benchmark).
# Options go in BENCH_ARGS, e.g. `make bench BENCH_ARGS="--only sqlite --seconds 3"`.
bench: $(VENV)/.bench-installed
	@command -v wrk >/dev/null || apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
	BENCH_POSTGRES_URL=$(POSTGRES_TEST_URL) $(BIN)/python bench/run.py $(BENCH_ARGS)

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev,postgres,bench]'
	touch $@

clean:
	rm -rf $(VENV) instance .pytest_cache
