"""The real entry point, `python -m jobs_connector ipaas`, as the platform starts it: the step's data from the
platform API, a crash before acknowledgement, a graceful stop on SIGTERM, a refusal to start."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time

from tests.integration.sailor.conftest import step_config
from tests.support.cli import run_cli
from tests.support.loopback import LoopbackServer, Reply

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PENDING = {"inProgressJobs": [], "queuedJobs": [{"jobId": "job-1", "versionNumber": 1, "executionNumber": 1}]}


class FakeCloud:
    """The platform API (the step's data) and the AWS API on one loopback server; the AWS answer can be
    held back until the test releases it."""

    def __init__(self):
        self.server = LoopbackServer(default=self.route)
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.hold = False
        self.aws_calls = 0
        self.api_auth: list[str] = []

    def route(self, request):
        if request.path.startswith("/v1/tasks/"):
            self.api_auth.append(request.headers.get("Authorization", ""))
            if request.path != "/v1/tasks/flow-1/steps/step_2":
                return Reply(404, {"error": "no such step"})
            return Reply(200, {"id": "step_2", "comp_id": "comp-1", "function": "x",
                               "config": step_config(self.server.url), "snapshot": {}})
        self.aws_calls += 1
        if self.hold:
            self.arrived.set()
            self.release.wait(20)
        return Reply(200, PENDING)

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.stop()


def start_runner(platform, cloud, tmp_path, name="runner", **env) -> subprocess.Popen:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ELASTICIO_")}
    full_env.update(platform.env(api_uri=cloud.server.url, **env))
    log = open(tmp_path / f"{name}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "lib", "ipaas"], cwd=ROOT, env=full_env,
                            stdout=log, stderr=subprocess.STDOUT)


def wait_for(condition, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout=20) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def test_crash_before_ack_redelivers_and_the_message_is_processed(platform, tmp_path):
    with FakeCloud() as cloud:
        cloud.hold = True
        platform.send({"body": {"thingName": "thing-1"}})
        first = start_runner(platform, cloud, tmp_path, "first")
        try:
            assert cloud.arrived.wait(20), (tmp_path / "first.log").read_text()
            # consumed, not acknowledged: the broker holds it for the runner
            assert platform.ready("input") == 0
        finally:
            first.kill()  # SIGKILL mid-step: nothing published, nothing acknowledged
            first.wait(10)
        wait_for(lambda: platform.ready("input") == 1, what="the message back in the queue")
        assert platform.ready("data") == 0

        cloud.hold = False
        second = start_runner(platform, cloud, tmp_path, "second")
        try:
            [out] = platform.take("data", timeout=20)
        finally:
            assert stop(second) == 0
        assert out.value["body"] == PENDING
        assert cloud.aws_calls == 2
        expected = "Basic " + base64.b64encode(b"api-user@example.com:test-api-key-not-real").decode()
        assert cloud.api_auth == [expected, expected]  # the step's data, fetched by each runner
        assert "redelivered" in (tmp_path / "second.log").read_text()
        assert (platform.ready("input"), platform.ready("dead"), platform.ready("error")) == (0, 0, 0)


def test_sigterm_finishes_the_message_in_hand_and_leaves_the_rest(platform, tmp_path):
    with FakeCloud() as cloud:
        cloud.hold = True
        platform.send({"body": {"thingName": "thing-1"}})
        platform.send({"body": {"thingName": "thing-2"}})
        runner = start_runner(platform, cloud, tmp_path)
        try:
            assert cloud.arrived.wait(20), (tmp_path / "runner.log").read_text()
            assert platform.ready("input") == 1  # prefetch 1: the second message was not taken
            runner.send_signal(signal.SIGTERM)
            time.sleep(0.5)  # the stop is in; the step is still waiting for its answer
            assert runner.poll() is None
            cloud.release.set()
            code = runner.wait(20)
        finally:
            if runner.poll() is None:
                runner.kill()
        log = (tmp_path / "runner.log").read_text()
        assert code == 0, log
        [out] = platform.take("data")
        assert out.value["body"] == PENDING
        assert cloud.aws_calls == 1
        assert platform.ready("input") == 1  # the second one waits for the next runner
        assert platform.ready("dead") == 0


def test_missing_settings_refuse_to_start_naming_them(monkeypatch):
    for name in list(os.environ):
        if name.startswith("ELASTICIO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ELASTICIO_FLOW_ID", "flow-1")
    monkeypatch.setenv("ELASTICIO_MESSAGE_CRYPTO_IV", "too-short")
    result = run_cli("ipaas")
    assert result.code == 2
    assert "ELASTICIO_AMQP_URI" in result.stderr and "ELASTICIO_LISTEN_MESSAGES_ON" in result.stderr
    assert "ELASTICIO_MESSAGE_CRYPTO_IV must be 16 bytes" in result.stderr
    assert "ELASTICIO_FLOW_ID" not in result.stderr.split("missing", 1)[1].split(";")[0]


def test_unknown_step_in_the_platform_api_stops_the_runner_with_an_error(platform, tmp_path):
    with FakeCloud() as cloud:
        runner = start_runner(platform, cloud, tmp_path, ELASTICIO_STEP_ID="step_9")
        code = runner.wait(30)
        log = (tmp_path / "runner.log").read_text()
    assert code == 4, log
    assert "HTTP 404" in log
    [err] = platform.take("error")
    assert "HTTP 404" in err.value["error"]["message"]
    assert "test-api-key-not-real" not in log


def test_shutdown_hook_needs_no_broker(monkeypatch):
    for name in list(os.environ):
        if name.startswith("ELASTICIO_"):
            monkeypatch.delenv(name)
    for name in ("FLOW_ID", "EXEC_ID", "STEP_ID", "CONTAINER_ID", "WORKSPACE_ID", "USER_ID", "COMP_ID",
                 "API_URI", "API_USERNAME", "API_KEY"):
        monkeypatch.setenv(f"ELASTICIO_{name}", "x")
    monkeypatch.setenv("ELASTICIO_FUNCTION", "iot-jobs-data.GetPendingJobExecutions")
    monkeypatch.setenv("ELASTICIO_HOOK_SHUTDOWN", "1")
    assert run_cli("ipaas").code == 0


def test_a_dropped_broker_connection_is_reopened(platform, rabbit, tmp_path):
    with FakeCloud() as cloud:
        runner = start_runner(platform, cloud, tmp_path, ELASTICIO_AMQP_RECONNECT_ATTEMPTS="3")
        try:
            wait_for(lambda: "listening on" in (tmp_path / "runner.log").read_text(), what="the runner to listen")
            listed = rabbit.ctl("list_connections", "-q", "--no-table-headers", "pid", "client_properties")
            [pid] = [line.split()[0] for line in listed.stdout.splitlines() if '-jobs-connector"' in line]
            closed = rabbit.ctl("close_connection", pid, "test: connection dropped")
            assert closed.returncode == 0, closed.stderr
            wait_for(lambda: "reconnecting" in (tmp_path / "runner.log").read_text(), what="the reconnect")
            platform.send({"body": {"thingName": "thing-1"}})
            [out] = platform.take("data", timeout=20)
        finally:
            code = stop(runner)
        assert code == 0, (tmp_path / "runner.log").read_text()
        assert out.value["body"] == PENDING
