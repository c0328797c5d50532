# `make dev`: the whole system running. `make test`: the whole suite passing. Both install what they need.
.PHONY: setup dev test lint typecheck unit screenshots clean

VENV := .venv
PY := $(VENV)/bin/python

setup:
	@bash scripts/setup.sh

dev: setup
	$(PY) -m reprise.cli dev --workers $${WORKERS:-2}

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(VENV)/bin/mypy

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# The README's dashboard pictures, taken by the dashboard tests (make test writes them to a temporary folder).
screenshots: setup
	REPRISE_SCREENSHOTS_DIR=docs/screenshots $(PY) -m pytest -q -p no:cacheprovider tests/test_dashboard.py

clean:
	rm -rf .reprise artifacts reprise-output .pytest_cache .mypy_cache .ruff_cache
