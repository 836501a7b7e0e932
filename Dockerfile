# The connector as the integration platform runs it: `jobs-connector ipaas` runs the step the ELASTICIO_*
# environment describes; `jobs-connector ipaas verifyCredentials` (getMetaModel, selectModel) answers one
# service call. Build from the repository root: docker build -t jobs-connector .

# Stage 1: build the wheel (component.json, actions/ and schemas/ ship inside it as package data).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml README.md LICENSE component.json logo.png ./
COPY lib ./lib
COPY actions ./actions
COPY schemas ./schemas
RUN pip wheel --no-deps --wheel-dir /dist .

# Stage 2: the image: the built wheel with the `ipaas` extra only, every version pinned by
# requirements-runtime.txt used as constraints (nothing for tests, webhooks or role credentials).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

COPY requirements-runtime.txt /tmp/constraints.txt
COPY --from=build /dist /tmp/dist
RUN pip install -c /tmp/constraints.txt "$(ls /tmp/dist/jobs_connector-*.whl)[ipaas]" \
 && rm -rf /tmp/dist /tmp/constraints.txt \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin connector

# Never root at run time.
USER 10001:10001
WORKDIR /app

ENTRYPOINT ["jobs-connector", "ipaas"]
