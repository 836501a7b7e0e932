"""EmbedThis Builder /cloud/*: each action's request (path, query options, body) and token header, the
schemas against the API document, the role in `describe`, secrets (GetBrowserKeys, ConnectCloud's token)
kept out of --verbose and --dry-run, bad input refused before sending, and auth failures."""

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from jobs_connector.component.registry import component, get_action
from tests.support.cli import run_cli
from tests.support.loopback import Reply
from tests.support.schemas import untyped_properties

BASE = "https://builder.example.test/api"  # a base URL with a path prefix
TOKEN = "test-embedthis-token-not-real-0001"

# The Cloud object as the API document lists it: name and type (date -> string, date-time).
SEED_CLOUD = """accountId string api string apiGateway string awsAccount string connected boolean deviceRole string
devices number enable boolean error string host string hubs number id string iotPolicy string load number
name string open boolean planId string provisioned date quota object region string schema object shadows boolean
stack string status string suspended boolean sync boolean tenants number trailBucket string type string
version number userPoolId string userPoolClient string"""


def seed_fields(text: str) -> list[tuple[str, str]]:
    words = text.split()
    return list(zip(words[::2], words[1::2], strict=True))


FULL_CLOUD = {
    "accountId": "account-0001", "api": "https://api.cloud.example.test", "apiGateway": "gw-0001",
    "awsAccount": "123456789012", "connected": True, "deviceRole": "arn:aws:iam::123456789012:role/device",
    "devices": 12, "enable": True, "error": "", "host": "cloud.example.test", "hubs": 1, "id": "cloud-0001",
    "iotPolicy": "device-policy", "load": 0.25, "name": "demo-cloud", "open": False, "planId": "plan-1",
    "provisioned": "2026-01-02T03:04:05.000Z", "quota": {"devices": 100}, "region": "us-east-1",
    "schema": {"models": {}}, "shadows": True, "stack": "builder-cloud-0001", "status": "active",
    "suspended": False, "sync": True, "tenants": 2, "trailBucket": "trail-bucket", "type": "dedicated",
    "version": 3, "userPoolId": "us-east-1_AbCdEf", "userPoolClient": "client-0001",
}
BROWSER_KEYS = {"accessKeyId": "ASIATESTFAKEKEY00001", "secretAccessKey": "test-browser-secret-not-real-0000",
                "sessionToken": "test-browser-session-not-real-0000", "expires": "2026-01-02T04:04:05.000Z",
                "region": "us-east-1"}
HOSTS = {"data": [{"name": "host-1", "region": "us-east-1"}, {"name": "host-2", "region": "eu-west-1"}]}

# (action, path, input, query options sent, JSON body sent, answer)
CASES = [
    ("embedthis.CreateCloud", "/cloud/create",
     {"name": "demo-cloud", "region": "us-east-1", "type": "dedicated", "enable": True, "open": False,
      "shadows": True, "sync": False, "schema": {"models": {}}, "iotPolicy": "p", "external": "x", "error": ""},
     {}, {"name": "demo-cloud", "region": "us-east-1", "type": "dedicated", "enable": True, "open": False,
          "shadows": True, "sync": False, "schema": {"models": {}}, "iotPolicy": "p", "external": "x", "error": ""},
     FULL_CLOUD),
    ("embedthis.FindClouds", "/cloud/find",
     {"id": "cloud-0001", "hidden": True, "filter": "demo", "limit": 5, "next": {"pk": "cloud#1", "sk": "x"},
      "index": "gs1", "where": "${enable} == true", "log": False},
     {"hidden": "true", "filter": "demo", "limit": "5", "next": '{"pk":"cloud#1","sk":"x"}', "index": "gs1",
      "where": "${enable} == true", "log": "false"},
     {"id": "cloud-0001"}, {"data": [FULL_CLOUD], "prev": "p1"}),
    ("embedthis.FindClouds", "/cloud/find", {"prev": "p1"}, {"prev": "p1"}, {}, {"data": []}),
    ("embedthis.GetCloud", "/cloud/get", {"id": "cloud-0001"}, {}, {"id": "cloud-0001"}, FULL_CLOUD),
    ("embedthis.GetBrowserKeys", "/cloud/getBrowserKeys", {"id": "cloud-0001"}, {}, {"id": "cloud-0001"},
     BROWSER_KEYS),
    ("embedthis.InitCloud", "/cloud/init", {}, {}, {}, FULL_CLOUD),
    ("embedthis.ProvisionCloud", "/cloud/provision", {"id": "cloud-0001", "invoke": "async"},
     {"invoke": "async"}, {"id": "cloud-0001"}, FULL_CLOUD),
    ("embedthis.ProvisionCloudAsync", "/cloud/provisionAsync", {"id": "cloud-0001", "accountId": "account-0001"},
     {}, {"id": "cloud-0001", "accountId": "account-0001"}, FULL_CLOUD),
    ("embedthis.RemoveCloud", "/cloud/remove", {"id": "cloud-0001", "invoke": "sync"}, {"invoke": "sync"},
     {"id": "cloud-0001"}, {}),
    ("embedthis.RemoveCloudAsync", "/cloud/removeAsync", {"accountId": "account-0001", "id": "cloud-0001"}, {},
     {"accountId": "account-0001", "id": "cloud-0001"}, {}),
    ("embedthis.UpdateCloudStack", "/cloud/updateStack", {"id": "cloud-0001"}, {}, {"id": "cloud-0001"},
     FULL_CLOUD),
    ("embedthis.WaitForTemplate", "/cloud/waitForTemplate", {"id": "cloud-0001"}, {}, {"id": "cloud-0001"},
     FULL_CLOUD),
    ("embedthis.GetHosts", "/cloud/getHosts", {"open": True, "region": "us-east-1"}, {},
     {"open": True, "region": "us-east-1"}, HOSTS),
    ("embedthis.ConnectCloud", "/cloud/connect",
     {"api": "https://api.cloud.example.test", "awsAccount": "123456789012", "cloud": "cloud-0001",
      "deviceRole": "device-role", "connected": True, "error": "", "external": "x",
      "roleArn": "arn:aws:iam::123456789012:role/builder", "stack": "s", "token": {"value": "t-0001"},
      "version": "1.2.0"}, {},
     {"api": "https://api.cloud.example.test", "awsAccount": "123456789012", "cloud": "cloud-0001",
      "deviceRole": "device-role", "connected": True, "error": "", "external": "x",
      "roleArn": "arn:aws:iam::123456789012:role/builder", "stack": "s", "token": {"value": "t-0001"},
      "version": "1.2.0"}, FULL_CLOUD),
    ("embedthis.ReportUsage", "/cloud/report",
     {"accountId": "account-0001", "cloudId": "cloud-0001", "count": 2, "load": 0.5,
      "usage": [{"devices": 12, "tenants": 2, "load": 0.5}, {"devices": 3, "tenants": 1, "load": 0.1}]}, {},
     {"accountId": "account-0001", "cloudId": "cloud-0001", "count": 2, "load": 0.5,
      "usage": [{"devices": 12, "tenants": 2, "load": 0.5}, {"devices": 3, "tenants": 1, "load": 0.1}]}, {}),
    ("embedthis.UpdateCloud", "/cloud/update",
     {"id": "cloud-0001", "name": "renamed", "attachments": {"a": 1}, "erase": {"error": True},
      "deviceRole": "r", "enable": False, "error": "", "external": "x", "iotPolicy": "p", "open": True,
      "region": "eu-west-1", "schema": {}, "shadows": False, "sync": True, "type": "dedicated"}, {},
     {"id": "cloud-0001", "name": "renamed", "attachments": {"a": 1}, "erase": {"error": True},
      "deviceRole": "r", "enable": False, "error": "", "external": "x", "iotPolicy": "p", "open": True,
      "region": "eu-west-1", "schema": {}, "shadows": False, "sync": True, "type": "dedicated"}, FULL_CLOUD),
]
KEYS = [k for k in component()["actions"] if k.startswith("embedthis.")]
ROLES = {"CreateCloud": "admin", "FindClouds": "user", "GetCloud": "user", "GetBrowserKeys": "user",
         "InitCloud": "user", "ProvisionCloud": "admin", "ProvisionCloudAsync": "service", "RemoveCloud": "admin",
         "RemoveCloudAsync": "service", "UpdateCloudStack": "admin", "WaitForTemplate": "admin",
         "GetHosts": "admin", "ConnectCloud": "cloud", "ReportUsage": "cloud", "UpdateCloud": "admin"}
CLOUD_ANSWERS = ["CreateCloud", "GetCloud", "InitCloud", "ProvisionCloud", "ProvisionCloudAsync",
                 "UpdateCloudStack", "WaitForTemplate", "ConnectCloud", "UpdateCloud"]


@pytest.fixture
def builder_env(monkeypatch):
    monkeypatch.setenv("EMBEDTHIS_ENDPOINT", BASE)
    monkeypatch.setenv("EMBEDTHIS_TOKEN", TOKEN)


def sent_query(request) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query, keep_blank_values=True).items()}


@pytest.mark.parametrize("key, path, body, query, sent, answer", CASES)
@responses.activate
def test_request_auth_and_answer(builder_env, key, path, body, query, sent, answer):
    responses.post(BASE + path, json=answer)
    result = run_cli("run", key, "--input", json.dumps(body))
    assert result.code == 0, result.stderr
    assert result.messages == [answer]
    [call] = responses.calls
    assert call.request.method == "POST"
    assert urlsplit(call.request.url).path == urlsplit(BASE).path + path
    assert sent_query(call.request) == query
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.request.headers["Content-Type"] == "application/json"
    assert json.loads(call.request.body) == sent


def test_all_fifteen_actions_are_registered_and_covered():
    assert sorted(KEYS) == sorted(f"embedthis.{op}" for op in ROLES)
    assert {case[0] for case in CASES} == set(KEYS)


@pytest.mark.parametrize("op, role", ROLES.items())
def test_describe_shows_the_role(op, role):
    key = f"embedthis.{op}"
    assert get_action(key).spec("ROLE") == role
    result = run_cli("describe", key)
    assert result.code == 0
    assert re.search(rf"^role +{role} ", result.stdout, re.M), result.stdout
    assert json.loads(run_cli("describe", key, "--json").stdout)["role"] == role


@responses.activate
def test_the_token_header_is_configurable(builder_env):
    responses.post(BASE + "/cloud/get", json=FULL_CLOUD)
    result = run_cli("run", "embedthis.GetCloud", "--input", '{"id": "cloud-0001"}',
                     "--config", '{"embedthisAuthHeader": "X-Builder-Token"}')
    assert result.code == 0, result.stderr
    headers = responses.calls[0].request.headers
    assert headers["X-Builder-Token"] == TOKEN  # the bare token: Bearer belongs to Authorization only
    assert "Authorization" not in headers


def test_a_header_name_that_is_not_one_is_refused(builder_env):
    result = run_cli("run", "embedthis.GetCloud", "--input", '{"id": "c"}',
                     "--config", '{"embedthisAuthHeader": "X-Token: injected"}')
    assert result.code == 2
    assert "embedthisAuthHeader" in result.stderr


@responses.activate
def test_config_endpoint_and_token_take_precedence(builder_env):
    responses.post("https://other.example.test/v2/cloud/get", json=FULL_CLOUD)
    cfg = {"embedthisEndpoint": "https://other.example.test/v2/", "embedthisToken": "Bearer test-cfg-token-0002"}
    result = run_cli("run", "embedthis.GetCloud", "--input", '{"id": "c"}', "--config", json.dumps(cfg))
    assert result.code == 0, result.stderr
    assert responses.calls[0].request.headers["Authorization"] == "Bearer test-cfg-token-0002"


# -- schemas against the API document -------------------------------------------------------------


def test_the_walker_finds_untyped_properties():
    schema = {"type": "object", "properties": {"a": {"type": "array", "items": {"properties": {"b": {}}}},
                                               "c": {"type": "string"}}}
    assert untyped_properties(schema) == ["a[]"]
    schema["properties"]["a"]["items"]["type"] = "object"
    assert untyped_properties(schema) == ["a[].b"]


@pytest.mark.parametrize("key", KEYS)
def test_every_output_field_is_typed(key):
    assert untyped_properties(get_action(key).out_schema) == []


def _as_seed_type(prop: dict) -> str:
    return "date" if prop.get("format") == "date-time" else prop["type"]


@pytest.mark.parametrize("op", CLOUD_ANSWERS + ["FindClouds"])
def test_cloud_object_is_the_documented_one(op):
    schema = get_action(f"embedthis.{op}").out_schema
    if op == "FindClouds":
        schema = schema["properties"]["data"]["items"]
    assert [(n, _as_seed_type(p)) for n, p in schema["properties"].items()] == seed_fields(SEED_CLOUD)


def test_paged_answers_and_browser_keys_are_the_documented_ones():
    for op, item in (("FindClouds", None), ("GetHosts", "name string region string")):
        props = get_action(f"embedthis.{op}").out_schema["properties"]
        assert [(n, p["type"]) for n, p in props.items()] == [("data", "array"), ("next", "string"),
                                                              ("prev", "string")]
        if item:
            assert [(n, p["type"]) for n, p in props["data"]["items"]["properties"].items()] == seed_fields(item)
    keys = get_action("embedthis.GetBrowserKeys").out_schema["properties"]
    assert [(n, _as_seed_type(p)) for n, p in keys.items()] == seed_fields(
        "accessKeyId string secretAccessKey string sessionToken string expires date region string")
    assert {n for n, p in keys.items() if p.get("x-secret")} == {"accessKeyId", "secretAccessKey", "sessionToken"}


INPUTS = {
    "CreateCloud": "enable boolean error string external string iotPolicy string name string open boolean "
                   "region string schema object shadows boolean sync boolean type string",
    "FindClouds": "id string hidden boolean filter string limit number next object prev object index string "
                  "where string log boolean",
    "GetCloud": "id string", "GetBrowserKeys": "id string", "InitCloud": "",
    "ProvisionCloud": "id string invoke string", "ProvisionCloudAsync": "id string accountId string",
    "RemoveCloud": "id string invoke string", "RemoveCloudAsync": "accountId string id string",
    "UpdateCloudStack": "id string", "WaitForTemplate": "id string",
    "GetHosts": "open boolean region string next object",
    "ConnectCloud": "api string awsAccount string cloud string deviceRole string connected boolean error string "
                    "external string roleArn string stack string token object version string",
    "ReportUsage": "accountId string count number cloudId string load number usage array",
    "UpdateCloud": "attachments object deviceRole string enable boolean erase object error string "
                   "external string id string iotPolicy string name string open boolean region string "
                   "schema object shadows boolean sync boolean type string",
}
REQUIRED = {"GetCloud": ["id"], "GetBrowserKeys": ["id"], "ProvisionCloud": ["id"],
            "ProvisionCloudAsync": ["id", "accountId"], "RemoveCloud": ["id"], "RemoveCloudAsync": ["accountId", "id"],
            "UpdateCloudStack": ["id"], "WaitForTemplate": ["id"]}


@pytest.mark.parametrize("op", INPUTS)
def test_inputs_are_the_documented_ones(op):
    schema = get_action(f"embedthis.{op}").in_schema
    # a cursor may come back as the `next` string of a previous page, so object cursors accept strings too
    got = [(n, p["type"][0] if isinstance(p["type"], list) else p["type"]) for n, p in schema["properties"].items()]
    assert got == seed_fields(INPUTS[op])
    assert schema.get("required", []) == REQUIRED.get(op, [])
    assert schema["additionalProperties"] is False


def test_usage_items_are_the_documented_ones():
    usage = get_action("embedthis.ReportUsage").in_schema["properties"]["usage"]["items"]
    assert [(n, p["type"]) for n, p in usage["properties"].items()] == seed_fields(
        "devices number tenants number load number")


# -- secrets ---------------------------------------------------------------------------------------

SECRETS = [BROWSER_KEYS["accessKeyId"], BROWSER_KEYS["secretAccessKey"], BROWSER_KEYS["sessionToken"]]


@pytest.fixture
def builder_loopback(loopback, monkeypatch):
    monkeypatch.setenv("EMBEDTHIS_ENDPOINT", loopback.url + "/api")
    monkeypatch.setenv("EMBEDTHIS_TOKEN", TOKEN)
    return loopback


def test_browser_keys_reach_the_data_message_but_not_verbose_output(builder_loopback):
    builder_loopback.script.append(Reply(200, BROWSER_KEYS))
    result = run_cli("run", "embedthis.GetBrowserKeys", "--input", '{"id": "cloud-0001"}', "--verbose")
    assert result.code == 0, result.stderr
    assert result.messages == [BROWSER_KEYS]  # the next step needs them
    assert "< HTTP 200" in result.stderr and '"region": "us-east-1"' in result.stderr
    for secret in [*SECRETS, TOKEN]:
        assert secret not in result.stderr
    [request] = builder_loopback.requests
    assert request.path == "/api/cloud/getBrowserKeys"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_browser_keys_dry_run_sends_nothing_and_shows_no_token(builder_loopback):
    result = run_cli("run", "embedthis.GetBrowserKeys", "--input", '{"id": "cloud-0001"}', "--dry-run")
    assert result.code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["headers"]["Authorization"] == "***"
    assert shown["url"] == builder_loopback.url + "/api/cloud/getBrowserKeys"
    assert TOKEN not in result.stdout + result.stderr
    assert builder_loopback.requests == []


def test_browser_keys_are_redacted_from_a_drift_warning(builder_loopback):
    # An answer of another shape is the service's word: emitted, the drift named without the secrets it carried.
    builder_loopback.script.append(Reply(200, {**BROWSER_KEYS, "expires": 12}))
    result = run_cli("run", "embedthis.GetBrowserKeys", "--input", '{"id": "cloud-0001"}', "--verbose")
    assert result.code == 0, result.stderr
    assert result.messages == [{**BROWSER_KEYS, "expires": 12}]
    assert "warning: " in result.stderr and "expires" in result.stderr
    for secret in SECRETS:
        assert secret not in result.stderr


CONNECT = {"cloud": "cloud-0001", "roleArn": "arn:aws:iam::123456789012:role/builder",
           "token": {"secret": "test-connect-token-not-real-0001"}}


def test_connect_token_is_redacted_in_dry_run(builder_env):
    result = run_cli("run", "embedthis.ConnectCloud", "--input", json.dumps(CONNECT), "--dry-run")
    assert result.code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["body"] == {**CONNECT, "token": "***"}
    assert "test-connect-token-not-real-0001" not in result.stdout


def test_connect_token_is_sent_but_redacted_in_verbose(builder_loopback):
    builder_loopback.script.append(Reply(200, FULL_CLOUD))
    result = run_cli("run", "embedthis.ConnectCloud", "--input", json.dumps(CONNECT), "--verbose")
    assert result.code == 0, result.stderr
    assert builder_loopback.requests[0].json() == CONNECT
    assert "test-connect-token-not-real-0001" not in result.stderr


def test_connect_token_of_the_wrong_type_is_not_echoed(builder_env):
    result = run_cli("run", "embedthis.ConnectCloud", "--input",
                     json.dumps({**CONNECT, "token": "test-connect-token-not-real-0001"}))
    assert result.code == 2
    assert "field: token  rule: type" in result.stderr
    assert "test-connect-token-not-real-0001" not in result.stderr


# -- bad input: exit 2, nothing sent --------------------------------------------------------------

BAD = [
    ("embedthis.GetCloud", {}, "id", "required"),
    ("embedthis.GetCloud", {"id": 1}, "id", "type"),
    ("embedthis.GetCloud", {"id": ""}, "id", "minLength"),
    ("embedthis.GetBrowserKeys", {"id": "cloud\n1"}, "id", "pattern"),
    ("embedthis.ProvisionCloudAsync", {"id": "cloud-0001"}, "accountId", "required"),
    ("embedthis.RemoveCloudAsync", {"accountId": "account-0001"}, "id", "required"),
    ("embedthis.RemoveCloud", {"id": "cloud-0001", "invoke": True}, "invoke", "type"),
    ("embedthis.FindClouds", {"limit": "10"}, "limit", "type"),
    ("embedthis.FindClouds", {"hidden": "yes"}, "hidden", "type"),
    ("embedthis.FindClouds", {"next": 3}, "next", "type"),
    ("embedthis.FindClouds", {"nxt": "c3"}, "nxt", "unknown-field"),
    ("embedthis.CreateCloud", {"name": "a", "enable": "true"}, "enable", "type"),
    ("embedthis.UpdateCloud", {"id": "cloud-0001", "schema": []}, "schema", "type"),
    ("embedthis.ReportUsage", {"usage": [{"devices": "12"}]}, "usage[0].devices", "type"),
    ("embedthis.ReportUsage", {"usage": {"devices": 12}}, "usage", "type"),
    ("embedthis.GetHosts", {"open": "true"}, "open", "type"),
    ("embedthis.InitCloud", {"name": "x"}, "name", "unknown-field"),
]


@pytest.mark.parametrize("key, body, field, rule", BAD)
@responses.activate
def test_bad_input_is_refused_before_sending(builder_env, key, body, field, rule):
    result = run_cli("run", key, "--input", json.dumps(body))
    assert result.code == 2, result.stderr
    assert f"field: {field}  rule: {rule}" in result.stderr
    assert len(responses.calls) == 0


def test_the_body_must_be_an_object(builder_env):
    result = run_cli("run", "embedthis.GetCloud", "--input", '["cloud-0001"]')
    assert result.code == 2


# -- auth failures --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_never_echoes_the_token(builder_loopback, status):
    builder_loopback.script.append(Reply(status, {"error": "Unauthorized",
                                                  "message": f"Bad token {TOKEN} for Bearer {TOKEN}"}))
    result = run_cli("run", "embedthis.FindClouds", "--input", "{}", "--verbose")
    assert result.code == 3
    assert "AuthError" in result.stderr and f"HTTP {status}" in result.stderr and "Bad token" in result.stderr
    assert TOKEN not in result.stderr + result.stdout
    assert len(builder_loopback.requests) == 1


def test_auth_failure_with_a_custom_header(builder_loopback):
    builder_loopback.script.append(Reply(401, {"message": f"token {TOKEN} expired"}))
    result = run_cli("run", "embedthis.GetCloud", "--input", '{"id": "c"}', "--verbose",
                     "--config", '{"embedthisAuthHeader": "X-Builder-Token"}')
    assert result.code == 3
    assert builder_loopback.requests[0].headers["X-Builder-Token"] == TOKEN
    assert "X-Builder-Token: ***" in result.stderr
    assert TOKEN not in result.stderr
