"""Redirects, TLS verification, CA bundles and proxies, over real sockets on loopback.

- Redirects are never followed (lib/http/transport.py sends through requests' adapter, which does not follow
  them): a 3xx to another host
  or to plain HTTP is reported as an unexpected response and the second server never sees a byte.
- TLS verification is always on: a self-signed server is refused (NetworkError "tls", not retried) unless
  AWS_CA_BUNDLE (first) or REQUESTS_CA_BUNDLE names its certificate.
- HTTPS_PROXY / HTTP_PROXY / NO_PROXY are honoured as `requests` reads them. What is true (and tested
  here): loopback addresses are NOT exempt by themselves; NO_PROXY must name the host as the URL writes it
  ("127.0.0.1" does not cover "localhost"), or be "*".
"""

from __future__ import annotations

import pytest

from jobs_connector.base.errors import ConfigurationError, NetworkError, UnexpectedResponse
from jobs_connector.http.retry import RetryPolicy
from jobs_connector.runtime import Runtime
from tests.support.inputs import input_for, last_page, sample_output
from tests.support.proxy import ForwardProxy
from tests.support.rawhttp import RawServer, Respond, free_port
from tests.support.targets import config_for, representatives, run_action
from tests.support.tls import make_self_signed

ACTIONS = representatives()
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy",
              "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "AWS_CA_BUNDLE")


@pytest.fixture(autouse=True)
def no_proxy_or_bundle_from_outside(monkeypatch):
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_self_signed(tmp_path_factory.mktemp("tls"))


def ok_handler(action):
    reply = last_page(action, sample_output(action.out_schema))
    return lambda request: Respond(200, reply)


# -- redirects ------------------------------------------------------------------------------------

@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_is_not_followed(status, action, aws_env, no_sleep):
    with RawServer(host="127.0.0.2") as elsewhere:
        location = f"http://127.0.0.2:{elsewhere.port}/stolen"
        with RawServer(lambda request: Respond(status, b"", {"Location": location})) as server:
            result = run_action(action, input_for(action), config_for(action, server.url))
            assert len(server.requests) == 1
            with pytest.raises(UnexpectedResponse) as caught:
                list(Runtime().run(action.key, input_for(action), config_for(action, server.url)))
        assert elsewhere.connections == 0 and elsewhere.requests == []  # no Authorization ever reached it
    assert result.code == 3 and "redirect" in result.stderr and "Traceback" not in result.stderr
    assert caught.value.status == status and caught.value.attempts == 1 and not caught.value.retryable
    assert no_sleep == []


def test_a_cookie_set_by_one_answer_is_never_sent_with_the_next_call(aws_env):
    action = ACTIONS[0]
    reply = last_page(action, sample_output(action.out_schema))
    headers = {"Set-Cookie": "session=planted-cookie-value; Path=/"}
    with RawServer(lambda request: Respond(200, reply, dict(headers))) as server:
        runtime = Runtime()
        for _ in range(2):
            list(runtime.run(action.key, input_for(action), config_for(action, server.url)))
    assert len(server.requests) == 2
    assert all(name.lower() != "cookie" for request in server.requests for name, _ in request.headers)


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_from_https_to_plain_http_is_not_followed(status, action, aws_env, cert, monkeypatch):
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert.cert_file))
    with RawServer() as plain:
        location = f"http://127.0.0.1:{plain.port}/downgraded"
        with RawServer(lambda request: Respond(status, b"", {"Location": location}),
                       tls=cert.server_context()) as server:
            assert server.url.startswith("https://")
            result = run_action(action, input_for(action), config_for(action, server.url))
            [request] = server.requests
        assert plain.connections == 0
    assert result.code == 3 and f"HTTP {status}" in result.stderr
    assert request.header("Authorization")  # it was sent to the endpoint itself, over TLS, and only there


# -- TLS --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
def test_a_self_signed_server_is_refused(action, aws_env, cert, no_sleep):
    with RawServer(ok_handler(action), tls=cert.server_context()) as server:
        result = run_action(action, input_for(action), config_for(action, server.url))
        with pytest.raises(NetworkError) as caught:
            list(Runtime().run(action.key, input_for(action), config_for(action, server.url)))
        assert server.requests == []  # nothing was sent over the unverified connection
        assert server.connections == 2  # one handshake each, both refused by the client
    assert result.code == 4 and "NetworkError | tls: the TLS certificate could not be verified" in result.stderr
    assert caught.value.code == "tls" and not caught.value.retryable and caught.value.attempts == 1
    assert no_sleep == []


@pytest.mark.parametrize("variable", ["AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"])
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
def test_a_ca_bundle_naming_the_certificate_makes_it_trusted(action, variable, aws_env, cert, monkeypatch):
    monkeypatch.setenv(variable, str(cert.cert_file))
    with RawServer(ok_handler(action), tls=cert.server_context()) as server:
        result = run_action(action, input_for(action), config_for(action, server.url))
        assert len(server.requests) == 1
    assert result.code == 0, result.stderr
    assert len(result.messages) == 1


def test_aws_ca_bundle_comes_before_requests_ca_bundle(aws_env, cert, tmp_path, monkeypatch):
    action = ACTIONS[0]
    other = make_self_signed(tmp_path, "other")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert.cert_file))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other.cert_file))
    with RawServer(ok_handler(action), tls=cert.server_context()) as server:
        assert run_action(action, input_for(action), config_for(action, server.url)).code == 0
    monkeypatch.setenv("AWS_CA_BUNDLE", str(other.cert_file))  # now the wrong one comes first
    with RawServer(ok_handler(action), tls=cert.server_context()) as server:
        result = run_action(action, input_for(action), config_for(action, server.url))
    assert result.code == 4 and "tls" in result.stderr


@pytest.mark.parametrize("variable", ["AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"])
def test_a_ca_bundle_that_does_not_exist_is_a_configuration_error(variable, aws_env, tmp_path, monkeypatch):
    action = ACTIONS[0]
    monkeypatch.setenv(variable, str(tmp_path / "missing.pem"))
    with RawServer(ok_handler(action)) as server:
        result = run_action(action, input_for(action), config_for(action, server.url))
        with pytest.raises(ConfigurationError) as caught:
            list(Runtime().run(action.key, input_for(action), config_for(action, server.url)))
        assert server.connections == 0
    assert result.code == 2 and "internal error" not in result.stderr
    assert caught.value.field == variable and caught.value.attempts == 0


# -- proxies ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
def test_https_proxy_carries_the_call_through_a_connect_tunnel(action, aws_env, cert, monkeypatch):
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert.cert_file))
    with RawServer(ok_handler(action), tls=cert.server_context()) as server, ForwardProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        result = run_action(action, input_for(action), config_for(action, server.url))
        assert result.code == 0, result.stderr
        assert proxy.seen == [f"CONNECT 127.0.0.1:{server.port}"]  # TLS end to end: the proxy sees no more
        [request] = server.requests
        assert request.header("Authorization")


@pytest.mark.parametrize("no_proxy, via_proxy", [(None, True), ("", True), ("localhost", True),
                                                 ("127.0.0.1", False), ("*", False),
                                                 ("example.com,127.0.0.1", False)])
def test_no_proxy_decides_for_loopback_too(no_proxy, via_proxy, aws_env, cert, monkeypatch):
    action = ACTIONS[0]
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert.cert_file))
    with RawServer(ok_handler(action), tls=cert.server_context()) as server, ForwardProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        if no_proxy is not None:
            monkeypatch.setenv("NO_PROXY", no_proxy)
        result = run_action(action, input_for(action), config_for(action, server.url))
        assert result.code == 0, result.stderr
        assert len(server.requests) == 1
        assert (proxy.seen != []) is via_proxy


def test_http_proxy_carries_plain_http_calls(aws_env, monkeypatch):
    action = ACTIONS[0]
    with RawServer(ok_handler(action)) as server, ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        result = run_action(action, input_for(action), config_for(action, server.url))
        assert result.code == 0, result.stderr
        [seen] = proxy.seen
        assert seen.startswith(f"{server.requests[0].method} http://127.0.0.1:{server.port}/")


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
def test_an_unreachable_proxy_is_named_and_retried_for_every_action(action, aws_env, cert, monkeypatch, no_sleep):
    """The call never reached the service, so retrying is safe even for a non-idempotent action."""
    monkeypatch.setenv("AWS_CA_BUNDLE", str(cert.cert_file))
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{free_port()}")
    with RawServer(ok_handler(action), tls=cert.server_context()) as server:
        with pytest.raises(NetworkError) as caught:
            list(Runtime().run(action.key, input_for(action), config_for(action, server.url)))
        assert server.connections == 0
    assert caught.value.code == "proxy" and caught.value.attempts == RetryPolicy().max_attempts


def test_one_transport_follows_the_environment_as_it_changes_between_calls(aws_env, tmp_path, monkeypatch,
                                                                          no_sleep):
    # The proxy and CA-bundle settings are worked out once per host and per value of the variables they
    # come from: a variable set, changed or removed between two calls of one runtime still counts.
    action = ACTIONS[0]
    runtime = Runtime()
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    with RawServer(ok_handler(action)) as server, ForwardProxy() as proxy:
        cfg = config_for(action, server.url)

        def call():
            return list(runtime.run(action.key, input_for(action), cfg))

        def refused_by_the_proxy():
            with pytest.raises(NetworkError) as caught:
                call()
            return caught.value.code == "proxy"

        call()
        monkeypatch.setenv("HTTP_PROXY", dead_proxy)
        assert refused_by_the_proxy()
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        call()
        monkeypatch.delenv("NO_PROXY")
        assert refused_by_the_proxy()
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        call()
        assert proxy.seen and proxy.seen[0].startswith(f"GET http://127.0.0.1:{server.port}/")
        monkeypatch.delenv("HTTP_PROXY")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
        with pytest.raises(ConfigurationError) as caught:
            call()
        assert caught.value.field == "REQUESTS_CA_BUNDLE"
        monkeypatch.delenv("REQUESTS_CA_BUNDLE")
        call()
        assert len(server.requests) == 4
