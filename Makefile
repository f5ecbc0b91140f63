# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV := $(BIN)/uv
UV_VENV := --python $(BIN)/python
# `locked` installs exactly requirements.lock (hashes checked); `latest` the newest versions
# pyproject.toml allows (the drift check, `make test-latest`).
RESOLVE ?= locked
PYTEST_WORKERS ?= auto
# The fault suite inside `make test` runs every scenario at a small scale; `make faults` at full.
SMALL_FAULTS := INTAKE311_FAULT_RESIDENTS=25 INTAKE311_FAULT_OPEN311_SECONDS=10 INTAKE311_FAULT_KILL_EVERY=8
FULL_FAULTS := INTAKE311_FAULT_RESIDENTS=500 INTAKE311_FAULT_OPEN311_SECONDS=60 INTAKE311_FAULT_KILL_EVERY=20

.PHONY: install services browser bytecode demo demo-script test check unit faults-small faults test-latest lock lint clean bench

# uv installs (about 10 s where pip took 50); it comes pinned, with hashes, from requirements-uv.lock.
# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set (as on CI machines), every process would
# otherwise compile every module it imports, every time (5 s to start the web app instead of 1).
$(STAMP): requirements.lock requirements-uv.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "intake311 needs Python 3.11 or newer (PYTHON=$(PYTHON))"; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-uv.lock
ifeq ($(RESOLVE),latest)
	$(UV) pip install $(UV_VENV) --quiet --compile-bytecode --upgrade -e '.[dev]'
	$(UV) pip freeze $(UV_VENV) --exclude-editable > $(VENV)/resolved.txt
	@echo "newest allowed versions: $(VENV)/resolved.txt"
else
	$(UV) pip install $(UV_VENV) --quiet --compile-bytecode --require-hashes --no-deps -r requirements.lock
	$(UV) pip install $(UV_VENV) --quiet --compile-bytecode --no-deps --no-build-isolation -e .
endif
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/intake311 demo

demo-script: $(STAMP)
	$(BIN)/intake311 demo --script examples/pothole.txt

services:
	scripts/start-services

# The browser tests (tests/browser/) drive Debian's chromium through Playwright (never a
# browser Playwright downloads): installed here when missing, as root with apt-get; otherwise
# the way to install it is printed and those tests skip, saying why.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ]; then \
		echo "browser: $(CHROMIUM)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium || \
			{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }; \
	else \
		echo "browser: $(CHROMIUM) is missing; the browser tests will skip."; \
		echo "  install it with: sudo apt-get install chromium"; \
	fi

# Lint, formatting and types, then the suite (in parallel), then every fault scenario, small.
test: $(STAMP) services check unit faults-small

# Our own modules' bytecode, written now: the suite starts the bot as many processes, and where
# PYTHONDONTWRITEBYTECODE is set each would compile them again.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q bot conversations webhooks sandbox tests

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(STAMP) services browser bytecode
	$(BIN)/pytest -q -m "not faults" -n $(PYTEST_WORKERS) --dist worksteal

faults-small: $(STAMP) services bytecode
	$(SMALL_FAULTS) $(BIN)/pytest -q -m faults -n 2 tests/faults

# The full fault suite (7 scenarios x 500 residents) whose figures RELIABILITY.md quotes.
faults: $(STAMP) services bytecode
	$(FULL_FAULTS) $(BIN)/pytest -q -m faults tests/faults

# Figures, not pass/fail (BENCHMARKS.md): the real processes, production settings, each figure
# beside its baseline from the same run; about 15 minutes. BENCH_ARGS=--quick for a short run,
# --profile for py-spy flame graphs in bench/results/.
bench: $(STAMP) services bytecode
	@command -v wrk >/dev/null || { echo "wrk is not on PATH: apt-get install wrk"; exit 1; }
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The drift check: the newest versions pyproject.toml allows, in a venv of their own.
test-latest:
	$(MAKE) test VENV=.venv-latest RESOLVE=latest

# Write requirements.lock anew from pyproject.toml (and requirements-uv.lock for the uv in use);
# `make lock LOCK_ARGS=--upgrade` moves every pin to the newest version allowed.
lock: $(STAMP)
	$(UV) pip compile --quiet --python-version 3.11 --generate-hashes --extra dev --extra s3 $(LOCK_ARGS) \
		--output-file requirements.lock pyproject.toml
	echo "uv==$$($(UV) --version | cut -d' ' -f2)" | $(UV) pip compile --quiet \
		--python-version 3.11 --generate-hashes --output-file requirements-uv.lock -

lint: check

clean:
	rm -rf $(VENV) .venv-latest var .pytest_cache .ruff_cache .mypy_cache
