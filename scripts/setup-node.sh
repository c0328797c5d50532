#!/usr/bin/env bash
# Installs the tests' npm projects with `npm ci`, each when its node_modules is missing or older than its lock
# file: tests/conformance (the conformance suite's reference runner, @puppeteer/replay + puppeteer-core) and
# tests/node (npm bullmq, ioredis and Bull Board, which tests/e2e/test_node_ecosystem.py checks our workers and
# jobs against). Idempotent and quiet; never downloads a browser (the oracle drives the system Chromium).
set -euo pipefail
cd "$(dirname "$0")/../tests"

if ! command -v npm >/dev/null 2>&1; then
    echo "setup-node: npm is not installed (Node 20 or newer is needed for the conformance and Node tests)" >&2
    exit 1
fi

export PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROME_DOWNLOAD=1 PUPPETEER_SKIP_CHROME_HEADLESS_SHELL_DOWNLOAD=1

install() {  # $1: a folder under tests/ with package.json and package-lock.json
    local stamp="$1/node_modules/.package-lock.json"  # written by npm ci; its age is the install's age
    if [ -f "$stamp" ] && [ ! "$1/package-lock.json" -nt "$stamp" ]; then
        return 0
    fi
    echo "setup-node: installing tests/$1/node_modules"
    local log
    if ! log=$(cd "$1" && npm ci --no-audit --no-fund --loglevel=error 2>&1); then
        echo "$log" >&2
        echo "setup-node: npm ci failed in tests/$1" >&2
        exit 1
    fi
    touch "$stamp"
}

install conformance
install node
