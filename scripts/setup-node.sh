#!/usr/bin/env bash
# Installs the conformance suite's reference runner (@puppeteer/replay + puppeteer-core, pinned in
# tests/conformance/package-lock.json) with `npm ci`, when node_modules is missing or older than the lock
# file. Idempotent and quiet; never downloads a browser (the oracle drives the system Chromium).
set -euo pipefail
cd "$(dirname "$0")/../tests/conformance"

if ! command -v npm >/dev/null 2>&1; then
    echo "setup-node: npm is not installed (Node 20 or newer is needed for the conformance suite)" >&2
    exit 1
fi

stamp=node_modules/.package-lock.json  # written by npm ci; its age is the install's age
if [ -f "$stamp" ] && [ ! package-lock.json -nt "$stamp" ]; then
    exit 0
fi

echo "setup-node: installing the conformance oracle in tests/conformance/node_modules"
export PUPPETEER_SKIP_DOWNLOAD=1 PUPPETEER_SKIP_CHROME_DOWNLOAD=1 PUPPETEER_SKIP_CHROME_HEADLESS_SHELL_DOWNLOAD=1
if ! log=$(npm ci --no-audit --no-fund --loglevel=error 2>&1); then
    echo "$log" >&2
    echo "setup-node: npm ci failed in tests/conformance" >&2
    exit 1
fi
touch "$stamp"
