# The Reprise image: the API (`reprise api`, the default) and the workers (`reprise worker`) alike.
#
#   docker build -t reprise:latest .
#   docker run --rm -p 8000:8000 --env-file .env reprise:latest                      # the API
#   docker run --rm --shm-size=1g -e REPRISE_ROLE=worker --env-file .env reprise:latest reprise worker
#
# Installed by scripts/install.sh, the script `make setup` runs too (so CI runs the same steps): Debian's
# Chromium, ffmpeg and fonts, tini; a venv with the pinned runtime dependencies (requirements.lock, no dev
# extras); the project; the ffmpeg link Playwright records video with. Playwright downloads no browser.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/reprise/venv \
    PATH=/opt/reprise/venv/bin:$PATH \
    PLAYWRIGHT_BROWSERS_PATH=/opt/reprise/ms-playwright \
    CHROMIUM_PATH=/usr/bin/chromium

WORKDIR /opt/reprise/src

# Each step copies only what it needs, so a code change rebuilds the last layers only.
COPY scripts/install.sh scripts/install.sh
RUN bash scripts/install.sh --image --with tini system

COPY requirements.lock ./
RUN bash scripts/install.sh --image --venv "$VIRTUAL_ENV" deps

COPY pyproject.toml README.md ./
COPY contract contract
COPY jobs jobs
COPY storage storage
COPY runner runner
COPY api api
COPY worker worker
COPY reprise reprise
RUN bash scripts/install.sh --image --venv "$VIRTUAL_ENV" project link

# Runs as `reprise`; relative artifact paths (the local store's defaults) land in its working directory.
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/reprise --shell /usr/sbin/nologin \
        reprise \
    && install -d -o reprise -g reprise /var/lib/reprise
WORKDIR /var/lib/reprise
USER reprise

# REPRISE_ROLE tells `reprise health` what to check: api (GET /api/health) or worker (its heartbeat).
ENV API_HOST=0.0.0.0 \
    API_PORT=8000 \
    REPRISE_ROLE=api
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["reprise", "health"]

# tini is PID 1: it reaps Chromium's orphaned children and passes SIGTERM to reprise alone (no -g), so a
# worker's graceful shutdown decides when its browsers close.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["reprise", "api"]
