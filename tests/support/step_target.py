"""The service a multi-host test's flow steps call: a small real HTTP server that answers the IoT Jobs data plane's
DescribeJobExecution (GET, safe to repeat) and UpdateJobExecution (POST, not safe to repeat), after an added
latency, and counts every step request by thing (one thing per event), by method and by the client's address
(which test host sent it). `GET /counts` gives the counts as JSON. `POST /hold/<address>` keeps the answers
to that client's step requests back (counted on arrival, answered later) until `POST /release/<address>`:
the answers a host cut off from Redis gets only once it is back.

    python -m tests.support.step_target --host 0.0.0.0 --port 8443 --latency 0.05 --cert C.pem --key C.key

HTTPS, as the connector sends plain HTTP to loopback addresses only (tests/support/tls.py makes the certificate).
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EXECUTION = {"jobId": "fw-42", "status": "IN_PROGRESS", "versionNumber": 4}


HOLD_AT_MOST = 25.0  # seconds an answer is held back, whatever the test does


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.released = threading.Condition(self.lock)
        self.things: dict[str, dict] = {}  # thing -> {"GET": n, "POST": n, "POST_from": [address, ...]}
        self.held: set[str] = set()  # clients whose answers are held back
        self.held_things: list[str] = []  # the things of the requests held back

    def hold(self, client: str, on: bool) -> None:
        with self.lock:
            if on:
                self.held.add(client)
            else:
                self.held.discard(client)
                self.released.notify_all()

    def wait_if_held(self, client: str, thing: str) -> None:
        with self.lock:
            if client in self.held:
                self.held_things.append(thing)
                self.released.wait_for(lambda: client not in self.held, timeout=HOLD_AT_MOST)

    def add(self, thing: str, method: str, client: str) -> None:
        with self.lock:
            seen = self.things.setdefault(thing, {"GET": 0, "POST": 0, "GET_from": [], "POST_from": []})
            seen[method] += 1
            seen[f"{method}_from"].append(client)

    def as_json(self) -> bytes:
        with self.lock:
            return json.dumps({"things": self.things, "held": self.held_things}).encode()


def handler_for(counts: Counts, latency: float):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the connector's transport uses it

        def _answer(self, status: int, body: dict | bytes) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _step(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            parts = self.path.split("?")[0].strip("/").split("/")  # things/<thing>/jobs/<job>
            if len(parts) != 4 or parts[0] != "things" or parts[2] != "jobs":
                self._answer(404, {"message": f"no such path {self.path}"})
                return
            counts.add(parts[1], method, self.client_address[0])
            time.sleep(latency)
            counts.wait_if_held(self.client_address[0], parts[1])
            if method == "GET":
                self._answer(200, {"execution": {**EXECUTION, "thingName": parts[1], "jobId": parts[3]}})
            else:
                self._answer(200, {"executionState": {"status": "SUCCEEDED", "versionNumber": 5}})

        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path == "/counts":
                self._answer(200, counts.as_json())
            else:
                self._step("GET")

        def do_POST(self):  # noqa: N802
            control, _, client = self.path.strip("/").partition("/")
            if control in ("hold", "release"):
                counts.hold(client, control == "hold")
                self._answer(200, {control: client})
            else:
                self._step("POST")

        def log_message(self, *args):  # quiet: the counts are the record
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every step's answer")
    parser.add_argument("--cert", required=True, help="PEM certificate")
    parser.add_argument("--key", required=True, help="its PEM private key")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(Counts(), args.latency))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    server.request_queue_size = 128
    sys.stderr.write(f"listening on {args.host}:{server.server_address[1]}\n")
    sys.stderr.flush()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
