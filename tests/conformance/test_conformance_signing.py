"""Our SigV4 Authorization header equals botocore.auth.SigV4Auth's for the same request and clock.

Each canonicalisation rule lib/auth/sigv4.py corrects in aws-requests-auth is named by a test below that
also shows the plain `AWSRequestsAuth` computing another signature for that request (so the correction
is needed, and the test would fail without it).
"""

from __future__ import annotations

import datetime as dt
import types
from urllib.parse import urlsplit

import pytest
import requests
from aws_requests_auth import aws_auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from jobs_connector.auth.keys import AwsCredentials
from jobs_connector.auth.sigv4 import SigV4
from tests.conftest import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FAKE_SESSION_TOKEN, REGION

NOW = dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
SERVICE = "iot-jobs-data"


@pytest.fixture(autouse=True)
def frozen_clocks(monkeypatch):
    """botocore's and aws-requests-auth's clocks read NOW (ours is given it)."""
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda remove_tzinfo=True: NOW.replace(tzinfo=None))

    class _Clock(dt.datetime):
        @classmethod
        def utcnow(cls):
            return NOW.replace(tzinfo=None)

    monkeypatch.setattr(aws_auth, "datetime", types.SimpleNamespace(datetime=_Clock))


def _prepared(method, url, headers, body) -> requests.PreparedRequest:
    """A request exactly as given: no URL normalisation by requests, so edge cases reach the signer."""
    prepared = requests.PreparedRequest()
    prepared.method, prepared.url, prepared.body = method, url, body
    prepared.headers = requests.structures.CaseInsensitiveDict(headers)
    return prepared


def ours(method, url, headers=None, body=None, token=None) -> str:
    signer = SigV4(AwsCredentials(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, token), REGION, SERVICE, clock=lambda: NOW)
    return signer(_prepared(method, url, headers or {}, body)).headers["Authorization"]


def botocores(method, url, headers=None, body=None, token=None) -> str:
    data = body.encode("utf-8") if isinstance(body, str) else body
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=data)
    SigV4Auth(Credentials(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, token), SERVICE, REGION).add_auth(request)
    return request.headers["Authorization"]


def plain(method, url, headers=None, body=None, token=None, host=None) -> str:
    """aws-requests-auth as documented: the host given when the signer is made."""
    signer = aws_auth.AWSRequestsAuth(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, host or urlsplit(url).netloc, REGION,
                                      SERVICE, token)
    return signer(_prepared(method, url, headers or {}, body)).headers["Authorization"]


JSON = {"Content-Type": "application/json"}
CASES = {
    "GET, no query": ("GET", "https://data.jobs.iot.eu-west-1.amazonaws.com/things/t-1/jobs", {}, None),
    "query keys that are prefixes of each other": (
        "GET", "https://h.example.com/jobs?ab=3&a-b=2&a=1&a_b=4&a.b=5", {}, None),
    "repeated keys, values out of order": ("GET", "https://h.example.com/x?k=2&k=10&k=1&j=", {}, None),
    "encoded unicode and reserved characters in the query": (
        "GET", "https://h.example.com/x?NextToken=a%20b%2Fc~d%2B%C3%A9%3D&z=%E2%9C%93", {}, None),
    "a query key without a value": ("GET", "https://h.example.com/x?flag&a=1", {}, None),
    "reserved characters in path parameters": (
        "GET", "https://h.example.com/things/a%3Ab%2Fc/jobs/%24next", {}, None),
    "unicode in the path": ("GET", "https://h.example.com/things/%C3%A9t%C3%A9/jobs", {}, None),
    "a raw unicode path": ("GET", "https://h.example.com/caf\u00e9/x", {}, None),
    "dot segments": ("GET", "https://h.example.com/a/./b/../c/", {}, None),
    "repeated slashes": ("GET", "https://h.example.com/a//b///c", {}, None),
    "an empty path": ("GET", "https://h.example.com", {}, None),
    "a non-default port": ("GET", "https://h.example.com:8443/x", {}, None),
    "the default port written out": ("GET", "https://h.example.com:443/x", {}, None),
    "an IPv6 loopback host with a port": ("GET", "http://[::1]:8080/x", {}, None),
    "an upper-case host": ("GET", "https://H.Example.COM/x", {}, None),
    "a unicode JSON body (str)": ("POST", "https://h.example.com/things/t/jobs/j", JSON,
                                  '{"statusDetails": {"k": "d\u00e9j\u00e0 vu \u2713"}}'),
    "a unicode JSON body (bytes)": ("POST", "https://h.example.com/things/t/jobs/j", JSON,
                                    '{"k": "\u00e9\u2713\U0001f600"}'.encode()),
    "json-1.1 headers": ("POST", "https://codepipeline.eu-west-1.amazonaws.com/",
                         {"X-Amz-Target": "CodePipeline_20150709.PollForThirdPartyJobs",
                          "Content-Type": "application/x-amz-json-1.1"}, b'{"maxBatchSize": 1}'),
    "header values with runs of spaces": ("POST", "https://h.example.com/x",
                                          {"Content-Type": "  application/json ", "X-Amz-Meta": "a   b  c"}, b"{}"),
    "an empty body on PUT": ("PUT", "https://h.example.com/things/t/jobs/$next", {}, b""),
}


@pytest.mark.parametrize("token", [None, FAKE_SESSION_TOKEN], ids=["no-token", "session-token"])
@pytest.mark.parametrize("case", list(CASES))
def test_authorization_equals_botocores(case, token):
    method, url, headers, body = CASES[case]
    assert ours(method, url, headers, body, token) == botocores(method, url, headers, body, token)


# --- each correction of aws-requests-auth, named ---------------------------------------------------

@pytest.mark.parametrize(("rule", "case"), [
    ("path: dot segments removed", "dot segments"),
    ("path: repeated slashes folded", "repeated slashes"),
    ("query: pairs sorted by (key, value), not as 'key=value' strings", "query keys that are prefixes of each other"),
    ("headers: every header the request carries is signed", "json-1.1 headers"),
    ("host: the default port is dropped", "the default port written out"),
])
def test_each_correction_is_needed(rule, case):
    method, url, headers, body = CASES[case]
    reference = botocores(method, url, headers, body)
    assert ours(method, url, headers, body) == reference, rule
    assert plain(method, url, headers, body) != reference, f"aws-requests-auth already does: {rule}"


def test_host_keeps_a_non_default_port():
    """aws-requests-auth signs the host it was configured with; we sign the request's, port included."""
    method, url, headers, body = CASES["a non-default port"]
    reference = botocores(method, url, headers, body)
    assert ours(method, url, headers, body) == reference
    assert plain(method, url, headers, body, host="h.example.com") != reference


def test_no_unsigned_payload_hash_header():
    """aws-requests-auth adds x-amz-content-sha256 (an S3 header); botocore does not, nor do we."""
    method, url, headers, body = CASES["json-1.1 headers"]
    signer = SigV4(AwsCredentials(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FAKE_SESSION_TOKEN), REGION, SERVICE,
                   clock=lambda: NOW)
    signed = signer(_prepared(method, url, headers, body))
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    SigV4Auth(Credentials(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FAKE_SESSION_TOKEN), SERVICE, REGION).add_auth(request)
    assert {k.lower(): v for k, v in signed.headers.items()} == {
        k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    plain_signed = aws_auth.AWSRequestsAuth(FAKE_ACCESS_KEY, FAKE_SECRET_KEY, urlsplit(url).netloc, REGION,
                                            SERVICE, FAKE_SESSION_TOKEN)(_prepared(method, url, headers, body))
    assert "x-amz-content-sha256" in {k.lower() for k in plain_signed.headers}


def test_the_plain_signer_agrees_where_no_correction_is_claimed():
    """Sanity of the comparison: for a GET with sorted plain keys, all three agree."""
    method, url, headers, body = CASES["GET, no query"]
    assert ours(method, url) == botocores(method, url) == plain(method, url)


def test_a_different_clock_gives_a_different_signature():
    method, url, headers, body = CASES["GET, no query"]
    later = SigV4(AwsCredentials(FAKE_ACCESS_KEY, FAKE_SECRET_KEY), REGION, SERVICE,
                  clock=lambda: NOW + dt.timedelta(seconds=1))
    assert later(_prepared(method, url, {}, None)).headers["Authorization"] != botocores(method, url)
