# syntax=docker/dockerfile:1
# The issuer image: a virtual environment built from hash-checked lock files and the wheel
# of this checkout (never an editable install), run as an unprivileged user.
#
# Base images are pinned by digest; to move to a newer one, look up the digest of the tag
#   docker buildx imagetools inspect python:3.11-slim
# and replace it here, then rebuild and run the tests. The lock files are regenerated with
#   pip-compile --generate-hashes --extra server --strip-extras -o requirements/server.lock pyproject.toml
#   pip-compile --generate-hashes --allow-unsafe --strip-extras -o requirements/build.lock requirements/build.in
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements/ requirements/
# Every third-party distribution comes from a lock file and must match one of its hashes.
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r requirements/build.lock \
    && python -m venv /opt/issuer \
    && /opt/issuer/bin/pip install --require-hashes --no-deps -r requirements/server.lock
COPY pyproject.toml README.md ./
COPY issuer/ issuer/
COPY migrations/ migrations/
# The wheel carries the migrations (issuer/migrations); nothing runs from /src afterwards.
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation -w /wheels . \
    && /opt/issuer/bin/pip install --no-deps /wheels/issuer-*.whl \
    && /opt/issuer/bin/pip check

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/issuer/bin:$PATH \
    ISSUER_KEYS_DIR=/var/lib/issuer/keys
COPY --from=build /opt/issuer /opt/issuer
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/issuer --create-home issuer \
    && install -d -o issuer -g issuer -m 0700 /var/lib/issuer/keys
USER issuer:issuer
WORKDIR /var/lib/issuer
EXPOSE 8000
# Ready, not merely alive: /readyz answers 200 once the database answers and the signing
# keys are loaded (/healthz would be healthy without either).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
# Migrations are the one-shot `issuer migrate` run before (compose.yaml's migrate service).
CMD ["issuer", "serve", "--no-migrate", "--host", "0.0.0.0", "--port", "8000"]
