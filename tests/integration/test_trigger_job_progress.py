"""The iot.jobProgressChanged trigger against the sandbox over real HTTP: a group job created, one device
finishing, the other finishing; `watch --once` with a state file emits once per change and nothing on an
unchanged poll, with the same progress iot.WatchJobProgress reports (lib/component/job_progress.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jobs_connector.base.errors import BadInput
from jobs_connector.component.job_progress import changes, failure_rate, progress
from jobs_connector.runtime import Runtime
from jobs_connector.triggers import state_file
from jobs_connector.triggers.engine import Poll
from tests.support.sandbox import running_sandbox
from tests.support.webhooks import ROOT

KEY = "iot.jobProgressChanged"
GROUP = "arn:aws:iot:us-east-1:123456789012:thinggroup/demo-fleet"
DOCUMENT = json.dumps({"operation": "install", "firmware": "2.1"})


@pytest.fixture
def sandbox(monkeypatch):
    with running_sandbox(monkeypatch) as sb:
        yield sb


def act(key: str, body: dict) -> dict:
    return next(iter(Runtime().run(key, body, {})))


def create_group_job(job_id: str) -> None:
    act("iot.CreateJob", {"jobId": job_id, "targets": [GROUP], "document": DOCUMENT})


def device_finishes(device: str, job_id: str, status: str) -> None:
    act("iot-jobs-data.StartNextPendingJobExecution", {"thingName": device})
    act("iot-jobs-data.UpdateJobExecution", {"thingName": device, "jobId": job_id, "status": status})


def watch_once(sandbox, state, cfg: dict) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": ROOT}
    env.update({k: v for k, v in sandbox.client_environment().items() if v is not None})
    proc = subprocess.run([sys.executable, "-m", "lib", "watch", KEY, "--config", json.dumps(cfg),
                           "--state", str(state), "--once"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def test_watch_once_emits_each_change_of_a_group_job_once(sandbox, tmp_path):
    state = tmp_path / "fleet.state"
    create_group_job("fw-2-1")
    [created] = watch_once(sandbox, state, {"jobId": "fw-2-1"})
    assert (created["status"], created["finished"], created["failureRate"]) == ("IN_PROGRESS", False, 0)
    assert created["counts"]["numberOfQueuedThings"] == 2 and created["jobId"] == "fw-2-1"
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    assert watch_once(sandbox, state, {"jobId": "fw-2-1"}) == []  # unchanged: nothing

    device_finishes("demo-device-1", "fw-2-1", "SUCCEEDED")
    [one] = watch_once(sandbox, state, {"jobId": "fw-2-1"})
    assert one["status"] == "IN_PROGRESS" and not one["finished"]
    assert (one["counts"]["numberOfSucceededThings"], one["counts"]["numberOfQueuedThings"]) == (1, 1)
    assert watch_once(sandbox, state, {"jobId": "fw-2-1"}) == []

    device_finishes("demo-device-2", "fw-2-1", "FAILED")
    [done] = watch_once(sandbox, state, {"jobId": "fw-2-1"})
    assert (done["status"], done["finished"], done["failureRate"]) == ("COMPLETED", True, 0.5)
    assert done["counts"]["numberOfFailedThings"] == 1 and done["counts"]["numberOfQueuedThings"] == 0
    assert watch_once(sandbox, state, {"jobId": "fw-2-1"}) == []
    # The same numbers as the action a flow polls: one computation for both.
    watched = act("iot.WatchJobProgress", {"jobId": "fw-2-1"})
    assert {k: watched[k] for k in ("status", "finished", "failureRate", "jobProcessDetails")} == \
        {k: done[k] for k in ("status", "finished", "failureRate", "jobProcessDetails")}
    assert watched["snapshot"]["counts"] == done["counts"]
    assert list(state_file.load(str(state), KEY)["seen"]) == ["fw-2-1"]


class CountingRuntime(Runtime):
    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, dict]] = []

    def run(self, key, body, *args, **kwargs):
        self.calls.append((key, body))
        return super().run(key, body, *args, **kwargs)


def poll(snapshot: dict, runtime: Runtime | None = None, **cfg) -> tuple[list[dict], dict]:
    run = Poll(KEY, cfg, snapshot, runtime=runtime or Runtime())
    return list(run.items()), run.snapshot()


def test_the_job_list_with_filters_and_settled_jobs_not_described_again(sandbox):
    first, snapshot = poll({}, pageSize=1)  # the seeded jobs, one page each
    assert {job["jobId"] for job in first} == {"demo-job-1", "demo-job-2"}
    create_group_job("fw-3")
    new, snapshot = poll(snapshot, pageSize=1)
    assert [job["jobId"] for job in new] == ["fw-3"]
    device_finishes("demo-device-1", "fw-3", "SUCCEEDED")
    device_finishes("demo-device-2", "fw-3", "SUCCEEDED")
    done, snapshot = poll(snapshot, status="COMPLETED")
    assert [(job["jobId"], job["status"], job["failureRate"]) for job in done] == [("fw-3", "COMPLETED", 0)]

    counting = CountingRuntime()
    assert poll(snapshot, counting)[0] == []
    described = [body["jobId"] for key, body in counting.calls if key == "iot.DescribeJob"]
    assert "fw-3" not in described and set(described) == {"demo-job-1", "demo-job-2"}
    listed = [body for key, body in counting.calls if key == "iot.ListJobs"]
    assert listed and all("status" not in body for body in listed)
    assert [job["jobId"] for job in poll({}, targetSelection="CONTINUOUS")[0]] == []


@pytest.mark.parametrize(("cfg", "field"), [
    ({"jobId": "has space"}, "jobId"),
    ({"status": "DONE"}, "status"),
    ({"jobId": "fw-2-1", "status": "COMPLETED"}, "status"),
    ({"jobId": "fw-2-1", "pageSize": 5}, "pageSize"),
    ({"pageSize": 251}, "pageSize"),
])
def test_bad_config_is_refused_before_any_request(cfg, field):
    counting = CountingRuntime()
    with pytest.raises(BadInput) as refused:
        poll({}, counting, **cfg)
    assert field in (refused.value.field or "")
    assert counting.calls == []


def test_progress_is_computed_once_for_the_action_and_the_trigger():
    job = {"status": "CANCELED", "jobProcessDetails": {
        "numberOfSucceededThings": 2, "numberOfFailedThings": 1, "numberOfTimedOutThings": 1,
        "numberOfInProgressThings": 3, "processingTargets": ["t"], "numberOfRejectedThings": True}}
    now = progress(job)
    assert now == {"status": "CANCELED", "finished": True, "failureRate": 0.5, "counts": {
        "numberOfFailedThings": 1, "numberOfInProgressThings": 3, "numberOfSucceededThings": 2,
        "numberOfTimedOutThings": 1}}
    assert failure_rate({"numberOfQueuedThings": 4}) == 0
    assert changes(None, now)[0] == "status"
    before = {"status": "IN_PROGRESS", "counts": {"numberOfFailedThings": 1, "numberOfQueuedThings": 1}}
    assert changes(before, now) == ["status", "numberOfInProgressThings", "numberOfQueuedThings",
                                    "numberOfSucceededThings", "numberOfTimedOutThings"]
