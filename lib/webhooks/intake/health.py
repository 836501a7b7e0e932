"""What a load balancer asks: `GET /healthz` (is the process alive: 200 while it runs) and `GET /readyz` (should it
get work: 200 when its store answers and an accepted event would be durable; 503 with a short reason otherwise,
and while it stops). The intake answers both among its routes (wsgi.py); a worker-only process answers them, and its
/metrics, on a small listener of its own (HealthApp on waitress, loopback unless told otherwise).
"""

from __future__ import annotations

from collections.abc import Callable

from jobs_connector.webhooks.intake import json_answer

PATHS = ("/healthz", "/readyz")


def alive(queue, flows=None, extra: Callable[[], dict] | None = None) -> tuple[int, dict]:
    """200 as long as the process answers at all: a lost store is readiness's business, not a reason to restart."""
    answer = {"status": "ok", "queue": queue.kind}
    if flows is not None:
        answer["flows"] = sorted(f.name for f in flows)
    if extra is not None:  # serve --worker-processes: the children counted, not judged
        answer["worker_processes"] = extra()
    return 200, answer


def ready(queue, stopping: Callable[[], bool] = lambda: False) -> tuple[int, dict]:
    """200 when the store answers and is durable; 503 with a short reason (never a secret: no URL) otherwise."""
    store = queue.store
    if stopping():
        return 503, {"ready": False, "queue": queue.kind, "reason": "stopping"}
    try:
        store.ping()
        problem = store.durability_problem()  # Redis: its settings asked again (they can change while serving)
    except Exception as exc:
        return 503, {"ready": False, "queue": queue.kind, "reason": f"the store does not answer ({type(exc).__name__})"}
    if problem:
        return 503, {"ready": False, "queue": queue.kind, "reason": f"not durable: {problem}"}
    return 200, {"ready": True, "queue": queue.kind, "durable": not getattr(store, "unsafe_allowed", False)}


def route(path: str, queue, *, flows=None, extra=None, stopping=lambda: False) -> tuple[int, dict]:
    return alive(queue, flows, extra) if path == "/healthz" else ready(queue, stopping)


class HealthApp:
    """The WSGI application of a worker-only process's health listener: /healthz and /readyz, and /metrics
    (this process's own counts) when metrics are on; nothing else."""

    def __init__(self, queue, *, extra=None, stopping: Callable[[], bool] = lambda: False, metrics_page=None):
        self.queue, self.extra, self.stopping, self.metrics_page = queue, extra, stopping, metrics_page

    def __call__(self, environ, start_response):
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        if self.metrics_page is not None and path == "/metrics":
            return self.metrics_page(environ, start_response)
        if method not in ("GET", "HEAD"):
            status, payload = 405, {"error": "method not allowed"}
        elif path in PATHS:
            status, payload = route(path, self.queue, extra=self.extra, stopping=self.stopping)
        else:
            status, payload = 404, {"error": "GET /healthz or /readyz"}
        return json_answer.send(start_response, status, payload)

    def wait_idle(self, timeout: float) -> bool:  # the server's drain: nothing here is worth waiting for
        return True
