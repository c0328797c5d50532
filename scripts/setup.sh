#!/usr/bin/env bash
# Installs what Reprise needs, idempotently: Debian chromium and ffmpeg when missing, a .venv with the
# project and its dev/embedded extras, and the ffmpeg link Playwright looks for when recording video.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv

need_apt=()
command -v chromium >/dev/null 2>&1 || [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || need_apt+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need_apt+=(ffmpeg)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]} with apt-get"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium ffmpeg
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when the dependency list changed.
stamp="$VENV/.reprise-installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "setup: installing the project into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e '.[dev,embedded]'
    rm -f "$VENV"/.reprise-installed-*
    touch "$stamp"
fi

"$VENV/bin/python" -c "from runner.replay.browser import prepare_playwright_env; print('setup: playwright ffmpeg link in', prepare_playwright_env())"

# The conformance suite's reference runner (@puppeteer/replay) for `make test`.
[ ! -f tests/conformance/package.json ] || bash scripts/setup-node.sh
