"""AWS CodePipeline third-party job worker: requests, signatures, errors, secrets, bad input, the whole cycle."""

from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import os
import uuid

import pytest
import responses

from jobs_connector.base.errors import AuthError, Conflict, NotFound, RequestRejected, ServiceUnavailable, Throttled
from jobs_connector.component import registry
from jobs_connector.runtime import Runtime, process
from tests.conftest import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FAKE_SESSION_TOKEN
from tests.support.botocore_reference import amz_date, assert_same_as_botocore, botocore_request
from tests.support.cli import run_cli
from tests.support.loopback import Reply

ENDPOINT = "https://codepipeline.eu-west-1.amazonaws.com"
FIXED = _dt.datetime(2026, 7, 1, 9, 15, 0, tzinfo=_dt.UTC)
TARGET = "CodePipeline_20150709"
OPERATIONS = ("PollForThirdPartyJobs", "GetThirdPartyJobDetails", "AcknowledgeThirdPartyJob",
              "PutThirdPartyJobSuccessResult", "PutThirdPartyJobFailureResult")

JOB_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
ACTION_TYPE = {"category": "Deploy", "owner": "ThirdParty", "provider": "MyDeployer", "version": "1"}

# Planted secrets: none of them may ever reach stderr, an error message or --dry-run output.
CLIENT_TOKEN = "planted-client-token-not-real-0001"
ARTIFACT_KEY_ID = "ASIAPLANTEDFAKEKEY01"
ARTIFACT_SECRET = "planted-artifact-secret-not-real-0001"
ARTIFACT_SESSION = "planted-artifact-session-token-not-real-0001"
CONFIG_SECRET = "planted-config-secret-value-not-real-0001"
PLANTED = (CLIENT_TOKEN, ARTIFACT_KEY_ID, ARTIFACT_SECRET, ARTIFACT_SESSION, CONFIG_SECRET,
           FAKE_SESSION_TOKEN, FAKE_SECRET_KEY)


def job_details(job_id: str = JOB_ID, nonce: str = "17", continuation: str | None = None) -> dict:
    data = {
        "actionTypeId": ACTION_TYPE,
        "actionConfiguration": {"configuration": {"ApiKey": CONFIG_SECRET, "Environment": "production-eu"}},
        "pipelineContext": {"pipelineName": "shop-release", "stage": {"name": "Deploy"},
                            "action": {"name": "DeployToCluster", "actionExecutionId": "exec-0001"}},
        "inputArtifacts": [{"name": "BuildOutput", "revision": "rev-42",
                            "location": {"type": "S3", "s3Location": {"bucketName": "artifact-bucket",
                                                                      "objectKey": "shop/BuildOutput/abc.zip"}}}],
        "outputArtifacts": [],
        "artifactCredentials": {"accessKeyId": ARTIFACT_KEY_ID, "secretAccessKey": ARTIFACT_SECRET,
                                "sessionToken": ARTIFACT_SESSION},
        "encryptionKey": {"id": "arn:aws:kms:eu-west-1:111122223333:key/demo", "type": "KMS"},
    }
    if continuation:
        data["continuationToken"] = continuation
    return {"jobDetails": {"id": job_id, "data": data, "nonce": nonce}}


def _load_tool():
    path = os.path.join(registry.ROOT, "tools", "aws_schemas.py")
    spec = importlib.util.spec_from_file_location("aws_schemas_tool", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- schemas, registry, describe -------------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS)
def test_schemas_agree_with_the_botocore_model(operation):
    action = registry.get_action(f"codepipeline.{operation}")
    in_schema, out_schema, binding = _load_tool().operation_schemas("codepipeline", operation)
    assert action.in_schema == in_schema
    assert action.out_schema == out_schema
    assert (binding["METHOD"], binding["PATH"], binding["QUERY"], binding["HEADERS"]) == ("POST", "/", {}, {})
    assert action.spec("METHOD") is None and action.spec("PATH") is None  # json-1.1: POST / for all
    assert action.spec("PAGING") is None  # none of the five pages
    assert "fields" not in action.entry and "deprecated" not in action.entry
    assert isinstance(action.spec("IDEMPOTENT"), bool)


def test_secret_fields_are_marked():
    for operation in OPERATIONS[1:]:
        schema = registry.get_action(f"codepipeline.{operation}").in_schema
        assert schema["properties"]["clientToken"]["x-secret"] is True, operation
        assert "clientToken" in schema["required"]
    data = registry.get_action("codepipeline.GetThirdPartyJobDetails").out_schema[
        "properties"]["jobDetails"]["properties"]["data"]["properties"]
    assert data["artifactCredentials"]["x-secret"] is True
    configuration = data["actionConfiguration"]["properties"]["configuration"]
    assert configuration["additionalProperties"]["x-secret"] is True
    assert not configuration.get("x-secret")  # the keys stay readable, the values do not
    assert not data["continuationToken"].get("x-secret")


@pytest.mark.parametrize("operation", OPERATIONS)
def test_describe_shows_the_worker_loop_and_a_valid_example(operation):
    key = f"codepipeline.{operation}"
    result = run_cli("describe", key)
    assert result.code == 0
    for step in ("PollForThirdPartyJobs", "GetThirdPartyJobDetails", "AcknowledgeThirdPartyJob",
                 "PutThirdPartyJobSuccessResult", "PutThirdPartyJobFailureResult", "nonce", "continuationToken"):
        assert step in result.stdout
    assert "<- this step" in result.stdout
    assert "DEPRECATED" not in result.stdout
    from jobs_connector.validation import validate_input

    validate_input(registry.get_action(key).in_schema, registry.get_action(key).spec("EXAMPLE"))


# -- the expected requests, signed as botocore signs them ------------------------------------------

REQUESTS = [
    ("PollForThirdPartyJobs", {"actionTypeId": ACTION_TYPE, "maxBatchSize": 5},
     {"jobs": [{"jobId": JOB_ID, "clientId": CLIENT_ID}]}),
    ("GetThirdPartyJobDetails", {"jobId": JOB_ID, "clientToken": CLIENT_TOKEN}, job_details()),
    ("AcknowledgeThirdPartyJob", {"jobId": JOB_ID, "nonce": "17", "clientToken": CLIENT_TOKEN},
     {"status": "InProgress"}),
    ("PutThirdPartyJobSuccessResult", {
        "jobId": JOB_ID, "clientToken": CLIENT_TOKEN,
        "currentRevision": {"revision": "rev-42", "changeIdentifier": "change-7", "created": 1782897300,
                            "revisionSummary": "Build 42"},
        "continuationToken": "deploy-42",
        "executionDetails": {"summary": "Deploying", "externalExecutionId": "deploy-42", "percentComplete": 40}},
     {}),
    ("PutThirdPartyJobFailureResult", {
        "jobId": JOB_ID, "clientToken": CLIENT_TOKEN,
        "failureDetails": {"type": "JobFailed", "message": "health check timed out", "externalExecutionId": "d-42"}},
     {}),
]


@pytest.mark.parametrize("operation, body, answer", REQUESTS, ids=[r[0] for r in REQUESTS])
@pytest.mark.parametrize("token", [None, FAKE_SESSION_TOKEN], ids=["keys", "session-token"])
def test_request_matches_botocore(aws_env, monkeypatch, operation, body, answer, token):
    if token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    with responses.RequestsMock() as mock:
        mock.add("POST", ENDPOINT + "/", json=answer, content_type="application/x-amz-json-1.1")
        out = list(Runtime(clock=lambda: FIXED).run(f"codepipeline.{operation}", body, {}))
        [call] = mock.calls
    sent = call.request
    assert out == [answer]  # the data message keeps every secret the next step needs
    assert (sent.method, sent.url) == ("POST", ENDPOINT + "/")
    assert sent.headers["X-Amz-Target"] == f"{TARGET}.{operation}"
    assert sent.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert json.loads(sent.body) == body
    assert "/20260701/eu-west-1/codepipeline/aws4_request" in sent.headers["Authorization"]
    signed = sent.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"content-type", "host", "x-amz-date", "x-amz-target"} <= set(signed)
    reference = botocore_request("codepipeline", operation, body, ENDPOINT, FIXED, token=token)
    assert_same_as_botocore(sent.method, sent.url, sent.headers, sent.body, reference)


# -- errors ----------------------------------------------------------------------------------------

ERRORS = [
    (400, "ValidationException", RequestRejected, 3),
    (400, "JobNotFoundException", NotFound, 3),
    (400, "InvalidNonceException", Conflict, 3),
    (400, "InvalidJobStateException", Conflict, 3),
    (400, "InvalidClientTokenException", AuthError, 3),
    (400, "ActionTypeNotFoundException", NotFound, 3),
    (400, "ThrottlingException", Throttled, 4),
    (403, "InvalidSignatureException", AuthError, 3),
    (404, None, NotFound, 3),
    (409, None, Conflict, 3),
    (500, "InternalFailure", ServiceUnavailable, 4),
]


@pytest.mark.parametrize("status, code, error_type, exit_code", ERRORS,
                         ids=[f"{e[0]}-{e[1]}" for e in ERRORS])
def test_errors_map_to_the_typed_hierarchy(aws_env, no_sleep, status, code, error_type, exit_code):
    payload = {"message": f"it went wrong ({status})"}
    if code:
        payload["__type"] = f"com.amazonaws.codepipeline#{code}"
    body = {"jobId": JOB_ID, "nonce": "17", "clientToken": CLIENT_TOKEN}
    with responses.RequestsMock() as mock:
        mock.add("POST", ENDPOINT + "/", status=status, json=payload, headers={"x-amzn-RequestId": "rid-9"})
        result = run_cli("run", "codepipeline.AcknowledgeThirdPartyJob", "--input", json.dumps(body))
        attempts = len(mock.calls)
    assert result.code == exit_code
    assert result.stderr.startswith(f"error: {error_type.__name__} | HTTP {status}")
    if code:
        assert f"| {code} |" in result.stderr
    assert "request-id rid-9" in result.stderr
    assert attempts == (4 if error_type in (Throttled, ServiceUnavailable) else 1)
    assert CLIENT_TOKEN not in result.stderr


def test_a_repeated_result_after_a_lost_answer_is_refused_not_recorded_twice(aws_env, no_sleep):
    """Put*Result is retried: the repeat cannot record a second result, CodePipeline refuses it."""
    body = {"jobId": JOB_ID, "clientToken": CLIENT_TOKEN}
    with responses.RequestsMock() as mock:
        mock.add("POST", ENDPOINT + "/", status=500, json={"__type": "InternalFailure"})
        mock.add("POST", ENDPOINT + "/", status=400, json={"__type": "InvalidJobStateException",
                                                            "message": "Job is in a terminal state"})
        with pytest.raises(Conflict) as caught:
            list(Runtime().run("codepipeline.PutThirdPartyJobSuccessResult", body, {}))
        assert len(mock.calls) == 2
    assert caught.value.attempts == 2


def test_error_message_echoing_the_client_token_is_scrubbed(aws_env):
    with responses.RequestsMock() as mock:
        mock.add("POST", ENDPOINT + "/", status=400, json={
            "__type": "InvalidClientTokenException", "message": f"client token {CLIENT_TOKEN} is not valid"})
        result = run_cli("run", "codepipeline.GetThirdPartyJobDetails", "--input",
                         json.dumps({"jobId": JOB_ID, "clientToken": CLIENT_TOKEN}))
    assert result.code == 3
    assert "client token *** is not valid" in result.stderr
    assert CLIENT_TOKEN not in result.stderr

    emitted = []
    with responses.RequestsMock() as mock:
        mock.add("POST", ENDPOINT + "/", status=400, json={
            "__type": "InvalidClientTokenException", "message": f"client token {CLIENT_TOKEN} is not valid"})
        process("codepipeline.GetThirdPartyJobDetails", {"body": {"jobId": JOB_ID, "clientToken": CLIENT_TOKEN}},
                {}, lambda kind, data: emitted.append((kind, data)))
    assert emitted[0][0] == "error" and CLIENT_TOKEN not in json.dumps(emitted)


@pytest.mark.parametrize("broken", [
    {"configuration": [CONFIG_SECRET]},  # a list where a map is promised: the value must not be quoted
    {"configuration": {"ApiKey": CONFIG_SECRET * 30}},  # a value longer than 1000 characters
], ids=["configuration-not-a-map", "configuration-value-too-long"])
def test_a_drifted_answer_is_emitted_and_its_warning_does_not_quote_secrets(aws_env, broken):
    answer = job_details()
    answer["jobDetails"]["data"]["actionConfiguration"] = broken
    warnings = []
    with responses.RequestsMock() as mock:
        mock.add("POST", ENDPOINT + "/", json=answer)
        messages = list(Runtime().run("codepipeline.GetThirdPartyJobDetails",
                                      {"jobId": JOB_ID, "clientToken": CLIENT_TOKEN}, {}, warn=warnings.append))
    assert messages == [answer]  # the service's word, as sent
    assert any("jobDetails.data.actionConfiguration.configuration" in w for w in warnings), warnings
    assert CONFIG_SECRET[:8] not in " ".join(warnings)


# -- redaction: --verbose and --dry-run ------------------------------------------------------------


@pytest.fixture
def secret_env(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_SESSION_TOKEN)


def test_verbose_never_shows_secrets_but_the_data_message_keeps_them(secret_env, loopback):
    loopback.script.append(Reply(200, job_details(), {"Content-Type": "application/x-amz-json-1.1"}))
    result = run_cli("run", "codepipeline.GetThirdPartyJobDetails", "--verbose", "--endpoint", loopback.url,
                     "--input", json.dumps({"jobId": JOB_ID, "clientToken": CLIENT_TOKEN}))
    assert result.code == 0, result.stderr
    for secret in PLANTED:
        assert secret not in result.stderr, secret
    # The trace is there, redacted rather than left out.
    assert "> POST " in result.stderr and "< HTTP 200" in result.stderr
    assert f"X-Amz-Target: {TARGET}.GetThirdPartyJobDetails" in result.stderr
    assert '"ApiKey": "***"' in result.stderr and '"Environment": "***"' in result.stderr
    assert '"artifactCredentials": "***"' in result.stderr
    assert '"clientToken": "***"' in result.stderr
    assert "X-Amz-Security-Token: ***" in result.stderr
    assert '"pipelineName": "shop-release"' in result.stderr
    [message] = result.messages
    assert message == job_details()
    data = message["jobDetails"]["data"]
    assert data["artifactCredentials"]["secretAccessKey"] == ARTIFACT_SECRET
    assert data["artifactCredentials"]["sessionToken"] == ARTIFACT_SESSION
    assert data["actionConfiguration"]["configuration"]["ApiKey"] == CONFIG_SECRET
    [request] = loopback.requests
    assert request.headers["X-Amz-Security-Token"] == FAKE_SESSION_TOKEN  # sent, only never shown
    assert json.loads(request.body)["clientToken"] == CLIENT_TOKEN


def test_verbose_failure_never_shows_secrets(secret_env, loopback, no_sleep):
    loopback.script += [Reply(500, {"__type": "InternalFailure", "message": f"boom {CLIENT_TOKEN}"}),
                        Reply(400, {"__type": "JobNotFoundException", "message": "no such job"})]
    result = run_cli("run", "codepipeline.PutThirdPartyJobFailureResult", "--verbose", "--endpoint", loopback.url,
                     "--input", json.dumps({"jobId": JOB_ID, "clientToken": CLIENT_TOKEN,
                                            "failureDetails": {"type": "JobFailed", "message": "failed"}}))
    assert result.code == 3
    assert "retrying in" in result.stderr and "error: NotFound" in result.stderr
    for secret in PLANTED:
        assert secret not in result.stderr, secret


@pytest.mark.parametrize("operation, body", [(op, body) for op, body, _ in REQUESTS if "clientToken" in body],
                         ids=[r[0] for r in REQUESTS if "clientToken" in r[1]])
def test_dry_run_never_shows_secrets_and_sends_nothing(secret_env, operation, body):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add("POST", ENDPOINT + "/", json={})
        result = run_cli("run", f"codepipeline.{operation}", "--dry-run", "--input", json.dumps(body))
        assert len(mock.calls) == 0
    assert result.code == 0, result.stderr
    for secret in PLANTED:
        assert secret not in result.stdout + result.stderr, secret
    shown = json.loads(result.stdout)
    assert shown["body"]["clientToken"] == "***"
    assert shown["body"]["jobId"] == JOB_ID
    assert shown["headers"]["X-Amz-Target"] == f"{TARGET}.{operation}"
    assert shown["headers"]["X-Amz-Security-Token"] == "***"
    assert FAKE_ACCESS_KEY not in result.stdout


# -- bad input: exit 2, nothing sent ---------------------------------------------------------------

BAD = [
    ("GetThirdPartyJobDetails", {"jobId": JOB_ID}, "clientToken", "required"),
    ("AcknowledgeThirdPartyJob", {"jobId": JOB_ID, "nonce": "17"}, "clientToken", "required"),
    ("PutThirdPartyJobSuccessResult", {"jobId": JOB_ID}, "clientToken", "required"),
    ("PutThirdPartyJobFailureResult", {"jobId": JOB_ID, "failureDetails": {"type": "JobFailed", "message": "x"}},
     "clientToken", "required"),
    ("AcknowledgeThirdPartyJob", {"jobId": JOB_ID, "clientToken": CLIENT_TOKEN}, "nonce", "required"),
    ("GetThirdPartyJobDetails", {"jobId": JOB_ID, "clientToken": CLIENT_TOKEN + "x" * 256}, "clientToken",
     "maxLength"),
    ("GetThirdPartyJobDetails", {"jobId": JOB_ID, "clientToken": ""}, "clientToken", "minLength"),
    ("PutThirdPartyJobFailureResult", {"jobId": JOB_ID, "clientToken": CLIENT_TOKEN,
                                       "failureDetails": {"type": "Oops", "message": "x"}},
     "failureDetails.type", "enum"),
    ("PutThirdPartyJobSuccessResult", {"jobId": JOB_ID, "clientToken": CLIENT_TOKEN,
                                       "executionDetails": {"percentComplete": 101}},
     "executionDetails.percentComplete", "maximum"),
    ("PollForThirdPartyJobs", {"actionTypeId": {**ACTION_TYPE, "owner": "Someone"}}, "actionTypeId.owner", "enum"),
    ("PollForThirdPartyJobs", {"actionTypeId": ACTION_TYPE, "maxBatchSize": 0}, "maxBatchSize", "minimum"),
    ("PollForThirdPartyJobs", {}, "actionTypeId", "required"),
    ("PollForThirdPartyJobs", {"actionTypeId": ACTION_TYPE, "nextToken": "x"}, "nextToken", "unknown-field"),
]


@pytest.mark.parametrize("operation, body, field, rule", BAD, ids=[f"{b[0]}-{b[2]}-{b[3]}" for b in BAD])
def test_bad_input_is_refused_before_sending(secret_env, operation, body, field, rule):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add("POST", ENDPOINT + "/", json={})
        result = run_cli("run", f"codepipeline.{operation}", "--input", json.dumps(body))
        assert len(mock.calls) == 0
    assert result.code == 2
    assert f"field: {field}  rule: {rule}" in result.stderr
    assert CLIENT_TOKEN not in result.stderr  # a refused secret is named, never quoted


# -- the whole worker cycle over real HTTP ---------------------------------------------------------


class FakeCodePipeline:
    """A stateful stand-in for CodePipeline's third-party job API, served on loopback.

    It checks what the real service checks on this path (target, content type, client token, nonce,
    one result per job) and, like CodePipeline, turns a success reported with a continuation token into
    a new job whose details carry that token.
    """

    def __init__(self):
        self.jobs: dict[str, dict] = {}
        self.results: list[tuple[str, str, dict]] = []

    def queue(self, continuation: str | None = None) -> str:
        job_id = str(uuid.uuid4())
        self.jobs[job_id] = {"status": "Queued", "nonce": str(len(self.jobs) + 1), "continuation": continuation}
        return job_id

    def __call__(self, request) -> Reply:
        target = request.headers.get("X-Amz-Target", "")
        if request.path != "/" or request.headers.get("Content-Type") != "application/x-amz-json-1.1" \
                or not target.startswith(TARGET + "."):
            return self._error("UnknownOperationException")
        operation, body = target.split(".", 1)[1], request.json()
        reference = botocore_request("codepipeline", operation, body, "http://" + request.headers["Host"],
                                     amz_date(request.headers["X-Amz-Date"]),
                                     token=request.headers.get("X-Amz-Security-Token"))
        if request.headers.get("Authorization") != reference.headers["Authorization"]:
            return self._error("InvalidSignatureException", 403)
        if operation == "PollForThirdPartyJobs":
            if body["actionTypeId"] != ACTION_TYPE:
                return self._error("ActionTypeNotFoundException")
            waiting = [j for j, s in self.jobs.items() if s["status"] == "Queued"][: body.get("maxBatchSize", 1)]
            return Reply(200, {"jobs": [{"jobId": j, "clientId": CLIENT_ID} for j in waiting]})
        job = self.jobs.get(body["jobId"])
        if job is None:
            return self._error("JobNotFoundException")
        if body["clientToken"] != CLIENT_TOKEN:
            return self._error("InvalidClientTokenException")
        if operation == "GetThirdPartyJobDetails":
            return Reply(200, job_details(body["jobId"], job["nonce"], job["continuation"]))
        if operation == "AcknowledgeThirdPartyJob":
            if body["nonce"] != job["nonce"]:
                return self._error("InvalidNonceException")
            job["status"] = "InProgress"
            return Reply(200, {"status": "InProgress"})
        if job["status"] != "InProgress":
            return self._error("InvalidJobStateException")
        job["status"] = "Succeeded" if operation == "PutThirdPartyJobSuccessResult" else "Failed"
        self.results.append((body["jobId"], job["status"], body))
        if body.get("continuationToken"):
            self.queue(continuation=body["continuationToken"])
        return Reply(200, {})

    @staticmethod
    def _error(code: str, status: int = 400) -> Reply:
        return Reply(status, {"__type": code, "message": code})


@pytest.fixture
def codepipeline(loopback, secret_env, monkeypatch):
    fake = FakeCodePipeline()
    loopback.default = fake
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", loopback.url)
    return fake


def step(operation: str, body: dict) -> list:
    """One `jobs-connector run` of the loop; its stdout lines are the next step's input."""
    result = run_cli("run", f"codepipeline.{operation}", "--input", json.dumps(body), "--verbose")
    assert result.code == 0, result.stderr
    for secret in PLANTED:
        assert secret not in result.stderr, (operation, secret)
    return result.messages


def work_one_job(finish) -> tuple[dict, list]:
    """poll -> get details -> acknowledge with the nonce -> finish(details) -> put a result."""
    [polled] = step("PollForThirdPartyJobs", {"actionTypeId": ACTION_TYPE, "maxBatchSize": 1})
    [job] = polled["jobs"]
    assert job["clientId"] == CLIENT_ID  # the worker looks its clientToken up by this id
    [details] = step("GetThirdPartyJobDetails", {"jobId": job["jobId"], "clientToken": CLIENT_TOKEN})
    nonce = details["jobDetails"]["nonce"]
    [acked] = step("AcknowledgeThirdPartyJob", {"jobId": job["jobId"], "nonce": nonce, "clientToken": CLIENT_TOKEN})
    assert acked == {"status": "InProgress"}
    operation, extra = finish(details["jobDetails"]["data"])
    return details, step(operation, {"jobId": job["jobId"], "clientToken": CLIENT_TOKEN, **extra})


def test_worker_cycle_with_a_continuation_then_a_failure(codepipeline):
    first = codepipeline.queue()

    # A long job: report progress with a continuation token; CodePipeline brings it back as a new job.
    details, out = work_one_job(lambda data: ("PutThirdPartyJobSuccessResult", {
        "continuationToken": "deploy-42",
        "executionDetails": {"summary": "deploying", "externalExecutionId": "deploy-42", "percentComplete": 50}}))
    assert out == [{}]
    assert details["jobDetails"]["id"] == first
    assert details["jobDetails"]["data"]["artifactCredentials"]["secretAccessKey"] == ARTIFACT_SECRET
    assert "continuationToken" not in details["jobDetails"]["data"]

    # The continuation: its details name the work started before; finish it without a token.
    details, out = work_one_job(lambda data: ("PutThirdPartyJobSuccessResult", {
        "executionDetails": {"summary": f"finished {data['continuationToken']}", "percentComplete": 100}}))
    assert details["jobDetails"]["data"]["continuationToken"] == "deploy-42"
    assert details["jobDetails"]["id"] != first

    # Another job fails.
    codepipeline.queue()
    work_one_job(lambda data: ("PutThirdPartyJobFailureResult", {
        "failureDetails": {"type": "JobFailed", "message": "health check timed out"}}))

    assert [status for _, status, _ in codepipeline.results] == ["Succeeded", "Succeeded", "Failed"]
    assert codepipeline.results[1][2]["executionDetails"]["summary"] == "finished deploy-42"
    assert [step("PollForThirdPartyJobs", {"actionTypeId": ACTION_TYPE})] == [[{"jobs": []}]]


def test_worker_cycle_refuses_a_stale_nonce_and_a_second_result(codepipeline):
    job_id = codepipeline.queue()
    wrong = run_cli("run", "codepipeline.AcknowledgeThirdPartyJob", "--input",
                    json.dumps({"jobId": job_id, "nonce": "999", "clientToken": CLIENT_TOKEN}))
    assert wrong.code == 3 and "error: Conflict" in wrong.stderr and "InvalidNonceException" in wrong.stderr
    step("AcknowledgeThirdPartyJob", {"jobId": job_id, "nonce": codepipeline.jobs[job_id]["nonce"],
                                      "clientToken": CLIENT_TOKEN})
    step("PutThirdPartyJobSuccessResult", {"jobId": job_id, "clientToken": CLIENT_TOKEN})
    again = run_cli("run", "codepipeline.PutThirdPartyJobFailureResult", "--input", json.dumps(
        {"jobId": job_id, "clientToken": CLIENT_TOKEN, "failureDetails": {"type": "JobFailed", "message": "x"}}))
    assert again.code == 3 and "InvalidJobStateException" in again.stderr
    assert len(codepipeline.results) == 1


def test_worker_cycle_in_platform_semantics(codepipeline):
    """The same loop as flow steps: each step's data message is the next step's input."""
    codepipeline.queue()
    emitted = []

    def run(operation, body):
        emitted.clear()
        process(f"codepipeline.{operation}", {"body": body}, {}, lambda kind, data: emitted.append((kind, data)))
        assert [kind for kind, _ in emitted] == ["data", "end"], emitted
        return emitted[0][1]["body"]

    job = run("PollForThirdPartyJobs", {"actionTypeId": ACTION_TYPE})["jobs"][0]
    details = run("GetThirdPartyJobDetails", {"jobId": job["jobId"], "clientToken": CLIENT_TOKEN})
    assert details["jobDetails"]["data"]["actionConfiguration"]["configuration"]["ApiKey"] == CONFIG_SECRET
    run("AcknowledgeThirdPartyJob", {"jobId": job["jobId"], "nonce": details["jobDetails"]["nonce"],
                                     "clientToken": CLIENT_TOKEN})
    assert run("PutThirdPartyJobSuccessResult", {"jobId": job["jobId"], "clientToken": CLIENT_TOKEN}) == {}
    assert codepipeline.results[0][1] == "Succeeded"
