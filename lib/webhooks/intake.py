"""The HTTP side: `POST /hooks/<flow>`, `GET /events/<id>`, `GET /healthz`.

The standard library's ThreadingHTTPServer is enough here: requests are small and bounded, each is
answered in about a millisecond (one SQLite commit), keep-alive is supported, and it adds no
dependency. A request is refused before anything is stored:

  404 unknown flow or path      411 no Content-Length (chunked bodies are not accepted)
  413 body over the size bound  401 missing, malformed or wrong signature, or timestamp outside the window
  400 body not a JSON object, or a malformed delivery id
  503 the event could not be stored (nothing was promised; the sender retries)

202 {"id": ...} is sent only once the event is durably stored; a redelivery (same delivery id, or the
identical signed request replayed) gets 200 {"id": <the same id>, "duplicate": true} and is not queued again.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import signature, view
from .events import Event, new_id, stored_headers
from .flows import Flows
from .queue import Queue

log = logging.getLogger("jobs_connector.webhooks")

MAX_BODY = 1024 * 1024
DELIVERY_HEADERS = ("X-Delivery-Id", "X-GitHub-Delivery")
_HOOK = re.compile(r"^/hooks/([A-Za-z0-9][A-Za-z0-9_-]{0,63})\Z")
_EVENT = re.compile(r"^/events/([0-9a-f]{32})\Z")
_DELIVERY_ID = re.compile(r"^[\x21-\x7e]{1,200}\Z")


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class Intake:
    """The decisions, apart from HTTP plumbing: what to answer to a hook request."""

    def __init__(self, flows: Flows, queue: Queue, *, max_body: int = MAX_BODY,
                 tolerance: float = signature.DEFAULT_TOLERANCE, clock=time.time):
        self.flows, self.queue, self.store = flows, queue, queue.store
        self.max_body, self.tolerance, self.clock = max_body, tolerance, clock

    def receive(self, flow_name: str, headers, body: bytes) -> tuple[int, dict]:
        flow = self.flows.get(flow_name)
        if flow is None or flow.trigger is not None:  # a flow a poll starts has no webhook
            return 404, {"error": f"no flow named '{flow_name}'"}
        now = self.clock()
        try:
            fingerprint = signature.verify(flow.secret, headers.get(signature.HEADER), body,
                                           tolerance=self.tolerance, now=now)
        except signature.SignatureError as exc:
            log.warning("hook %s refused: %s", flow_name, exc)
            return 401, {"error": str(exc)}
        try:
            data = json.loads(body, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            return 400, {"error": "the body is not valid JSON"}
        if not isinstance(data, dict):
            return 400, {"error": "the body must be a JSON object"}
        delivery_id = next((headers.get(h) for h in DELIVERY_HEADERS if headers.get(h)), None)
        if delivery_id is not None and not _DELIVERY_ID.match(delivery_id):
            return 400, {"error": "the delivery id must be 1 to 200 printable ASCII characters without spaces"}
        event = Event(id=new_id(), flow=flow.name, body=data, received_at=now, headers=stored_headers(headers),
                      delivery_id=delivery_id, fingerprint=fingerprint, due_at=now, updated_at=now)
        try:
            event_id, created = self.queue.accept(event)
        except Exception:
            log.exception("hook %s: the event could not be stored", flow_name)
            return 503, {"error": "the event could not be stored; send it again later"}
        if not created:
            return 200, {"id": event_id, "duplicate": True}
        return 202, {"id": event_id}

    def event(self, event_id: str) -> tuple[int, dict]:
        event = self.store.get(event_id)
        if event is None:
            return 404, {"error": "no such event"}
        return 200, view.public(event, self.flows.secrets())

    def health(self) -> tuple[int, dict]:
        try:
            self.store.ping()
        except Exception as exc:
            return 503, {"status": "unavailable", "queue": self.queue.kind, "error": type(exc).__name__}
        return 200, {"status": "ok", "queue": self.queue.kind, "flows": sorted(f.name for f in self.flows)}


class IntakeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address, intake: Intake, *, read_timeout: float = 10.0):
        self.intake = intake
        self.read_timeout = read_timeout
        self.draining = False
        self._active = 0
        self._idle = threading.Condition()
        super().__init__(address, _handler_class())

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def begin(self) -> None:
        with self._idle:
            self._active += 1

    def end(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()

    def drain(self, timeout: float = 10.0) -> bool:
        """Stop accepting, then wait for the requests being handled to be answered."""
        self.draining = True
        self.shutdown()
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True


def _handler_class():
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "jobs-connector"
        sys_version = ""
        wbufsize = -1  # buffered: headers and body leave in one segment, flushed after each request

        def setup(self):
            super().setup()
            self.connection.settimeout(self.server.read_timeout)
            # Small answers must not wait for the client's delayed ACK (Nagle): 40 ms per request otherwise.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
            log.debug("%s %s", self.address_string(), format % args)

        def _answer(self, status: int, payload: dict) -> None:
            data = json.dumps(payload, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            if self.server.draining:
                self.close_connection = True
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

        def _refuse_unread(self, status: int, payload: dict) -> None:
            # The body was not read: the connection cannot carry another request.
            self.close_connection = True
            self._answer(status, payload)

        def do_POST(self):  # noqa: N802 - the stdlib's name
            self.server.begin()
            try:
                self._post()
            finally:
                self.server.end()

        def _post(self):
            intake: Intake = self.server.intake
            match = _HOOK.match(self.path.split("?", 1)[0])
            if not match:
                return self._refuse_unread(404, {"error": "POST /hooks/<flow>"})
            if intake.flows.get(match.group(1)) is None:
                return self._refuse_unread(404, {"error": f"no flow named '{match.group(1)}'"})
            if self.headers.get("Transfer-Encoding"):
                return self._refuse_unread(411, {"error": "send the body with a Content-Length"})
            length = self.headers.get("Content-Length")
            if length is None:
                return self._refuse_unread(411, {"error": "Content-Length is required"})
            if not length.isdigit():
                return self._refuse_unread(400, {"error": "Content-Length is malformed"})
            if int(length) > intake.max_body:
                return self._refuse_unread(413, {"error": f"the body is larger than {intake.max_body} bytes"})
            body = self.rfile.read(int(length))
            if len(body) != int(length):
                self.close_connection = True
                return
            self._answer(*intake.receive(match.group(1), self.headers, body))

        def do_GET(self):  # noqa: N802
            intake: Intake = self.server.intake
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                return self._answer(*intake.health())
            match = _EVENT.match(path)
            if match:
                return self._answer(*intake.event(match.group(1)))
            self._answer(404, {"error": "not found"})

        def _not_allowed(self):
            self._refuse_unread(405, {"error": "method not allowed"})

        do_PUT = do_DELETE = do_PATCH = _not_allowed  # noqa: N815

    return Handler
