"""The official Node sailor (elasticio-sailor-nodejs 2.7.8, installed from the npm registry once into
the user's cache directory) as the reference: the same scenario runs through it and through our runner, on the same
broker layout and against the same loopback object store, and the platform must see the same outcome.

Node runs a two-action stand-in component (`echo` emits the body it got, `rebound` asks for a rebound);
our runner runs the same behaviour as a `process` stand-in, so what is compared is the sailors' work:
fetching lightweight bodies, the error and the fate of the input when that fails, and the rebound limit.
A failed publish of the error about a failed publish is not compared: Node's confirm channel takes an
unroutable message as published, and nothing else on a loopback broker makes it fail on demand.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import subprocess
import time

import pytest

from jobs_connector.sailor.messages import StepData
from jobs_connector.sailor.object_storage import OBJECT_ID_HEADER
from tests.integration.sailor.test_sailor_broker import serve
from tests.integration.sailor.test_sailor_process import FakeCloud
from tests.support.loopback import Reply
from tests.support.object_store import STORE_TOKEN, store_env

NODE_SAILOR = "elasticio-sailor-nodejs@2.7.8"
INSTALL_TIMEOUT = 300

COMPONENT = {
    "title": "sailor parity stand-in",
    "actions": {
        "echo": {"main": "./echo.js", "title": "echo"},
        "rebound": {"main": "./rebound.js", "title": "rebound"},
    },
}
ECHO_JS = """exports.process = async function process(msg) {
    return { body: msg.body, passthrough: msg.passthrough };
};
"""
REBOUND_JS = """exports.process = async function process() {
    await this.emit('rebound', new Error('service busy'));
};
"""


@pytest.fixture(scope="session")
def node_sailor(tmp_path_factory):
    """node, the Node sailor's run.js (installed once per user cache directory) and the stand-in component."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        message = "node and npm are needed for the Node sailor reference (apt-get install nodejs npm)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    home = pathlib.Path(cache) / "jobs-connector-tests" / "node-sailor-2.7.8"
    home.mkdir(parents=True, exist_ok=True)
    run_js = home / "node_modules" / "elasticio-sailor-nodejs" / "run.js"
    if not run_js.exists():
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--prefix", str(home),
                               NODE_SAILOR], capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        assert done.returncode == 0 and run_js.exists(), f"npm install {NODE_SAILOR} failed:\n{done.stderr[-2000:]}"
    component = tmp_path_factory.mktemp("node-component")
    (component / "component.json").write_text(json.dumps(COMPONENT))
    (component / "echo.js").write_text(ECHO_JS)
    (component / "rebound.js").write_text(REBOUND_JS)
    return node, run_js, component


class NodeRun:
    """The Node sailor serving the step until the test has what it needs."""

    def __init__(self, node_sailor, platform, cloud, function, log_path, **env):
        node, run_js, component = node_sailor
        full = {k: v for k, v in os.environ.items() if not k.startswith("ELASTICIO_")}
        full.update(platform.env(api_uri=cloud.server.url, ELASTICIO_FUNCTION=function,
                                 ELASTICIO_COMPONENT_PATH="", LOG_LEVEL="info", **env))
        self.log_path = log_path
        self.proc = subprocess.Popen([node, str(run_js)], cwd=component, env=full,
                                     stdout=open(log_path, "wb"), stderr=subprocess.STDOUT)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                # Short: after a failed fetch Node never lowers its count of messages in hand (processMessage
                # returns before runExec), so its graceful shutdown waits forever. The outcome is settled by now.
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.log_path.read_text(errors="replace")


def node_step(node_sailor, platform, function, tmp_path, wait_for, **env):
    """Run the Node sailor until `wait_for()` holds (or 30 s), then stop it; its log for messages."""
    with FakeCloud() as cloud:
        run = NodeRun(node_sailor, platform, cloud, function, tmp_path / f"node-{function}.log", **env)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not wait_for():
                assert run.proc.poll() is None, run.stop()
                time.sleep(0.1)
        finally:
            log = run.stop()
    return log


def echo(key, msg, cfg, emit):
    emit("data", {"body": msg.get("body"), "passthrough": msg.get("passthrough")})
    emit("end", {})


def rebound(key, msg, cfg, emit):
    emit("rebound", {"message": "service busy"})
    emit("end", {})


def ours(platform, process, **env):
    serve(platform, StepData(id="step_2", config={}), 1, process=process, **env)


def outcome(platform, kinds=("data", "error", "dead", "rebound", "input")) -> dict:
    return {kind: platform.ready(kind) for kind in kinds}


def test_a_lightweight_body_is_fetched_alike(node_sailor, rabbit, store, tmp_path):
    from tests.integration.sailor.conftest import Platform

    store.put("obj-1", {"thingName": "thing-1", "note": "from the object store"})
    seen = {}
    for who in ("node", "ours"):
        platform = Platform(rabbit.url)
        try:
            store.server.requests.clear()
            platform.send({"body": {}, "headers": {OBJECT_ID_HEADER: "obj-1"}})
            if who == "node":
                node_step(node_sailor, platform, "echo", tmp_path, lambda p=platform: p.ready("data") == 1,
                          **store_env(store))
            else:
                ours(platform, echo, **store_env(store))
            [out] = platform.take("data")
            [got] = store.requests
            seen[who] = (out.value["body"], got.method, got.path, got.headers["Authorization"],
                         got.headers["x-request-id"], outcome(platform))
        finally:
            platform.close()
    assert seen["ours"] == seen["node"]
    assert seen["node"][0] == {"thingName": "thing-1", "note": "from the object store"}
    assert seen["node"][3] == f"Bearer {STORE_TOKEN}"


@pytest.mark.parametrize("fault, attempts", [(Reply(404, {"message": "object not found"}), 1),
                                             (Reply(503, {"message": "busy"}), 3)])
def test_a_failed_fetch_ends_alike(node_sailor, rabbit, store, tmp_path, fault, attempts):
    from tests.integration.sailor.conftest import Platform

    seen = {}
    for who in ("node", "ours"):
        platform = Platform(rabbit.url)
        try:
            store.server.requests.clear()
            store.faults[:] = [fault] * 3
            platform.send({"body": {}, "headers": {OBJECT_ID_HEADER: "obj-missing"}})
            if who == "node":
                node_step(node_sailor, platform, "echo", tmp_path,
                          lambda p=platform: p.ready("error") == 1 and p.ready("dead") == 1, **store_env(store))
            else:
                ours(platform, echo, **store_env(store))
            [err] = platform.take("error")
            message = err.value["error"]["message"]
            seen[who] = (message.split(":")[0], len(store.requests), "end" in err.headers,
                         err.value["errorInput"], outcome(platform))
        finally:
            platform.close()
    assert seen["ours"] == seen["node"]
    assert seen["node"][0] == "Failed to get message body with id=obj-missing"
    assert seen["node"][1] == attempts
    assert seen["node"][4]["dead"] == 1 and seen["node"][4]["data"] == 0  # rejected, nothing sent on


def test_the_rebound_limit_ends_alike(node_sailor, rabbit, tmp_path):
    from tests.integration.sailor.conftest import Platform

    seen = {}
    for who in ("node", "ours"):
        platform = Platform(rabbit.url)
        try:
            platform.send({"body": {"n": 1}}, headers={"reboundIteration": 2})
            env = {"ELASTICIO_REBOUND_LIMIT": "2"}
            if who == "node":
                node_step(node_sailor, platform, "rebound", tmp_path, lambda p=platform: p.ready("error") == 1,
                          **env)
                time.sleep(0.5)  # let Node settle the input (ack or reject) before it is stopped
            else:
                ours(platform, rebound, **env)
            [err] = platform.take("error")
            seen[who] = (err.value["error"]["message"], "end" in err.headers, "start" in err.headers,
                         err.value["errorInput"], outcome(platform))
        finally:
            platform.close()
    assert seen["ours"] == seen["node"]
    assert seen["node"][:3] == ("Rebound limit exceeded", False, True)
    assert seen["node"][4] == {"data": 0, "error": 0, "dead": 0, "rebound": 0, "input": 0}  # acknowledged
