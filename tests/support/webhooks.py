"""Helpers for the webhook tests: a signed-request client, an in-process server, a `serve` subprocess and a
real redis-server on a free loopback port (started and always stopped by a fixture)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from jobs_connector.webhooks import flows as flows_module
from jobs_connector.webhooks.lifecycle import Service, Settings
from jobs_connector.webhooks.signatures.jobs_hmac import sign
from jobs_connector.webhooks.store.queue import Queue
from tests.support.rawhttp import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOOK_SECRET = "test-hook-secret-not-real-0000001"
SECRET_ENV = "TEST_HOOK_SECRET"


UPDATE = "iot-jobs-data.UpdateJobExecution"  # not safe to repeat
DESCRIBE = "iot-jobs-data.DescribeJobExecution"  # safe to repeat
STEP_INPUTS = {DESCRIBE: {"thingName": "event.thing", "jobId": "event.job"},
               UPDATE: {"thingName": "event.thing", "jobId": "event.job", "status": "'SUCCEEDED'"}}
UPDATE_STEP = {"action": UPDATE, "input": STEP_INPUTS[UPDATE]}


def flow(name: str, steps: list, **extra) -> dict:
    return {"name": name, "secret_env": SECRET_ENV, "steps": steps, **extra}


def one_step_flows(action: str, **extra) -> flows_module.Flows:
    """Built flows: the flow 'hook' of one step of `action`, its input mapped from the event's thing and job."""
    return flows_module.build({"flows": [flow("hook", [{"action": action, "input": STEP_INPUTS[action]}], **extra)]},
                              environ={SECRET_ENV: HOOK_SECRET})


def post(url: str, flow_name: str, body, *, secret: str = HOOK_SECRET, timestamp: int | None = None,
         headers: dict | None = None, signed: bool = True, timeout: float = 10) -> tuple[int, dict]:
    """POST /hooks/<flow> with a signature (unless signed=False); returns (status, JSON answer)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"}
    if signed:
        all_headers["X-Jobs-Signature"] = sign(secret, data, timestamp)
    all_headers.update(headers or {})
    host, port = url.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("POST", f"/hooks/{flow_name}", body=data, headers=all_headers)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    return response.status, (json.loads(raw) if raw else {})


def get(url: str, path: str, timeout: float = 10) -> tuple[int, dict]:
    host, port = url.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class InProcess:
    """`serve` in this process: the intake on a free port and huey worker threads, stopped by stop()."""

    def __init__(self, tmp_path, flows_data: dict, queue_url: str | None = None, *, runtime=None,
                 workers: int = 2, web: bool = True, work: bool = True, lease: float = 30.0,
                 sweep_interval: float = 5.0, max_body: int = 1024 * 1024, environ: dict | None = None,
                 store_timeout: float = 5.0, tolerance: float = 300.0, console: bool = False,
                 health_port: int | None = None, concurrency: int | None = Settings.concurrency):
        """`console`: the operator's console too, on a free port (its credentials from os.environ)."""
        path = tmp_path / "flows.json"
        path.write_text(json.dumps(flows_data))
        self.flows = flows_module.load(str(path), environ={SECRET_ENV: HOOK_SECRET, **(environ or {})})
        self.queue = Queue(queue_url or f"sqlite:///{tmp_path / 'queue.db'}", store_timeout=store_timeout)
        settings = Settings(port=0, workers=workers, concurrency=concurrency, web=web, work=work, lease=lease,
                            sweep_interval=sweep_interval, shutdown_timeout=10, max_body=max_body,
                            store_timeout=store_timeout, tolerance=tolerance, console=console, console_port=0,
                            health_port=health_port)
        self.service = Service(self.flows, self.queue, settings, announce=lambda line: None, runtime=runtime,
                               install_signals=False)

    def __enter__(self):
        self.service.start()
        return self

    def __exit__(self, *exc):
        self.service.stop()

    @property
    def url(self) -> str:
        return self.service.server.url

    @property
    def console_url(self) -> str:
        return self.service.console.url

    @property
    def store(self):
        return self.queue.store

    def post(self, flow_name: str, body, **kw):
        return post(self.url, flow_name, body, **kw)

    def event(self, event_id: str) -> dict:
        status, view = get(self.url, f"/events/{event_id}")
        assert status == 200, view
        return view

    def wait_status(self, event_id: str, *statuses: str, timeout: float = 15.0) -> dict:
        return wait_for(lambda: (v := self.event(event_id))["status"] in statuses and v,
                        timeout=timeout, what=f"event {event_id} to become {'/'.join(statuses)}")


class ServeProcess:
    """`jobs-connector serve` as a real subprocess, for kill -9 and SIGTERM tests."""

    def __init__(self, args: list[str], env: dict):
        self.args, self.env = args, env
        self.lines: list[str] = []
        self.proc: subprocess.Popen | None = None

    def start(self, ready: str, timeout: float = 20.0) -> ServeProcess:
        self.lines = []
        self.proc = subprocess.Popen([sys.executable, "-m", "lib", *self.args], cwd=ROOT, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        wait_for(lambda: any(ready in line for line in self.lines) or self.proc.poll() is not None,
                 timeout=timeout, what=f"'{ready}' from serve")
        assert self.proc.poll() is None, "serve exited early:\n" + "".join(self.lines)
        return self

    def _read(self, proc) -> None:
        for line in proc.stderr:
            self.lines.append(line)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 20.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def output(self) -> str:
        return "".join(self.lines)


def serve_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "JOBS_CONNECTOR_"))}
    env.update({"PYTHONPATH": ROOT, SECRET_ENV: HOOK_SECRET, "AWS_ACCESS_KEY_ID": "AKIDTESTFAKEKEY00001",
                "AWS_SECRET_ACCESS_KEY": "test-secret-key-not-real-0000000000000000", "AWS_REGION": "eu-west-1",
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_CONFIG_FILE": os.devnull})
    env.update(extra)
    return env


# -- a real redis-server ---------------------------------------------------------------------------------


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it is still running after `timeout`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class RedisProcess:
    """redis-server on a free loopback port, data in a temporary directory, append-only with fsync on every
    write (the durability the docs ask for); stop() always ends it."""

    def __init__(self, appendonly: str = "yes", appendfsync: str = "always", extra: tuple[str, ...] = ()):
        """`extra`: more redis-server arguments (e.g. `--rename-command CONFIG ""`, as managed services do)."""
        self.appendonly, self.appendfsync, self.extra = appendonly, appendfsync, extra
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="jobs-connector-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisProcess:
        self.proc = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.workdir, "--save", "",
             "--appendonly", self.appendonly, "--appendfsync", self.appendfsync, "--protected-mode", "yes",
             "--daemonize", "no",
             "--logfile", os.path.join(self.workdir, "redis.log"), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            wait_for(lambda: _pings(client), timeout=10, what="redis-server to start")
        finally:
            client.close()
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def need_redis_server() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (.ci/run installs Debian's redis-server)")


@pytest.fixture(scope="session")
def redis_server():
    """A redis-server for the whole session; always stopped."""
    need_redis_server()
    server = RedisProcess()
    try:
        yield server.start().url
    finally:
        server.cleanup()


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


@pytest.fixture
def redis_url(redis_server):
    """A clean database of the session's redis-server for one test."""
    import redis

    url = f"{redis_server}/0"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url
