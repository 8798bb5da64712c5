# The two commands of the README: `make run` serves the API on SQLite, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
export FLASK_APP := wsgi
# Emails link to the claim pages at this address (docs/claim-page.md); set it to override.
run: export PUBLIC_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test lint format migrate clean

$(BIN)/python:
	@echo "Creating the virtualenv $(VENV) (first run only)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	@echo "Installing requirements.txt into $(VENV)"
	@$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## run: migrate the database, create the demo project on the first run, serve on 127.0.0.1:$(PORT)
## with one email worker beside the API (it stops with the API). gunicorn.conf.py decides the workers:
## one process (WEB_THREADS threads) unless REDIS_URL is set, so the rate limits count exactly.
run: $(VENV)/.runtime
	@LOG_LEVEL=WARNING $(BIN)/flask db upgrade
	@$(BIN)/flask projects demo
	@echo "Serving the Codes API on http://127.0.0.1:$(PORT)  (docs: http://127.0.0.1:$(PORT)/docs)"
	@echo "The demo project's claim page: $(PUBLIC_URL)/p/demo"
	@echo "Next: the README's quickstart, in another terminal; stop with Ctrl-C."
	@$(BIN)/flask worker & worker=$$!; \
	trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/gunicorn --config gunicorn.conf.py --bind 127.0.0.1:$(PORT) wsgi:app

## test: install what the tests need, then run the whole suite on SQLite and PostgreSQL
test: $(VENV)/.dev
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: $(VENV)/.runtime
	$(BIN)/flask db upgrade

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

## bench: the API against its floor, side by side on a fresh PostgreSQL database, with the production
## row (rate limits on, Redis) and the cost as the data grows (docs/performance.md); bench-quick: the
## same in under 3 minutes. BENCH_DATABASE_URL and BENCH_REDIS_URL pick the servers (default: local).
.PHONY: bench bench-quick bench-wrk
bench: $(VENV)/.runtime bench-wrk
	$(BIN)/python -m bench

bench-quick: $(VENV)/.runtime bench-wrk
	$(BIN)/python -m bench --quick

# The load generator is Debian's wrk package, installed here when missing (root with apt-get).
bench-wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing wrk: apt-get install -y wrk"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 || { \
	      apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null; }; \
	  else \
	    echo "wrk is missing: install it (Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install wrk)" >&2; \
	    exit 1; \
	  fi; }
