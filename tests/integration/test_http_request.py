"""http.Request, the raw request for an operation the connector does not model: signed for the chosen
service over real HTTP (the sandbox, a raw loopback server), bad input refused before anything is sent,
sent once after an ambiguous failure unless the method is GET or HEAD, secrets kept out of --verbose, the
answer bounded and emitted as {status, headers, body}."""

from __future__ import annotations

import json

import pytest

from jobs_connector.base.errors import EXIT_OUTCOME_UNKNOWN, UnexpectedResponse
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from tests.support.cli import run_cli
from tests.support.rawhttp import RawServer, Reset, Respond
from tests.support.sandbox import running_sandbox

GROUP = "arn:aws:iot:us-east-1:123456789012:thinggroup/demo-fleet"


def run(body: dict, *extra: str, cfg: dict | None = None):
    args = ["run", "http.Request", "--input", json.dumps(body), *extra]
    if cfg is not None:
        args += ["--config", json.dumps(cfg)]
    return run_cli(*args)


@pytest.fixture
def sandbox(monkeypatch):
    with running_sandbox(monkeypatch) as server:
        yield server


def test_signed_for_the_chosen_aws_service_and_read_back_through_the_modelled_action(sandbox):
    created = run({"service": "iot", "method": "PUT", "path": "/jobs/raw-job",
                   "body": {"targets": [GROUP], "document": json.dumps({"op": "reboot"})}})
    assert created.code == 0, created.stderr
    [message] = created.messages
    assert message["status"] == 200 and message["body"] == {
        "jobArn": "arn:aws:iot:us-east-1:123456789012:job/raw-job", "jobId": "raw-job"}
    assert set(message["headers"]) == {"content-type", "x-amzn-requestid"}

    described = run_cli("run", "iot.DescribeJob", "--input", json.dumps({"jobId": "raw-job"}))
    assert described.messages[0]["job"]["jobProcessDetails"]["numberOfQueuedThings"] == 2
    pending = run({"service": "iot-jobs-data", "method": "GET", "path": "/things/demo-device-1/jobs"})
    assert [j["jobId"] for j in pending.messages[0]["body"]["queuedJobs"]] == ["raw-job"]


def test_a_token_service_gets_its_token_and_errors_stay_typed(sandbox):
    listed = run({"service": "spaceone", "method": "POST", "path": "/identity/v2/job/list", "body": {}})
    assert listed.code == 0 and "results" in listed.messages[0]["body"]
    missing = run({"service": "iot", "method": "GET", "path": "/jobs/nope"})
    assert missing.code == 3 and "ResourceNotFoundException" in missing.stderr


def test_signing_name_and_region_can_be_chosen():
    dry = run({"service": "iot", "method": "GET", "path": "/prod/things", "signingName": "execute-api",
               "region": "eu-west-3", "query": {"tag": ["a b", "c"]}}, "--dry-run",
              cfg={"endpoint": "https://abc123.execute-api.eu-west-3.amazonaws.com", "region": "us-east-1",
                   "accessKeyId": "AKIDEXAMPLEFAKE00000", "secretAccessKey": "fake-secret-for-tests-only"})
    assert dry.code == 0, dry.stderr
    shown = json.loads(dry.stdout)
    assert "/eu-west-3/execute-api/aws4_request" in shown["headers"]["Authorization"]
    assert shown["url"] == "https://abc123.execute-api.eu-west-3.amazonaws.com/prod/things?tag=a%20b&tag=c"
    assert "fake-secret-for-tests-only" not in dry.stdout


@pytest.mark.parametrize(("body", "field", "rule"), [
    ({"method": "GET", "path": "/x", "headers": {"X-Note": "a\r\nInjected: 1"}}, "headers.X-Note", "pattern"),
    ({"method": "GET", "path": "/x", "headers": {"Authorization": "Bearer mine"}}, "headers.Authorization",
     "reserved-header"),
    ({"method": "GET", "path": "/x", "headers": {"x-amz-date": "20260101T000000Z"}}, "headers.x-amz-date",
     "reserved-header"),
    ({"method": "GET", "path": "/a/../admin"}, "path", "no-dot-segments"),
    ({"method": "GET", "path": "/x?y=1"}, "path", "pattern"),
    ({"method": "GET", "path": "no-slash"}, "path", "pattern"),
    ({"method": "GET", "path": "/x", "body": {"a": 1}}, "body", "no-body"),
    ({"method": "TRACE", "path": "/x"}, "method", "enum"),
    ({"method": "GET", "path": "/x", "service": "spaceone", "region": "eu-west-1"}, "region", "aws-only"),
    ({"method": "GET", "path": "/x", "service": "s3"}, "service", "enum"),
])
def test_bad_input_is_refused_before_sending(body, field, rule, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLEFAKE00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-for-tests-only")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with RawServer(lambda request: Respond(200, {})) as server:
        cfg = {"endpoint": server.url, "spaceoneEndpoint": server.url, "spaceoneApiKey": "fake-token-0000"}
        result = run({"service": "iot", **body}, cfg=cfg)
        assert server.requests == []
    assert result.code == 2, result.stderr
    assert f"field: {field}  rule: {rule}" in result.stderr


def test_plain_http_to_a_remote_host_is_refused(aws_env):
    result = run({"service": "iot", "method": "GET", "path": "/jobs"}, cfg={"endpoint": "http://example.com"})
    assert result.code == 2 and "rule: https-only" in result.stderr


@pytest.mark.parametrize(("method", "sent"), [("POST", 1), ("PUT", 1), ("DELETE", 1), ("GET", 4), ("HEAD", 4)])
def test_only_get_and_head_are_repeated_after_an_ambiguous_failure(method, sent, aws_env, no_sleep):
    with RawServer(lambda request: Reset()) as server:
        result = run({"service": "iot", "method": method, "path": "/jobs/x"}, cfg={"endpoint": server.url})
        assert len(server.requests) == sent
    if sent == 1:
        assert result.code == EXIT_OUTCOME_UNKNOWN and "look with http.Request" in result.stderr
    else:
        assert result.code == 4, result.stderr


def test_throttling_is_retried_for_any_method(aws_env, no_sleep):
    answers = iter([Respond(429, {"message": "slow down"}, {"x-amzn-ErrorType": "ThrottlingException"}),
                    Respond(200, {"ok": True})])
    with RawServer(lambda request: next(answers)) as server:
        result = run({"service": "iot", "method": "POST", "path": "/jobs/x", "body": {}}, cfg={"endpoint": server.url})
        assert len(server.requests) == 2
    assert result.code == 0 and result.messages[0]["body"] == {"ok": True}


def test_text_answers_selected_headers_and_secrets_kept_out_of_verbose(aws_env):
    secret = "header-secret-value-0000"
    reply = Respond(200, "plain words", {"Content-Type": "text/plain", "X-Custom": "kept", "X-Other": "dropped"})
    with RawServer(lambda request: reply) as server:
        result = run({"service": "iot", "method": "GET", "path": "/x", "headers": {"X-Api-Key": secret},
                      "responseHeaders": ["X-Custom"]}, "--verbose", cfg={"endpoint": server.url})
        [request] = server.requests
    assert request.header("X-Api-Key") == secret  # sent as given
    assert result.code == 0, result.stderr
    assert result.messages == [{"status": 200, "headers": {"content-type": "text/plain", "x-custom": "kept"},
                                "body": "plain words"}]
    assert "> X-Api-Key: ***" in result.stderr and secret not in result.stderr


def test_the_answer_is_bounded(aws_env):
    with RawServer(lambda request: Respond(200, "x" * 5000)) as server:
        runtime = Runtime(Transport(max_response_bytes=1000))
        with pytest.raises(UnexpectedResponse, match="larger than the 1000-byte bound"):
            list(runtime.run("http.Request", {"service": "iot", "method": "GET", "path": "/x"},
                             {"endpoint": server.url}))
