# Every target creates the virtual environment on first use, so a fresh clone needs only
# `make run` or `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-postgres lint serve bench train clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/producer-bot console

serve: $(STAMP)
	$(BIN)/producer-bot serve

# On every core (pytest-xdist); the PostgreSQL suite shares one database, so it stays serial and
# apart (`make test-postgres`).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto -m "not postgres"

# The storage and use-case suites against PostgreSQL (TEST_DATABASE_URL must point at it).
test-postgres: $(STAMP)
	$(BIN)/python -m pytest -q -m postgres

# Benchmarks are measured, not asserted: numbers go to bench/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python bench/digest.py --write
	$(BIN)/python bench/ack.py --write
	$(BIN)/python bench/similar.py
	$(BIN)/python bench/classify.py
	@if [ -n "$$BENCH_DATABASE_URL" ]; then \
	  $(BIN)/python bench/digest.py --write --database-url "$$BENCH_DATABASE_URL" && \
	  $(BIN)/python bench/ack.py --write --database-url "$$BENCH_DATABASE_URL"; fi

# The learned classifier's weights (bot/data/) from the labelled sets in tests/data/: commit them
# with the figures it prints.
train: $(STAMP)
	$(BIN)/producer-bot train

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache producer-bot.db
