"""Durable Redis, against real redis-servers in each mode: `appendfsync always` is accepted, `everysec` (on this
Redis without WAITAOF), `appendonly no` and a Redis refusing CONFIG are refused at start naming the setting and
the fix, `--allow-unsafe-redis` starts with a warning, and the 202 comes only once the event is in the AOF."""

import glob
import json
import os
import subprocess
import sys

import pytest

from jobs_connector.base.errors import ConfigurationError
from jobs_connector.webhooks.store.queue import Queue
from tests.support.webhooks import (
    ROOT,
    UPDATE_STEP,
    InProcess,
    RedisProcess,
    ServeProcess,
    flow,
    free_port,
    need_redis_server,
    serve_env,
)

FLOWS = {"flows": [flow("device-status", [UPDATE_STEP])]}


@pytest.fixture(scope="module")
def redises():
    """One redis-server per mode, for this module; always stopped."""
    need_redis_server()
    servers = {"always": RedisProcess(), "everysec": RedisProcess(appendfsync="everysec"),
               "off": RedisProcess(appendonly="no"),
               "no-config": RedisProcess(appendfsync="everysec", extra=("--rename-command", "CONFIG", '""'))}
    try:
        for server in servers.values():
            server.start()
        yield servers
    finally:
        for server in servers.values():
            server.cleanup()


def check(url: str, allow_unsafe: bool = False):
    queue = Queue(f"{url}/0")
    try:
        return queue.store.check_durable(allow_unsafe=allow_unsafe), queue.store.durability_problem()
    finally:
        queue.close()


def test_appendfsync_always_is_durable_and_ready(redises):
    found, problem = check(redises["always"].url)
    assert found.durable and found.mode == "always" and problem is None


@pytest.mark.parametrize("mode, named", [
    ("everysec", "appendfsync is everysec"),
    ("off", "appendonly is no"),
    ("no-config", "refuses CONFIG"),
])
def test_a_redis_that_does_not_sync_each_write_is_refused_naming_the_setting_and_the_fix(redises, mode, named):
    with pytest.raises(ConfigurationError) as refused:
        check(redises[mode].url)
    message = str(refused.value)
    assert named in message, message
    assert "appendfsync always" in message and "--allow-unsafe-redis" in message and "WAITAOF" in message


def test_allowed_unsafe_redis_is_accepted_and_ready_but_says_it_is_not_durable(redises):
    found, problem = check(redises["everysec"].url, allow_unsafe=True)
    assert not found.durable and "everysec" in found.problem
    assert problem is None  # the operator accepted the loss: ready


def write_flows(tmp_path) -> str:
    path = tmp_path / "flows.json"
    path.write_text(json.dumps(FLOWS))
    return str(path)


def test_serve_refuses_everysec_at_start_with_a_clear_error_and_exit_2(tmp_path, redises):
    proc = subprocess.run([sys.executable, "-m", "lib", "serve", "--flows", write_flows(tmp_path), "--worker-only",
                           "--queue", f"{redises['everysec'].url}/0"], cwd=ROOT, env=serve_env(),
                          capture_output=True, text=True, timeout=60)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert "Redis is not durable: appendfsync is everysec" in lines[0] and "--allow-unsafe-redis" in lines[0], lines
    assert lines[1:] == ["field: queue  rule: redis-durability"]  # the CLI's usual second line, no traceback


def test_serve_with_allow_unsafe_redis_starts_and_warns(tmp_path, redises):
    port = free_port()
    serve = ServeProcess(["serve", "--flows", write_flows(tmp_path), "--web-only", "--port", str(port),
                          "--allow-unsafe-redis", "--queue", f"{redises['everysec'].url}/0"], serve_env())
    serve.start(ready="listening on")
    try:
        output = serve.output()
        assert "WARNING" in output and "--allow-unsafe-redis: appendfsync is everysec" in output, output
    finally:
        assert serve.terminate() == 0


def aof_text(server: RedisProcess) -> bytes:
    return b"".join(open(path, "rb").read() for path in glob.glob(os.path.join(server.workdir, "**", "*.aof*"),
                                                                  recursive=True))


def test_the_202_comes_once_the_event_is_in_the_append_only_file(tmp_path, redises):
    server = redises["always"]
    with InProcess(tmp_path, FLOWS, f"{server.url}/0", work=False) as web:
        web.queue.store.check_durable()
        for n in range(3):
            status, answer = web.post("device-status", {"thing": "t", "job": f"j-{n}"})
            assert status == 202
            assert answer["id"].encode() in aof_text(server)  # written before Redis answered our script
