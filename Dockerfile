# The connector as the integration platform runs it: `jobs-connector ipaas` runs the step the ELASTICIO_*
# environment describes; `jobs-connector ipaas verifyCredentials` (getMetaModel, selectModel) answers one
# service call. Build from the repository root: docker build -t jobs-connector .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# Runtime dependencies only (no test packages), in their own layer: a code change does not reinstall them.
COPY requirements-runtime.txt ./
RUN pip install -r requirements-runtime.txt

# The component: its descriptor, actions, schemas and runtime. The runtime finds component.json next to lib/.
COPY pyproject.toml README.md LICENSE component.json logo.png ./
COPY lib ./lib
COPY actions ./actions
COPY schemas ./schemas
RUN pip install --no-deps -e . \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin connector

# Never root at run time.
USER 10001:10001

ENTRYPOINT ["jobs-connector", "ipaas"]
