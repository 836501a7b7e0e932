"""The service calls (verifyCredentials, getMetaModel, selectModel) over real HTTP: the probes against the
loopback server as the services' API, the answer POSTed to the loopback server as the platform."""

from __future__ import annotations

import base64
import json

import pytest

import jobs_connector.component.registry as registry
import jobs_connector.sailor.verify as verify
from jobs_connector.http.retry import RetryPolicy
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from jobs_connector.sailor.platform_calls import meta_model
from jobs_connector.sailor.verify import PROBE_NAME, verify_credentials
from tests.conftest import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, REGION
from tests.support.cli import run_cli
from tests.support.loopback import LoopbackServer, Reply

FIXTURES = "./tests/integration/sailor/fixtures"
TOKEN = "test-token-not-real-0001"


@pytest.fixture
def runtime():
    return Runtime(Transport(policy=RetryPolicy(max_attempts=2), sleep=lambda _s: None))


def aws_cfg(endpoint, **kw):
    return {"accessKeyId": FAKE_ACCESS_KEY, "secretAccessKey": FAKE_SECRET_KEY, "region": REGION,
            "endpoint": endpoint, **kw}


def checks_by_service(result):
    return {c["service"]: c for c in result["checks"]}


def aws_answers(iot: Reply, codepipeline: Reply | None = None):
    """The AWS probes' answers: IoT Jobs by path, CodePipeline (json-1.1) by its X-Amz-Target."""
    codepipeline = codepipeline or Reply(400, {"__type": "JobNotFoundException", "message": "no such job"})

    def route(request):
        return codepipeline if request.headers.get("X-Amz-Target", "").startswith("CodePipeline_") else iot

    return route


def iot_requests(server):
    return [r for r in server.requests if r.path.startswith("/things/")]


def test_aws_key_accepted_when_the_made_up_job_is_not_found(loopback, runtime):
    loopback.default = aws_answers(Reply(404, {"message": "not found"},
                                         {"x-amzn-ErrorType": "ResourceNotFoundException"}))
    result = verify_credentials(aws_cfg(loopback.url), runtime)
    assert result["verified"] is True and "reason" not in result
    [request] = iot_requests(loopback)
    assert request.path == f"/things/{PROBE_NAME}/jobs/{PROBE_NAME}"
    assert request.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={FAKE_ACCESS_KEY}/")
    assert f"/{REGION}/iot-jobs-data/aws4_request" in request.headers["Authorization"]
    assert checks_by_service(result)["iot-jobs-data"]["outcome"] == "verified"
    assert len(loopback.requests) <= 2  # one cheap call per AWS service present in this build


def test_a_refused_key_is_a_bad_key(loopback, runtime):
    message = "The security token included in the request is invalid."
    loopback.default = aws_answers(
        Reply(403, {"message": message}, {"x-amzn-ErrorType": "UnrecognizedClientException"}),
        Reply(400, {"__type": "UnrecognizedClientException", "message": message}))
    result = verify_credentials(aws_cfg(loopback.url), runtime)
    assert result["verified"] is False
    assert checks_by_service(result)["iot-jobs-data"]["outcome"] == "bad-credentials"
    assert "refused the credentials (UnrecognizedClientException)" in result["reason"]
    assert FAKE_SECRET_KEY not in json.dumps(result)


def test_access_denied_means_a_valid_key_with_a_narrow_policy(loopback, runtime):
    loopback.default = aws_answers(Reply(403, {"message": "denied"}, {"x-amzn-ErrorType": "AccessDeniedException"}))
    result = verify_credentials(aws_cfg(loopback.url), runtime)
    assert result["verified"] is True
    assert checks_by_service(result)["iot-jobs-data"]["outcome"] == "warning"


def test_probe_inputs_fit_the_actions_of_this_build():
    """Each probe sends its preferred (cheapest) input to the real action, not a fallback."""
    present = [p for p in verify.PROBES if p.action in registry.component()["actions"]]
    assert present, "no service of this build can be verified"
    for probe in present:
        assert verify._probe_body(probe.action, probe.bodies) == probe.bodies[0], probe.action


def test_an_unreachable_endpoint_is_a_bad_endpoint_not_a_bad_key(runtime):
    closed = LoopbackServer()
    url = closed.url  # bound, then closed: nothing listens there
    closed.httpd.server_close()
    result = verify_credentials(aws_cfg(url), runtime)
    assert result["verified"] is False
    check = checks_by_service(result)["iot-jobs-data"]
    assert check["outcome"] == "bad-endpoint" and "could not be reached" in check["detail"]


@pytest.mark.parametrize(("cfg", "fragment"), [
    ({"region": "moon-base-one"}, "is not an AWS region"),
    ({"region": None, "endpoint": None}, "no AWS region"),
    ({"endpoint": "http://example.com"}, "https://"),
])
def test_a_bad_region_or_endpoint_is_named_before_anything_is_sent(loopback, runtime, cfg, fragment):
    merged = {**aws_cfg(loopback.url), **cfg}
    result = verify_credentials({k: v for k, v in merged.items() if v is not None}, runtime)
    assert result["verified"] is False
    check = checks_by_service(result)["iot-jobs-data"]
    assert check["outcome"] == "bad-endpoint" and fragment in check["detail"]
    assert loopback.requests == []


def test_nothing_entered_is_not_verified(runtime):
    result = verify_credentials({}, runtime)
    assert result["verified"] is False and "no credentials entered" in result["reason"]


def test_a_service_without_actions_in_this_build_is_not_available(loopback, runtime, monkeypatch):
    monkeypatch.setattr(verify, "component", lambda: {"actions": {}})
    result = verify_credentials({"spaceoneEndpoint": loopback.url, "spaceoneApiKey": TOKEN}, runtime)
    assert result["verified"] is False
    assert checks_by_service(result)["spaceone"]["outcome"] == "not-available"
    assert loopback.requests == []


@pytest.fixture
def with_token_actions(monkeypatch):
    """The component plus stand-ins for the SpaceONE and EmbedThis list actions."""
    real = registry.component()
    extra = {
        "spaceone.ListJobs": {"main": f"{FIXTURES}/actions/spaceone/ListJobs.py", "title": "List jobs",
                              "metadata": {"in": f"{FIXTURES}/schemas/ListJobs.in.json",
                                           "out": f"{FIXTURES}/schemas/ListJobs.out.json"}},
        "embedthis.FindClouds": {"main": f"{FIXTURES}/actions/embedthis/FindClouds.py", "title": "Find clouds",
                                 "metadata": {"in": f"{FIXTURES}/schemas/FindClouds.in.json",
                                              "out": f"{FIXTURES}/schemas/FindClouds.out.json"}},
    }
    merged = {**real, "actions": {**real["actions"], **extra}}
    monkeypatch.setattr(registry, "component", lambda: merged)
    monkeypatch.setattr(verify, "component", lambda: merged)
    registry.get_action.cache_clear()
    yield
    registry.get_action.cache_clear()


def test_token_services_one_item_each(with_token_actions, runtime):
    spaceone, embedthis = LoopbackServer().start(), LoopbackServer().start()
    try:
        spaceone.script.append(Reply(200, {"results": [{"job_id": "job-1"}], "total_count": 7}))
        embedthis.script.append(Reply(401, {"error": "Unauthorized"}))
        result = verify_credentials({"spaceoneEndpoint": spaceone.url, "spaceoneApiKey": TOKEN,
                                     "embedthisEndpoint": embedthis.url, "embedthisToken": TOKEN}, runtime)
    finally:
        spaceone.stop()
        embedthis.stop()
    checks = checks_by_service(result)
    assert checks["spaceone"]["outcome"] == "verified"
    assert checks["embedthis"]["outcome"] == "bad-credentials"
    assert result["verified"] is False and "EmbedThis Builder refused the credentials" in result["reason"]
    [s_req] = spaceone.requests  # one page only, though 7 exist
    assert s_req.path == "/identity/v2/job/list" and s_req.json() == {"query": {"page": {"start": 1, "limit": 1}}}
    assert s_req.headers["Authorization"] == f"Bearer {TOKEN}"
    [e_req] = embedthis.requests
    assert e_req.path == "/cloud/find?limit=1"
    assert TOKEN not in json.dumps(result)


def test_meta_model_gives_the_item_schema_when_emitting_individually(with_token_actions):
    page = meta_model("spaceone.ListJobs", {})
    assert page["out"]["properties"]["total_count"] == {"type": "integer"}
    item = meta_model("spaceone.ListJobs", {"emitBehaviour": "emitIndividually"})
    assert item["out"] == {"type": "object", "properties": {"job_id": {"type": "string"}}}
    assert item["in"] == page["in"]


def run_service(monkeypatch, method, platform, **env):
    for name, value in {"ELASTICIO_POST_RESULT_URL": platform.url.replace("http://", "http://eio:p%40ss@")
                        + "/result", **env}.items():
        monkeypatch.setenv(name, value)
    result = run_cli("ipaas", method)
    [post] = platform.requests
    return result, post


def test_verify_credentials_posts_the_answer_to_the_platform(monkeypatch, loopback):
    aws = LoopbackServer().start()
    try:
        aws.default = aws_answers(Reply(404, {"message": "nope"}, {"x-amzn-ErrorType": "ResourceNotFoundException"}))
        result, post = run_service(monkeypatch, "verifyCredentials", loopback,
                                   ELASTICIO_CFG=json.dumps(aws_cfg(aws.url)))
    finally:
        aws.stop()
    assert result.code == 0, result.stderr
    assert (post.method, post.path) == ("POST", "/result")
    assert post.headers["Authorization"] == "Basic " + base64.b64encode(b"eio:p@ss").decode()
    answer = post.json()
    assert answer["status"] == "success" and answer["data"]["verified"] is True


def test_get_meta_model_for_a_plain_action(monkeypatch, loopback):
    result, post = run_service(monkeypatch, "getMetaModel", loopback, ELASTICIO_CFG="{}",
                               ELASTICIO_ACTION_OR_TRIGGER="iot-jobs-data.DescribeJobExecution")
    assert result.code == 0
    data = post.json()["data"]
    assert data["in"] == registry.get_action("iot-jobs-data.DescribeJobExecution").in_schema
    assert "execution" in data["out"]["properties"]


def test_select_model_and_bad_settings_answer_with_an_error(monkeypatch, loopback):
    result, post = run_service(monkeypatch, "selectModel", loopback, ELASTICIO_CFG="{}",
                               ELASTICIO_ACTION_OR_TRIGGER="iot-jobs-data.DescribeJobExecution",
                               ELASTICIO_GET_MODEL_METHOD="regions")
    assert result.code == 0
    assert post.json() == {"status": "error", "data": {"message": post.json()["data"]["message"]}}
    assert "no select model 'regions'" in post.json()["data"]["message"]


def test_unknown_action_in_get_meta_model_is_an_error_answer(monkeypatch, loopback):
    _, post = run_service(monkeypatch, "getMetaModel", loopback, ELASTICIO_CFG="{}",
                          ELASTICIO_ACTION_OR_TRIGGER="nope.Nothing")
    assert post.json()["status"] == "error" and "unknown action" in post.json()["data"]["message"]


def test_without_a_result_url_nobody_can_be_told(monkeypatch):
    monkeypatch.delenv("ELASTICIO_POST_RESULT_URL", raising=False)
    monkeypatch.setenv("ELASTICIO_CFG", "{}")
    result = run_cli("ipaas", "verifyCredentials")
    assert result.code == 2 and "ELASTICIO_POST_RESULT_URL" in result.stderr
