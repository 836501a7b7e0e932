"""SpaceONE identity v2 Job: each action's request and auth header, the schemas against the API document,
bad input refused before sending, and auth failures that never echo the API key."""

import json

import pytest
import responses

from jobs_connector.component.registry import get_action
from jobs_connector.validation import validate_output
from tests.support.cli import run_cli
from tests.support.schemas import untyped_properties

BASE = "https://spaceone.example.test/api"  # a base URL with a path prefix
API_KEY = "test-spaceone-api-key-not-real-0001"
KEYS = ["spaceone.DeleteJob", "spaceone.GetJob", "spaceone.ListJobs", "spaceone.StatJobs"]

# The API document's own response examples (note the status ERROR, and the fields left out).
GET_EXAMPLE = {"job_id": "job-123456789012", "status": "ERROR", "resource_group": "DOMAIN",
               "plugin_id": "plugin-aws-cloud-service-inven-collector", "trusted_account_id": "ta-123456789012",
               "domain_id": "domain-123456789012", "created_at": "2022-01-01T10:00:01.389Z",
               "updated_at": "2022-01-01T10:00:01.389Z", "finished_at": "2022-01-01T10:02:11.270Z"}
LIST_EXAMPLE = {"results": [
    {"job_id": "job-3b124006c2d2", "status": "SUCCESS", "resource_group": "DOMAIN",
     "plugin_id": "plugin-aws-cloud-service-inven-collector", "trusted_account_id": "ta-3b124006c2d2",
     "domain_id": "domain-58010aa2e451", "created_at": "2022-06-17T08:00:01.225Z",
     "updated_at": "2022-06-17T08:00:01.225Z", "finished_at": "2022-06-17T08:00:15.197Z"},
    {"job_id": "job-587a3d3b4db3", "status": "SUCCESS", "resource_group": "DOMAIN",
     "plugin_id": "plugin-aws-cloud-service-inven-collector", "trusted_account_id": "ta-587a3d3b4db3",
     "domain_id": "domain-58010aa2e451", "created_at": "2022-06-17T08:00:00.407Z",
     "updated_at": "2022-06-17T08:00:00.407Z", "finished_at": "2022-06-17T08:07:32.023Z"}],
    "total_count": 2}
# Every JobInfo field the document lists, with its type: (name, JSON Schema type).
JOB_INFO_FIELDS = [("job_id", "string"), ("status", "string"), ("options", "object"),
                   ("resource_group", "string"), ("error_message", "string"), ("domain_id", "string"),
                   ("workspace_id", "string"), ("trusted_account_id", "string"), ("plugin_id", "string"),
                   ("created_at", "string"), ("updated_at", "string"), ("finished_at", "string")]
FULL_JOB = {**GET_EXAMPLE, "status": "FAILURE", "options": {"sync_mode": "full"}, "error_message": "plugin failed",
            "workspace_id": "workspace-0123456789ab", "resource_group": "WORKSPACE"}
STAT_ANSWER = {"results": [{"status": "SUCCESS", "count": 5}, {"status": "FAILURE", "count": 1}]}

# (action, input, the JSON body sent, the answer, the message emitted)
CASES = [
    ("spaceone.DeleteJob", {"job_id": "job-123456789012"}, {"job_id": "job-123456789012"}, {}, {}),
    ("spaceone.GetJob", {"job_id": "job-123456789012"}, {"job_id": "job-123456789012"}, GET_EXAMPLE, GET_EXAMPLE),
    ("spaceone.GetJob", {"job_id": "job-123456789012"}, {"job_id": "job-123456789012"}, FULL_JOB, FULL_JOB),
    ("spaceone.ListJobs", {"query": {"page": {"start": 1, "limit": 10}}, "trusted_account_id": "ta-123456789012"},
     {"query": {"page": {"start": 1, "limit": 10}}, "trusted_account_id": "ta-123456789012"},
     LIST_EXAMPLE, LIST_EXAMPLE),
    ("spaceone.ListJobs",
     {"status": "IN_PROGRESS", "query": {"filter": [{"k": "plugin_id", "v": "plugin-x", "o": "eq"}],
                                         "sort": [{"key": "created_at", "desc": True}], "only": ["job_id"]}},
     {"status": "IN_PROGRESS", "query": {"filter": [{"k": "plugin_id", "v": "plugin-x", "o": "eq"}],
                                         "sort": [{"key": "created_at", "desc": True}], "only": ["job_id"],
                                         "page": {"start": 1, "limit": 100}}},
     {"results": [{"job_id": "job-1"}], "total_count": 1}, {"results": [{"job_id": "job-1"}], "total_count": 1}),
    ("spaceone.StatJobs", get_action("spaceone.StatJobs").spec("EXAMPLE"),
     get_action("spaceone.StatJobs").spec("EXAMPLE"), STAT_ANSWER, STAT_ANSWER),
    ("spaceone.StatJobs", {"query": {"distinct": "plugin_id", "page": {"start": 1, "limit": 2}}},
     {"query": {"distinct": "plugin_id", "page": {"start": 1, "limit": 2}}},
     {"results": ["plugin-a", "plugin-b"], "total_count": 3}, {"results": ["plugin-a", "plugin-b"], "total_count": 3}),
]


@pytest.fixture
def spaceone_env(monkeypatch):
    monkeypatch.setenv("SPACEONE_ENDPOINT", BASE)
    monkeypatch.setenv("SPACEONE_API_KEY", API_KEY)


def _path(key):
    return "/identity/v2/job/" + {"DeleteJob": "delete", "GetJob": "get", "ListJobs": "list",
                                  "StatJobs": "stat"}[key.split(".")[1]]


@pytest.mark.parametrize("key, body, sent, answer, emitted", CASES)
@responses.activate
def test_request_auth_and_answer(spaceone_env, key, body, sent, answer, emitted):
    responses.post(BASE + _path(key), json=answer)
    result = run_cli("run", key, "--input", json.dumps(body))
    assert result.code == 0, result.stderr
    assert result.messages == [emitted]
    [call] = responses.calls
    assert call.request.method == "POST"
    assert call.request.url == BASE + _path(key)
    assert call.request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert call.request.headers["Content-Type"] == "application/json"
    assert json.loads(call.request.body) == sent


def test_every_action_is_covered():
    assert {case[0] for case in CASES} == set(KEYS)


@responses.activate
def test_config_takes_precedence_over_the_environment(spaceone_env):
    responses.post("https://other.example.test/identity/v2/job/get", json=GET_EXAMPLE)
    cfg = {"spaceoneEndpoint": "https://other.example.test/", "spaceoneApiKey": "test-config-key-not-real-0002"}
    result = run_cli("run", "spaceone.GetJob", "--input", '{"job_id": "job-1"}', "--config", json.dumps(cfg))
    assert result.code == 0, result.stderr
    assert responses.calls[0].request.headers["Authorization"] == "Bearer test-config-key-not-real-0002"


def test_plain_http_is_refused_for_a_remote_endpoint(monkeypatch):
    monkeypatch.setenv("SPACEONE_ENDPOINT", "http://spaceone.example.test")
    monkeypatch.setenv("SPACEONE_API_KEY", API_KEY)
    result = run_cli("run", "spaceone.GetJob", "--input", '{"job_id": "job-1"}')
    assert result.code == 2
    assert "https" in result.stderr


def test_missing_key_names_the_setting(monkeypatch):
    monkeypatch.setenv("SPACEONE_ENDPOINT", BASE)
    result = run_cli("run", "spaceone.GetJob", "--input", '{"job_id": "job-1"}')
    assert result.code == 2
    assert "spaceoneApiKey" in result.stderr and "SPACEONE_API_KEY" in result.stderr


# -- schemas against the API document -------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_every_output_field_is_typed(key):
    assert untyped_properties(get_action(key).out_schema) == []


@pytest.mark.parametrize("schema_of", [
    lambda: get_action("spaceone.GetJob").out_schema,
    lambda: get_action("spaceone.ListJobs").out_schema["properties"]["results"]["items"],
])
def test_job_info_has_every_documented_field_with_its_type(schema_of):
    props = schema_of()["properties"]
    assert [(name, props[name]["type"]) for name in props] == JOB_INFO_FIELDS


def test_status_and_resource_group_values():
    job = get_action("spaceone.GetJob").out_schema["properties"]
    assert job["status"]["enum"] == ["NONE", "PENDING", "IN_PROGRESS", "FAILURE", "SUCCESS", "CANCELED", "ERROR"]
    assert job["resource_group"]["enum"] == ["RESOURCE_GROUP_NONE", "DOMAIN", "WORKSPACE"]
    listing = get_action("spaceone.ListJobs").in_schema["properties"]
    assert listing["status"]["enum"] == ["NONE", "PENDING", "IN_PROGRESS", "FAILURE", "SUCCESS", "CANCELED"]


def test_an_answer_of_the_wrong_type_is_an_unexpected_response():
    from jobs_connector.base.errors import UnexpectedResponse

    with pytest.raises(UnexpectedResponse, match="total_count"):
        validate_output(get_action("spaceone.ListJobs").out_schema, {"results": [], "total_count": "2"})
    with pytest.raises(UnexpectedResponse, match="status"):
        validate_output(get_action("spaceone.GetJob").out_schema, {"job_id": "job-1", "status": 4})


# -- bad input: exit 2, nothing sent --------------------------------------------------------------

BAD = [
    ("spaceone.GetJob", {}, "job_id", "required"),
    ("spaceone.DeleteJob", {}, "job_id", "required"),
    ("spaceone.GetJob", {"job_id": 123456789012}, "job_id", "type"),
    ("spaceone.GetJob", {"job_id": ""}, "job_id", "minLength"),
    ("spaceone.DeleteJob", {"job_id": "job-1\r\nX-Injected: 1"}, "job_id", "pattern"),
    ("spaceone.GetJob", {"job_id": "job-1", "jobId": "job-1"}, "jobId", "unknown-field"),
    ("spaceone.ListJobs", {"status": "DONE"}, "status", "enum"),
    ("spaceone.ListJobs", {"query": {"page": {"start": "1"}}}, "query.page.start", "type"),
    ("spaceone.ListJobs", {"query": {"page": {"start": 0}}}, "query.page.start", "minimum"),
    ("spaceone.ListJobs", {"query": {"pages": {}}}, "query.pages", "unknown-field"),
    ("spaceone.ListJobs", {"query": {"filter": {"k": "a"}}}, "query.filter", "type"),
    ("spaceone.ListJobs", {"trusted_account_id": ["ta-1"]}, "trusted_account_id", "type"),
    ("spaceone.StatJobs", {}, "query", "required"),
    ("spaceone.StatJobs", {"query": {"aggregate": [{"group": {}, "count": {"name": "n"}}]}},
     "query.aggregate[0]", "maxProperties"),
    ("spaceone.StatJobs", {"query": {"aggregate": [{"limit": 1.5}]}}, "query.aggregate[0].limit", "type"),
]


@pytest.mark.parametrize("key, body, field, rule", BAD)
@responses.activate
def test_bad_input_is_refused_before_sending(spaceone_env, key, body, field, rule):
    result = run_cli("run", key, "--input", json.dumps(body))
    assert result.code == 2, result.stderr
    assert f"field: {field}  rule: {rule}" in result.stderr
    assert len(responses.calls) == 0


# -- auth failures --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
@responses.activate
def test_auth_failure_never_echoes_the_key(spaceone_env, status):
    # A service that echoes the key it refused, with and without the Bearer prefix.
    responses.post(BASE + "/identity/v2/job/get", status=status, json={
        "code": f"ERROR_AUTHENTICATE_FAILURE {API_KEY}",
        "message": f"Authenticate failure. (token = Bearer {API_KEY}, key = {API_KEY})"})
    result = run_cli("run", "spaceone.GetJob", "--input", '{"job_id": "job-1"}', "--verbose")
    assert result.code == 3
    assert "AuthError" in result.stderr and f"HTTP {status}" in result.stderr
    assert "Authenticate failure" in result.stderr
    assert API_KEY not in result.stderr and API_KEY not in result.stdout
    assert len(responses.calls) == 1  # an auth failure is not retried


@responses.activate
def test_auth_failure_in_the_platform_error_message(spaceone_env):
    from jobs_connector.runtime import process

    responses.post(BASE + "/identity/v2/job/delete", status=401, json={"message": f"bad key {API_KEY}"})
    emitted = []
    process("spaceone.DeleteJob", {"body": {"job_id": "job-1"}}, {}, lambda kind, msg: emitted.append((kind, msg)))
    kind, error = emitted[0]
    assert kind == "error" and error["type"] == "AuthError" and error["status"] == 401
    assert API_KEY not in json.dumps(emitted)


@responses.activate
def test_delete_is_not_retried_after_it_may_have_reached_the_service(spaceone_env, no_sleep):
    responses.post(BASE + "/identity/v2/job/delete", status=500, json={"message": "internal"})
    result = run_cli("run", "spaceone.DeleteJob", "--input", '{"job_id": "job-1"}')
    assert result.code == 5 and "look with spaceone.GetJob" in result.stderr
    assert len(responses.calls) == 1


@responses.activate
def test_get_is_retried(spaceone_env, no_sleep):
    responses.post(BASE + "/identity/v2/job/get", status=500, json={"message": "internal"})
    responses.post(BASE + "/identity/v2/job/get", json=GET_EXAMPLE)
    result = run_cli("run", "spaceone.GetJob", "--input", '{"job_id": "job-1"}')
    assert result.code == 0, result.stderr
    assert len(responses.calls) == 2


def test_dry_run_redacts_the_key(spaceone_env):
    result = run_cli("run", "spaceone.ListJobs", "--input", '{"status": "SUCCESS"}', "--dry-run")
    assert result.code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["url"] == BASE + "/identity/v2/job/list"
    assert shown["headers"]["Authorization"] == "***"
    assert shown["body"] == {"status": "SUCCESS", "query": {"page": {"start": 1, "limit": 100}}}
    assert API_KEY not in result.stdout + result.stderr
