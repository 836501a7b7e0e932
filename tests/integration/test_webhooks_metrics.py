"""serve's Prometheus metrics, scraped over real HTTP and parsed with prometheus_client's own parser: every
counter's exact value after a known set of events (one succeeded after a retry, one dead, one whose outcome
is unknown, refusals for a bad signature, an oversize body, an unknown flow, a duplicate), the queue gauges
from the store (SQLite and Redis), and --no-metrics (no /metrics, nothing imported)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobs_connector.http.retry import RetryPolicy
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from tests.support.loopback import Reply
from tests.support.rawhttp import free_port
from tests.support.webhooks import (  # noqa: F401 - fixtures
    InProcess,
    ServeProcess,
    flow,
    get,
    post,
    redis_server,
    redis_url,
    serve_env,
    wait_for,
)

UPDATE = "iot-jobs-data.UpdateJobExecution"  # not safe to repeat: a 5xx without a code is an unknown outcome
DESCRIBE = "iot-jobs-data.DescribeJobExecution"  # safe to repeat: a 5xx is retried
EVENT = {"thing": "sensor-1", "job": "fw-42"}
EXECUTION = {"execution": {"jobId": "fw-42", "thingName": "sensor-1", "status": "IN_PROGRESS", "versionNumber": 4}}
FAST_RETRY = {"max_attempts": 3, "delay": 0.05, "max_delay": 0.1}
IDS = {"thingName": "event.thing", "jobId": "event.job"}
UPDATE_SECRET = "update-hook-secret-not-real-00001"  # each flow its own


def scrape(url: str, path: str = "/metrics") -> tuple[int, str, str]:
    host, port = url.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read().decode()
    finally:
        conn.close()


def post_status(url: str, path: str, body: bytes) -> int:
    host, port = url.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        return conn.getresponse().status
    finally:
        conn.close()


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} for every sample of the jobs connector's metrics."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("jobs_connector_"):
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def counters(found: dict) -> dict[tuple, float]:
    return {key: value for key, value in found.items() if key[0].endswith("_total")}


def key(name: str, **labels) -> tuple:
    return name, tuple(sorted(labels.items()))


@pytest.fixture
def api(aws_env, loopback, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_JOBS_DATA", loopback.url)
    return loopback


def test_every_counter_after_a_known_set_of_events(tmp_path, api):
    flows = {"flows": [flow("describe", [{"action": DESCRIBE, "input": IDS}], retry=FAST_RETRY),
                       flow("update", [{"action": UPDATE, "input": {**IDS, "status": "'SUCCEEDED'"}}],
                            secret_env="UPDATE_HOOK_SECRET")]}
    runtime = Runtime(Transport(policy=RetryPolicy(max_attempts=1)))  # one request per step attempt
    environ = {"UPDATE_HOOK_SECRET": UPDATE_SECRET}
    with InProcess(tmp_path, flows, runtime=runtime, max_body=1024, environ=environ) as server:
        def run(flow_name, *replies, **post):
            api.script += list(replies)
            status, answer = server.post(flow_name, {**EVENT, "n": len(api.requests)}, **post)
            assert status == 202, answer
            return server.wait_status(answer["id"], "succeeded", "dead")

        retried = run("describe", Reply(503, {"message": "busy"}), Reply(200, EXECUTION),
                      headers={"X-Delivery-Id": "d-1"})
        dead = run("describe", Reply(404, {"message": "no such execution"}))
        unknown = run("update", Reply(500, ""), secret=UPDATE_SECRET)
        assert (retried["status"], dead["status"], unknown["status"]) == ("succeeded", "dead", "dead")
        assert unknown["error"]["outcome"] == "unknown"
        rebound, rejected = retried["history"][0]["error"]["type"], dead["error"]["type"]

        assert server.post("describe", {"again": 1}, headers={"X-Delivery-Id": "d-1"})[0] == 200  # a duplicate
        assert server.post("describe", EVENT, secret="not-the-secret-of-this-flow")[0] == 401
        assert server.post("update", EVENT, secret="not-the-secret-of-this-flow")[0] == 401
        assert post_status(server.url, "/hooks/describe", b"{}" + b" " * 2000) == 413  # waitress refuses it itself
        assert server.post("nowhere", EVENT)[0] == 404
        status, content_type, text = scrape(server.url)
    assert status == 200 and content_type.startswith("text/plain")
    found = samples(text)
    zero_outcomes = {key("jobs_connector_events_finished_total", flow=f, outcome=o): 0.0
                     for f in ("describe", "update") for o in ("succeeded", "dead", "outcome_unknown")}
    assert counters(found) == {
        **zero_outcomes,
        key("jobs_connector_webhooks_accepted_total", flow="describe"): 2.0,
        key("jobs_connector_webhooks_accepted_total", flow="update"): 1.0,
        key("jobs_connector_webhooks_duplicates_total", flow="describe"): 1.0,
        key("jobs_connector_webhooks_refused_total", flow="describe", reason="bad-signature"): 1.0,
        key("jobs_connector_webhooks_refused_total", flow="update", reason="bad-signature"): 1.0,
        key("jobs_connector_webhooks_refused_total", flow="describe", reason="too-large"): 1.0,
        key("jobs_connector_webhooks_refused_total", flow="", reason="unknown-flow"): 1.0,
        key("jobs_connector_events_finished_total", flow="describe", outcome="succeeded"): 1.0,
        key("jobs_connector_events_finished_total", flow="describe", outcome="dead"): 1.0,
        key("jobs_connector_events_finished_total", flow="update", outcome="outcome_unknown"): 1.0,
        key("jobs_connector_step_calls_total", flow="describe", action=DESCRIBE, error=rebound): 1.0,
        key("jobs_connector_step_calls_total", flow="describe", action=DESCRIBE, error=""): 1.0,
        key("jobs_connector_step_calls_total", flow="describe", action=DESCRIBE, error=rejected): 1.0,
        key("jobs_connector_step_calls_total", flow="update", action=UPDATE, error="OutcomeUnknown"): 1.0,
        key("jobs_connector_retries_scheduled_total", flow="describe"): 1.0,
    }
    assert rebound != rejected and "" not in (rebound, rejected)
    # The histograms count the same attempts and events; every observation is a duration, positive.
    assert found[key("jobs_connector_step_duration_seconds_count", flow="describe", action=DESCRIBE)] == 3
    assert found[key("jobs_connector_step_duration_seconds_count", flow="update", action=UPDATE)] == 1
    for outcome, flow_name in (("succeeded", "describe"), ("dead", "describe"), ("outcome_unknown", "update")):
        labels = {"flow": flow_name, "outcome": outcome}
        assert found[key("jobs_connector_event_duration_seconds_count", **labels)] == 1
        assert found[key("jobs_connector_event_duration_seconds_sum", **labels)] > 0
        assert found[key("jobs_connector_event_duration_seconds_bucket", **labels, le="+Inf")] == 1
    assert found[key("jobs_connector_queue_depth", status="queued")] == 0
    assert found[key("jobs_connector_queue_oldest_waiting_seconds")] == 0
    # Bounded labels only: no event id or thing anywhere in the page.
    for value in (retried["id"], dead["id"], unknown["id"], "sensor-1", "fw-42"):
        assert value not in text


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_the_queue_gauges_are_read_from_the_store_at_each_scrape(tmp_path, store, request):
    queue_url = request.getfixturevalue("redis_url") if store == "redis" else None
    flows = {"flows": [flow("describe", [{"action": DESCRIBE, "input": IDS}])]}
    with InProcess(tmp_path, flows, queue_url, work=False) as server:  # no workers: the events wait
        _, _, before = scrape(server.url)
        for n in range(3):
            assert server.post("describe", {**EVENT, "n": n})[0] == 202
        time.sleep(0.3)
        _, _, after = scrape(server.url)
    assert samples(before)[key("jobs_connector_queue_depth", status="queued")] == 0
    assert samples(before)[key("jobs_connector_queue_oldest_waiting_seconds")] == 0
    found = samples(after)
    assert found[key("jobs_connector_queue_depth", status="queued")] == 3
    assert found[key("jobs_connector_queue_depth", status="running")] == 0
    assert 0.3 <= found[key("jobs_connector_queue_oldest_waiting_seconds")] < 30


def test_without_metrics_there_is_no_page(tmp_path):
    flows = {"flows": [flow("describe", [{"action": DESCRIBE, "input": IDS}])]}
    server = InProcess(tmp_path, flows, work=False)
    server.service.settings.metrics = False
    with server:
        status, _, _ = scrape(server.url)
        assert server.post("describe", EVENT)[0] == 202
    assert status == 404
    assert server.service.metrics.page is None


def test_a_worker_only_process_answers_its_own_metrics_on_its_health_listener(tmp_path, api):
    """serve --worker-only --health-port: the events it ran are counted on its own /metrics, beside /healthz
    and /readyz; what the intake counts (accepted) is the intake's."""
    api.default = Reply(200, EXECUTION)
    flows = {"flows": [flow("describe", [{"action": DESCRIBE, "input": IDS}])]}
    queue_url = f"sqlite:///{tmp_path / 'shared.db'}"
    with InProcess(tmp_path, flows, queue_url, work=False) as web, \
            InProcess(tmp_path, flows, queue_url, web=False, health_port=0) as worker:
        status, answer = web.post("describe", EVENT)
        assert status == 202, answer
        web.wait_status(answer["id"], "succeeded")
        status, content_type, text = scrape(worker.service.health_server.url)
        assert status == 200 and content_type.startswith("text/plain")
        found = samples(text)
        assert found[key("jobs_connector_events_finished_total", flow="describe", outcome="succeeded")] == 1
        assert found[key("jobs_connector_step_calls_total", flow="describe", action=DESCRIBE, error="")] == 1
        assert found[key("jobs_connector_webhooks_accepted_total", flow="describe")] == 0
        intake = samples(scrape(web.url)[2])
        assert intake[key("jobs_connector_webhooks_accepted_total", flow="describe")] == 1
        assert intake[key("jobs_connector_events_finished_total", flow="describe", outcome="succeeded")] == 0


def test_worker_processes_are_counted_by_the_intake_a_killed_one_too_and_the_directory_goes(tmp_path, api):
    """serve --worker-processes 2 as a process: its /metrics adds up the children's counts (multi-process
    mode, a private directory of its own under TMPDIR), keeps those of a child killed with -9 and started
    again, and removes the directory when it stops. Its log is JSON lines throughout."""
    api.default = Reply(200, EXECUTION)
    flows_file = tmp_path / "flows.json"
    flows_file.write_text(json.dumps({"flows": [flow("describe", [{"action": DESCRIBE, "input": IDS}])]}))
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = serve_env(AWS_ENDPOINT_URL_IOT_JOBS_DATA=api.url, TMPDIR=str(temp))
    port = free_port()
    serve = ServeProcess(["serve", "--flows", str(flows_file), "--queue", f"sqlite:///{tmp_path / 'q.db'}", "--port",
                          str(port), "--worker-processes", "2", "--workers", "2", "--log-format", "json"], env)
    url = f"http://127.0.0.1:{port}"

    def ready(count=2):
        return wait_for(lambda: get(url, "/healthz")[1].get("worker_processes", {}).get("ready") == count,
                        timeout=30, what="the worker processes to be ready")

    def send(numbers):
        ids = [post(url, "describe", {**EVENT, "n": n})[1]["id"] for n in numbers]
        for event_id in ids:
            wait_for(lambda event_id=event_id: get(url, f"/events/{event_id}")[1]["status"] == "succeeded",
                     what="the event to succeed")

    def succeeded():
        return samples(scrape(url)[2])[key("jobs_connector_events_finished_total", flow="describe",
                                           outcome="succeeded")]

    serve.start("listening on")
    try:
        ready()
        [directory] = list(temp.iterdir())
        send(range(6))
        assert succeeded() == 6
        children = {int(f.name[len("counter_"):-3]) for f in directory.glob("counter_*.db")} - {serve.proc.pid}
        assert len(children) == 2, sorted(os.listdir(directory))
        os.kill(min(children), signal.SIGKILL)
        wait_for(lambda: any("exited with status -9" in line for line in serve.lines), what="the restart")
        ready()
        send(range(6, 8))
        found = samples(scrape(url)[2])
        assert succeeded() == 8  # the killed child's six (or fewer) are still counted
        assert found[key("jobs_connector_webhooks_accepted_total", flow="describe")] == 8
        assert found[key("jobs_connector_step_calls_total", flow="describe", action=DESCRIBE, error="")] == 8
        assert serve.terminate() == 0
    finally:
        serve.kill()
    assert list(temp.iterdir()) == []  # the private directory is gone
    lines = [json.loads(line) for line in serve.output().splitlines()]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    done = [line for line in lines if "succeeded after" in line["message"]]
    assert len(done) == 8 and {line["worker_process"] for line in done} <= {"1", "2"}
    assert all(line["flow"] == "describe" and len(line["event_id"]) == 32 and line["attempt"] == 1
               and line["duration"] > 0 for line in done)
    assert any("listening on" in line["message"] for line in lines)
