# The commands people type. Set-up (virtualenv, packages, migrations) happens inside them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: run test lint demo demo-check bench migrate worker scheduler clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

## run: the service in embedded mode (SQLite, in-process queue) on $$PORT (8000)
run: $(STAMP)
	$(PY) app.py

## test: lint, then the whole suite on the backend in WAYBILL_TEST_BACKEND (embedded|services)
test: $(STAMP) lint
	$(PY) -m pytest -q -n 2 $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy core connectors db sync web settings.py telemetry.py app.py worker.py

## demo: Waybill with sandbox Shopify, WooCommerce and EasyPost on loopback (wipes var/demo first)
demo: $(STAMP)
	$(PY) -m sandbox.demo

## demo-check: the demo for 5 minutes, then its figures; fails below 80 % fulfilled or on stock below 0
demo-check: $(STAMP)
	$(PY) -m sandbox.demo --check

## bench: every benchmark under bench/ (figures go to bench/README.md by hand)
bench: $(STAMP)
	@for b in bench/[a-z]*.py; do n=$$(basename $$b .py); echo "== $$n"; $(PY) -m bench.$$n || exit 1; done

migrate: $(STAMP)
	$(VENV)/bin/flask --app app db upgrade

worker: $(STAMP)
	$(PY) worker.py

scheduler: $(STAMP)
	$(PY) worker.py --scheduler

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
