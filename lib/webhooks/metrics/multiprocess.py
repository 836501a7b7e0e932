"""prometheus_client's multi-process mode for `serve --worker-processes N`: each process writes its counts
to files in one directory (PROMETHEUS_MULTIPROC_DIR) and the intake's /metrics adds them up, so a scrape of
the intake covers its worker processes.

The directory must be known before prometheus_client is imported (it picks file-backed values at import),
so `serve` decides it first: the operator's PROMETHEUS_MULTIPROC_DIR when set (shared with `--web-only` and
`--worker-only` processes on the same machine; the operator empties it before they start), else, with
worker processes, a private temporary directory of this serve, removed when it stops. The children are
given it in their environment. A child that exits is marked dead (its live values are forgotten; its
counts stay, as counts must).
"""

from __future__ import annotations

import shutil
import tempfile

ENV = "PROMETHEUS_MULTIPROC_DIR"


def choose(environ, *, several_processes: bool) -> tuple[str | None, bool]:
    """(the directory, whether this serve made it and removes it at stop); (None, False): one process."""
    given = environ.get(ENV)
    if given:
        return given, False
    if not several_processes:
        return None, False
    path = tempfile.mkdtemp(prefix="jobs-connector-metrics-")  # owner-only (0700)
    environ[ENV] = path
    return path, True


def remove(path: str | None) -> None:
    if path:
        shutil.rmtree(path, ignore_errors=True)


def mark_dead(pid: int, path: str) -> None:
    from prometheus_client import multiprocess  # only in multi-process mode, which has imported it already

    multiprocess.mark_process_dead(pid, path)
