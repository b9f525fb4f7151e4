# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= mediawatch.yaml

.PHONY: run test install install-test elasticsearch bench clean

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
	$(BIN)/mediawatch --config $(CONFIG) run

# The real Elasticsearch node the suite starts: fetched from Maven Central, cached outside the repo.
elasticsearch: install-test
	$(BIN)/python -m tests.harness.elasticsearch fetch

test: install-test elasticsearch
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(VENV)/.installed-bench elasticsearch
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data .pytest_cache
