"""Bad input is refused with exit 2, a message naming the field and the rule, and no request sent."""

import json
import os

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
    from jobs_connector.base.errors import BadInput
    from jobs_connector.validation import validate_input

    schema = {"type": "object", "properties": {"key": {"type": "string", "pattern": "^[a-z]+$", "x-secret": True}}}
    with pytest.raises(BadInput) as caught:
        validate_input(schema, {"key": "SECRET-VALUE-123"})
    assert "SECRET-VALUE-123" not in str(caught.value)
    assert caught.value.field == "key"


# -- files, endpoints and JSON refused cleanly: exit 2, the file or field named, the reason, nothing sent ----------

OVERSIZED = 16 * 1024 * 1024 + 1


def _bad_files(tmp_path) -> dict:
    """name -> (path, words of the reason)"""
    (tmp_path / "binary.json").write_bytes(b'{"thingName": "t"}\x00\x01\x02')
    (tmp_path / "latin1.json").write_bytes('{"thingName": "pompe-\u00e9"}'.encode("latin-1"))
    with open(tmp_path / "huge.json", "wb") as fh:
        fh.truncate(OVERSIZED)  # sparse: no time spent writing it
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "a-directory").mkdir()
    return {
        "binary": (tmp_path / "binary.json", "is binary"),
        "not UTF-8": (tmp_path / "latin1.json", "is not UTF-8 text"),
        "oversized": (tmp_path / "huge.json", "is larger than 16 MiB"),
        "endless device": ("/dev/urandom", "is not a regular file"),
        "FIFO": (tmp_path / "fifo", "is not a regular file"),
        "directory": (tmp_path / "a-directory", "is not a regular file"),
        "missing": (tmp_path / "missing.json", "cannot be read: No such file or directory"),
    }


@pytest.mark.parametrize("option", ["--input", "--config"])
def test_unusable_files_are_refused_naming_the_file_and_the_reason(aws_env, loopback, tmp_path, option):
    for case, (path, reason) in _bad_files(tmp_path).items():
        other = "--config" if option == "--input" else "--input"
        other_value = json.dumps({"endpoint": loopback.url}) if other == "--config" else json.dumps(VALID)
        result = run_cli("run", UPDATE, option, f"@{path}", other, other_value)
        assert result.code == 2, (case, result.stderr)
        what = option.lstrip("-")
        assert f"{what} file {path} {reason}" in result.stderr, (case, result.stderr)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert loopback.requests == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "https://[::1", "https://host:abc", "https://[::1]:-1"])
def test_malformed_endpoints_are_configuration_errors(aws_env, loopback, monkeypatch, url):
    result = run_cli("run", UPDATE, "--input", json.dumps(VALID), "--endpoint", url)
    assert result.code == 2 and "ConfigurationError" in result.stderr, result.stderr
    assert "field: endpoint  rule: url" in result.stderr and "is not a valid URL" in result.stderr
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_JOBS_DATA", url)
    assert "field: AWS_ENDPOINT_URL_IOT_JOBS_DATA  rule: url" in run_cli("run", UPDATE, "--input",
                                                                          json.dumps(VALID)).stderr
    spaceone = run_cli("run", "spaceone.GetJob", "--input", json.dumps({"job_id": "job-1"}), "--config",
                       json.dumps({"spaceoneEndpoint": url, "spaceoneApiKey": "test-api-token-not-real-0000"}))
    assert spaceone.code == 2 and "field: spaceoneEndpoint  rule: url" in spaceone.stderr, spaceone.stderr
    assert loopback.requests == []


def test_duplicate_keys_are_refused_naming_the_key(aws_env, loopback, tmp_path):
    twice = '{"thingName": "pump-7", "jobId": "job-1", "status": "SUCCEEDED", "status": "FAILED"}'
    result = run_cli("run", UPDATE, "--input", twice, "--endpoint", loopback.url)
    assert result.code == 2 and "gives the key 'status' twice" in result.stderr
    assert "field: status  rule: duplicate-key" in result.stderr
    nested = json.dumps(VALID)[:-1] + ', "statusDetails": {"k": "a", "k": "b"}}'
    config = tmp_path / "config.json"
    config.write_text(f'{{"endpoint": "{loopback.url}", "region": "eu-west-1", "region": "us-east-1"}}')
    assert "gives the key 'k' twice" in run_cli("run", UPDATE, "--input", nested, "--endpoint", loopback.url).stderr
    from_file = run_cli("run", UPDATE, "--input", json.dumps(VALID), "--config", f"@{config}")
    assert from_file.code == 2 and f"config file {config} gives the key 'region' twice" in from_file.stderr
    assert loopback.requests == []


def test_the_sandbox_shows_no_traceback_for_clients_that_go_away(tmp_path):
    import re
    import signal
    import socket
    import struct
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    log = tmp_path / "sandbox.log"
    with open(log, "w") as err:
        process = subprocess.Popen([sys.executable, "-m", "lib", "sandbox", "--port", "0", "--quiet"], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)", process.stdout.readline()).group(1))

        def reset_after(data: bytes, read_first: bool = False) -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(data)
                if read_first:
                    time.sleep(0.2)
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST on close

        head = b"POST /identity/v2/job/get HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        reset_after(head + b"Content-Length: 1000\r\n\r\n{\"job")  # gone in the middle of the body
        reset_after(b"GET /things/demo-thing/jobs HTTP/1.1\r\nHost: x\r\n")  # gone in the middle of the head
        for _ in range(20):  # gone before reading the answer
            reset_after(head + b"Content-Length: 2\r\n\r\n{}", read_first=True)
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    stderr = log.read_text()
    assert "Traceback" not in stderr and "ConnectionResetError" not in stderr, stderr
