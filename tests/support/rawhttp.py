"""An HTTP/1.1 server on 127.0.0.1 written on raw sockets, for what a well-behaved server cannot do:
reset a connection before or after reading the request, never answer, stop a body half-way, send a
body larger than it declares, speak TLS with a self-signed certificate. It also counts TCP connections
(by client port), so tests can see whether connections are pooled and reused, and keeps each request's
raw bytes, so tests can check exactly what went on the wire.

The handler gets a `RawRequest` and returns what to do: `Respond`, `Reset`, `Hang`, `Close` or `Raw`.
`on_connect` may return `Reset()` to reset a connection before any byte of the request is read: once the
request's first bytes have arrived (so the client has surely connected and sent it; an RST racing the
client's own connect would be a different fault, one that provably sent nothing).
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class RawRequest:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    head: bytes  # the request line and header block exactly as received, CRLFs included
    client_port: int

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def json(self):
        return json.loads(self.body) if self.body else None


@dataclass
class Respond:
    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict = field(default_factory=dict)
    declared_length: int | None = None  # a Content-Length other than the body's (a cut-off answer)
    length_header: bool = True  # False: no Content-Length, the body ends when the connection closes
    close: bool = False  # close the connection after this answer

    def payload(self) -> bytes:
        body = self.body
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            self.headers.setdefault("Content-Type", "application/json")
        return body.encode("utf-8") if isinstance(body, str) else body


@dataclass
class Reset:
    """Close with a TCP RST (SO_LINGER 0): the client sees 'connection reset by peer'."""


@dataclass
class Hang:
    """Read the request, then never answer (until the client gives up or the server stops)."""


@dataclass
class Close:
    """Close the connection cleanly without answering."""


@dataclass
class Raw:
    """Send these bytes as they are, then close."""

    data: bytes


_REASONS = {200: "OK", 204: "No Content", 301: "Moved Permanently", 302: "Found", 303: "See Other",
            307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class RawServer:
    def __init__(self, handler: Callable[[RawRequest], object] | None = None, *, host: str = "127.0.0.1",
                 tls: ssl.SSLContext | None = None, on_connect: Callable[[int], object] | None = None):
        self.handler = handler or (lambda request: Respond(200, {}))
        self.on_connect = on_connect
        self.tls = tls
        self.requests: list[RawRequest] = []
        self.client_ports: list[int] = []  # one per accepted TCP connection
        self.tls_failures = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server((host, 0))
        self.host, self.port = self._listener.getsockname()[:2]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        return len(self.client_ports)

    def start(self) -> RawServer:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self._listener.close()
        self._acceptor.join(timeout=5)
        with self._lock:
            for sock in list(self._open):
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked reading the next request
                except OSError:
                    pass
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> RawServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- serving -----------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, address = self._listener.accept()
            except OSError:
                return  # the listener was shut down
            with self._lock:
                self.client_ports.append(address[1])
            thread = threading.Thread(target=self._serve, args=(sock, address[1]), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, port: int) -> None:
        with self._lock:
            self._open.add(sock)
        try:
            first = self.on_connect(port) if self.on_connect else None
            if isinstance(first, Reset):
                select.select([sock], [], [], 5)  # the request is on its way (or the client gave up)
                _reset(sock)
                return
            if self.tls:
                try:
                    sock.settimeout(5)
                    sock = self.tls.wrap_socket(sock, server_side=True)
                    sock.settimeout(None)
                except (ssl.SSLError, OSError):
                    with self._lock:
                        self.tls_failures += 1
                    return
                with self._lock:
                    self._open.add(sock)
            reader = sock.makefile("rb")
            while not self._stopping.is_set():
                request = self._read_request(reader, port)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                if not self._answer(sock, request):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._open.discard(sock)
            try:
                sock.close()
            except OSError:
                pass

    @staticmethod
    def _read_request(reader, port: int) -> RawRequest | None:
        head = b""
        while True:
            line = reader.readline(65537)
            if not line:
                return None
            head += line
            if line in (b"\r\n", b"\n"):
                break
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = (lines[0].split(" ", 2) + ["", ""])[:3]
        headers = []
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers.append((name, value.strip()))
        length = next((int(v) for k, v in headers if k.lower() == "content-length" and v.isdigit()), 0)
        body = reader.read(length) if length else b""
        return RawRequest(method, target, version, headers, body, head, port)

    def _answer(self, sock: socket.socket, request: RawRequest) -> bool:
        """Carry out the handler's decision; False when the connection is finished."""
        action = self.handler(request)
        if isinstance(action, Reset):
            _reset(sock)
            return False
        if isinstance(action, Close):
            return False
        if isinstance(action, Hang):
            self._stopping.wait()
            return False
        if isinstance(action, Raw):
            sock.sendall(action.data)
            return False
        payload = action.payload()
        lines = [f"HTTP/1.1 {action.status} {_REASONS.get(action.status, 'Status')}"]
        lines += [f"{name}: {value}" for name, value in action.headers.items()]
        if action.length_header:
            declared = len(payload) if action.declared_length is None else action.declared_length
            lines.append(f"Content-Length: {declared}")
        close = action.close or not action.length_header or action.declared_length is not None
        if close:
            lines.append("Connection: close")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        return not close


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connecting to it is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class FullBacklog:
    """A port whose accept queue is full, so a new connection is never completed: a connect timeout,
    on loopback. (Linux drops the SYN when the queue of a listener that never accepts is full.)"""

    def __init__(self):
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port = self._listener.getsockname()[1]
        self._fillers: list[socket.socket] = []

    def __enter__(self) -> FullBacklog:
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            try:
                filler.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self._fillers.append(filler)
        return self

    def __exit__(self, *exc) -> None:
        for sock in self._fillers + [self._listener]:
            sock.close()
