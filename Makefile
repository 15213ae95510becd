# The two commands a newcomer needs: `make demo` and `make test`. Each sets up what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE := 1
export PYTHONUNBUFFERED := 1

.PHONY: install system-deps demo test lint format bench clean

# Two installs: what the app and `make demo` need (the package and its dependencies, no
# system packages), and on top of it what the tests need (the spark and dev extras, Java
# for Spark, chromium, PostgreSQL). apt-get waits up to 10 minutes for a held dpkg lock
# (another install, unattended-upgrades) rather than failing at once.
CORE := $(VENV)/.installed-core
APT := $(SUDO) apt-get -o DPkg::Lock::Timeout=600

install: $(STAMP) system-deps

$(CORE): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@# torch first, pinned: this build is the CPU wheel (no CUDA download).
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e .
	@touch $@

$(STAMP): $(CORE)
	$(PY) -m pip install --quiet -e ".[spark,dev]"
	@touch $@

# System packages the tests need: Java 17 for Spark's local mode, chromium, PostgreSQL.
system-deps:
	@command -v java >/dev/null || { \
	  echo "installing Java (for Spark)…"; \
	  $(APT) update -qq && $(APT) install -y -qq openjdk-17-jre-headless; }
	@# The web app's browser tests drive chromium; its API tests start a PostgreSQL.
	@command -v chromium >/dev/null || { \
	  echo "installing chromium (for the browser tests)…"; \
	  $(APT) update -qq && $(APT) install -y -qq chromium; }
	@command -v pg_ctl >/dev/null || test -x /usr/local/bin/pg_ctl || \
	  ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  echo "installing PostgreSQL (for the app database tests)…"; \
	  $(APT) update -qq && $(APT) install -y -qq postgresql; }

# The demo runs on DuckDB with the package's own dependencies: no extras, no apt-get.
demo: $(CORE)
	$(VENV)/bin/socialcrm demo

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix src tests benchmarks scripts
	$(VENV)/bin/ruff format src tests benchmarks scripts

# Benchmarks run our code and the peer in one process, check that both computed the same
# thing and that the targets are met, and exit non-zero when a check fails. `make bench`
# runs every benchmarks/*.py (benchmarks/_suite.py) into one results file,
# benchmarks/results/latest.json (git-ignored), and fails when any of them fails;
# `make bench BENCH="graph_vs_networkx im_vs_celf"` runs some. lifetimes (the CLV peer)
# needs pandas<2/numpy<2, so it gets a venv of its own; pynetim (the IMM peer) compiles
# C++, so it is the `bench` extra rather than a test dependency.
LTVENV := .venv-lifetimes
BENCH ?=

$(LTVENV)/.installed: pyproject.toml
	@test -x $(LTVENV)/bin/python || $(PYTHON) -m venv $(LTVENV)
	$(LTVENV)/bin/pip install --quiet "lifetimes==0.11.3" "pandas<2" "numpy<2" "scipy<1.14" \
	  "pyarrow<19" "ibis-framework[duckdb]>=12,<13" "duckdb>=1.4,<2" pydantic-settings threadpoolctl
	$(LTVENV)/bin/pip install --quiet --no-deps -e .
	@touch $@

bench: install $(LTVENV)/.installed
	$(PY) -m pip install --quiet -e ".[spark,dev,bench]"
	$(PY) benchmarks/_suite.py --lifetimes-python $(LTVENV)/bin/python $(BENCH)

clean:
	rm -rf $(VENV) $(LTVENV) socialcrm-data .pytest_cache .ruff_cache
