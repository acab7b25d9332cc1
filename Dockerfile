# The intake service as one image: web (gunicorn, the default command), Celery worker and beat,
# and the one-shot `intake-service db upgrade` all run from it (see docker-compose.yml).
#
#   docker build -t intake-service .
#   docker run --env-file .env -p 8000:8000 intake-service
#
# Configuration comes only from the environment (intake_service/config.py, .env.example).

# --- build: install the project (not editable) into a virtual environment ---------------------
FROM python:3.11-slim AS build

# (pip byte-compiles what it installs, so the runtime image starts without writing .pyc files.)
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/intake
ENV PATH=/opt/intake/bin:$PATH

WORKDIR /src
# Only what the wheel is built from (see .dockerignore): the package, the shipped templates/
# and worker.py (force-included by pyproject.toml), and README.md (the package's readme).
COPY pyproject.toml README.md worker.py ./
COPY templates ./templates
COPY intake_service ./intake_service
RUN pip install . \
    && cd / \
    && python -c "import importlib.util as u, intake_service.paths as p; \
assert u.find_spec('worker'), 'worker.py not installed'; \
assert (p.templates_root() / 'messages').is_dir(); \
assert (p.migrations_root() / 'env.py').is_file()"

# --- runtime: the installed environment only, no source tree, no build tools ------------------
FROM python:3.11-slim

# gunicorn reads its worker count from WEB_CONCURRENCY; override it per host.
ENV PATH=/opt/intake/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production \
    INSTANCE_PATH=/var/lib/intake-service \
    WEB_CONCURRENCY=3

RUN groupadd --system --gid 10001 intake \
    && useradd --system --uid 10001 --gid intake --home-dir /home/intake --create-home \
       --shell /usr/sbin/nologin intake \
    && install -d -o intake -g intake -m 0750 /var/lib/intake-service

COPY --from=build /opt/intake /opt/intake

USER intake
WORKDIR /home/intake

EXPOSE 8000

# Liveness only (/healthz): readiness (/readyz, database and broker) is for the orchestrator.
# The image has no curl; Python's urllib raises (exit 1) on a refused connection or a non-2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Sync workers (count from WEB_CONCURRENCY); 30 s is far above any request the web tier serves,
# since everything slow happens in the Celery worker. Heartbeat files on /dev/shm, not overlayfs.
# The access log leaves out query strings and referrers: a staff search holds patients' names.
CMD ["gunicorn", "intake_service.wsgi:app", \
     "--bind", "0.0.0.0:8000", \
     "--timeout", "30", \
     "--graceful-timeout", "30", \
     "--keep-alive", "5", \
     "--max-requests", "1000", \
     "--max-requests-jitter", "100", \
     "--worker-tmp-dir", "/dev/shm", \
     "--access-logfile", "-", \
     "--access-logformat", "%(h)s %(t)s \"%(m)s %(U)s %(H)s\" %(s)s %(B)s %(M)sms"]
