"""The IoT job cycle through the CLI (`jobs-connector run`) against the sandbox over real HTTP, and the
refusals a device meets on the real service: illegal transitions, stale versions, bad signatures, step
timeouts."""

import calendar
import datetime as dt
import json
import random
import time

import boto3
import pytest
import requests
from botocore.config import Config

from jobs_connector.sandbox import DEFAULT_REGION, SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY
from jobs_connector.sandbox.signature_check import _epoch
from tests.conftest import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FAKE_SESSION_TOKEN
from tests.support.cli import run_cli
from tests.support.sandbox import aws, fake_clock, running_sandbox, sandbox_on_the_fake_clock  # noqa: F401 - fixtures

THING = {"thingName": "demo-thing"}


def run(action: str, body: dict):
    return run_cli("run", f"iot-jobs-data.{action}", "--input", json.dumps(body))


def ok(action: str, body: dict) -> dict:
    result = run(action, body)
    assert result.code == 0, result.stderr
    [message] = result.messages
    return message


def describe(job_id: str) -> dict:
    return ok("DescribeJobExecution", {**THING, "jobId": job_id, "includeJobDocument": False})["execution"]


def test_whole_job_cycle(sandbox):
    pending = ok("GetPendingJobExecutions", THING)
    assert pending["inProgressJobs"] == []
    assert [j["jobId"] for j in pending["queuedJobs"]] == ["demo-job-1", "demo-job-2"]
    assert all(j["versionNumber"] == 1 for j in pending["queuedJobs"])

    started = ok("StartNextPendingJobExecution", {**THING, "statusDetails": {"step": "download"}})["execution"]
    assert (started["jobId"], started["status"], started["versionNumber"]) == ("demo-job-1", "IN_PROGRESS", 2)
    assert started["statusDetails"] == {"step": "download"}
    assert json.loads(started["jobDocument"])["operation"] == "firmware-update"

    updated = ok("UpdateJobExecution", {**THING, "jobId": "demo-job-1", "status": "SUCCEEDED", "expectedVersion": 2,
                                        "includeJobExecutionState": True, "includeJobDocument": True})
    assert updated["executionState"] == {"status": "SUCCEEDED", "statusDetails": {"step": "download"},
                                         "versionNumber": 3}
    assert "jobDocument" in updated

    final = describe("demo-job-1")
    assert (final["status"], final["versionNumber"], final["thingName"]) == ("SUCCEEDED", 3, "demo-thing")
    assert "jobDocument" not in final
    after = ok("GetPendingJobExecutions", THING)
    assert [j["jobId"] for j in after["queuedJobs"]] == ["demo-job-2"] and after["inProgressJobs"] == []


def test_illegal_transition_is_refused_with_exit_3(sandbox):
    ok("UpdateJobExecution", {**THING, "jobId": "demo-job-1", "status": "SUCCEEDED"})
    result = run("UpdateJobExecution", {**THING, "jobId": "demo-job-1", "status": "IN_PROGRESS"})
    assert result.code == 3
    assert "Conflict | HTTP 409 | InvalidStateTransitionException | request-id " in result.stderr
    assert "terminal" in result.stderr
    assert describe("demo-job-1")["status"] == "SUCCEEDED"


def test_a_device_cannot_set_a_service_status(sandbox):
    result = run("UpdateJobExecution", {**THING, "jobId": "demo-job-2", "status": "TIMED_OUT"})
    assert result.code == 3 and "InvalidStateTransitionException" in result.stderr
    assert describe("demo-job-2")["status"] == "QUEUED"


def test_wrong_secret_key_is_refused_with_exit_3(sandbox, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key-not-real-but-wrong")
    result = run("StartNextPendingJobExecution", THING)
    assert result.code == 3
    assert "AuthError | HTTP 403 | InvalidSignatureException" in result.stderr
    assert "test-secret-key-not-real-but-wrong" not in result.stderr
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SANDBOX_SECRET_KEY)
    assert describe("demo-job-1")["status"] == "QUEUED"  # the refused request changed nothing


def test_unknown_access_key_is_refused_with_exit_3(sandbox, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTFAKEKEY00001")
    result = run("GetPendingJobExecutions", THING)
    assert result.code == 3
    assert "HTTP 403 | UnrecognizedClientException" in result.stderr


def test_stale_request_date_is_refused(sandbox):
    late = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    answer = aws(sandbox, "iot-jobs-data", "GET", "/things/demo-thing/jobs", signed_at=late)
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert answer.json()["message"].startswith("Signature expired")
    fresh = aws(sandbox, "iot-jobs-data", "GET", "/things/demo-thing/jobs",
                signed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=14))
    assert fresh.status_code == 200


def test_expected_version_conflict(sandbox):
    ok("StartNextPendingJobExecution", THING)
    result = run("UpdateJobExecution", {**THING, "jobId": "demo-job-1", "status": "SUCCEEDED", "expectedVersion": 1})
    assert result.code == 3
    assert "HTTP 409 | InvalidStateTransitionException" in result.stderr and "VersionMismatch" in result.stderr
    assert describe("demo-job-1")["status"] == "IN_PROGRESS"
    # The error body carries the current state, so the device need not ask again.
    answer = aws(sandbox, "iot-jobs-data", "POST", "/things/demo-thing/jobs/demo-job-1",
                 {"status": "SUCCEEDED", "expectedVersion": 7})
    assert answer.status_code == 409
    assert answer.json()["executionState"] == {"status": "IN_PROGRESS", "statusDetails": {}, "versionNumber": 2}


def test_next_peeks_starts_and_runs_out(sandbox):
    peek = ok("DescribeJobExecution", {**THING, "jobId": "$next"})["execution"]
    assert (peek["jobId"], peek["status"]) == ("demo-job-1", "QUEUED")  # looking does not start it
    assert ok("StartNextPendingJobExecution", THING)["execution"]["jobId"] == "demo-job-1"
    # An execution in progress is the next one, and is handed back unchanged.
    assert ok("DescribeJobExecution", {**THING, "jobId": "$next"})["execution"]["status"] == "IN_PROGRESS"
    again = ok("StartNextPendingJobExecution", THING)["execution"]
    assert (again["jobId"], again["versionNumber"]) == ("demo-job-1", 2)
    ok("UpdateJobExecution", {**THING, "jobId": "demo-job-1", "status": "FAILED"})
    assert ok("DescribeJobExecution", {**THING, "jobId": "$next"})["execution"]["jobId"] == "demo-job-2"
    ok("UpdateJobExecution", {**THING, "jobId": "demo-job-2", "status": "REJECTED"})
    assert ok("StartNextPendingJobExecution", THING) == {}
    assert ok("DescribeJobExecution", {**THING, "jobId": "$next"}) == {}


def test_step_timeout_times_the_execution_out(sandbox, clock):
    started = ok("StartNextPendingJobExecution", {**THING, "stepTimeoutInMinutes": 2})["execution"]
    assert started["approximateSecondsBeforeTimedOut"] == 120
    clock.advance(60)
    # Reporting progress with a new timeout resets the timer.
    ok("UpdateJobExecution", {**THING, "jobId": "demo-job-1", "status": "IN_PROGRESS", "stepTimeoutInMinutes": 1})
    clock.advance(59)
    assert describe("demo-job-1")["status"] == "IN_PROGRESS"
    clock.advance(2)
    timed_out = describe("demo-job-1")
    assert (timed_out["status"], timed_out["versionNumber"]) == ("TIMED_OUT", 4)
    result = run("UpdateJobExecution", {**THING, "jobId": "demo-job-1", "status": "SUCCEEDED"})
    assert result.code == 3 and "InvalidStateTransitionException" in result.stderr


def test_step_timeout_out_of_range_is_invalid_request(sandbox):
    answer = aws(sandbox, "iot-jobs-data", "PUT", "/things/demo-thing/jobs/$next", {"stepTimeoutInMinutes": 10081})
    assert answer.status_code == 400 and answer.headers["x-amzn-ErrorType"] == "InvalidRequestException"


def test_unknown_job_is_not_found(sandbox):
    result = run("DescribeJobExecution", {**THING, "jobId": "no-such-job"})
    assert result.code == 3 and "NotFound | HTTP 404 | ResourceNotFoundException" in result.stderr


def test_start_command_execution_is_idempotent_by_client_token(sandbox):
    body = {"targetArn": "arn:aws:iot:us-east-1:123456789012:thing/demo-thing",
            "commandArn": "arn:aws:iot:us-east-1:123456789012:command/demo-reboot", "clientToken": "token-1"}
    first = ok("StartCommandExecution", body)["executionId"]
    assert ok("StartCommandExecution", body)["executionId"] == first
    other = run("StartCommandExecution", {**body, "executionTimeoutSeconds": 30})
    assert other.code == 3 and "ConflictException" in other.stderr
    unknown = run("StartCommandExecution", {**body, "commandArn": "arn:aws:iot:us-east-1:123456789012:command/nope",
                                            "clientToken": "token-2"})
    assert unknown.code == 3 and "ResourceNotFoundException" in unknown.stderr


def test_botocore_speaks_to_the_sandbox(sandbox):
    """The AWS SDK's own signer and error parser agree with the sandbox, not only ours."""
    client = boto3.client("iot-jobs-data", endpoint_url=sandbox.url, region_name=DEFAULT_REGION,
                          aws_access_key_id=SANDBOX_ACCESS_KEY, aws_secret_access_key=SANDBOX_SECRET_KEY,
                          config=Config(retries={"max_attempts": 1}))
    described = client.describe_job_execution(thingName="demo-thing", jobId="$next")
    assert described["execution"]["jobId"] == "demo-job-1"
    started = client.start_next_pending_job_execution(thingName="demo-thing")["execution"]
    client.update_job_execution(thingName="demo-thing", jobId="demo-job-1", status="SUCCEEDED",
                                expectedVersion=started["versionNumber"])
    with pytest.raises(client.exceptions.InvalidStateTransitionException):
        client.update_job_execution(thingName="demo-thing", jobId="demo-job-1", status="IN_PROGRESS")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_job_execution(thingName="demo-thing", jobId="no-such-job")


def test_a_removed_execution_is_in_a_terminal_state(sandbox):
    with sandbox.store.lock:  # AWS removes an execution when its thing leaves the job's targets
        sandbox.store.data["iot-jobs-data"]["things"]["demo-thing"]["demo-job-2"]["status"] = "REMOVED"
    answer = aws(sandbox, "iot-jobs-data", "GET", "/things/demo-thing/jobs/demo-job-2")
    assert answer.status_code == 410 and answer.headers["x-amzn-ErrorType"] == "TerminalStateException"
    result = run("DescribeJobExecution", {**THING, "jobId": "demo-job-2"})
    assert result.code == 3 and "HTTP 410 | TerminalStateException" in result.stderr
    assert [j["jobId"] for j in ok("GetPendingJobExecutions", THING)["queuedJobs"]] == ["demo-job-1"]


def test_the_sandbox_accepts_the_keys_of_its_own_environment(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_SESSION_TOKEN)
    with running_sandbox(monkeypatch, credentials=None) as server:
        assert server.credentials.source == "environment"
        assert not any(FAKE_SECRET_KEY in line for line in server.shell_lines())  # never printed
        assert ok("GetPendingJobExecutions", THING)["queuedJobs"]
        monkeypatch.delenv("AWS_SESSION_TOKEN")
        result = run("GetPendingJobExecutions", THING)
        assert result.code == 3 and "UnrecognizedClientException" in result.stderr
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", SANDBOX_ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SANDBOX_SECRET_KEY)
        result = run("GetPendingJobExecutions", THING)  # the default pair is not accepted then
        assert result.code == 3 and "UnrecognizedClientException" in result.stderr


def test_request_date_is_read_as_strptime_reads_it_and_a_date_that_does_not_exist_is_a_400(sandbox):
    rng = random.Random(20)
    for _ in range(2000):
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(rng.randrange(0, 4_102_444_800)))
        assert _epoch(stamp) == calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ")), stamp
    for impossible in ("20261301T000000Z", "20260230T000000Z", "20260101T250000Z", "20260101T006100Z"):
        assert _epoch(impossible) is None
    answer = requests.get(sandbox.url + "/things/demo-thing/jobs", timeout=10, headers={
        "X-Amz-Date": "20261301T000000Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=" + SANDBOX_ACCESS_KEY + "/20261301/us-east-1/iot-jobs-data/"
                         "aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64})
    assert answer.status_code == 400
    assert answer.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"
