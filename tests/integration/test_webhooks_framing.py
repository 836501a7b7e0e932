"""The intake's HTTP framing over raw sockets: a malformed Content-Length gets a 400 (not silence, not the
first of two values), nothing is stored, and the server goes on answering. Also the WSGI entry point
for other servers (jobs_connector.webhooks.intake.wsgi:application), served by the standard library's wsgiref, by
gunicorn and by granian (the compiled server docs/webhooks.md and benchmarks/webhook_flow.py --web granian use)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from jobs_connector.webhooks.signatures.jobs_hmac import sign
from tests.support.webhooks import (
    HOOK_SECRET,
    ROOT,
    SECRET_ENV,
    UPDATE_STEP,
    InProcess,
    flow,
    free_port,
    get,
    post,
    serve_env,
    stop_process,
    wait_for,
)

BODY = json.dumps({"thing": "sensor-1", "job": "fw-42"}).encode()


@pytest.fixture
def web(tmp_path):
    with InProcess(tmp_path, {"flows": [flow("device-status", [UPDATE_STEP])]}, work=False) as server:
        yield server


def raw_exchange(url: str, head: bytes, body: bytes = b"", timeout: float = 5.0) -> bytes:
    """Send the bytes as they are; return everything the server answers until it closes (or the timeout)."""
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head + body)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
        return received


def request_head(*length_lines: bytes) -> bytes:
    lines = [b"POST /hooks/device-status HTTP/1.1", b"Host: 127.0.0.1", b"Content-Type: application/json",
             b"X-Jobs-Signature: " + sign(HOOK_SECRET, BODY).encode(), *length_lines]
    return b"\r\n".join(lines) + b"\r\n\r\n"


MALFORMED_LENGTHS = pytest.mark.parametrize("length_lines", [
    [b"Content-Length: \xc2\xb2"],  # '2' as a superscript: str.isdigit() says yes
    [b"Content-Length: %d" % len(BODY), b"Content-Length: %d" % len(BODY)],
    [b"Content-Length: %d" % len(BODY), b"Content-Length: 5"],
    [b"Content-Length: -1"],
    [b"Content-Length: 4a"],
    [b"Content-Length: +%d" % len(BODY)],
    [b"Content-Length: 0x20"],
], ids=["superscript", "twice-same", "twice-different", "negative", "non-digits", "plus-sign", "hex"])


@MALFORMED_LENGTHS
def test_malformed_content_length_gets_400_and_stores_nothing(web, length_lines):
    answer = raw_exchange(web.url, request_head(*length_lines), BODY)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert web.store.list() == []
    # The server is unharmed: a well-formed request right after is accepted.
    assert post(web.url, "device-status", {"thing": "sensor-1", "job": "fw-43"})[0] == 202


def test_a_well_formed_raw_request_is_accepted(web):
    answer = raw_exchange(web.url, request_head(b"Content-Length: %d" % len(BODY), b"Connection: close"), BODY)
    assert answer.startswith(b"HTTP/1.1 202 ") and b'"id":' in answer
    assert len(web.store.list()) == 1


def test_a_body_shorter_than_its_length_is_never_stored(web):
    answer = raw_exchange(web.url, request_head(b"Content-Length: %d" % (len(BODY) + 10)), BODY, timeout=1.5)
    assert b"202" not in answer
    assert web.store.list() == []


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def test_the_wsgi_entry_point_serves_the_intake_from_the_environment(tmp_path, monkeypatch):
    from jobs_connector.webhooks.intake import wsgi

    flows_file = tmp_path / "flows.json"
    flows_file.write_text(json.dumps({"flows": [flow("device-status", [UPDATE_STEP])]}))
    monkeypatch.setenv("JOBS_CONNECTOR_FLOWS", str(flows_file))
    monkeypatch.setenv("JOBS_CONNECTOR_QUEUE", f"sqlite:///{tmp_path / 'queue.db'}")
    monkeypatch.setenv(SECRET_ENV, HOOK_SECRET)
    monkeypatch.delattr(wsgi, "application", raising=False)
    server = make_server("127.0.0.1", 0, wsgi.application, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        status, answer = post(url, "device-status", {"thing": "sensor-1", "job": "fw-42"})
        assert status == 202, answer
        assert get(url, f"/events/{answer['id']}")[1]["status"] == "queued"
        assert get(url, "/healthz")[0] == 200
    finally:
        server.shutdown()
        server.server_close()


def test_the_wsgi_entry_point_refuses_to_start_without_a_flows_file(monkeypatch):
    from jobs_connector.webhooks.intake import wsgi

    monkeypatch.delenv("JOBS_CONNECTOR_FLOWS", raising=False)
    monkeypatch.delattr(wsgi, "application", raising=False)
    with pytest.raises(RuntimeError, match="JOBS_CONNECTOR_FLOWS"):
        wsgi.application  # noqa: B018 - the attribute is built on access


def test_gunicorn_serves_the_wsgi_entry_point_and_refuses_malformed_framing(tmp_path):
    flows_file = tmp_path / "flows.json"
    flows_file.write_text(json.dumps({"flows": [flow("device-status", [UPDATE_STEP])]}))
    port = free_port()
    env = serve_env(JOBS_CONNECTOR_FLOWS=str(flows_file), JOBS_CONNECTOR_QUEUE=f"sqlite:///{tmp_path / 'q.db'}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", "4", "--bind", f"127.0.0.1:{port}",
         "--control-socket", str(tmp_path / "gunicorn.ctl"), "jobs_connector.webhooks.intake.wsgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url) or proc.poll() is not None, timeout=20, what="gunicorn to start")
        assert proc.poll() is None, proc.stderr.read()
        status, answer = post(url, "device-status", {"thing": "sensor-1", "job": "fw-42"})
        assert status == 202, answer
        malformed = raw_exchange(url, request_head(b"Content-Length: \xc2\xb2"), BODY)
        assert malformed.startswith(b"HTTP/1.1 400 "), malformed[:200]
    finally:
        stop_process(proc)


def _answers(url: str, path: str = "/healthz") -> bool:
    try:
        return get(url, path, timeout=1)[0] == 200
    except OSError:
        return False


def test_a_graceful_stop_answers_the_request_in_flight_and_accepts_no_new_connection(tmp_path):
    import concurrent.futures
    import sqlite3

    db = tmp_path / "q.db"
    web = InProcess(tmp_path, {"flows": [flow("device-status", [UPDATE_STEP])]}, f"sqlite:///{db}", work=False,
                    store_timeout=10).__enter__()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("begin exclusive")  # keeps the next POST in flight
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            in_flight = pool.submit(post, web.url, "device-status", {"thing": "sensor-1", "job": "fw-42"})
            time.sleep(0.5)
            draining = pool.submit(web.service.server.drain, 10)
            time.sleep(0.3)
            with pytest.raises(OSError):  # the listening socket is closed
                post(web.url, "device-status", {"thing": "sensor-1", "job": "fw-43"}, timeout=2)
            holder.execute("rollback")
            assert in_flight.result(timeout=15)[0] == 202
            assert draining.result(timeout=15) is True
    finally:
        holder.close()
        web.__exit__(None, None, None)
    assert len(web.store.list()) == 1


# -- granian: a compiled server for the same entry point ---------------------------------------------------


class Granian:
    """`python -m granian` serving jobs_connector.webhooks.intake.wsgi:application on a free port, the queue file
    beside it."""

    def __init__(self, tmp_path, **environment):
        flows_file = tmp_path / "flows.json"
        flows_file.write_text(json.dumps({"flows": [flow("device-status", [UPDATE_STEP])]}))
        self.queue_url = f"sqlite:///{tmp_path / 'q.db'}"
        self.url = f"http://127.0.0.1:{free_port()}"
        env = serve_env(JOBS_CONNECTOR_FLOWS=str(flows_file), JOBS_CONNECTOR_QUEUE=self.queue_url, **environment)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "1", "--blocking-threads", "4",
             "--no-ws", "--workers-kill-timeout", "5", "--log-level", "warning", "--port", self.url.rsplit(":", 1)[1],
             "jobs_connector.webhooks.intake.wsgi:application"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)  # its own group: its worker process is stopped with it, whatever happens
        try:
            wait_for(lambda: _answers(self.url) or self.proc.poll() is not None, timeout=20, what="granian to start")
            assert self.proc.poll() is None, self.proc.stderr.read()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM (SIGKILL after 10 s), then SIGKILL to whatever of its group is left: a worker process
        outlives a killed granian."""
        stop_process(self.proc)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def events(self) -> list:
        from jobs_connector.webhooks.store.queue import Queue

        queue = Queue(self.queue_url)
        try:
            return queue.store.list()
        finally:
            queue.close()


@pytest.fixture(scope="module")
def granian(tmp_path_factory):
    server = Granian(tmp_path_factory.mktemp("granian"), JOBS_CONNECTOR_MAX_BODY="4096")
    yield server
    server.stop()


def test_granian_serves_the_wsgi_entry_point(granian):
    status, answer = post(granian.url, "device-status", {"thing": "sensor-1", "job": "fw-41"})
    assert status == 202, answer
    assert get(granian.url, f"/events/{answer['id']}")[1]["status"] == "queued"
    first = post(granian.url, "device-status", {"thing": "sensor-1", "job": "fw-43"}, headers={"X-Delivery-Id": "d-1"})
    assert first[0] == 202, first
    again = post(granian.url, "device-status", {"thing": "sensor-1", "job": "fw-43"}, headers={"X-Delivery-Id": "d-1"})
    assert again == (200, {"id": first[1]["id"], "duplicate": True})
    assert post(granian.url, "device-status", {"thing": "sensor-1"}, secret="another-secret-0000000000000")[0] == 401


@MALFORMED_LENGTHS
def test_granian_refuses_malformed_content_length_and_stores_nothing(granian, length_lines, request):
    before = len(granian.events())
    answer = raw_exchange(granian.url, request_head(*length_lines, b"Connection: close"), BODY)
    if request.node.callspec.id == "twice-same":
        # RFC 9110 8.6 lets a recipient take identical values as one length (hyper does; waitress refuses):
        # there is one body, so nothing to smuggle. It is stored once.
        assert answer.startswith(b"HTTP/1.1 202 "), answer[:200]
        before += 1
    else:
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert len(granian.events()) == before
    # The server is unharmed: a well-formed request (a body of its own, so not a repeat) is accepted.
    assert post(granian.url, "device-status", {"thing": "sensor-1", "job": request.node.name})[0] == 202


def test_granian_refuses_a_declared_length_over_the_bound_before_the_body_is_sent(granian):
    # Only the head is sent: the 413 comes from the declared length, so nothing is buffered first.
    answer = raw_exchange(granian.url, request_head(b"Content-Length: 50000000"), timeout=3)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def test_granian_passes_a_chunked_body_through_and_the_intake_asks_for_a_length(granian):
    head = request_head(b"Transfer-Encoding: chunked", b"Connection: close")
    answer = raw_exchange(granian.url, head, b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY))
    assert answer.startswith(b"HTTP/1.1 411 "), answer[:200]


def test_granian_stops_on_sigterm_after_answering_the_request_in_flight(tmp_path):
    # granian's worker sometimes does not stop on its own after such a request (2 of 6 tries here, a known
    # kind of granian bug): --workers-kill-timeout, as docs/webhooks.md gives it, bounds the stop. The
    # answer and the stored event are what must not depend on it.
    import concurrent.futures
    import sqlite3

    server = Granian(tmp_path, JOBS_CONNECTOR_STORE_TIMEOUT="10")
    holder = sqlite3.connect(tmp_path / "q.db", isolation_level=None)
    try:
        holder.execute("begin exclusive")  # keeps the POST in flight
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(post, server.url, "device-status", {"thing": "sensor-1", "job": "fw-42"},
                                    timeout=20)
            time.sleep(0.5)
            server.proc.terminate()
            # /readyz asks the store, held here, so it stops answering at once (as /healthz did when it asked the
            # store too); /healthz does not, and polling it races granian's own stop
            wait_for(lambda: not _answers(server.url, "/readyz"), timeout=10, what="granian to stop answering")
            holder.execute("rollback")
            status, answer = in_flight.result(timeout=20)
        assert status == 202, answer
        assert server.proc.wait(timeout=20) == 0
    finally:
        holder.close()
        server.stop()
    assert [event.id for event in server.events()] == [answer["id"]]
