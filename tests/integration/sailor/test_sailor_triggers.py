"""A polling trigger as a platform step, against a real RabbitMQ and the sandbox over real HTTP: each tick
emits the new items as data messages and then the snapshot, which the next tick (and a restarted step,
given the snapshot the platform kept) reads back, as elasticio-sailor-nodejs does."""

from __future__ import annotations

import requests

from jobs_connector.sailor.messages import StepData
from tests.integration.sailor.test_sailor_broker import serve
from tests.support.sandbox import running_sandbox

TRIGGER = "iot-jobs-data.newPendingJobExecution"


def test_trigger_emits_data_then_its_snapshot_and_reads_it_back(platform, monkeypatch):
    with running_sandbox(monkeypatch) as sandbox:
        step = StepData(id="step_2", config={"thingName": "demo-thing"}, snapshot={})
        platform.send({"body": {}})  # the platform's timer tick
        platform.send({"body": {}})
        runner = serve(platform, step, 2, ELASTICIO_FUNCTION=TRIGGER)
        data = platform.take("data", 2)
        assert {d.value["body"]["jobId"] for d in data} == {"demo-job-1", "demo-job-2"}
        snapshots = platform.take("snapshot", 2)  # one per tick, after its data
        assert snapshots[0].headers["snapshotEvent"] == "snapshot"
        assert set(snapshots[0].value["seen"]) == {"demo-job-1#1", "demo-job-2#1"}
        assert platform.ready("data") == 0 and platform.ready("error") == 0

        # A restarted step gets the snapshot the platform kept: only the new job comes.
        requests.post(sandbox.url + "/_sandbox/iot/jobs", json={"thingName": "demo-thing", "jobId": "fw-7"},
                      timeout=10)
        restarted = StepData(id="step_2", config={"thingName": "demo-thing"}, snapshot=runner.snapshot)
        platform.send({"body": {}})
        serve(platform, restarted, 1, ELASTICIO_FUNCTION=TRIGGER)
        [new] = platform.take("data", 1)
        assert new.value["body"]["jobId"] == "fw-7"
        [last] = platform.take("snapshot", 1)
        assert "fw-7#1" in last.value["seen"] and platform.ready("data") == 0


def test_trigger_with_a_bad_config_is_an_error(platform, monkeypatch):
    with running_sandbox(monkeypatch):
        platform.send({"body": {}})
        serve(platform, StepData(id="step_2", config={}, snapshot={}), 1, ELASTICIO_FUNCTION=TRIGGER)
        [error] = platform.take("error", 1)
        assert "thingName" in error.value["error"]["message"]
