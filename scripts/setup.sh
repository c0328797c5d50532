#!/usr/bin/env bash
# `make setup`: what Reprise needs, idempotently and quickly when everything is there. The installing is
# scripts/install.sh, the same script the image (Dockerfile) runs: the Debian packages (plus docker-compose,
# which the tests of docker-compose.prod.yml run), a .venv with the pinned runtime dependencies
# (requirements.lock) and the project editable with its dev/embedded extras, and the ffmpeg link Playwright
# needs to record video. Then the tests' npm projects (scripts/setup-node.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh --venv .venv --extras dev,embedded --with docker-compose

# The tests' npm projects (tests/conformance, tests/node) for `make test`.
[ ! -f tests/conformance/package.json ] || bash scripts/setup-node.sh
