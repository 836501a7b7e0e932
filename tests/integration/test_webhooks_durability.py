"""Durability with real processes: `kill -9` the web and the worker process mid-run, restart them, and
every accepted event is processed exactly once as the API sees it; SIGTERM finishes or hands back the
running step. Runs with SQLite and with a real redis-server."""

import json
import threading
import time

import pytest

from jobs_connector.webhooks.signatures.jobs_hmac import sign
from jobs_connector.webhooks.store.queue import Queue
from jobs_connector.webhooks.worker import step_token
from tests.support.loopback import Reply
from tests.support.webhooks import (  # noqa: F401 - redis fixtures
    HOOK_SECRET,
    SECRET_ENV,
    ServeProcess,
    free_port,
    post,
    redis_server,
    redis_url,
    serve_env,
    wait_for,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def loopback(loopback):
    """The loopback API; clients killed mid-request are expected here, so their broken pipes stay quiet."""
    loopback.httpd.handle_error = lambda request, client_address: None
    return loopback
N_EVENTS = 50
START_COMMAND = "iot-jobs-data.StartCommandExecution"
COMMAND_ARN = "arn:aws:iot:eu-west-1:123456789012:command/reboot"


class CommandApi:
    """StartCommandExecution as the service behaves: a repeated clientToken is the same execution."""

    def __init__(self, latency: float = 0.02):
        self.latency = latency
        self.lock = threading.Lock()
        self.executions: dict[str, str] = {}  # clientToken -> executionId
        self.requests = 0

    def __call__(self, recorded):
        with self.lock:
            self.requests += 1
        time.sleep(self.latency)
        token = recorded.json()["clientToken"]
        with self.lock:
            if token not in self.executions:
                self.executions[token] = f"exec-{len(self.executions) + 1}"
            return Reply(200, {"executionId": self.executions[token]})

    def effects(self) -> int:
        with self.lock:
            return len(self.executions)


def write_flows(tmp_path, steps, retry=None) -> str:
    spec = {"name": "reboot", "secret_env": SECRET_ENV, "steps": steps}
    if retry:
        spec["retry"] = retry
    path = tmp_path / "flows.json"
    path.write_text(json.dumps({"flows": [spec]}))
    return str(path)


REBOOT_STEP = {"action": START_COMMAND, "input": {"targetArn": "event.target", "commandArn": f"'{COMMAND_ARN}'"}}


def queue_for(backend, tmp_path, request) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'queue.db'}"
    return request.getfixturevalue("redis_url")


class Sender:
    """Delivers events like a webhook sender does: each until it is acknowledged (202 or 200), resending
    with the same delivery id, and a fresh signature, when the connection fails."""

    def __init__(self, url: str, count: int, pace: float = 0.02):
        self.url, self.count, self.pace = url, count, pace
        self.accepted: dict[str, str] = {}  # delivery id -> event id
        self.resent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        deadline = time.monotonic() + 40
        for i in range(self.count):
            body = {"target": f"arn:aws:iot:eu-west-1:123456789012:thing/device-{i}", "n": i}
            while time.monotonic() < deadline:
                try:
                    status, answer = post(self.url, "reboot", body, headers={"X-Delivery-Id": f"delivery-{i}"},
                                          timeout=5)
                except OSError:
                    self.resent += 1
                    time.sleep(0.05)
                    continue
                if status in (200, 202):
                    self.accepted[f"delivery-{i}"] = answer["id"]
                    break
                self.resent += 1  # e.g. 503 while the store was unreachable
                time.sleep(0.05)
            time.sleep(self.pace)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_kill_9_of_web_and_worker_mid_run_loses_nothing_and_runs_nothing_twice(backend, tmp_path, loopback,
                                                                               request):
    api = CommandApi()
    loopback.default = api
    queue_url = queue_for(backend, tmp_path, request)
    flows = write_flows(tmp_path, [REBOOT_STEP])
    port = free_port()
    env = serve_env(AWS_ENDPOINT_URL_IOT_JOBS_DATA=loopback.url)
    web = ServeProcess(["serve", "--flows", flows, "--queue", queue_url, "--port", str(port), "--web-only"], env)
    worker = ServeProcess(["serve", "--flows", flows, "--queue", queue_url, "--worker-only", "--workers", "2",
                           "--lease", "1.5", "--sweep-interval", "0.3"], env)
    sender = Sender(f"http://127.0.0.1:{port}", N_EVENTS)
    try:
        web.start("listening on")
        worker.start("workers:")
        sender.thread.start()
        wait_for(lambda: api.effects() >= 10, timeout=20, what="ten events processed")
        web.kill()
        worker.kill()
        effects_at_kill, accepted_at_kill = api.effects(), len(sender.accepted)
        web.start("listening on")
        worker.start("workers:")
        sender.thread.join(timeout=45)
        assert len(sender.accepted) == N_EVENTS, "every event was eventually acknowledged"
        store = Queue(queue_url).store
        wait_for(lambda: store.counts() == {"succeeded": N_EVENTS}, timeout=30, interval=0.2,
                 what=f"all events to succeed (now {store.counts()})")
    finally:
        web.kill()
        worker.kill()
    assert effects_at_kill < N_EVENTS and accepted_at_kill < N_EVENTS, "the kill landed mid-run"
    event_ids = set(sender.accepted.values())
    assert len(event_ids) == N_EVENTS  # redeliveries after the restart did not create new events
    events = {e.id: e for e in store.list(limit=1000)}
    assert set(events) == event_ids
    # Exactly once as the API sees it: one execution per accepted event, none for anything else.
    assert set(api.executions) == {step_token(event_id, 0) for event_id in event_ids}
    for event_id, event in events.items():
        assert event.steps[0]["output"] == {"executionId": api.executions[step_token(event_id, 0)]}
    assert api.requests >= N_EVENTS
    print(f"\n{backend}: {N_EVENTS} events, killed after {effects_at_kill} executions and {accepted_at_kill} "
          f"acknowledgements; {api.requests} API requests, {api.requests - N_EVENTS} repeated after the kill "
          f"(same client token), {sender.resent} deliveries resent")


def test_sigterm_finishes_the_running_step_and_hands_the_event_back(tmp_path, loopback):
    execution = {"execution": {"jobId": "fw-42", "thingName": "sensor-1", "status": "IN_PROGRESS",
                               "versionNumber": 4}}

    def slow_describe(recorded):
        time.sleep(1.0)
        return Reply(200, execution)

    loopback.script.append(slow_describe)
    loopback.default = Reply(200, {"executionState": {"status": "SUCCEEDED", "versionNumber": 5}})
    steps = [{"action": "iot-jobs-data.DescribeJobExecution", "input": {"thingName": "event.thing",
                                                                        "jobId": "event.job"}},
             {"action": "iot-jobs-data.UpdateJobExecution",
              "input": {"thingName": "event.thing", "jobId": "event.job", "status": "'SUCCEEDED'",
                        "expectedVersion": "steps[0].execution.versionNumber"}}]
    flows = write_flows(tmp_path, steps)
    queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    env = serve_env(AWS_ENDPOINT_URL_IOT_JOBS_DATA=loopback.url)
    port = free_port()
    server = ServeProcess(["serve", "--flows", flows, "--queue", queue_url, "--port", str(port)], env)
    try:
        server.start("listening on")
        status, answer = post(f"http://127.0.0.1:{port}", "reboot", {"thing": "sensor-1", "job": "fw-42"})
        assert status == 202
        wait_for(lambda: len(loopback.requests) == 1, what="step 1 to be running")
        began = time.monotonic()
        assert server.terminate() == 0, server.output()
        assert time.monotonic() - began < 5
        assert "stopped" in server.output()
        with pytest.raises(OSError):  # no longer accepting
            post(f"http://127.0.0.1:{port}", "reboot", {"thing": "sensor-1", "job": "fw-42"}, timeout=2)
        event = Queue(queue_url).store.get(answer["id"])
        # Step 1 finished and was recorded; the event went back to the queue before step 2.
        assert event.status == "queued" and [s["action"] for s in event.steps] == [steps[0]["action"]]
        assert event.attempts == 0 and len(loopback.requests) == 1

        worker = ServeProcess(["serve", "--flows", flows, "--queue", queue_url, "--worker-only"], env)
        server = worker
        worker.start("workers:")
        store = Queue(queue_url).store
        wait_for(lambda: store.get(answer["id"]).status == "succeeded", what="the event to resume and succeed")
    finally:
        server.kill()
    assert [(r.method, r.path) for r in loopback.requests] == [("GET", "/things/sensor-1/jobs/fw-42"),
                                                                ("POST", "/things/sensor-1/jobs/fw-42")]
    assert loopback.requests[1].json()["expectedVersion"] == 4


def test_sigterm_hands_back_a_step_that_outlives_the_shutdown_timeout(tmp_path, loopback):
    api = CommandApi(latency=2.5)
    loopback.default = api
    flows = write_flows(tmp_path, [REBOOT_STEP])
    queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    env = serve_env(AWS_ENDPOINT_URL_IOT_JOBS_DATA=loopback.url)
    port = free_port()
    server = ServeProcess(["serve", "--flows", flows, "--queue", queue_url, "--port", str(port),
                           "--shutdown-timeout", "0.5"], env)
    try:
        server.start("listening on")
        body = json.dumps({"target": "arn:aws:iot:eu-west-1:123456789012:thing/device-1"}).encode()
        status, answer = post(f"http://127.0.0.1:{port}", "reboot", body)
        wait_for(lambda: len(loopback.requests) == 1, what="the step to be running")
        assert server.terminate() == 0
        event = Queue(queue_url).store.get(answer["id"])
        # Counted: a step that outlives the shutdown timeout is an attempt (a poisoned one ends dead).
        assert (event.status, event.steps, event.attempts, event.handbacks) == ("queued", [], 1, 1)
        api.latency = 0
        server = ServeProcess(["serve", "--flows", flows, "--queue", queue_url, "--worker-only"], env)
        server.start("workers:")
        store = Queue(queue_url).store
        wait_for(lambda: store.get(answer["id"]).status == "succeeded", what="the event to run again")
    finally:
        server.kill()
    # The step ran twice on the wire, once in effect: the same client token both times.
    assert api.requests >= 2 and api.effects() == 1


def test_sign_helper_matches_what_the_server_expects():
    # A sanity check for the helpers above, so a failure points at the right place.
    assert sign(HOOK_SECRET, b"{}", 1).startswith("t=1,v1=")
