"""Both sides of IoT Jobs against the sandbox over real HTTP, through the CLI: the fleet operator's control
plane (iot.*) creates and watches jobs, devices take and finish them through the data plane
(iot-jobs-data.*). Counts follow the executions; CancelJob, abort and timeout configs move them as AWS
documents."""

import json

import pytest

from tests.support.cli import run_cli
from tests.support.sandbox import aws, fake_clock, sandbox_on_the_fake_clock  # noqa: F401 - fixtures

GROUP = "arn:aws:iot:us-east-1:123456789012:thinggroup/demo-fleet"
DEVICES = ("demo-device-1", "demo-device-2")
DOCUMENT = json.dumps({"operation": "install", "firmware": "2.1"})


def ok(key: str, body: dict) -> dict:
    result = run_cli("run", key, "--input", json.dumps(body))
    assert result.code == 0, result.stderr
    [message] = result.messages
    return message


def create_group_job(job_id: str, **extra) -> dict:
    return ok("iot.CreateJob", {"jobId": job_id, "targets": [GROUP], "document": DOCUMENT, **extra})


def job(job_id: str) -> dict:
    return ok("iot.DescribeJob", {"jobId": job_id})["job"]


def counts(job_id: str) -> dict:
    details = job(job_id)["jobProcessDetails"]
    return {k.removeprefix("numberOf").removesuffix("Things"): v for k, v in details.items()
            if v and k != "processingTargets"}


def take(device: str) -> dict:
    return ok("iot-jobs-data.StartNextPendingJobExecution", {"thingName": device})["execution"]


def finish(device: str, job_id: str, status: str = "SUCCEEDED") -> None:
    ok("iot-jobs-data.UpdateJobExecution", {"thingName": device, "jobId": job_id, "status": status})


def test_a_group_job_is_taken_and_finished_by_both_devices_and_completes(sandbox):
    created = create_group_job("fw-2-1", description="firmware 2.1")
    assert created == {"jobArn": "arn:aws:iot:us-east-1:123456789012:job/fw-2-1", "jobId": "fw-2-1",
                       "description": "firmware 2.1"}
    assert job("fw-2-1")["status"] == "IN_PROGRESS"
    assert counts("fw-2-1") == {"Queued": 2}

    for device in DEVICES:  # each device sees the job through the data plane
        pending = ok("iot-jobs-data.GetPendingJobExecutions", {"thingName": device})
        assert [j["jobId"] for j in pending["queuedJobs"]] == ["fw-2-1"]
    first = take("demo-device-1")
    assert (first["jobId"], first["status"], json.loads(first["jobDocument"])) == (
        "fw-2-1", "IN_PROGRESS", json.loads(DOCUMENT))
    assert counts("fw-2-1") == {"Queued": 1, "InProgress": 1}
    assert job("fw-2-1")["jobProcessDetails"]["processingTargets"] == [
        f"arn:aws:iot:us-east-1:123456789012:thing/{d}" for d in DEVICES]

    take("demo-device-2")
    finish("demo-device-1", "fw-2-1")
    assert counts("fw-2-1") == {"InProgress": 1, "Succeeded": 1}
    assert job("fw-2-1")["status"] == "IN_PROGRESS"
    finish("demo-device-2", "fw-2-1")

    done = job("fw-2-1")
    assert done["status"] == "COMPLETED" and "completedAt" in done
    assert counts("fw-2-1") == {"Succeeded": 2}
    assert done["jobProcessDetails"]["processingTargets"] == []
    listed = ok("iot.ListJobExecutionsForJob", {"jobId": "fw-2-1"})["executionSummaries"]
    assert [(e["thingArn"].rsplit("/", 1)[1], e["jobExecutionSummary"]["status"]) for e in listed] == [
        ("demo-device-1", "SUCCEEDED"), ("demo-device-2", "SUCCEEDED")]
    assert ok("iot.ListJobs", {"status": "COMPLETED"})["jobs"][0]["jobId"] == "fw-2-1"
    assert json.loads(ok("iot.GetJobDocument", {"jobId": "fw-2-1"})["document"]) == json.loads(DOCUMENT)


def test_cancel_takes_queued_executions_and_in_progress_ones_only_with_force(sandbox):
    create_group_job("soft")
    take("demo-device-1")
    cancelled = ok("iot.CancelJob", {"jobId": "soft", "reasonCode": "FAILURE_RATE", "comment": "stop"})
    assert cancelled["jobId"] == "soft"
    described = job("soft")
    assert (described["status"], described["forceCanceled"], described["reasonCode"]) == (
        "CANCELED", False, "FAILURE_RATE")
    assert counts("soft") == {"InProgress": 1, "Canceled": 1}
    finish("demo-device-1", "soft")  # the device that had started may still finish
    assert counts("soft") == {"Succeeded": 1, "Canceled": 1}

    create_group_job("hard")
    take("demo-device-1")
    ok("iot.CancelJob", {"jobId": "hard", "force": True})
    assert counts("hard") == {"Canceled": 2}
    execution = ok("iot.DescribeJobExecution", {"thingName": "demo-device-1", "jobId": "hard"})["execution"]
    assert (execution["status"], execution["forceCanceled"]) == ("CANCELED", True)
    refused = run_cli("run", "iot-jobs-data.UpdateJobExecution", "--input", json.dumps(
        {"thingName": "demo-device-1", "jobId": "hard", "status": "SUCCEEDED"}))
    assert refused.code == 3 and "InvalidStateTransitionException" in refused.stderr


def test_cancel_one_execution_needs_force_once_it_runs(sandbox):
    create_group_job("one")
    take("demo-device-1")
    refused = run_cli("run", "iot.CancelJobExecution", "--input",
                      json.dumps({"thingName": "demo-device-1", "jobId": "one"}))
    assert refused.code == 3 and "InvalidStateTransitionException" in refused.stderr
    ok("iot.CancelJobExecution", {"thingName": "demo-device-2", "jobId": "one"})
    ok("iot.CancelJobExecution", {"thingName": "demo-device-1", "jobId": "one", "force": True})
    assert counts("one") == {"Canceled": 2}
    assert job("one")["status"] == "COMPLETED"  # every execution of the snapshot job is terminal


def test_abort_config_cancels_the_job_once_the_failure_threshold_is_reached(sandbox):
    create_group_job("risky", abortConfig={"criteriaList": [
        {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 50, "minNumberOfExecutedThings": 1}]})
    take("demo-device-1")
    finish("demo-device-1", "risky", "FAILED")
    described = job("risky")
    assert described["status"] == "CANCELED"
    assert counts("risky") == {"Failed": 1, "Canceled": 1}
    assert ok("iot-jobs-data.GetPendingJobExecutions", {"thingName": "demo-device-2"})["queuedJobs"] == []


def test_in_progress_timeout_times_the_execution_out(sandbox, clock):
    create_group_job("slow", timeoutConfig={"inProgressTimeoutInMinutes": 5})
    take("demo-device-1")
    clock.advance(5 * 60)
    assert counts("slow") == {"Queued": 1, "TimedOut": 1}
    refused = run_cli("run", "iot-jobs-data.UpdateJobExecution", "--input", json.dumps(
        {"thingName": "demo-device-1", "jobId": "slow", "status": "SUCCEEDED"}))
    assert refused.code == 3 and "TIMED_OUT" in refused.stderr


def test_jobs_queued_in_the_same_second_run_in_the_order_they_were_queued(sandbox):
    """queuedAt is whole seconds (the sandbox's clock stands still here), so the order cannot come from it:
    the first job queued is next, whatever its name, and the newest is listed first."""
    for job_id in ("zz-first", "aa-second"):
        create_group_job(job_id)
    pending = ok("iot-jobs-data.GetPendingJobExecutions", {"thingName": "demo-device-1"})["queuedJobs"]
    assert [j["jobId"] for j in pending] == ["zz-first", "aa-second"]
    assert pending[0]["queuedAt"] == pending[1]["queuedAt"]
    assert take("demo-device-1")["jobId"] == "zz-first"
    listed = ok("iot.ListJobExecutionsForThing", {"thingName": "demo-device-2"})["executionSummaries"]
    assert [e["jobId"] for e in listed] == ["aa-second", "zz-first"]


def test_things_one_by_one_templates_paging_and_delete(sandbox):
    ok("iot.CreateJobTemplate", {"jobTemplateId": "install", "description": "install", "document": DOCUMENT})
    ok("iot.CreateJob", {"jobId": "by-template", "targets": ["arn:aws:iot:us-east-1:123456789012:thing/solo"],
                         "jobTemplateArn": "arn:aws:iot:us-east-1:123456789012:jobtemplate/install"})
    assert json.loads(take("solo")["jobDocument"]) == json.loads(DOCUMENT)
    assert [t["jobTemplateId"] for t in ok("iot.ListJobTemplates", {})["jobTemplates"]] == ["install"]
    for n in range(3):
        create_group_job(f"paged-{n}")
    pages = run_cli("run", "iot.ListJobExecutionsForThing", "--input",
                    json.dumps({"thingName": "demo-device-1", "maxResults": 1}), "--emit", "emitIndividually")
    assert pages.code == 0, pages.stderr
    assert sorted(m["jobId"] for m in pages.messages) == ["paged-0", "paged-1", "paged-2"]

    refused = run_cli("run", "iot.DeleteJob", "--input", json.dumps({"jobId": "paged-0"}))
    assert refused.code == 3 and "InvalidStateTransitionException" in refused.stderr
    ok("iot.DeleteJob", {"jobId": "paged-0", "force": True})
    gone = run_cli("run", "iot.DescribeJob", "--input", json.dumps({"jobId": "paged-0"}))
    assert gone.code == 3 and "ResourceNotFoundException" in gone.stderr
    taken = take("demo-device-1")
    assert taken["jobId"] != "paged-0"


def test_the_control_plane_is_told_apart_by_its_signing_name(sandbox):
    """The same path answers as the data plane or the control plane, as the two endpoints do on AWS."""
    create_group_job("twin")
    data_plane = aws(sandbox, "iot-jobs-data", "GET", "/things/demo-device-1/jobs/twin").json()["execution"]
    control_plane = aws(sandbox, "iot", "GET", "/things/demo-device-1/jobs/twin").json()["execution"]
    assert "jobDocument" in data_plane and "thingArn" not in data_plane
    assert control_plane["thingArn"].endswith(":thing/demo-device-1") and "jobDocument" not in control_plane


def test_unknown_group_and_bad_document_are_refused_by_the_sandbox(sandbox):
    missing = aws(sandbox, "iot", "PUT", "/jobs/nope", {"targets": [GROUP.replace("demo-fleet", "nobody")],
                                                        "document": DOCUMENT})
    assert missing.status_code == 404 and missing.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    not_json = aws(sandbox, "iot", "PUT", "/jobs/nope", {"targets": [GROUP], "document": "not json"})
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["message"]
    create_group_job("twice")
    again = run_cli("run", "iot.CreateJob", "--input", json.dumps(
        {"jobId": "twice", "targets": [GROUP], "document": DOCUMENT}))
    assert again.code == 3 and "ResourceAlreadyExistsException" in again.stderr


@pytest.mark.parametrize(("body", "field"), [
    ({"jobId": "has space", "targets": [GROUP]}, "jobId"),
    ({"jobId": "ok", "targets": []}, "targets"),
    ({"jobId": "ok", "targets": [GROUP], "targetSelection": "SOMETIMES"}, "targetSelection"),
    ({"jobId": "ok", "targets": [GROUP], "timeoutConfig": {"inProgressTimeoutInMinutes": "5"}}, "timeoutConfig"),
])
def test_bad_input_is_refused_before_sending(sandbox, body, field):
    result = run_cli("run", "iot.CreateJob", "--input", json.dumps(body))
    assert result.code == 2 and field in result.stderr
    assert {j["jobId"] for j in ok("iot.ListJobs", {})["jobs"]} == {"demo-job-1", "demo-job-2"}  # nothing created


def test_watch_job_progress_reports_what_changed_since_the_snapshot_handed_back(sandbox):
    create_group_job("watched")
    first = ok("iot.WatchJobProgress", {"jobId": "watched"})
    assert first["changed"] and not first["finished"] and first["status"] == "IN_PROGRESS"
    snapshot = first["snapshot"]
    assert snapshot["counts"]["numberOfQueuedThings"] == 2
    quiet = ok("iot.WatchJobProgress", {"jobId": "watched", "snapshot": snapshot})
    assert (quiet["changed"], quiet["changes"]) == (False, [])

    take("demo-device-1")
    finish("demo-device-1", "watched", "FAILED")
    moved = ok("iot.WatchJobProgress", {"jobId": "watched", "snapshot": snapshot})
    assert moved["changed"] and moved["changes"] == ["numberOfFailedThings", "numberOfQueuedThings"]
    assert moved["failureRate"] == 1.0 and not moved["finished"]

    take("demo-device-2")
    finish("demo-device-2", "watched")
    done = ok("iot.WatchJobProgress", {"jobId": "watched", "snapshot": moved["snapshot"]})
    assert done["finished"] and done["status"] == "COMPLETED" and "status" in done["changes"]
    assert done["failureRate"] == 0.5
