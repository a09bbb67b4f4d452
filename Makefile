# The README's two commands (`make run`, `make test`) do all set-up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fast lint bench soak clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[server,test,bench]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/catalog-ingest serve --demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q -rs

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -x -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

# Reliability at soak sizes: 200 SIGKILL trials, 1,000 oracle trials with crashes, 10,000
# signed schemathesis cases, the fault tests x5; one line per figure. Takes about an hour.
# A shorter run: make soak SOAK_ARGS="--trials 20 --oracle 100 --fuzz-cases 2000 --fault-scale 1"
SOAK_ARGS ?=
soak: $(STAMP)
	$(BIN)/python -m tests.soak $(SOAK_ARGS) --record docs/operations.md

clean:
	rm -rf $(VENV) catalog-data .pytest_cache .mypy_cache .ruff_cache
