# vote: `make run` serves the embedded default, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Running needs requirements.txt only; testing, linting and the tools need requirements-dev.txt too.
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed-test
# make run HOST=0.0.0.0 PORT=9001
HOST ?= 127.0.0.1
PORT ?= 9000

.PHONY: run test lint format clean stack-up stack-down stack-restart cluster-up cluster-down cluster-status cluster-clean bench lighthouse i18n-extract i18n-update i18n-compile screenshots

$(RUN_STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(RUN_STAMP)
	$(BIN)/python main.py serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The production shape on loopback: supervisord + 4 processes + nginx on 127.0.0.1:$(STACK_PORT or 8008),
# against the MariaDB/Redis in VOTE_DATABASE_URL/VOTE_REDIS_URL. See docs/deploy.md.
stack-up: $(RUN_STAMP)
	$(BIN)/python deploy/stack.py up

stack-down: $(RUN_STAMP)
	$(BIN)/python deploy/stack.py down

stack-restart: $(RUN_STAMP)
	$(BIN)/python deploy/stack.py restart

# The same app stack on a distributed engine, on loopback: three MariaDB Galera nodes behind HAProxy,
# Redis primary + replica + three Sentinels; the app on 127.0.0.1:$(CLUSTER_PORT or 8018). Installs
# the Debian packages it lacks. cluster-down keeps the data in var/cluster/, cluster-clean removes it.
# See docs/deploy.md.
cluster-up: $(RUN_STAMP)
	$(BIN)/python deploy/cluster.py up

cluster-down: $(RUN_STAMP)
	$(BIN)/python deploy/cluster.py down

cluster-status: $(RUN_STAMP)
	$(BIN)/python deploy/cluster.py status

cluster-clean: $(RUN_STAMP)
	$(BIN)/python deploy/cluster.py clean

# The tally of 100,000 ranked and score ballots (in memory, then read from SQLite and MariaDB), then the stack under wrk; results into
# docs/performance.md (BENCH_ARGS="--only vote --no-docs", ... for the stack).
# wrk and nginx are Debian's packages, installed when missing; matplotlib and py-spy from PyPI.
bench: $(STAMP)
	$(BIN)/python bench/tally_bench.py
	$(BIN)/python bench/tally_db_bench.py
	@(command -v wrk && { command -v nginx || test -x /usr/sbin/nginx; }) >/dev/null || \
		(apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk nginx)
	$(BIN)/pip install --quiet -r bench/requirements.txt
	$(BIN)/python bench/stack_bench.py $(BENCH_ARGS)

# Lighthouse (mobile) on every public page of the embedded default, scores and first-load weights into
# docs/performance.md (LIGHTHOUSE_ARGS="--runs 1 --only poll"). npm's lighthouse (bench/lighthouse/,
# pinned by its package-lock.json) with Debian's chromium; a few minutes, so not part of `make bench`.
lighthouse: $(STAMP)
	test -d bench/lighthouse/node_modules/lighthouse || (cd bench/lighthouse && npm ci --no-audit --no-fund)
	$(BIN)/python bench/lighthouse.py $(LIGHTHOUSE_ARGS)

# Translations (docs/ui.md): extract the texts into translations/messages.pot, merge them into each
# language's .po (then translate the new ones), compile the .mo files the app loads. Both .po and .mo
# are committed, so `python main.py` needs no build step.
BABEL_EXTRACT := -F babel.cfg -k N_ --no-location --sort-output --width 100 --project vote --copyright-holder vote

i18n-extract: $(RUN_STAMP)
	$(BIN)/pybabel extract $(BABEL_EXTRACT) -o translations/messages.pot .

i18n-update: i18n-extract
	$(BIN)/pybabel update -i translations/messages.pot -d translations --width 100 --ignore-obsolete

i18n-compile: $(RUN_STAMP)
	$(BIN)/pybabel compile -d translations --statistics

# PNGs of the main pages at desktop and phone widths into docs/screenshots/ (needs chromium).
screenshots: $(STAMP)
	$(BIN)/python docs/screenshots/take.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
