"""Webhook intake benchmark: accepted events per second and accept latency (p50/p99), SQLite default.

Starts `jobs-connector serve --web-only` on 127.0.0.1 with a fresh SQLite queue file in a temporary
directory (WAL, every 202 synced to disk before it is sent), then sends signed events from
a few concurrent client processes over keep-alive connections, and prints a table. Everything stays on
the loopback interface; the count and the time are bounded, and the server is always stopped.

    python benchmarks/webhook_intake.py [--events 3000] [--clients 4] [--body-bytes 300]
                                        [--queue URL | --redis] [--json FILE]

`--queue redis://127.0.0.1:6379/15` measures the Redis queue instead (that database is flushed first; serve
refuses a Redis that does not sync each write). `--redis` starts a redis-server of its own for the run, in a
temporary directory, with `appendonly yes` and `appendfsync always` (what serve asks for): every 202 is on
Redis's disk before it is sent.

Goals on the 2-core reference machine: >= 500 durable events/s with p99 under 50 ms (SQLite); with `--redis`,
>= 1,000 events/s with p99 <= 20 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from jobs_connector.webhooks.signatures.jobs_hmac import sign  # noqa: E402

SECRET = "bench-hook-secret-not-real-0000"
FLOWS = {"flows": [{
    "name": "bench",
    "secret_env": "BENCH_HOOK_SECRET",
    "steps": [{"action": "iot-jobs-data.UpdateJobExecution",
               "input": {"thingName": "event.thing", "jobId": "event.job", "status": "'SUCCEEDED'"}}],
}]}
# (events/s, p99 ms): issue 20's for the SQLite default, issue 34's for a Redis that syncs each write.
GOALS = {"sqlite": (500, 50), "redis": (1000, 20)}
TIME_LIMIT = 120.0  # seconds: the whole run stops by then whatever happens



def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the process has not ended within 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 20.0, until=None,
               what: str = "the server did not start") -> None:
    """Until serve's /healthz answers 200 and, with `until`, its document satisfies `until`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            conn.request("GET", "/healthz")
            answer = conn.getresponse()
            if answer.status == 200 and (until is None or until(json.loads(answer.read()))):
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.05)
    raise SystemExit(what)


def request_bytes(port: int, body: bytes, headers: dict[str, str]) -> bytes:
    """One whole HTTP/1.1 POST to /hooks/bench, as bytes to send as they are."""
    head = [f"POST /hooks/bench HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"]
    head += [f"{name}: {value}\r\n" for name, value in headers.items()]
    return "".join(head).encode("latin-1") + b"\r\n" + body


CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)", re.IGNORECASE)


def exchange(sock: socket.socket, request: bytes, pending: bytearray) -> int:
    """Send one request on a kept-alive connection and read its whole answer; its status. `pending` holds
    what was received past the answer (nothing, unless the server sends ahead)."""
    sock.sendall(request)
    while True:
        end = pending.find(b"\r\n\r\n")
        if end >= 0:
            length = CONTENT_LENGTH.search(pending, 0, end)
            if length is None:
                raise ConnectionError(f"an answer without Content-Length: {bytes(pending[:end])[:200]!r}")
            whole = end + 4 + int(length[1])
            if len(pending) >= whole:
                status = int(pending[9:12])
                del pending[:whole]
                return status
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        pending += chunk


def client(port: int, count: int, body_bytes: int, client_id: int, start_at: float, out, rate: float = 0.0) -> None:
    """Send `count` signed events on one keep-alive connection; report (latencies, failures). `rate`: this
    client's events a second, each sent at its time (an open loop, as webhooks arrive; late ones go at once);
    0 sends each as soon as the last is answered.

    The requests are built and signed before the start, and sent as bytes on a plain socket: the clients
    share the cores with what they measure, so they spend as little as they can there (http.client's
    request and answer parsing cost 0.2 ms an event, this 0.05)."""
    padding = "x" * max(0, body_bytes - 80)
    requests = []
    for i in range(count):
        body = json.dumps({"thing": f"thing-{client_id}", "job": f"job-{i}", "n": i, "pad": padding}).encode()
        headers = {"Content-Type": "application/json", "X-Jobs-Signature": sign(SECRET, body),
                   "X-Delivery-Id": f"bench-{client_id}-{i}"}
        requests.append(request_bytes(port, body, headers))
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pending = bytearray()
    latencies, failures = [], 0
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = time.monotonic() + TIME_LIMIT
    for i, request in enumerate(requests):
        if time.monotonic() > deadline:
            break
        if rate and (wait := start_at + i / rate - time.time()) > 0:
            time.sleep(wait)
        began = time.perf_counter()
        status = exchange(sock, request, pending)
        latencies.append(time.perf_counter() - began)
        if status != 202:
            failures += 1
    sock.close()
    out.put((latencies, failures, time.time()))


def run_clients(port: int, events: int, clients: int, body_bytes: int, rate: float = 0.0) -> tuple[list, float]:
    """`events` signed POSTs from `clients` processes starting together; (each client's results, start).
    `rate`: events a second in all, shared by the clients (0: as fast as they are answered)."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 1.0  # every client has built its requests by then
    per_client = events // clients
    procs = [ctx.Process(target=client, args=(port, per_client, body_bytes, c,  # paced ones evenly apart
                                              start_at + (c / rate if rate else 0.0), out, rate / clients))
             for c in range(clients)]
    for p in procs:
        p.start()
    results = [out.get(timeout=TIME_LIMIT + 30) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    return results, start_at


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(events: int, clients: int, body_bytes: int, queue: str | None = None, serve_args: tuple = ()) -> dict:
    """`serve_args`: more flags for serve (benchmarks/webhook_metrics.py: --no-metrics)."""
    with tempfile.TemporaryDirectory() as tmp:
        if queue and queue.startswith("redis"):
            import redis

            redis.Redis.from_url(queue).flushdb()
        flows_file = os.path.join(tmp, "flows.json")
        with open(flows_file, "w") as fh:
            json.dump(FLOWS, fh)
        port = free_port()
        env = {**os.environ, "BENCH_HOOK_SECRET": SECRET, "PYTHONPATH": ROOT}
        proc = subprocess.Popen(
            [sys.executable, "-m", "lib", "serve", "--flows", flows_file, "--web-only", "--port", str(port),
             "--queue", queue or f"sqlite:///{os.path.join(tmp, 'queue.db')}", "--log-level", "WARNING",
             *serve_args],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_ready(port, proc)
            results, start_at = run_clients(port, events, clients, body_bytes)
        finally:
            stop(proc)
    latencies = [x for r in results for x in r[0]]
    failures = sum(r[1] for r in results)
    elapsed = max(r[2] for r in results) - start_at
    return {"events": len(latencies), "clients": clients, "failures": failures, "seconds": elapsed,
            "rate": (len(latencies) - failures) / elapsed, "p50": percentile(latencies, 0.50) * 1000,
            "p99": percentile(latencies, 0.99) * 1000, "max": max(latencies) * 1000,
            "mean": statistics.fmean(latencies) * 1000}


@contextlib.contextmanager
def durable_redis():
    """A redis-server on a free loopback port for one run, syncing each write (tests/support's, as the tests
    start it); always stopped and its files removed."""
    from tests.support.webhooks import RedisProcess

    if shutil.which("redis-server") is None:
        raise SystemExit("--redis needs redis-server (Debian's redis-server package)")
    server = RedisProcess(appendonly="yes", appendfsync="always")
    try:
        yield server.start().url
    finally:
        server.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="events in all (default 3000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client processes (default 4)")
    parser.add_argument("--body-bytes", type=int, default=300, help="approximate body size (default 300)")
    parser.add_argument("--queue", help="a redis:// URL on this machine, to measure Redis (default: SQLite)")
    parser.add_argument("--redis", action="store_true",
                        help="a redis-server of the run's own (appendonly yes, appendfsync always) as the queue")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    args = parser.parse_args(argv)
    if args.queue and args.redis:
        parser.error("--queue and --redis are two queues: give one")
    if args.queue and not args.queue.startswith(("redis://127.0.0.1", "redis://localhost")):
        parser.error("--queue must be a redis:// URL on 127.0.0.1 or localhost (its database is flushed)")
    events, clients = min(args.events, 50000), max(1, min(args.clients, 32))
    if args.redis:
        with durable_redis() as url:
            r = run(events, clients, args.body_bytes, f"{url}/0")
    else:
        r = run(events, clients, args.body_bytes, args.queue)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(r, fh, indent=2)
    kind = ("Redis of its own (appendfsync always)" if args.redis else "Redis (as configured)" if args.queue
            else "SQLite (WAL, every 202 synced)")
    rows = [("queue", kind), ("events accepted", f"{r['events'] - r['failures']}"),
            ("refused or failed", f"{r['failures']}"), ("concurrent clients", f"{r['clients']}"),
            ("wall time", f"{r['seconds']:.2f} s"), ("accepted events/s", f"{r['rate']:.0f}"),
            ("accept latency p50", f"{r['p50']:.2f} ms"), ("accept latency p99", f"{r['p99']:.2f} ms"),
            ("accept latency max", f"{r['max']:.2f} ms")]
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{width}} | value |\n|{'-' * (width + 2)}|-------|")
    for key, value in rows:
        print(f"| {key:<{width}} | {value} |")
    rate, p99 = GOALS["redis" if args.redis else "sqlite"]
    goal = r["rate"] >= rate and r["p99"] <= p99 and not r["failures"]
    print(f"\ngoal (>= {rate} events/s, p99 <= {p99} ms): {'met' if goal else 'NOT met'}")
    return 0 if goal else 1


if __name__ == "__main__":
    sys.exit(main())
