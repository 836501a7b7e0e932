"""/healthz (alive) and /readyz (the store answers and is durable) over real HTTP, on the intake and on a
worker-only process's --health-port listener, against a real redis-server that is stopped or made unsafe
while serving."""

import json
import re
import subprocess
import sys

from tests.support.webhooks import (
    ROOT,
    UPDATE_STEP,
    InProcess,
    ServeProcess,
    flow,
    get,
    serve_env,
)

FLOWS = {"flows": [flow("device-status", [UPDATE_STEP])]}


def request(url: str, path: str, method: str = "GET") -> int:
    import http.client

    host, port = url.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_worker_only_process_answers_health_and_turns_unready_when_redis_stops(tmp_path, private_redis):
    with InProcess(tmp_path, FLOWS, f"{private_redis.url}/0", web=False, workers=1, health_port=0) as worker:
        worker.queue.store.check_durable()
        url = worker.service.health_server.url
        assert url.startswith("http://127.0.0.1:")  # loopback by default
        assert get(url, "/healthz") == (200, {"status": "ok", "queue": "redis"})
        assert get(url, "/readyz") == (200, {"ready": True, "queue": "redis", "durable": True})
        assert request(url, "/hooks/device-status") == 404 and request(url, "/readyz", "POST") == 405
        private_redis.stop()
        status, ready = get(url, "/readyz")
        assert status == 503 and ready["ready"] is False and ready["reason"].startswith("the store does not answer")
        assert get(url, "/healthz")[0] == 200  # alive: it takes events again once Redis is back
        worker.service.stop_requested.set()  # what SIGTERM does: unready at once, while it hands events back
        assert get(url, "/readyz")[1]["reason"] == "stopping"


def test_the_intake_turns_unready_when_redis_stops_syncing_each_write(tmp_path, private_redis):
    import redis

    with InProcess(tmp_path, FLOWS, f"{private_redis.url}/0", work=False) as web:
        web.queue.store.check_durable()
        assert get(web.url, "/readyz")[0] == 200
        client = redis.Redis(host="127.0.0.1", port=private_redis.port)
        try:
            client.config_set("appendfsync", "everysec")  # an operator's change while serving
            status, ready = get(web.url, "/readyz")
            assert status == 503 and ready["reason"].startswith("not durable: appendfsync is everysec"), ready
            client.config_set("appendfsync", "always")
            assert get(web.url, "/readyz")[0] == 200
        finally:
            client.close()


def write_flows(tmp_path) -> str:
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(FLOWS))
    return str(path)


def test_serve_worker_only_with_health_port_listens_on_loopback(tmp_path, private_redis):
    serve = ServeProcess(["serve", "--flows", write_flows(tmp_path), "--worker-only", "--workers", "1",
                          "--health-port", "0", "--queue", f"{private_redis.url}/0"], serve_env())
    serve.start(ready="health on")
    try:
        url = re.search(r"health on (http://127\.0\.0\.1:\d+)", serve.output()).group(1)
        assert get(url, "/readyz") == (200, {"ready": True, "queue": "redis", "durable": True})
        assert get(url, "/healthz")[0] == 200
    finally:
        assert serve.terminate() == 0


def test_health_port_is_refused_beside_the_intake(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lib", "serve", "--flows", write_flows(tmp_path), "--port", "0",
                           "--health-port", "0"], cwd=ROOT, env=serve_env(), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2 and "--health-port is for --worker-only" in proc.stderr, proc.stderr
