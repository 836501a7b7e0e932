"""A forward HTTP proxy on 127.0.0.1 for tests: `CONNECT host:port` tunnels (what HTTPS_PROXY means for an
https:// endpoint) and absolute-form requests (`GET http://host/path`, what HTTP_PROXY means for http://).
It records what it was asked to do, and only ever connects to loopback addresses."""

from __future__ import annotations

import ipaddress
import select
import socket
import threading
from urllib.parse import urlsplit


class ForwardProxy:
    def __init__(self):
        self.seen: list[str] = []  # "CONNECT 127.0.0.1:1234" or "GET http://127.0.0.1:1234/path"
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ForwardProxy:
        self._acceptor.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self._listener.close()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was shut down
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            head = self._read_head(client)
            if head is None:
                return
            first, rest = head.split(b"\r\n", 1)
            method, target, _ = first.decode("latin-1").split(" ", 2)
            with self._lock:
                self.seen.append(f"{method} {target}")
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = self._connect(host, port)
                if upstream is None:
                    client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                    return
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._pipe(client, upstream)
                return
            parts = urlsplit(target)
            upstream = self._connect(parts.hostname, parts.port or 80)
            if upstream is None:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            origin_form = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            # Then bytes are relayed both ways: a kept-alive client's next request goes to the same origin.
            upstream.sendall(f"{method} {origin_form} HTTP/1.1\r\n".encode("latin-1") + rest)
            self._pipe(client, upstream)

    @staticmethod
    def _read_head(client: socket.socket) -> bytes | None:
        """The request line and headers, read byte by byte so nothing after them is consumed."""
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            byte = client.recv(1)
            if not byte or len(head) > 65536:
                return None
            head += byte
        return head

    @staticmethod
    def _connect(host, port) -> socket.socket | None:
        try:
            host = "127.0.0.1" if host == "localhost" else host
            if host is None or not ipaddress.ip_address(host).is_loopback:
                return None
            return socket.create_connection((host, int(port)), timeout=5)
        except (ValueError, OSError):
            return None

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        with upstream:
            sockets = [client, upstream]
            while not self._stopping.is_set():
                ready, _, _ = select.select(sockets, [], [], 0.05)
                for sock in ready:
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)
