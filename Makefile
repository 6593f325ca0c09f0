# Thin wrappers over pip, pytest, the linters and .ci/ (make help).
PYTHON ?= .venv/bin/python
ARGS ?=
.DEFAULT_GOAL := help

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

venv:  ## Make .venv and install the checkout in it (editable, with the test and lint tools).
	python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' mypy ruff

build:  ## Rebuild the C core after a change in csrc/.
	$(PYTHON) -m pip install -q -e .

test:  ## The whole test suite (as root for the privileged tests).
	$(PYTHON) -m pytest -q $(ARGS)

test-unit:  ## The tests that need no privilege.
	$(PYTHON) -m pytest -q tests/unit $(ARGS)

lint:  ## ruff, ruff format and mypy --strict.
	$(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy --strict netns_fast

bench:  ## Every benchmark (as root; ARGS=--quick for a smoke run).
	for b in churn listing startup shell_loop procs exec pool wiring; do \
		$(PYTHON) benchmarks/$$b.py $(ARGS) || exit 1; done

release-checks:  ## Wheel, sdist into a fresh venv, lint, the version (.ci/).
	PYTHON=$(PYTHON) bash .ci/release-checks

.PHONY: help venv build test test-unit lint bench release-checks
