"""The sandbox refuses what the AWS models forbid, as the services do: boto3 with its own validation off sends
each request over real HTTP, and the sandbox answers the service's validation error, in the service's words.
(tests/conformance/test_sandbox_model_constraints.py sends one request per constraint of every operation.)"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from jobs_connector.sandbox import DEFAULT_REGION, SANDBOX_ACCESS_KEY, SANDBOX_SECRET_KEY
from tests.support.sandbox import aws, running_sandbox

THING_ARN = "arn:aws:iot:us-east-1:123456789012:thing/demo-thing"


@pytest.fixture(scope="module")
def sandbox():
    with running_sandbox() as running:
        yield running


def client(sandbox, service: str):
    return boto3.client(service, endpoint_url=sandbox.url, region_name=DEFAULT_REGION,
                        aws_access_key_id=SANDBOX_ACCESS_KEY, aws_secret_access_key=SANDBOX_SECRET_KEY,
                        config=Config(parameter_validation=False, retries={"max_attempts": 1}))


def refusal(call) -> dict:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return response["Error"]


def test_the_issues_examples_are_refused_in_the_services_words(sandbox):
    iot = client(sandbox, "iot")
    assert refusal(lambda: iot.create_job(jobId="no-targets", targets=[], document="{}")) == {
        "Code": "InvalidRequestException",
        "Message": "1 validation error detected: Value '[]' at 'targets' failed to satisfy constraint: "
                   "Member must have length greater than or equal to 1"}
    assert refusal(lambda: iot.create_job(jobId="a job", targets=[THING_ARN], document="{}"))["Message"] == (
        "1 validation error detected: Value 'a job' at 'jobId' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+")
    abort = {"criteriaList": [{"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 101,
                               "minNumberOfExecutedThings": 1}]}
    assert refusal(lambda: iot.create_job(jobId="abort-101", targets=[THING_ARN], document="{}",
                                          abortConfig=abort))["Message"] == (
        "1 validation error detected: Value '101' at 'abortConfig.criteriaList.1.member.thresholdPercentage' "
        "failed to satisfy constraint: Member must have value less than or equal to 100")
    error = refusal(lambda: iot.list_jobs(status="FINISHED"))
    assert error["Code"] == "InvalidRequestException"
    assert error["Message"].endswith("at 'status' failed to satisfy constraint: Member must satisfy enum value set: "
                                     "[IN_PROGRESS, CANCELED, COMPLETED, DELETION_IN_PROGRESS, SCHEDULED]")
    big = json.dumps({"blob": "x" * 33 * 1024})
    error = refusal(lambda: iot.create_job_template(jobTemplateId="big", description="d", document=big))
    assert error["Message"].endswith("at 'document' failed to satisfy constraint: "
                                     "Member must have length less than or equal to 32768")
    assert len(error["Message"]) < 500  # the document is not echoed whole
    assert "big" not in iot.list_job_templates()["jobTemplates"]  # nothing was created
    assert all(job["jobId"] not in ("no-targets", "abort-101") for job in iot.list_jobs()["jobs"])


def test_every_broken_constraint_is_listed_and_a_valid_request_still_succeeds(sandbox):
    iot = client(sandbox, "iot")
    error = refusal(lambda: iot.list_jobs(status="FINISHED", targetSelection="SOMETIMES", maxResults=251))
    assert error["Message"].startswith("3 validation errors detected: Value '251' at 'maxResults' failed to satisfy "
                                       "constraint: Member must have value less than or equal to 250; ")
    created = iot.create_job(jobId="valid-job", targets=[THING_ARN], document="{}")
    assert created["jobId"] == "valid-job"


def test_a_missing_member_is_named_with_value_null(sandbox):
    error = refusal(lambda: client(sandbox, "panorama").create_job_for_devices(DeviceIds=["device-1"]))
    assert error == {"Code": "ValidationException",
                     "Message": "1 validation error detected: Value null at 'JobType' failed to satisfy constraint: "
                                "Member must not be null"}


def test_the_data_plane_and_codepipeline_in_their_own_shapes(sandbox):
    error = refusal(lambda: client(sandbox, "iot-jobs-data").update_job_execution(
        thingName="demo-thing", jobId="demo-job-1", status="DONE"))
    assert error["Code"] == "InvalidRequestException" and "Value 'DONE' at 'status'" in error["Message"]
    answer = aws(sandbox, "codepipeline", "POST", "/", {"actionTypeId": {
        "category": "Nope", "owner": "ThirdParty", "provider": "SandboxDeployer", "version": "1"}},
        target="CodePipeline_20150709.PollForThirdPartyJobs")
    assert answer.status_code == 400 and answer.headers["x-amzn-ErrorType"] == "ValidationException"
    body = answer.json()
    assert body["__type"] == "ValidationException"
    assert body["message"].startswith("1 validation error detected: Value 'Nope' at 'actionTypeId.category' failed")


def test_a_secret_member_is_never_quoted(sandbox):
    token = "sekrit-" + "s" * 300
    error = refusal(lambda: client(sandbox, "codepipeline").get_third_party_job_details(
        jobId="job-1", clientToken=token))
    assert error["Message"] == ("1 validation error detected: Value at 'clientToken' failed to satisfy constraint: "
                                "Member must have length less than or equal to 256")


def test_a_member_the_model_does_not_know_is_ignored_as_the_services_ignore_it(sandbox):
    answer = aws(sandbox, "iot", "GET", "/jobs", query={"status": "IN_PROGRESS", "colour": "blue"})
    assert answer.status_code == 200, answer.text


def test_a_null_member_is_a_member_left_out(sandbox):
    answer = aws(sandbox, "iot", "PUT", "/jobs/null-description", {
        "targets": [THING_ARN], "document": "{}", "description": None})
    assert answer.status_code == 200, answer.text
    missing = aws(sandbox, "iot", "PUT", "/jobs/null-targets", {"targets": None, "document": "{}"})
    assert missing.status_code == 400 and "Value null at 'targets'" in missing.json()["message"]
