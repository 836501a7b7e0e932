"""AWS Panorama device jobs: requests, signatures, errors, bad input, paging, and the retired service."""

from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import os
import socket
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from jobs_connector.base.errors import (
    AuthError,
    Conflict,
    NetworkError,
    NotFound,
    OutcomeUnknown,
    RequestRejected,
    ServiceRetired,
)
from jobs_connector.component import registry
from jobs_connector.runtime import Runtime, process
from tests.conftest import FAKE_SECRET_KEY, FAKE_SESSION_TOKEN
from tests.support.botocore_reference import amz_date, assert_same_as_botocore, botocore_request
from tests.support.cli import run_cli
from tests.support.loopback import Reply

ENDPOINT = "https://panorama.eu-west-1.amazonaws.com"
FIXED = _dt.datetime(2026, 5, 20, 8, 30, 15, tzinfo=_dt.UTC)
SEED_DEVICE_PATTERN = r"^[a-zA-Z0-9\-\_]+$"
PANORAMA_ACTIONS = ("panorama.CreateJobForDevices", "panorama.DescribeDeviceJob", "panorama.ListDevicesJobs")


def _load_tool():
    path = os.path.join(registry.ROOT, "tools", "aws_schemas.py")
    spec = importlib.util.spec_from_file_location("aws_schemas_tool", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- schemas and registry ------------------------------------------------------------------------


@pytest.mark.parametrize("key", PANORAMA_ACTIONS)
def test_schemas_and_binding_agree_with_the_botocore_model(key):
    action = registry.get_action(key)
    in_schema, out_schema, binding = _load_tool().operation_schemas("panorama", action.operation)
    assert action.in_schema == in_schema
    assert action.out_schema == out_schema
    assert action.spec("METHOD") == binding["METHOD"]
    assert action.spec("PATH") == binding["PATH"]
    assert action.spec("QUERY", {}) == binding["QUERY"]
    assert action.spec("HEADERS", {}) == binding["HEADERS"]
    assert action.spec("IDEMPOTENCY_TOKEN") is None and binding["IDEMPOTENCY_TOKEN"] == []


def test_create_job_schema_has_the_seed_constraints():
    schema = registry.get_action("panorama.CreateJobForDevices").in_schema
    device_ids = schema["properties"]["DeviceIds"]
    assert (device_ids["minItems"], device_ids["maxItems"]) == (1, 1)  # "Fixed number of 1 item"
    assert device_ids["items"] == {"type": "string", "minLength": 1, "maxLength": 255, "pattern": SEED_DEVICE_PATTERN}
    assert schema["properties"]["JobType"]["enum"] == ["OTA", "REBOOT"]
    assert sorted(schema["required"]) == ["DeviceIds", "JobType"]
    ota = schema["properties"]["DeviceJobConfig"]["properties"]["OTAJobConfig"]
    assert set(ota["properties"]) == {"AllowMajorVersionUpdate", "ImageVersion"}
    assert schema["additionalProperties"] is False


def test_list_paging_names_the_model_list_member():
    action = registry.get_action("panorama.ListDevicesJobs")
    paging = action.spec("PAGING")
    assert paging.items in action.out_schema["properties"]
    assert (paging.input_token, paging.output_token) == ("NextToken", "NextToken")
    assert "NextToken" in action.in_schema["properties"] and "NextToken" in action.out_schema["properties"]


def test_every_panorama_action_is_deprecated_with_the_retirement_date():
    actions = registry.component()["actions"]
    for key in PANORAMA_ACTIONS:
        assert "2026-05-31" in actions[key]["deprecated"]
    assert registry.get_action("panorama.ListDevicesJobs").entry["fields"]["emitBehaviour"]["model"] == {
        "fetchAll": "Fetch all pages into one message", "fetchPage": "Fetch one page",
        "emitIndividually": "Emit each item individually"}
    assert "fields" not in actions["panorama.CreateJobForDevices"]


@pytest.mark.parametrize("key", PANORAMA_ACTIONS)
def test_describe_and_list_show_the_deprecation(key):
    text = run_cli("describe", key)
    assert text.code == 0
    assert "DEPRECATED: AWS ended support for Panorama on 2026-05-31" in text.stdout
    as_json = run_cli("describe", key, "--json")
    assert "2026-05-31" in json.loads(as_json.stdout)["deprecated"]
    assert json.loads(as_json.stdout)["example"]  # a useful example is shown
    listed = run_cli("list")
    line = next(row for row in listed.stdout.splitlines() if row.startswith(key + " "))
    assert line.endswith("[deprecated]")


@pytest.mark.parametrize("key", PANORAMA_ACTIONS)
def test_examples_are_valid_inputs(key):
    action = registry.get_action(key)
    from jobs_connector.validation import validate_input

    validate_input(action.in_schema, action.spec("EXAMPLE"))


# -- the expected requests, signed as botocore signs them ----------------------------------------

CASES = [
    pytest.param(
        "CreateJobForDevices",
        {"DeviceIds": ["device-abc_1"], "JobType": "OTA",
         "DeviceJobConfig": {"OTAJobConfig": {"ImageVersion": "4.3.55", "AllowMajorVersionUpdate": True}}},
        "POST", "/jobs", {}, "application/json", {"Jobs": [{"DeviceId": "device-abc_1", "JobId": "job-1"}]},
        id="CreateJobForDevices"),
    pytest.param(
        "CreateJobForDevices", {"DeviceIds": ["device-abc_1"], "JobType": "REBOOT"},
        "POST", "/jobs", {}, "application/json", {"Jobs": [{"DeviceId": "device-abc_1", "JobId": "job-2"}]},
        id="CreateJobForDevices-reboot"),
    pytest.param(
        "DescribeDeviceJob", {"JobId": "job-1"}, "GET", "/jobs/job-1", {}, None,
        {"JobId": "job-1", "DeviceId": "device-abc_1", "JobType": "OTA", "Status": "DOWNLOADING",
         "ImageVersion": "4.3.55", "CreatedTime": 1779262215.5, "DeviceType": "PANORAMA_APPLIANCE"},
        id="DescribeDeviceJob"),
    pytest.param(
        "ListDevicesJobs", {"DeviceId": "device-abc_1", "MaxResults": 2, "NextToken": "tok/+= 1"},
        "GET", "/jobs", {"DeviceId": "device-abc_1", "MaxResults": "2", "NextToken": "tok/+= 1"}, None,
        {"DeviceJobs": [{"JobId": "job-1", "DeviceId": "device-abc_1", "JobType": "OTA"}]},
        id="ListDevicesJobs"),
]


@pytest.mark.parametrize("operation, body, method, path, query, content_type, answer", CASES)
@pytest.mark.parametrize("token", [None, FAKE_SESSION_TOKEN], ids=["keys", "session-token"])
def test_request_matches_botocore(aws_env, monkeypatch, operation, body, method, path, query, content_type,
                                  answer, token):
    if token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    with responses.RequestsMock() as mock:
        mock.add(method, ENDPOINT + path, json=answer)
        out = list(Runtime(clock=lambda: FIXED).run(f"panorama.{operation}", body, {}))
        [call] = mock.calls
    sent = call.request
    assert out == [answer]
    parts = urlsplit(sent.url)
    assert (sent.method, parts.path) == (method, path)
    assert dict(parse_qsl(parts.query, keep_blank_values=True)) == query
    assert sent.headers.get("Content-Type") == content_type
    # CreateJobForDevices sends its whole input as the JSON body; the reads send no body at all.
    assert (json.loads(sent.body) if sent.body else None) == (body if content_type else None)
    assert sent.headers["X-Amz-Date"] == "20260520T083015Z"
    assert "/20260520/eu-west-1/panorama/aws4_request" in sent.headers["Authorization"]
    reference = botocore_request("panorama", operation, body, ENDPOINT, FIXED, token=token)
    assert_same_as_botocore(sent.method, sent.url, sent.headers, sent.body, reference)


def test_signature_check_would_catch_a_wrong_signature(aws_env):
    """The botocore comparison is not vacuous: another moment gives another signature."""
    with responses.RequestsMock() as mock:
        mock.add("GET", ENDPOINT + "/jobs/job-1", json={"JobId": "job-1"})
        list(Runtime(clock=lambda: FIXED).run("panorama.DescribeDeviceJob", {"JobId": "job-1"}, {}))
        sent = mock.calls[0].request
    later = botocore_request("panorama", "DescribeDeviceJob", {"JobId": "job-1"}, ENDPOINT,
                             FIXED + _dt.timedelta(seconds=1))
    with pytest.raises(AssertionError):
        assert_same_as_botocore(sent.method, sent.url, sent.headers, sent.body, later)


# -- errors ----------------------------------------------------------------------------------------

ERRORS = [
    (400, "ValidationException", RequestRejected, 3),
    (403, "AccessDeniedException", AuthError, 3),
    (404, "ResourceNotFoundException", NotFound, 3),
    (409, "ConflictException", Conflict, 3),
    (500, "InternalServerException", OutcomeUnknown, 5),  # the job may have been created: never repeated
]


@pytest.mark.parametrize("status, code, error_type, exit_code", ERRORS, ids=[e[1] for e in ERRORS])
def test_errors_map_to_the_typed_hierarchy(aws_env, no_sleep, status, code, error_type, exit_code):
    body = {"DeviceIds": ["device-abc_1"], "JobType": "REBOOT"}
    headers = {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazonaws.panorama/",
               "x-amzn-RequestId": "req-0001"}
    with responses.RequestsMock() as mock:
        mock.add("POST", ENDPOINT + "/jobs", status=status, json={"Message": f"{code} happened"}, headers=headers)
        with pytest.raises(error_type) as caught:
            list(Runtime().run("panorama.CreateJobForDevices", body, {}))
        # CreateJobForDevices is not idempotent: a 500 may have created the job, so it is not repeated.
        assert len(mock.calls) == 1
    error = caught.value
    assert type(error) is error_type
    assert (error.status, error.code, error.request_id) == (status, code, "req-0001")
    assert f"{code} happened" in error.message
    assert error.exit_code == exit_code

    with responses.RequestsMock() as mock:
        mock.add("POST", ENDPOINT + "/jobs", status=status, json={"Message": f"{code} happened"}, headers=headers)
        result = run_cli("run", "panorama.CreateJobForDevices", "--input", json.dumps(body))
    assert result.code == exit_code
    assert f"error: {error_type.__name__} | HTTP {status} | {code} | request-id req-0001" in result.stderr


def test_internal_error_of_a_read_is_retried_after_the_models_retry_after(aws_env, no_sleep):
    with responses.RequestsMock() as mock:
        mock.add("GET", ENDPOINT + "/jobs/job-1", status=500, headers={"Retry-After": "3"},
                 json={"Message": "busy"})
        mock.add("GET", ENDPOINT + "/jobs/job-1", json={"JobId": "job-1", "Status": "COMPLETED"})
        out = list(Runtime().run("panorama.DescribeDeviceJob", {"JobId": "job-1"}, {}))
        assert len(mock.calls) == 2
    assert out == [{"JobId": "job-1", "Status": "COMPLETED"}]
    assert no_sleep and no_sleep[0] >= 3


def test_process_rebounds_a_server_error_and_reports_a_missing_job(aws_env, no_sleep):
    emitted = []
    with responses.RequestsMock() as mock:
        mock.add("GET", ENDPOINT + "/jobs/gone", status=404, json={"Message": "no such job"})
        process("panorama.DescribeDeviceJob", {"body": {"JobId": "gone"}}, {}, lambda k, d: emitted.append((k, d)))
    assert [kind for kind, _ in emitted] == ["error", "end"]
    assert emitted[0][1]["type"] == "NotFound"


# -- bad input: exit 2, nothing sent ---------------------------------------------------------------

BAD = [
    ("panorama.CreateJobForDevices", {"DeviceIds": ["dev-1", "dev-2"], "JobType": "OTA"}, "DeviceIds", "maxItems"),
    ("panorama.CreateJobForDevices", {"DeviceIds": [], "JobType": "OTA"}, "DeviceIds", "minItems"),
    ("panorama.CreateJobForDevices", {"DeviceIds": ["dev-1"], "JobType": "UPGRADE"}, "JobType", "enum"),
    ("panorama.CreateJobForDevices", {"DeviceIds": ["dev 1"], "JobType": "REBOOT"}, "DeviceIds[0]", "pattern"),
    ("panorama.CreateJobForDevices", {"DeviceIds": ["dev-1\n"], "JobType": "REBOOT"}, "DeviceIds[0]", "pattern"),
    ("panorama.CreateJobForDevices", {"DeviceIds": ["d" * 256], "JobType": "REBOOT"}, "DeviceIds[0]", "maxLength"),
    ("panorama.CreateJobForDevices", {"DeviceIds": ["dev-1"]}, "JobType", "required"),
    ("panorama.CreateJobForDevices", {"DeviceIds": ["dev-1"], "JobType": "OTA",
                                      "DeviceJobConfig": {"OTAJobConfig": {"AllowMajorVersionUpdate": True}}},
     "DeviceJobConfig.OTAJobConfig.ImageVersion", "required"),
    ("panorama.CreateJobForDevices", {"DeviceIds": ["dev-1"], "JobType": "OTA", "Force": True}, "Force",
     "unknown-field"),
    ("panorama.DescribeDeviceJob", {"JobId": "../devices"}, "JobId", "pattern"),
    ("panorama.DescribeDeviceJob", {}, "JobId", "required"),
    ("panorama.ListDevicesJobs", {"MaxResults": 26}, "MaxResults", "maximum"),
    ("panorama.ListDevicesJobs", {"DeviceId": "a/b"}, "DeviceId", "pattern"),
]


@pytest.mark.parametrize("key, body, field, rule", BAD, ids=[f"{b[0].split('.')[1]}-{b[3]}" for b in BAD])
def test_bad_input_is_refused_before_sending(aws_env, key, body, field, rule):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, ENDPOINT + "/jobs", json={})
        result = run_cli("run", key, "--input", json.dumps(body))
        assert len(mock.calls) == 0
    assert result.code == 2
    assert f"field: {field}  rule: {rule}" in result.stderr
    assert f"'{field}'" in result.stderr


# -- paging over real HTTP -------------------------------------------------------------------------

PAGES = {
    None: ({"DeviceJobs": [{"JobId": "job-1", "JobType": "OTA"}, {"JobId": "job-2", "JobType": "REBOOT"}],
            "NextToken": "page/2+="}),
    "page/2+=": {"DeviceJobs": [{"JobId": "job-3", "JobType": "OTA"}, {"JobId": "job-4", "JobType": "OTA"}],
                 "NextToken": "page 3"},
    "page 3": {"DeviceJobs": [{"JobId": "job-5", "JobType": "REBOOT"}]},
}


@pytest.fixture
def paged_service(loopback):
    def answer(request):
        query = dict(parse_qsl(urlsplit(request.path).query, keep_blank_values=True))
        page = PAGES.get(query.get("NextToken"))
        return Reply(200, page) if page else Reply(400, {"message": "bad token"})

    loopback.default = answer
    return loopback


def _tokens_sent(server) -> list:
    return [dict(parse_qsl(urlsplit(r.path).query)).get("NextToken") for r in server.requests]


def _assert_signed_like_botocore(server, body: dict) -> None:
    for recorded in server.requests:
        query = dict(parse_qsl(urlsplit(recorded.path).query))
        params = {**body, **({"NextToken": query["NextToken"]} if "NextToken" in query else {})}
        reference = botocore_request("panorama", "ListDevicesJobs", params, server.url,
                                     amz_date(recorded.headers["X-Amz-Date"]))
        assert_same_as_botocore(recorded.method, server.url + recorded.path, recorded.headers, recorded.body,
                                reference)


@pytest.mark.parametrize("emit, max_pages, messages, tokens", [
    ("fetchAll", None, [{"DeviceJobs": [{"JobId": f"job-{i}", "JobType": t} for i, t in
                                        enumerate(["OTA", "REBOOT", "OTA", "OTA", "REBOOT"], 1)]}],
     [None, "page/2+=", "page 3"]),
    ("fetchPage", None, [PAGES[None]], [None]),
    ("emitIndividually", None, [{"JobId": f"job-{i}", "JobType": t} for i, t in
                                enumerate(["OTA", "REBOOT", "OTA", "OTA", "REBOOT"], 1)],
     [None, "page/2+=", "page 3"]),
    ("fetchAll", 2, [{"DeviceJobs": [{"JobId": f"job-{i}", "JobType": t} for i, t in
                                     enumerate(["OTA", "REBOOT", "OTA", "OTA"], 1)], "NextToken": "page 3"}],
     [None, "page/2+="]),
    ("emitIndividually", 2, [{"JobId": f"job-{i}", "JobType": t} for i, t in
                             enumerate(["OTA", "REBOOT", "OTA", "OTA"], 1)], [None, "page/2+="]),
    ("fetchPage", 2, [PAGES[None]], [None]),
])
def test_list_pages_over_real_http(aws_env, paged_service, emit, max_pages, messages, tokens):
    body = {"DeviceId": "device-abc_1", "MaxResults": 2}
    argv = ["run", "panorama.ListDevicesJobs", "--input", json.dumps(body), "--endpoint", paged_service.url,
            "--emit", emit]
    if max_pages:
        argv += ["--max-pages", str(max_pages)]
    result = run_cli(*argv)
    assert result.code == 0, result.stderr
    assert result.messages == messages
    assert _tokens_sent(paged_service) == tokens
    assert all(r.method == "GET" and urlsplit(r.path).path == "/jobs" for r in paged_service.requests)
    _assert_signed_like_botocore(paged_service, body)


def test_list_emit_behaviour_from_the_step_config(aws_env, paged_service):
    emitted = []
    cfg = {"endpoint": paged_service.url, "emitBehaviour": "emitIndividually", "maxPages": 3}
    process("panorama.ListDevicesJobs", {"body": {}}, cfg, lambda kind, data: emitted.append((kind, data)))
    assert [kind for kind, _ in emitted] == ["data"] * 5 + ["end"]
    assert [data["body"]["JobId"] for kind, data in emitted if kind == "data"] == [f"job-{i}" for i in range(1, 6)]


# -- the retired service ---------------------------------------------------------------------------


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return port


def test_refused_endpoint_says_the_service_was_retired(aws_env, closed_port, no_sleep):
    endpoint = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(ServiceRetired) as caught:
        list(Runtime().run("panorama.DescribeDeviceJob", {"JobId": "job-1"}, {"endpoint": endpoint}))
    error = caught.value
    assert "retired by AWS on 2026-05-31" in error.message
    assert "127.0.0.1" in error.message and "refused" in error.message
    assert (error.code, error.retryable, error.attempts) == ("ServiceRetired", False, 1)
    assert no_sleep == []  # no retry can bring a retired service back

    result = run_cli("run", "panorama.DescribeDeviceJob", "--input", '{"JobId": "job-1"}', "--endpoint", endpoint)
    assert result.code == 4
    assert "error: ServiceRetired | ServiceRetired: panorama was retired by AWS on 2026-05-31" in result.stderr

    emitted = []
    process("panorama.DescribeDeviceJob", {"body": {"JobId": "job-1"}}, {"endpoint": endpoint},
            lambda kind, data: emitted.append((kind, data)))
    assert emitted[0][0] == "error"  # not a rebound: waiting does not help
    assert emitted[0][1]["type"] == "ServiceRetired"


@pytest.fixture
def unresolvable(monkeypatch):
    """The default Panorama endpoint cannot be resolved; no real DNS lookup is made for it."""
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    real = socket.getaddrinfo
    asked = []

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".amazonaws.com"):
            asked.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_unresolvable_endpoint_says_the_service_was_retired(aws_env, unresolvable, no_sleep):
    result = run_cli("run", "panorama.CreateJobForDevices", "--input",
                     '{"DeviceIds": ["device-abc_1"], "JobType": "REBOOT"}')
    assert unresolvable == ["panorama.eu-west-1.amazonaws.com"]  # asked once, not retried
    assert result.code == 4
    assert ("panorama was retired by AWS on 2026-05-31: its endpoint panorama.eu-west-1.amazonaws.com cannot "
            "be reached (the host name could not be resolved)") in result.stderr
    assert "NameResolutionError" not in result.stderr and "Traceback" not in result.stderr
    assert no_sleep == []


def test_connect_timeout_says_the_service_was_retired(aws_env):
    with responses.RequestsMock() as mock:
        mock.add("GET", ENDPOINT + "/jobs", body=requests.exceptions.ConnectTimeout("connect timed out"))
        with pytest.raises(ServiceRetired, match="retired by AWS on 2026-05-31.*connecting timed out"):
            list(Runtime().run("panorama.ListDevicesJobs", {}, {}))
        assert len(mock.calls) == 1


def test_a_service_that_is_not_retired_reports_a_plain_network_error(aws_env, closed_port, no_sleep):
    endpoint = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(NetworkError) as caught:
        list(Runtime().run("codepipeline.PollForThirdPartyJobs", {"actionTypeId": {
            "category": "Deploy", "owner": "ThirdParty", "provider": "MyDeployer", "version": "1"}},
            {"endpoint": endpoint}))
    assert type(caught.value) is NetworkError
    assert "retired" not in caught.value.message
    assert caught.value.attempts == 4  # refused before sending: always safe to try again


def test_an_answering_panorama_endpoint_is_not_called_retired(aws_env):
    with responses.RequestsMock() as mock:
        mock.add("GET", ENDPOINT + "/jobs/job-1", status=404, json={"Message": "not found"})
        with pytest.raises(NotFound):
            list(Runtime().run("panorama.DescribeDeviceJob", {"JobId": "job-1"}, {}))


def test_secret_key_never_reaches_the_output(aws_env, closed_port):
    result = run_cli("run", "panorama.DescribeDeviceJob", "--input", '{"JobId": "job-1"}', "--verbose",
                     "--endpoint", f"http://127.0.0.1:{closed_port}")
    assert FAKE_SECRET_KEY not in result.stderr + result.stdout
