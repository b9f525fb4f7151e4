# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= mediawatch.yaml

.PHONY: run test install install-test system-deps elasticsearch bench bench-scale clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

run: install
	@$(BIN)/python -c "from scheduler.config import load; h = load('$(CONFIG)').http; print(f'mediawatch: the web app is at http://{h.host}:{h.port}/' if h.port is not None else 'mediawatch: http.port is null: no web app')"
	$(BIN)/mediawatch --config $(CONFIG) run

# The real Elasticsearch node the suite starts: fetched from Maven Central, cached outside the repo.
elasticsearch: install-test
	$(BIN)/python -m tests.harness.elasticsearch fetch

# Debian packages the suite needs: a JDK and Maven (the Elasticsearch node), Chromium (browser tests),
# PostgreSQL (the cluster tests' engine; `postgres` is outside PATH on Debian, so pg_ctlcluster stands for it).
system-deps:
	@missing=""; for p in java:openjdk-17-jre-headless mvn:maven chromium:chromium pg_ctlcluster:postgresql; do \
	  command -v $${p%%:*} >/dev/null || missing="$$missing $${p#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
	  else echo "make test needs these Debian packages:$$missing (apt-get install them as root)"; exit 2; fi; fi

# Two workers (pytest-xdist), a test module per worker at a time (its module fixtures built once), each
# worker with its own Elasticsearch node: the suite mostly waits on daemons, crawls and nodes, so two
# overlap on two cores. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2
test: system-deps install-test elasticsearch
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope $(PYTEST_ARGS)

bench: $(VENV)/.installed-bench elasticsearch
	$(BIN)/python -m bench

# A million articles (SQLite, then Elasticsearch) and 10,000 sources against the real daemon; long
# (see docs/PERFORMANCE.md, "Scale"), so apart from `make bench`. Smaller: SCALE_ARTICLES=100000 SCALE_MEASURE=10000
# SCALE_SOURCES=1000
SCALE_ARTICLES ?= 1000000
SCALE_MEASURE  ?= 100000
SCALE_EVERY    ?= 25000
SCALE_SOURCES  ?= 10000
SCALE_MINUTES  ?= 15
SCALE_OUT      ?= $(HOME)/.cache/mediawatch/bench/results/scale
bench-scale: install-test elasticsearch
	mkdir -p $(SCALE_OUT)
	$(BIN)/python -m bench.scale_index --articles $(SCALE_ARTICLES) --measure $(SCALE_MEASURE) \
		--every $(SCALE_EVERY) --json $(SCALE_OUT)/scale_index.json
	$(BIN)/python -m bench.scale_sources --sources $(SCALE_SOURCES) --warmup-minutes $(SCALE_MINUTES) \
		--minutes $(SCALE_MINUTES) --json $(SCALE_OUT)/scale_sources.json
	$(BIN)/python -m bench.scale_state --json $(SCALE_OUT)/state.json
	$(BIN)/python -m bench.scale_report $(SCALE_OUT)

clean:
	rm -rf $(VENV) data .pytest_cache
