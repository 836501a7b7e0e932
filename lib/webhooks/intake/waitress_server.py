"""The intake's HTTP server: waitress, a kept, pure-Python WSGI server. Its own loop reads and buffers each
request whole (slow clients cost no thread; a body over the bound is refused as it arrives), rejects
malformed framing (a Content-Length that is not ASCII digits, or given twice) with 400, and hands
complete requests to a bounded pool of threads running the application.
"""

from __future__ import annotations

import logging
import time

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import ErrorTask

from jobs_connector.webhooks.intake.wsgi import IntakeApp

log = logging.getLogger("jobs_connector.webhooks")


# What waitress refuses itself, before the application sees the request (jobs_connector_webhooks_refused_total).
_REFUSED_BY_WAITRESS = {400: "bad-framing", 413: "too-large", 431: "headers-too-large", 501: "bad-framing"}


class _CountedErrorTask(ErrorTask):
    """waitress's answer to a request it refuses (a body over the bound, malformed framing), counted."""

    def execute(self):
        reason = _REFUSED_BY_WAITRESS.get(getattr(self.request.error, "code", 500))
        if reason is not None:  # a 500 is our failure, not a refusal
            self.channel.server.intake_app.intake.refuse(_hook_flow(self.request.path or ""), reason, 0, "")
        super().execute()


def _hook_flow(path: str) -> str:
    return path[len("/hooks/"):] if path.startswith("/hooks/") else ""


class _Channel(HTTPChannel):
    """waitress's channel, without its loop spinning while a request runs.

    While a task answers, it sends its own output (send_bytes=1) and pulls the loop's trigger when it is
    done, so any rest is flushed then. waitress's loop would instead poll the socket as writable the moment
    the first bytes are buffered and retry the flush in a tight loop, taking the GIL from the thread that
    is sending: measured, 19 polls and a 1.3 ms send() per request under load.
    """

    def writable(self):
        if self.requests and not (self.will_close or self.close_when_flushed):
            return False
        return super().writable()

    error_task_class = _CountedErrorTask


class IntakeServer:
    def __init__(self, address, app: IntakeApp, *, threads: int = 8, max_body: int = 1024 * 1024,
                 idle_timeout: int = 60):
        host, port = address
        self.app = app
        # Enough threads for concurrent requests to share one commit (group commit); the bound is
        # max_body plus headroom, so waitress answers 413 itself before buffering more.
        self.server = create_server(
            app, host=host, port=port, threads=threads, ident="jobs-connector", channel_timeout=idle_timeout,
            max_request_body_size=max_body, connection_limit=1000, clear_untrusted_proxy_headers=True,
            asyncore_use_poll=True)
        self.server.channel_class = _Channel  # waitress is pinned: tests/integration/test_webhooks_framing.py runs it
        self.server.intake_app = app  # its refusals are counted (_CountedErrorTask)

    @property
    def url(self) -> str:
        return f"http://{self.server.effective_host}:{self.server.effective_port}"

    def serve_forever(self) -> None:
        self.server.run()

    def drain(self, timeout: float = 10.0) -> bool:
        """Stop accepting, wait for the requests being handled to be answered and sent, then close."""
        deadline = time.monotonic() + timeout
        self._in_loop(lambda: wasyncore.dispatcher.close(self.server))  # the listening socket only
        answered = self.app.wait_idle(max(0.0, deadline - time.monotonic()))
        while answered and self._pending_output() and time.monotonic() < deadline:
            time.sleep(0.01)
        return answered and not self._pending_output()

    def server_close(self) -> None:
        self._in_loop(lambda: wasyncore.close_all(self.server._map))  # every connection, then the loop ends
        self.server.task_dispatcher.shutdown(timeout=5)

    def _pending_output(self) -> bool:
        return any(ch.requests or ch.total_outbufs_len for ch in list(self.server.active_channels.values()))

    def _in_loop(self, thunk) -> None:
        # waitress's loop is not thread-safe: changes run in it, through its trigger.
        try:
            self.server.trigger.pull_trigger(thunk)
        except OSError:  # the loop has ended and closed its trigger: nothing else touches its map now
            try:
                thunk()
            except OSError:
                pass  # already closed
