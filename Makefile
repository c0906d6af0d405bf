# Concord developer commands. Needs only GNU make and Python 3.11 (with its venv module).
#   make run    virtualenv, install, migrate, demo data, serves http://127.0.0.1:8000/
#   make test   the whole test suite (PYTEST_ARGS="..." passes options to pytest)

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Prefer an explicit python3.11; fall back to python3 (checked to be 3.11 below).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
HOST_PORT := 127.0.0.1:8000

.PHONY: help venv run idp test lint security check-migrations worker beat require-redis

help:
	@echo "make run               virtualenv, install, migrate, demo data, serve http://$(HOST_PORT)/"
	@echo "make idp               the demo agency's identity provider (after make run, in a second terminal)"
	@echo "make test              the whole test suite (PYTEST_ARGS='-k name' to narrow it)"
	@echo "make lint              ruff check, ruff format --check, the import contracts and mypy"
	@echo "make security          bandit on the code, pip-audit on the installed packages"
	@echo "make check-migrations  fail if a model change has no migration"
	@echo "make worker / beat     Celery worker / beat (need REDIS_URL)"

# The virtualenv itself: created once. A failed creation (e.g. Debian's python3-venv
# missing) removes the half-made directory so the next run starts clean.
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "Concord needs Python 3.11; '$(PYTHON)' is $$($(PYTHON) --version 2>&1). Try: make PYTHON=/path/to/python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "Could not create $(VENV). On Debian: apt-get install python3-venv" >&2; exit 1; }

# The install: re-run only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(STAMP)

run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo
	@echo "Concord is starting at http://$(HOST_PORT)/  (demo logins above; Ctrl-C stops it)"
	@echo
	exec $(PY) manage.py runserver $(HOST_PORT)

# The National Flood Agency's own identity provider on 127.0.0.1:8001 (docs/identity.md):
# started, tested from Concord and enabled; sign in as ops or newcomer with the demo password.
idp: venv
	exec $(PY) manage.py demo_idp

test: venv
	$(PY) -m pytest -n auto $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# Static security analysis of Concord's code (bandit.yaml says what is skipped and why) and
# known vulnerabilities in the installed packages (.ci/pip_audit.py; see docs/security.md).
security: venv
	$(VENV)/bin/bandit -r coordination agencies taskforces mutualaid benchmarks -c bandit.yaml -q
	$(PY) .ci/pip_audit.py

# Under the test settings, which install every app (the development-only benchmarks app too).
check-migrations: venv
	DJANGO_SETTINGS_MODULE=coordination.settings.test $(PY) manage.py makemigrations --check --dry-run

# Without REDIS_URL the project runs tasks in-process and a worker would listen on an
# in-memory broker that nothing sends to, so refuse to start one.
require-redis:
	@test -n "$$REDIS_URL" || { echo "Set REDIS_URL (e.g. redis://127.0.0.1:6379/0) first; see README.md" >&2; exit 1; }

worker: venv require-redis
	exec $(VENV)/bin/celery -A coordination worker -l info

beat: venv require-redis
	exec $(VENV)/bin/celery -A coordination beat -l info
