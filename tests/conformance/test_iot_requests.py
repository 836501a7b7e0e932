"""Every IoT Jobs data-plane action sends exactly the expected request, signed as botocore signs it."""

import json

import pytest
import responses

from jobs_connector.runtime import Runtime
from tests.conftest import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FAKE_SESSION_TOKEN, REGION
from tests.support.reference import botocore_authorization, fixed_clock

BASE = f"https://data.jobs.iot.{REGION}.amazonaws.com"

CASES = [
    # (action, input, method, path+query, JSON body or None)
    ("GetPendingJobExecutions", {"thingName": "pump-7"}, "GET", "/things/pump-7/jobs", None),
    ("StartNextPendingJobExecution", {"thingName": "pump-7", "statusDetails": {"step": "download"},
                                      "stepTimeoutInMinutes": 15},
     "PUT", "/things/pump-7/jobs/$next", {"statusDetails": {"step": "download"}, "stepTimeoutInMinutes": 15}),
    ("StartNextPendingJobExecution", {"thingName": "pump-7"}, "PUT", "/things/pump-7/jobs/$next", {}),
    ("DescribeJobExecution", {"thingName": "arn:thing_1", "jobId": "$next", "includeJobDocument": False,
                              "executionNumber": 4},
     "GET", "/things/arn%3Athing_1/jobs/%24next?includeJobDocument=false&executionNumber=4", None),
    ("UpdateJobExecution", {"thingName": "pump-7", "jobId": "job-1", "status": "SUCCEEDED", "expectedVersion": 3,
                            "includeJobExecutionState": True},
     "POST", "/things/pump-7/jobs/job-1",
     {"status": "SUCCEEDED", "expectedVersion": 3, "includeJobExecutionState": True}),
    ("StartCommandExecution", {"targetArn": "arn:aws:iot:eu-west-1:1:thing/t", "commandArn": "arn:c",
                               "parameters": {"speed": {"I": 3}}, "clientToken": "token-1"},
     "POST", "/command-executions",
     {"targetArn": "arn:aws:iot:eu-west-1:1:thing/t", "commandArn": "arn:c", "parameters": {"speed": {"I": 3}},
      "clientToken": "token-1"}),
]


@pytest.mark.parametrize(("operation", "body", "method", "path", "payload"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("with_token", [False, True], ids=["keys", "session-token"])
@responses.activate
def test_request_and_signature(aws_env, monkeypatch, operation, body, method, path, payload, with_token):
    if with_token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_SESSION_TOKEN)
    responses.add(method, BASE + path.split("?")[0], json={}, status=200)
    messages = list(Runtime(clock=fixed_clock).run(f"iot-jobs-data.{operation}", body))
    assert messages == [{}]
    [call] = responses.calls
    sent = call.request
    assert sent.method == method
    assert sent.url == BASE + path
    if payload is None:
        assert not sent.body
        assert "Content-Type" not in sent.headers
    else:
        assert json.loads(sent.body) == payload
        assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["X-Amz-Date"] == "20261123T120000Z"
    assert sent.headers.get("X-Amz-Security-Token") == (FAKE_SESSION_TOKEN if with_token else None)
    assert "x-amz-content-sha256" not in {k.lower() for k in sent.headers}
    expected = botocore_authorization(sent, FAKE_ACCESS_KEY, FAKE_SECRET_KEY,
                                      FAKE_SESSION_TOKEN if with_token else None, REGION, "iot-jobs-data")
    assert sent.headers["Authorization"] == expected


@responses.activate
def test_start_command_execution_fills_a_client_token(aws_env):
    responses.add("POST", BASE + "/command-executions", json={"executionId": "e-1"})
    body = {"targetArn": "arn:t", "commandArn": "arn:c"}
    assert list(Runtime().run("iot-jobs-data.StartCommandExecution", body)) == [{"executionId": "e-1"}]
    token = json.loads(responses.calls[0].request.body)["clientToken"]
    assert len(token) == 36 and token.count("-") == 4


@responses.activate
def test_endpoint_precedence(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://generic.example.test")
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_JOBS_DATA", "https://jobs.example.test/")
    responses.add("GET", "https://jobs.example.test/things/t/jobs", json={})
    responses.add("GET", "https://config.example.test/things/t/jobs", json={})
    list(Runtime().run("iot-jobs-data.GetPendingJobExecutions", {"thingName": "t"}))
    list(Runtime().run("iot-jobs-data.GetPendingJobExecutions", {"thingName": "t"},
                       {"endpoint": "https://config.example.test"}))
    assert [c.request.url for c in responses.calls] == ["https://jobs.example.test/things/t/jobs",
                                                         "https://config.example.test/things/t/jobs"]


@responses.activate
def test_output_drift_is_a_warning_and_the_answer_is_emitted(aws_env):
    responses.add("GET", BASE + "/things/t/jobs", json={"queuedJobs": [{"jobId": 5}]})
    warnings = []
    messages = list(Runtime().run("iot-jobs-data.GetPendingJobExecutions", {"thingName": "t"}, warn=warnings.append))
    assert messages == [{"queuedJobs": [{"jobId": 5}]}]
    assert len(warnings) == 1 and "queuedJobs[0].jobId" in warnings[0] and "must be of type string" in warnings[0]
