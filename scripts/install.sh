#!/usr/bin/env bash
# Installs what Reprise runs with, idempotently. The one install script: `make setup` (scripts/setup.sh) and
# the image (Dockerfile) both run it, so CI exercises the image's install steps.
#
#   scripts/install.sh [OPTIONS] [STEP...]      steps, in this order (default: all four)
#     system    Debian packages: chromium, ffmpeg, fonts-liberation, fonts-noto-color-emoji, libatomic1, any --with
#               PKG; only the missing ones, with `apt-get update` only when something is missing
#     deps      a venv with the pinned runtime dependencies (requirements.lock)
#     project   the project into that venv: a plain install without dependencies (the image), or editable with
#               the extras of --extras, held to the lock's versions (development)
#     link      the ffmpeg link Playwright records video with (runner/replay/browser.py), under
#               $PLAYWRIGHT_BROWSERS_PATH or ~/.cache/reprise/ms-playwright
#
#   --venv DIR      the venv (default .venv)
#   --extras LIST   editable install with these extras, e.g. dev,embedded (default: plain install, no extras)
#   --with PKG      one more Debian package for the system step (repeatable): tini for the image,
#                   docker-compose for the tests of docker-compose.prod.yml
#   --image         building an image: no pip cache, and the apt lists removed after installing
#
# `deps` and `project` are skipped when the venv already holds what requirements.lock, pyproject.toml and the
# options ask for (a stamp file in the venv); a plain install always reinstalls, as its source may have changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
LOCK=requirements.lock
# libatomic1: the Node.js driver inside the Playwright wheel links it, and minimal Debian images lack it.
SYSTEM_PACKAGES=(chromium ffmpeg fonts-liberation fonts-noto-color-emoji libatomic1)

venv=.venv
extras=""
image=0
steps=()
while [ $# -gt 0 ]; do
    case "$1" in
        --venv) venv=$2; shift 2 ;;
        --extras) extras=$2; shift 2 ;;
        --with) SYSTEM_PACKAGES+=("$2"); shift 2 ;;
        --image) image=1; shift ;;
        system|deps|project|link) steps+=("$1"); shift ;;
        *) echo "install: unknown argument $1 (see the head of $0)" >&2; exit 2 ;;
    esac
done
[ ${#steps[@]} -gt 0 ] || steps=(system deps project link)

pip_options=(-q)
[ "$image" -eq 0 ] || pip_options+=(--no-cache-dir)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

installed() {  # is this Debian package installed?
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

step_system() {
    local missing=() package
    for package in "${SYSTEM_PACKAGES[@]}"; do
        if [ "$package" = chromium ] && [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
            continue  # a Chromium of its own at CHROMIUM_PATH does as well
        fi
        installed "$package" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "install: apt-get install ${missing[*]}"
        as_root apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    if [ "$image" -eq 1 ]; then
        as_root apt-get clean
        as_root rm -rf /var/lib/apt/lists/*
    fi
}

ensure_venv() {
    if [ ! -x "$venv/bin/python" ]; then
        echo "install: creating $venv"
        "$PYTHON" -m venv "$venv"
        "$venv/bin/python" -m pip install "${pip_options[@]}" --upgrade pip
    fi
}

stamp_for() {  # the stamp file saying the venv holds what these inputs ask for
    local digest
    digest=$( { cat "$LOCK" pyproject.toml; echo "$1"; } | sha256sum | cut -c1-16)
    echo "$venv/.reprise-installed-$digest"
}

step_deps() {
    ensure_venv
    if [ -n "$extras" ] && [ -f "$(stamp_for "$extras")" ]; then
        return  # the project step's stamp covers the lock as well
    fi
    echo "install: the pinned runtime dependencies ($LOCK) into $venv"
    "$venv/bin/python" -m pip install "${pip_options[@]}" -r "$LOCK"
}

step_project() {
    ensure_venv
    if [ -z "$extras" ]; then
        echo "install: the project into $venv"
        "$venv/bin/python" -m pip install "${pip_options[@]}" --no-deps .
        return
    fi
    local stamp
    stamp=$(stamp_for "$extras")
    [ ! -f "$stamp" ] || return 0
    echo "install: the project with [$extras] into $venv (editable, runtime versions from $LOCK)"
    "$venv/bin/python" -m pip install "${pip_options[@]}" -c "$LOCK" -e ".[$extras]"
    rm -f "$venv"/.reprise-installed-*
    touch "$stamp"
}

step_link() {
    "$venv/bin/python" -c "from runner.replay.browser import prepare_playwright_env as prepare
print('install: playwright ffmpeg link in', prepare(require_ffmpeg=True))"
}

for step in "${steps[@]}"; do
    "step_$step"
done
