"""Property-based: for generated valid inputs of every AWS action, the request we send equals the one boto3
sends for the same input: method, path (percent-encoding included), query parameters, the headers that
matter, the JSON body (parsed and byte for byte) and, with the same clock and credentials, the signature.

Inputs come from our in-schemas (tests/support/strategies.py); boto3's request is captured at its
`before-send` event and never sent. Idempotency tokens are set explicitly (boto3 would fill a random
one), and boto3 is given the bytes our base64 blob strings stand for.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from jobs_connector.auth.keys import AwsCredentials
from jobs_connector.auth.sigv4 import SigV4
from jobs_connector.component.registry import get_action
from jobs_connector.http.protocols import HttpRequest, build_request
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from tests.conftest import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FAKE_SESSION_TOKEN, REGION
from tests.support.aws_model import aws_action_keys, idempotency_token_members, operation_model
from tests.support.boto3_capture import ENDPOINT, Boto3Capture
from tests.support.hypothesis_profiles import GENERATED_CASES, conformance_settings
from tests.support.strategies import input_strategy

KEYS = aws_action_keys()
NOW = dt.datetime(2026, 3, 14, 15, 9, 26, tzinfo=dt.UTC)
# A fixed token, valid for every idempotency-token member of the models (printable ASCII, 36 characters).
TOKEN = "00000000-0000-4000-8000-000000000000"
HEADERS_THAT_MATTER = ("X-Amz-Target", "Content-Type", "X-Amz-Date", "X-Amz-Security-Token", "Authorization")

_CAPTURES: dict = {}


def capture(with_token: bool) -> Boto3Capture:
    if with_token not in _CAPTURES:
        _CAPTURES[with_token] = Boto3Capture(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, REGION,
                                             FAKE_SESSION_TOKEN if with_token else None)
    return _CAPTURES[with_token]


@pytest.fixture
def frozen_botocore_clock(monkeypatch):
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda remove_tzinfo=True: NOW.replace(tzinfo=None))


def query_pairs(url: str) -> Counter:
    query = urlsplit(url).query
    return Counter(tuple(pair.partition("=")[::2]) for pair in query.split("&")) if query else Counter()


def header(headers, name: str) -> str | None:
    value = headers.get(name)
    return value.decode("utf-8") if isinstance(value, bytes) else value


def body_bytes(body) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def ours(key: str, body: dict, with_token: bool):
    action = get_action(key)
    creds = AwsCredentials(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FAKE_SESSION_TOKEN if with_token else None)
    signer = SigV4(creds, REGION, action.service.signing_name, clock=lambda: NOW)
    body = Runtime().prepare_input(action, body)  # validates it, as a run does
    return Transport().prepare(build_request(action, body, ENDPOINT), signer)


def differences(key: str, body: dict, with_token: bool) -> list[str]:
    mine = ours(key, body, with_token)
    theirs = capture(with_token).request(key, body)
    found = []
    if mine.method != theirs.method:
        found.append(f"method {mine.method} != {theirs.method}")
    if urlsplit(mine.url).path != urlsplit(theirs.url).path:
        found.append(f"path {urlsplit(mine.url).path} != {urlsplit(theirs.url).path}")
    if query_pairs(mine.url) != query_pairs(theirs.url):
        found.append(f"query {urlsplit(mine.url).query} != {urlsplit(theirs.url).query}")
    for name in HEADERS_THAT_MATTER:
        if header(mine.headers, name) != header(theirs.headers, name):
            found.append(f"{name} {header(mine.headers, name)} != {header(theirs.headers, name)}")
    mine_body, their_body = body_bytes(mine.body), body_bytes(theirs.body)
    if mine_body != their_body:
        found.append(f"body {mine_body!r} != {their_body!r}")
        if (json.loads(mine_body) if mine_body else None) != (json.loads(their_body) if their_body else None):
            found.append("the bodies differ as JSON too")
    return found


@pytest.mark.parametrize("key", KEYS)
def test_request_equals_boto3s(key, aws_env, frozen_botocore_clock):
    action = get_action(key)
    tokens = idempotency_token_members(operation_model(key).input_shape)

    @conformance_settings()
    @given(body=input_strategy(action.in_schema), with_token=st.booleans())
    def check(body, with_token):
        GENERATED_CASES[f"request equality ({action.service_name})"] += 1
        body = {**body, **{name: TOKEN for name in tokens if name not in body}}
        assert differences(key, body, with_token) == []

    check()


# --- hand-picked cases the generator may not reach, and proof the comparison can fail -------------

def test_path_and_query_encoding_equal_boto3s(aws_env, frozen_botocore_clock):
    key = "iot-jobs-data.DescribeJobExecution"
    if key not in KEYS:
        pytest.skip(f"{key} is not in component.json")
    body = {"thingName": "a:b_c-D", "jobId": "$next", "includeJobDocument": False, "executionNumber": 7}
    assert differences(key, body, with_token=True) == []
    mine = ours(key, body, with_token=True)
    assert urlsplit(mine.url).path == "/things/a%3Ab_c-D/jobs/%24next"  # reserved characters encoded
    assert sorted(query_pairs(mine.url)) == [("executionNumber", "7"), ("includeJobDocument", "false")]


def test_the_comparison_sees_a_changed_body(aws_env, frozen_botocore_clock, monkeypatch):
    key = "iot-jobs-data.UpdateJobExecution"
    if key not in KEYS:
        pytest.skip(f"{key} is not in component.json")
    body = {"thingName": "t", "jobId": "j", "status": "SUCCEEDED", "statusDetails": {"k": "v"}}
    assert differences(key, body, False) == []
    import jobs_connector.http.protocols

    real = jobs_connector.http.protocols._json_body
    # Same JSON, other bytes: caught as a byte difference only.
    monkeypatch.setattr(jobs_connector.http.protocols, "_json_body",
                        lambda members: json.dumps(members, separators=(",", ":")).encode())
    found = differences(key, body, False)
    assert any(line.startswith("body ") for line in found) and "the bodies differ as JSON too" not in found
    # Another member: caught as a JSON difference, and the signature differs with it.
    monkeypatch.setattr(jobs_connector.http.protocols, "_json_body", lambda members: real({**members, "extra": 1}))
    found = differences(key, body, False)
    assert "the bodies differ as JSON too" in found
    assert any(line.startswith("Authorization") for line in found)


def test_the_comparison_sees_a_changed_path_encoding(aws_env, frozen_botocore_clock, monkeypatch):
    key = "iot-jobs-data.DescribeJobExecution"
    if key not in KEYS:
        pytest.skip(f"{key} is not in component.json")
    import jobs_connector.http.protocols

    real = jobs_connector.http.protocols.percent_encode
    monkeypatch.setattr(jobs_connector.http.protocols, "percent_encode",
                        lambda value, safe="-._~": real(value, safe=safe + ":$"))
    found = differences(key, {"thingName": "a:b", "jobId": "$next"}, False)
    assert any(line.startswith("path /things/a:b/jobs/$next") for line in found), found


# --- blobs: the string we send is the one boto3 sends for the same bytes ---------------------------

BLOB_SCHEMA = {"type": "object", "properties": {"b": {"type": "string", "contentEncoding": "base64"}},
               "additionalProperties": False}


@pytest.mark.parametrize("value", ["QR==", "AQ=", "AQ", "A Q==", "AQ==\n", "not base64!", "\u00e9"])
def test_a_blob_that_is_not_canonical_base64_is_refused(value):
    """'QR==' decodes to the byte boto3 would send as 'AQ==': only the canonical form is the same request."""
    from jobs_connector.base.errors import BadInput
    from jobs_connector.validation import validate_input

    with pytest.raises(BadInput) as caught:
        validate_input(BLOB_SCHEMA, {"b": value})
    assert (caught.value.field, caught.value.rule) == ("b", "contentEncoding")


@pytest.mark.parametrize("value", ["", "AA==", "AQI=", "AQID", "+/+/"])
def test_canonical_base64_is_accepted(value):
    from jobs_connector.validation import validate_input

    validate_input(BLOB_SCHEMA, {"b": value})


def test_a_blob_reaches_the_wire_as_boto3_sends_it(aws_env, frozen_botocore_clock):
    key = "iot-jobs-data.StartCommandExecution"
    if key not in KEYS:
        pytest.skip(f"{key} is not in component.json")
    body = {"targetArn": "arn:t", "commandArn": "arn:c", "clientToken": TOKEN,
            "parameters": {"p": {"BIN": "AQID/w=="}, "q": {"S": "x", "B": True}}}
    assert differences(key, body, with_token=False) == []
    assert json.loads(ours(key, body, False).body)["parameters"]["p"]["BIN"] == "AQID/w=="


# --- integers: what boto3 refuses, we refuse before sending -----------------------------------------

def test_an_integral_float_for_an_integer_member_is_refused(aws_env):
    """JSON Schema counts 5.0 as an integer; boto3 refuses it for a long, and we would send 'executionNumber=5.0'."""
    from botocore.exceptions import ParamValidationError

    from jobs_connector.base.errors import BadInput

    key = "iot-jobs-data.DescribeJobExecution"
    if key not in KEYS:
        pytest.skip(f"{key} is not in component.json")
    body = {"thingName": "t", "jobId": "j", "executionNumber": 5.0}
    with pytest.raises(ParamValidationError):
        capture(False).request(key, body)
    with pytest.raises(BadInput) as caught:
        Runtime().prepare_input(get_action(key), body)
    assert (caught.value.field, caught.value.rule) == ("executionNumber", "type")
    Runtime().prepare_input(get_action(key), {**body, "executionNumber": 5})


@pytest.mark.parametrize("url", [
    "https://data.jobs.iot.eu-west-1.amazonaws.com/things/demo%20thing/jobs/$next?includeJobDocument=true",
    "https://bücher.example/things/ünïcode path/jobs?q=a b&r=%41",
    "http://127.0.0.1:8080//double//slashes/../dot?a=1&a=2",
    "https://[::1]:4443/things/t/jobs",
])
def test_a_url_prepared_again_is_the_one_requests_prepares(url):
    """Transport.prepare remembers prepared URLs: the second preparation of a URL (from that memory) is the
    first one, and both are what requests itself makes of it."""
    transport = Transport()
    expected = requests.Request("GET", url).prepare().url
    first = transport.prepare(HttpRequest("GET", url), None)
    again = transport.prepare(HttpRequest("GET", url), None)
    assert first.url == again.url == expected
    assert transport._prepared_urls[url] == expected  # the second came from the memory


def test_a_url_requests_refuses_is_refused_every_time_and_not_remembered():
    transport = Transport()
    for _ in range(2):
        with pytest.raises(requests.exceptions.InvalidURL):
            transport.prepare(HttpRequest("GET", "http://"), None)
    assert transport._prepared_urls == {}
