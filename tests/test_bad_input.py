"""Bad input is refused with exit 2, a message naming the field and the rule, and no request sent."""

import json

import pytest

from tests.support.cli import run_cli

UPDATE = "iot-jobs-data.UpdateJobExecution"
VALID = {"thingName": "pump-7", "jobId": "job-1", "status": "SUCCEEDED"}

CASES = [
    # (description, action, body, field, rule, words in the message)
    ("missing required", UPDATE, {"thingName": "t", "jobId": "j"}, "status", "required", "is required"),
    ("wrong type", UPDATE, {**VALID, "expectedVersion": "3"}, "expectedVersion", "type", "of type integer"),
    ("boolean as string", "iot-jobs-data.DescribeJobExecution",
     {"thingName": "t", "jobId": "j", "includeJobDocument": "yes"}, "includeJobDocument", "type", "boolean"),
    ("enum", UPDATE, {**VALID, "status": "DONE"}, "status", "enum", "one of QUEUED, IN_PROGRESS"),
    ("too long", UPDATE, {**VALID, "jobId": "j" * 65}, "jobId", "maxLength", "at most 64"),
    ("too short", UPDATE, {**VALID, "thingName": ""}, "thingName", "minLength", "at least 1"),
    ("path traversal", UPDATE, {**VALID, "thingName": "../x"}, "thingName", "pattern", "must match"),
    ("space", UPDATE, {**VALID, "jobId": "job 1"}, "jobId", "pattern", "must match"),
    ("CR/LF", UPDATE, {**VALID, "jobId": "job-1\r\nX-Injected: 1"}, "jobId", "pattern", "must match"),
    ("trailing newline", UPDATE, {**VALID, "thingName": "pump-7\n"}, "thingName", "pattern", "must match"),
    ("unknown field", UPDATE, {**VALID, "jobid": "j"}, "jobid", "unknown-field", "did you mean 'jobId'"),
    ("seed's Version is not an input", "iot-jobs-data.GetPendingJobExecutions",
     {"thingName": "t", "Version": "2017-09-29"}, "Version", "unknown-field", "not a known field"),
    ("seed's signature headers are not inputs", "iot-jobs-data.GetPendingJobExecutions",
     {"thingName": "t", "X-Amz-Signature": "abc"}, "X-Amz-Signature", "unknown-field", "not a known field"),
    ("map key pattern", UPDATE, {**VALID, "statusDetails": {"bad key": "v"}}, "statusDetails", "key-pattern",
     "has a key"),
    ("map value control char", UPDATE, {**VALID, "statusDetails": {"k": "a\u0007b"}}, "statusDetails.k",
     "pattern", "must match"),
    ("nested enum", "iot-jobs-data.StartCommandExecution",
     {"targetArn": "a", "commandArn": "b", "parameters": {"p": {"X": 1}}}, "parameters.p.X", "unknown-field",
     "not a known field"),
]


@pytest.mark.parametrize(("case", "action", "body", "field", "rule", "words"), CASES, ids=[c[0] for c in CASES])
def test_refused_before_any_request(aws_env, loopback, case, action, body, field, rule, words):
    result = run_cli("run", action, "--input", json.dumps(body), "--endpoint", loopback.url)
    assert result.code == 2, result.stderr
    assert loopback.requests == []
    assert result.stdout == ""
    assert f"field: {field}  rule: {rule}" in result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_body_must_be_an_object(aws_env, loopback):
    result = run_cli("run", UPDATE, "--input", "[1, 2]", "--endpoint", loopback.url)
    assert result.code == 2 and loopback.requests == []
    assert "must be a JSON object" in result.stderr


def test_invalid_json(aws_env):
    result = run_cli("run", UPDATE, "--input", "{thingName: x}")
    assert result.code == 2
    assert "input is not valid JSON" in result.stderr


def test_unknown_action_suggests(aws_env):
    result = run_cli("run", "iot-jobs-data.UpdateJobExecutions", "--input", "{}")
    assert result.code == 2
    assert "did you mean iot-jobs-data.UpdateJobExecution" in result.stderr


def test_plain_http_to_a_remote_host_is_refused(aws_env):
    result = run_cli("run", UPDATE, "--input", json.dumps(VALID), "--endpoint", "http://jobs.example.com")
    assert result.code == 2
    assert "rule: https-only" in result.stderr


def test_missing_credentials_is_a_configuration_error(monkeypatch, loopback):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    result = run_cli("run", UPDATE, "--input", json.dumps(VALID), "--endpoint", loopback.url)
    assert result.code == 2 and loopback.requests == []
    assert "ConfigurationError" in result.stderr and "no AWS credentials" in result.stderr


def test_bad_region_is_refused(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "evil.example.com/")
    result = run_cli("run", UPDATE, "--input", json.dumps(VALID))
    assert result.code == 2
    assert "field: region  rule: pattern" in result.stderr


def test_secret_field_values_are_not_echoed(aws_env, loopback):
    # clientToken is a plain field here; a field marked x-secret never has its value shown.
    from lib.errors import BadInput
    from lib.validation import validate_input

    schema = {"type": "object", "properties": {"key": {"type": "string", "pattern": "^[a-z]+$", "x-secret": True}}}
    with pytest.raises(BadInput) as caught:
        validate_input(schema, {"key": "SECRET-VALUE-123"})
    assert "SECRET-VALUE-123" not in str(caught.value)
    assert caught.value.field == "key"
