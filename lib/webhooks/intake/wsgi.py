"""The intake as a WSGI application: `jobs-connector serve` runs it on waitress (server.py); any WSGI
server can run it too, e.g. gunicorn, with its settings from the environment:

    export JOBS_CONNECTOR_FLOWS=flows.yaml JOBS_CONNECTOR_QUEUE=sqlite:///jobs-connector.db
    gunicorn --workers 1 --threads 8 --bind 127.0.0.1:8080 jobs_connector.webhooks.intake.wsgi:application

  JOBS_CONNECTOR_FLOWS          the flows file (required; its secrets from their secret_env variables)
  JOBS_CONNECTOR_QUEUE          the queue URL (default sqlite:///jobs-connector.db)
  JOBS_CONNECTOR_REPLAY_WINDOW  seconds (default 300)
  JOBS_CONNECTOR_MAX_BODY       bytes (default 1048576)
  JOBS_CONNECTOR_STORE_TIMEOUT  seconds an event may wait for a busy store before a 503 (default 5)

The flows file is checked when the module is imported (a broken one stops the server at start); the
queue is opened in each worker process on its first request, never before a fork.
"""

from __future__ import annotations

import os
import re
import threading

from jobs_connector.webhooks import flows as flows_module
from jobs_connector.webhooks.intake import health, json_answer
from jobs_connector.webhooks.intake.handler import Headers, Intake, verifiers
from jobs_connector.webhooks.store.queue import Queue, queue_url

_HOOK = re.compile(r"^/hooks/([A-Za-z0-9][A-Za-z0-9_-]{0,63})\Z")
_EVENT = re.compile(r"^/events/([0-9a-f]{32})\Z")
_DIGITS = re.compile(r"^[0-9]{1,18}\Z")  # ASCII digits only: '²' passes str.isdigit(), not this


def request_headers(environ) -> Headers:
    pairs = [(key[5:].replace("_", "-"), value) for key, value in environ.items() if key.startswith("HTTP_")]
    if environ.get("CONTENT_TYPE"):
        pairs.append(("Content-Type", environ["CONTENT_TYPE"]))
    return Headers(pairs)


class IntakeApp:
    """The WSGI callable; counts the requests it is answering so a graceful stop can wait for them."""

    def __init__(self, intake: Intake):
        self.intake = intake
        self.metrics_page = intake.metrics.page  # GET /metrics (lib/webhooks/metrics/page.py), None when off
        self._active = 0
        self._idle = threading.Condition()

    def __call__(self, environ, start_response):
        if self.metrics_page is not None and environ.get("PATH_INFO") == "/metrics":
            return self.metrics_page(environ, start_response)
        with self._idle:
            self._active += 1
        try:
            status, payload = self._route(environ)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()
        return json_answer.send(start_response, status, payload)

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    def _route(self, environ) -> tuple[int, dict]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        if method == "POST":
            return self._post(environ, path)
        if method not in ("GET", "HEAD"):
            return 405, {"error": "method not allowed"}
        if path in health.PATHS:
            return self.intake.health(path)
        match = _EVENT.match(path)
        if match:
            return self.intake.event(match.group(1))
        return 404, {"error": "not found"}

    def _post(self, environ, path: str) -> tuple[int, dict]:
        intake = self.intake
        match = _HOOK.match(path)
        if not match:
            return intake.refuse("", "unknown-flow", 404, "POST /hooks/<flow>")
        name = match.group(1)
        if intake.flows.get(name) is None:
            return intake.refuse(name, "unknown-flow", 404, f"no flow named '{name}'")
        # waitress de-chunks a chunked body (bounded) and sets CONTENT_LENGTH; other servers may pass a stream.
        if environ.get("HTTP_TRANSFER_ENCODING"):
            return intake.refuse(name, "no-length", 411, "send the body with a Content-Length")
        length = environ.get("CONTENT_LENGTH") or ""
        if not length:
            return intake.refuse(name, "no-length", 411, "Content-Length is required")
        if not _DIGITS.match(length):
            return intake.refuse(name, "bad-framing", 400, "Content-Length is malformed")
        if int(length) > intake.max_body:
            return intake.refuse(name, "too-large", 413, f"the body is larger than {intake.max_body} bytes")
        body = environ["wsgi.input"].read(int(length))
        if len(body) != int(length):
            return intake.refuse(name, "bad-framing", 400, "the body is shorter than its Content-Length")
        return intake.receive(name, request_headers(environ), body)


# -- the entry point for other WSGI servers (gunicorn) ------------------------------------------------------


class _FromEnvironment:
    """`application`: builds the intake from the environment in each process, on its first request."""

    def __init__(self, environ=os.environ):
        self.environ = environ
        path = environ.get("JOBS_CONNECTOR_FLOWS")
        if not path:
            raise RuntimeError("set JOBS_CONNECTOR_FLOWS to the flows file")
        self.flows = flows_module.load(path)
        verifiers(self.flows)  # a shared or unsuitable secret stops the server at start too
        self._apps: dict[int, IntakeApp] = {}
        self._lock = threading.Lock()

    def _app(self) -> IntakeApp:
        pid = os.getpid()
        with self._lock:
            if pid not in self._apps:
                env = self.environ
                queue = Queue(queue_url(None), store_timeout=float(env.get("JOBS_CONNECTOR_STORE_TIMEOUT", 5)))
                self._apps[pid] = IntakeApp(Intake(
                    self.flows, queue, max_body=int(env.get("JOBS_CONNECTOR_MAX_BODY", 1024 * 1024)),
                    tolerance=float(env.get("JOBS_CONNECTOR_REPLAY_WINDOW", 300))))
            return self._apps[pid]

    def __call__(self, environ, start_response):
        return self._app()(environ, start_response)


def __getattr__(name: str):
    # Built on first use, so importing this module (tests, `serve`) needs no environment.
    if name == "application":
        app = _FromEnvironment()
        globals()["application"] = app
        return app
    raise AttributeError(name)
