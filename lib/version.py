"""The connector's version: the installed package's metadata, else lib.__version__ (a plain checkout)."""

from __future__ import annotations

from . import __version__

DISTRIBUTION = "jobs-connector"


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:
        return __version__
