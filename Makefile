# `make dev`: the whole system running. `make test`: the whole suite passing. Both install what they need.
.PHONY: setup dev test lint typecheck layers unit integration e2e deploy-check lock screenshots fuzz bench clean

VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest -q -p no:cacheprovider

setup:
	@bash scripts/setup.sh

dev: setup
	$(PY) -m reprise.cli dev --workers $${WORKERS:-2}

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(VENV)/bin/mypy

# The layering rule (docs/architecture.md): import-linter contracts in pyproject.toml.
layers: setup
	$(VENV)/bin/lint-imports --no-cache

# Tests by layer: unit needs no service (seconds); integration talks to Postgres, Redis and Chromium
# in-process; e2e runs real processes (workers, the CLI, reprise dev).
unit: setup
	$(PYTEST) tests/unit $(PYTEST_ARGS)

integration: setup
	$(PYTEST) tests/integration $(PYTEST_ARGS)

e2e: setup
	$(PYTEST) tests/e2e tests/conformance $(PYTEST_ARGS)

# The deployment files (Dockerfile, docker-compose.prod.yml, .env.example, deploy/k8s, requirements.lock),
# checked by docker-compose and kubernetes-validate and against the code's settings; part of `make test` too.
deploy-check: setup
	$(PYTEST) tests/unit/test_deploy_files.py tests/e2e/test_deploy_tools.py $(PYTEST_ARGS)

# Pin pyproject.toml's runtime dependencies again (after changing them): requirements.lock, used by the image
# and by `make setup`.
lock: setup
	$(PY) scripts/lock_requirements.py

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(PYTEST) $(PYTEST_ARGS)

# The API fuzzed over its OpenAPI by schemathesis, longer than the pass `make test` runs (10 cases per operation
# and mode): FUZZ_MAX_EXAMPLES per operation and mode (default here 300; a few minutes per 100 on two cores).
fuzz: setup
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-300} $(PYTEST) -s --timeout=3600 tests/integration/test_fuzz_api.py $(PYTEST_ARGS)

# Performance, measured side by side and written into BENCHMARKS.md (about 8 minutes on two cores): a bare Playwright
# script vs the whole system (bench/harness.py), then the API under load (bench/api_load.py). The longer scaling and
# memory runs are `$(PY) -m bench.scaling --write BENCHMARKS.md`.
bench: setup
	$(PY) -m bench.harness --write BENCHMARKS.md
	$(PY) -m bench.api_load --write BENCHMARKS.md

# The README's dashboard pictures, taken by the dashboard tests (make test writes them to a temporary folder).
screenshots: setup
	REPRISE_SCREENSHOTS_DIR=docs/screenshots $(PYTEST) tests/e2e/test_dashboard.py

clean:
	rm -rf .reprise artifacts reprise-output .pytest_cache .mypy_cache .ruff_cache
