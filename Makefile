# vote: `make run` serves the embedded default, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format clean stack-up stack-down stack-restart

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python main.py serve --host 127.0.0.1 --port 9000

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
stack-up: $(STAMP)
	$(BIN)/python deploy/stack.py up

stack-down: $(STAMP)
	$(BIN)/python deploy/stack.py down

stack-restart: $(STAMP)
	$(BIN)/python deploy/stack.py restart

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
