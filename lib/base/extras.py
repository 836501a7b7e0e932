"""Optional parts of the connector and the extra that installs each: a missing one is named in one line
with the `pip install` to run, instead of a traceback."""

from __future__ import annotations

import jobs_connector

DISTRIBUTION = "jobs-connector"

# The top-level module each extra brings, and the extra that brings it (pyproject's optional-dependencies).
EXTRA_OF_MODULE = {
    "pika": "ipaas",
    "cryptography": "ipaas",
    "huey": "webhooks",
    "redis": "webhooks",
    "jsonata": "webhooks",
    "yaml": "webhooks",
    "waitress": "webhooks",
    "jinja2": "webhooks",
    "prometheus_client": "webhooks",
    "opentelemetry": "traces",
    "botocore": "aws-roles",
    "paho": "mqtt",
}


def install_hint(extra: str) -> str:
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def missing_extra(exc: ModuleNotFoundError, needed_for: str) -> str | None:
    """The one-line message for a module an extra would have installed, else None (a real bug)."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(top)
    if extra is None:
        return None
    return f"{needed_for} needs the '{extra}' extra (module {top} is missing): {install_hint(extra)}"


def version() -> str:
    """The installed distribution's version, else (a checkout that was never installed) the package's own."""
    from importlib import metadata  # 10 ms to import: only --version asks

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return jobs_connector.__version__
