"""Polling triggers against the sandbox over real HTTP: the engine (each item once, paging, the bounded
snapshot, the first-run option), `watch` as a subprocess (state round trip, a job queued while it runs,
kill -9), and the flows file (the poller feeding the durable queue, deduplicated; kill -9 of serve)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from jobs_connector.base.errors import BadInput
from jobs_connector.runtime import Runtime
from jobs_connector.triggers import state_file
from jobs_connector.triggers.engine import Poll
from jobs_connector.triggers.snapshot import Item, Snapshot
from jobs_connector.webhooks import flows as flows_module
from jobs_connector.webhooks.store.queue import Queue
from tests.support.sandbox import running_sandbox
from tests.support.webhooks import ROOT, ServeProcess, serve_env, wait_for

CONFIGS = {
    "iot-jobs-data.newPendingJobExecution": {"thingName": "demo-thing"},
    "codepipeline.newThirdPartyJob": {"category": "Deploy", "provider": "SandboxDeployer", "version": "1"},
    "spaceone.jobsChanged": {"pageSize": 3},
    "panorama.deviceJobChanged": {},
    "embedthis.cloudsChanged": {"pageSize": 2},
}
SEEDED = {"iot-jobs-data.newPendingJobExecution": 2, "codepipeline.newThirdPartyJob": 3, "spaceone.jobsChanged": 7,
          "panorama.deviceJobChanged": 7, "embedthis.cloudsChanged": 7}


@pytest.fixture
def sandbox(monkeypatch):
    monkeypatch.setenv("CODEPIPELINE_CLIENT_TOKEN", "sandbox-client-token")
    with running_sandbox(monkeypatch) as sb:
        yield sb


def admin(sandbox, path: str, body: dict) -> dict:
    reply = requests.post(sandbox.url + path, json=body, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def make_new(sandbox, key: str) -> None:
    """One new item for the trigger, through the sandbox's admin endpoints."""
    if key.startswith("iot"):
        admin(sandbox, "/_sandbox/iot/jobs", {"thingName": "demo-thing", "jobId": "fw-new"})
    elif key.startswith("codepipeline"):
        admin(sandbox, "/_sandbox/codepipeline/jobs", {"count": 1})
    elif key.startswith("spaceone"):
        admin(sandbox, "/_sandbox/spaceone/jobs", {})
    elif key.startswith("embedthis"):
        admin(sandbox, "/_sandbox/embedthis/clouds", {"name": "new-cloud"})
    else:  # Panorama: a new job through the action itself
        list(Runtime().run("panorama.CreateJobForDevices", {"DeviceIds": ["device-sandbox000000000001"],
                                                             "JobType": "REBOOT"}, {}))


def run(key: str, snapshot: dict, **cfg) -> tuple[list[dict], dict]:
    poll = Poll(key, {**CONFIGS[key], **cfg}, snapshot, runtime=Runtime())
    items = list(poll.items())
    return items, poll.snapshot()


@pytest.mark.parametrize("key", list(CONFIGS))
def test_each_item_once_across_runs_and_a_new_one_once(sandbox, key):
    first, snapshot = run(key, {})
    assert len(first) == SEEDED[key]
    again, snapshot = run(key, json.loads(json.dumps(snapshot)))  # the snapshot round trip is plain JSON
    assert again == []
    make_new(sandbox, key)
    new, snapshot = run(key, snapshot)
    assert len(new) == 1
    assert run(key, snapshot)[0] == []


def test_paging_reads_every_page(sandbox):
    items, _ = run("spaceone.jobsChanged", {}, pageSize=2)  # seven jobs: four pages
    assert len({job["job_id"] for job in items}) == 7
    clouds, _ = run("embedthis.cloudsChanged", {}, pageSize=3)
    assert len({cloud["id"] for cloud in clouds}) == 7


def test_changes_are_emitted_and_filters_apply(sandbox):
    _, snapshot = run("spaceone.jobsChanged", {})
    admin(sandbox, "/_sandbox/spaceone/jobs", {"job_id": "job-5a4db0c00007", "status": "FAILURE"})
    changed, snapshot = run("spaceone.jobsChanged", snapshot)
    assert [(j["job_id"], j["status"]) for j in changed] == [("job-5a4db0c00007", "FAILURE")]
    failed, _ = run("spaceone.jobsChanged", {}, status="FAILURE")
    assert {j["status"] for j in failed} == {"FAILURE"} and len(failed) == 2


def test_iot_execution_is_emitted_again_when_it_moves_in_progress(sandbox):
    _, snapshot = run("iot-jobs-data.newPendingJobExecution", {})
    list(Runtime().run("iot-jobs-data.StartNextPendingJobExecution", {"thingName": "demo-thing"}, {}))
    moved, _ = run("iot-jobs-data.newPendingJobExecution", snapshot)
    assert [(m["jobId"], m["status"]) for m in moved] == [("demo-job-1", "IN_PROGRESS")]


def test_codepipeline_jobs_are_taken_and_carry_their_details(sandbox):
    jobs, _ = run("codepipeline.newThirdPartyJob", {})
    assert {j["status"] for j in jobs} == {"InProgress"}
    assert all(j["jobDetails"]["data"]["artifactCredentials"]["accessKeyId"] for j in jobs)
    # A second worker with no snapshot finds nothing: the jobs are acknowledged, owned by the first.
    assert run("codepipeline.newThirdPartyJob", {})[0] == []


def test_first_run_start_from_now_emits_only_later_items(sandbox):
    key = "embedthis.cloudsChanged"
    first, snapshot = run(key, {}, firstRun="startFromNow")
    assert first == []
    make_new(sandbox, key)
    assert len(run(key, snapshot, firstRun="startFromNow")[0]) == 1


def test_the_snapshot_is_bounded_and_dropped_items_stay_quiet():
    snap = Snapshot({}, limit=3)
    for n in range(10):
        snap.record(Item(id=f"job-{n}", version="v", body={}, updated=1000.0 + n))
    assert len(snap.to_dict()["seen"]) == 3 and snap.floor == 1006.0
    assert not snap.is_new(Item(id="job-2", version="v", body={}, updated=1002.0))  # dropped, unchanged
    assert snap.is_new(Item(id="job-2", version="v", body={}, updated=1011.0))  # changed after the floor
    assert Snapshot({}, start=1500.0).is_new(Item(id="x", version="v", body={}, updated=1400.0)) is False


def test_bad_config_is_refused_before_any_request():
    with pytest.raises(BadInput) as refused:
        Poll("iot-jobs-data.newPendingJobExecution", {}, {})
    assert refused.value.field == "thingName"
    with pytest.raises(BadInput) as refused:
        Poll("spaceone.jobsChanged", {"status": "DONE"}, {})
    assert "status" in (refused.value.field or "")
    with pytest.raises(BadInput):
        Poll("codepipeline.newThirdPartyJob", {**CONFIGS["codepipeline.newThirdPartyJob"],
                                               "firstRun": "startFromNow"}, {})


# -- watch ---------------------------------------------------------------------------------------------


def watch(sandbox, key: str, state, *extra, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": ROOT, "CODEPIPELINE_CLIENT_TOKEN": "sandbox-client-token"}
    env.update({k: v for k, v in sandbox.client_environment().items() if v is not None})
    return subprocess.Popen([sys.executable, "-m", "lib", "watch", key, "--config", json.dumps(CONFIGS[key]),
                             "--state", str(state), *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


@pytest.mark.parametrize("key", list(CONFIGS))
def test_watch_once_keeps_its_state_across_runs(sandbox, tmp_path, key):
    state = tmp_path / "w.state"
    out, err = watch(sandbox, key, state, "--once").communicate(timeout=60)
    assert len(out.splitlines()) == SEEDED[key], err
    assert state_file.load(str(state), key)["seen"]
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    out, err = watch(sandbox, key, state, "--once").communicate(timeout=60)
    assert out == "", err


def test_watch_prints_a_new_job_within_one_interval_and_stops_cleanly(sandbox, tmp_path):
    key = "iot-jobs-data.newPendingJobExecution"
    proc = watch(sandbox, key, tmp_path / "w.state", "--every", "0.3s")
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert {json.loads(line)["jobId"] for line in lines} == {"demo-job-1", "demo-job-2"}
        admin(sandbox, "/_sandbox/iot/jobs", {"thingName": "demo-thing", "jobId": "fw-42"})
        queued = time.monotonic()
        line = proc.stdout.readline()
        assert json.loads(line)["jobId"] == "fw-42"
        assert time.monotonic() - queued < 0.3 + 2.0  # one interval, and the poll itself
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_watch_killed_mid_poll_loses_and_duplicates_nothing(sandbox, tmp_path):
    key = "spaceone.jobsChanged"
    for _ in range(20):
        admin(sandbox, "/_sandbox/spaceone/jobs", {})
    state = tmp_path / "w.state"
    seen: list[str] = []
    proc = watch(sandbox, key, state, "--every", "0.1s")
    try:
        for _ in range(5):  # killed in the middle of the first poll (27 jobs over 9 pages)
            seen.append(json.loads(proc.stdout.readline())["job_id"])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        seen += [json.loads(line)["job_id"] for line in proc.stdout.read().splitlines() if line.strip()]
    finally:
        if proc.poll() is None:
            proc.kill()
    recorded = set(state_file.load(str(state), key)["seen"])
    assert recorded <= set(seen)  # whatever the state file holds was printed
    out, err = watch(sandbox, key, state, "--once").communicate(timeout=60)
    rest = [json.loads(line)["job_id"] for line in out.splitlines()]
    assert not recorded & set(rest), "an item emitted and recorded came again"
    assert set(seen) | set(rest) == set(sandbox.store.data["spaceone"]["jobs"]), "an item was lost"


def test_watch_refuses_an_unknown_trigger_and_a_bad_interval(sandbox, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lib", "watch", "iot-jobs-data.newPendingJob"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "did you mean iot-jobs-data.newPendingJobExecution" in proc.stderr
    proc = watch(sandbox, "spaceone.jobsChanged", tmp_path / "s", "--every", "soon")
    assert proc.wait(timeout=60) == 2 and "every" in proc.stderr.read()


# -- the flows file and serve ----------------------------------------------------------------------------


def poll_flow(every="0.2s", **trigger_cfg) -> dict:
    return {"flows": [{"name": "jobs-changed",
                       "trigger": {"poll": "spaceone.jobsChanged", "every": every, "config": {"pageSize": 3,
                                                                                              **trigger_cfg}},
                       "steps": [{"action": "spaceone.GetJob", "input": {"job_id": "event.job_id"}}]}]}


def test_flows_file_trigger_is_checked_at_load():
    flows = flows_module.build(poll_flow(), environ={})
    assert flows.get("jobs-changed").trigger.every == 0.2
    bad = poll_flow()
    bad["flows"][0]["trigger"]["config"]["status"] = "DONE"
    with pytest.raises(flows_module.FlowFileError) as refused:
        flows_module.build(bad, environ={})
    assert "trigger.config.status" in refused.value.field
    both = poll_flow()
    both["flows"][0]["secret_env"] = "SOME_SECRET"
    with pytest.raises(flows_module.FlowFileError):
        flows_module.build(both, environ={})
    secret = {"flows": [{"name": "cp", "steps": [{"action": "spaceone.GetJob", "input": {"job_id": "event.x"}}],
                         "trigger": {"poll": "codepipeline.newThirdPartyJob", "config": {
                             **CONFIGS["codepipeline.newThirdPartyJob"], "clientToken": "fake-token-value"}}}]}
    with pytest.raises(flows_module.FlowFileError) as refused:
        flows_module.build(secret, environ={})
    assert refused.value.rule == "inline-secret"


def test_poller_queues_each_item_once_even_when_the_snapshot_was_not_kept(sandbox, tmp_path):
    from jobs_connector.webhooks.poll import Poller

    flows = flows_module.build(poll_flow(), environ={})
    queue = Queue(f"sqlite:///{tmp_path / 'queue.db'}")
    try:
        poller = Poller(flows, queue, runtime=Runtime())
        flow = flows.get("jobs-changed")
        keep = poller.keep
        poller.keep = lambda *a: None  # a crash after storing the events, before the snapshot
        assert poller.poll_once(flow) == 7
        poller.keep = keep
        assert poller.poll_once(flow) == 0  # found again, refused by the delivery ids
        assert len(queue.store.list(limit=100)) == 7
        assert poller.poll_once(flow) == 0 and poller.snapshot("jobs-changed")["seen"]
        admin(sandbox, "/_sandbox/spaceone/jobs", {})
        assert poller.poll_once(flow) == 1
        events = queue.store.list(limit=100)
        assert len(events) == 8 and all(e.delivery_id.startswith("poll-") for e in events)
    finally:
        queue.close()


def test_codepipeline_credentials_are_redacted_before_an_event_is_stored(sandbox, tmp_path):
    from jobs_connector.webhooks.poll import Poller

    data = {"flows": [{"name": "cp", "trigger": {"poll": "codepipeline.newThirdPartyJob",
                                                 "config": CONFIGS["codepipeline.newThirdPartyJob"]},
                       "steps": [{"action": "codepipeline.GetThirdPartyJobDetails",
                                  "input": {"jobId": "event.jobId", "clientToken": "'sandbox-client-token'"}}]}]}
    flows = flows_module.build(data, environ={})
    queue = Queue(f"sqlite:///{tmp_path / 'queue.db'}")
    try:
        assert Poller(flows, queue, runtime=Runtime()).poll_once(flows.get("cp")) == 3
        stored = json.dumps([e.body for e in queue.store.list(limit=10)])
        assert "sandbox-artifact-secret-not-a-real-secret" not in stored and "jobDetails" in stored
    finally:
        queue.close()


def test_serve_killed_mid_poll_loses_and_duplicates_nothing(sandbox, tmp_path):
    for _ in range(30):
        admin(sandbox, "/_sandbox/spaceone/jobs", {})
    flows_file = tmp_path / "flows.json"
    flows_file.write_text(json.dumps(poll_flow(every="0.1s", pageSize=2)))
    queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    env = serve_env(**{k: v for k, v in sandbox.client_environment().items() if v is not None})
    args = ["serve", "--flows", str(flows_file), "--queue", queue_url, "--port", "0", "--workers", "1"]
    server = ServeProcess(args, env).start("polling:")

    def stored() -> list:
        queue = Queue(queue_url)
        try:
            return queue.store.list(limit=1000)
        finally:
            queue.close()

    try:
        wait_for(lambda: len(stored()) >= 3, timeout=30, what="the first events")
        server.kill()  # kill -9 in the middle of the poll (37 jobs over 19 pages)
    finally:
        server.kill()
    server = ServeProcess(args, env).start("polling:")
    try:
        jobs = set(sandbox.store.data["spaceone"]["jobs"])
        wait_for(lambda: {e.body["job_id"] for e in stored()} == jobs, timeout=60, what="every job as an event")
        time.sleep(0.5)  # a few more polls: nothing more may come
        events = stored()
        assert len(events) == len(jobs), "an item was queued twice"
    finally:
        server.terminate()
