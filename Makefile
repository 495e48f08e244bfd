# Two commands: `make demo` (embedded default: SQLite, in-process worker) and `make test` (PostgreSQL,
# Redis, a real Celery worker, headless Chromium). Both install what they need first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-$(shell cat requirements.txt | sha256sum | cut -c1-12)
DEV_STAMP := $(VENV)/.dev-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
DEMO_ENV := DJANGO_SETTINGS_MODULE=governance.settings.demo
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/governance
TEST_BROKER_URL ?= redis://127.0.0.1:6379/5

.PHONY: demo test install install-dev services browser lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(RUNTIME_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	rm -f $(VENV)/.runtime-* && touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	rm -f $(VENV)/.dev-* $(VENV)/.runtime-* && touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)

demo: install
	$(DEMO_ENV) $(PY) manage.py migrate --noinput -v0
	$(DEMO_ENV) $(PY) manage.py demo_setup
	@if [ "$${DEMO_SERVE:-1}" != "0" ]; then \
	  echo "Serving the dashboard on http://127.0.0.1:8000 (Ctrl-C to stop)"; \
	  $(DEMO_ENV) JOB_DISPATCH=thread $(PY) manage.py runserver 127.0.0.1:8000 --noreload; \
	fi

services:
	bash .ci/services.sh

browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: install-dev
	$(VENV)/bin/lint-imports
	$(VENV)/bin/bandit -q -c bandit.yaml -r governance workers models_core bench manage.py

test: install-dev services browser lint
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) -m pytest -q $(PYTEST_ARGS)

bench: install-dev
	$(PY) bench/encoder.py && $(PY) bench/fairness.py && $(PY) bench/explain.py
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) bench/ingest.py
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) $(PY) bench/load.py
	$(PY) bench/pii.py

clean:
	rm -rf var .pytest_cache
