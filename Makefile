# Two commands: `make run` (set up + serve the embedded default) and `make test` (set up + whole suite).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Django 6 needs Python >= 3.12; the machine's default python3 may be older, so look for one.
PYTHON ?= $(shell for p in python3.13 python3.12 python3; do \
	for v in "" 3.13.0 3.12.1; do \
	  if PYENV_VERSION=$$v $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	    PYENV_VERSION=$$v $$p -c 'import sys; print(sys.executable)'; exit 0; fi; \
	done; done)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup lint bench clean browser wrk

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "Python 3.12+ is required (python3.13 or python3.12 on PATH)."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

.env:
	$(PY) -m scripts.write_env .env

setup: $(VENV)/.installed node_modules/.installed .env
	$(PY) manage.py migrate --noinput -v 0

browser:
	@test -x /usr/bin/chromium || { echo "Installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; }

run: setup
	SCENERY_BASE_URL=http://$(HOST):$(PORT) $(PY) manage.py demo --host $(HOST) --port $(PORT)
	SCENERY_BASE_URL=http://$(HOST):$(PORT) $(PY) -m uvicorn config.asgi:application --host $(HOST) --port $(PORT) --lifespan on --no-access-log

test: $(VENV)/.installed node_modules/.installed browser
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

wrk:
	@command -v wrk >/dev/null || { echo "Installing Debian's wrk for the benchmark"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null; }

# Prints the performance table (both configurations; PostgreSQL and Redis on 127.0.0.1).
# BENCH_ARGS: e.g. --only embedded, --duration 5, --workers 4, --profile.
bench: setup wrk browser
	$(PY) -m scripts.bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules db.sqlite3 test-artifacts
