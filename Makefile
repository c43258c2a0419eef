# The commands people type. Set-up (virtualenv, packages, migrations) happens inside them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# The stamp names what was installed: it changes when the requirements or pyproject.toml do.
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt pyproject.toml | cksum | cut -d' ' -f1)
WAYBILL := $(VENV)/bin/waybill
PYTEST_ARGS ?=

.PHONY: setup run test coverage mutation lint demo demo-check bench bench-console flash-sale screenshots tracking-week returns-drill pipeline-acceptance fuzz drills migrate worker scheduler clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

## setup: the virtualenv in .venv with the pinned packages and the `waybill` command (./waybill runs it)
setup: $(STAMP)

## run: the service in embedded mode (SQLite, in-process queue) on $$PORT (8000)
run: $(STAMP)
	$(WAYBILL) run

## test: lint, then the whole suite on the backend in WAYBILL_TEST_BACKEND (embedded|services)
test: $(STAMP) lint
	$(PY) -m pytest -q -n 2 --dist worksteal $(PYTEST_ARGS)

## coverage: the suite on both backends (embedded, then PostgreSQL + Redis at WAYBILL_TEST_*), every
## process the tests start measured, combined: a report per file and per package, branches included
COVDIR := var/coverage
coverage: $(STAMP)
	@rm -rf $(COVDIR) && mkdir -p $(COVDIR)
	@status=0; \
	for backend in embedded services; do \
	  echo "== tests on the $$backend backend, measured"; \
	  COVERAGE_FILE=$(CURDIR)/$(COVDIR)/.coverage WAYBILL_TEST_BACKEND=$$backend \
	    $(PY) -m coverage run -m pytest -q -n 2 --dist worksteal -p no:cacheprovider $(PYTEST_ARGS) || status=1; \
	done; \
	export COVERAGE_FILE=$(CURDIR)/$(COVDIR)/.coverage; \
	$(PY) -m coverage combine --quiet $(COVDIR) \
	  && $(PY) -m coverage report --skip-covered \
	  && $(PY) -m coverage json --quiet -o $(COVDIR)/coverage.json \
	  && $(PY) -m tests.coverage_report $(COVDIR)/coverage.json && exit $$status

## mutation: mutation testing of core/, the ledgers and the flows' policy (outside `make test`; GROUPS=core, ledger or policy)
mutation: $(STAMP)
	nice $(PY) -m tests.mutation_run $(GROUPS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy core connectors db sync web drills settings.py telemetry.py app.py worker.py entry.py

## demo: Waybill with sandbox Shopify, WooCommerce and EasyPost on loopback (wipes var/demo first)
demo: $(STAMP)
	$(PY) -m sandbox.demo

## demo-check: the demo for 5 minutes, then its figures; fails below 80 % fulfilled or on stock below 0
demo-check: $(STAMP)
	$(PY) -m sandbox.demo --check

## bench: every benchmark under bench/ (figures go to bench/README.md by hand)
bench: $(STAMP)
	@for b in bench/[a-z]*.py; do n=$$(basename $$b .py); echo "== $$n"; $(PY) -m bench.$$n || exit 1; done

## flash-sale: bench.flash_sale at the full size, 100 orders/s for 60 s (its default is 10/s for 30 s)
flash-sale: $(STAMP)
	$(PY) -m bench.flash_sale --rate 100 --duration 60

## bench-console: p95 server time of every console page with 10,000 orders (SQLite; POSTGRES=URL: a PostgreSQL server)
bench-console: $(STAMP)
	$(PY) -m bench.console $(if $(POSTGRES),--postgres $(POSTGRES))

## screenshots: the console's browser tests, saving the main pages as PNGs in docs/screenshots
screenshots: $(STAMP)
	WAYBILL_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q -p no:randomly tests/e2e/test_console*_browser.py

## tracking-week: issue 18's acceptance at full size: 500 parcels over a simulated week (outside `make test`, which runs 60)
tracking-week: $(STAMP)
	WAYBILL_TRACKING_WEEK_SHIPMENTS=$${WAYBILL_TRACKING_WEEK_SHIPMENTS:-500} $(PY) -m pytest -q -s -p no:randomly tests/e2e/test_tracking_week.py

## returns-drill: issue 19's acceptance at full size: 200 returns across both stores (outside `make test`, which runs 20)
returns-drill: $(STAMP)
	WAYBILL_RETURNS_DRILL=$${WAYBILL_RETURNS_DRILL:-200} $(PY) -m pytest -q -s -p no:randomly tests/e2e/test_returns_acceptance.py

## pipeline-acceptance: issue 6's acceptance at full size: 200 orders across both stores (outside `make test`, which runs 40)
pipeline-acceptance: $(STAMP)
	WAYBILL_PIPELINE_ORDERS=$${WAYBILL_PIPELINE_ORDERS:-200} $(PY) -m pytest -q -s -p no:randomly tests/e2e/test_pipeline_acceptance.py

## fuzz: the JSON API fuzzed with up to 200 requests per operation and mode (outside `make test`, which sends up to 15)
fuzz: $(STAMP)
	WAYBILL_FUZZ_EXAMPLES=$${WAYBILL_FUZZ_EXAMPLES:-200} $(PY) -m pytest -q -s -p no:randomly tests/integration/test_api_fuzz.py

## drills: issue 21's flash-sale drills at full size on the production setup (private PostgreSQL and Redis,
## gunicorn, workers, scheduler; `make test` runs them reduced); DRILLS="R1 R7" picks some
drills: $(STAMP)
	nice $(PY) -m drills --size $${DRILLS_SIZE:-full} $(DRILLS)

## migrate: the database to the latest migration (production; embedded mode migrates itself)
migrate: $(STAMP)
	$(WAYBILL) db upgrade

## worker: one RQ worker on every queue (production: needs REDIS_URL)
worker: $(STAMP)
	$(WAYBILL) worker

## scheduler: the one scheduler of periodic jobs (production: needs REDIS_URL)
scheduler: $(STAMP)
	$(WAYBILL) worker --scheduler

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache mutants
