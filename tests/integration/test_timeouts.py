"""Per-step timeouts: the step config's connectTimeout/readTimeout and the CLI's --timeout reach the
request (a loopback server that answers late proves the read timeout is the one configured), a waiting
action (embedthis.WaitForTemplate) gets its longer default, and bad values are refused before sending."""

from __future__ import annotations

import time

import pytest

from jobs_connector.base.errors import ConfigurationError, NetworkError
from jobs_connector.component.registry import get_action
from jobs_connector.http.retry import RetryPolicy
from jobs_connector.http.timeouts import parse_cli_timeout, step_timeout
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from tests.support.cli import run_cli
from tests.support.loopback import Reply

TOKEN_CFG = {"embedthisToken": "fake-token-not-real"}


def late(seconds: float):
    return lambda request: time.sleep(seconds) or Reply(200, {"id": "cloud-0001"})


def test_the_configured_read_timeout_is_the_one_the_request_waits(loopback):
    loopback.default = late(1.0)
    runtime = Runtime(Transport(policy=RetryPolicy(max_attempts=1)))
    cfg = {**TOKEN_CFG, "embedthisEndpoint": loopback.url}
    with pytest.raises(NetworkError) as caught:
        list(runtime.run("embedthis.GetCloud", {"id": "cloud-0001"}, {**cfg, "readTimeout": 0.3}))
    assert caught.value.code == "read-timeout"
    # The same call with a read timeout longer than the server's delay gets its answer.
    assert list(runtime.run("embedthis.GetCloud", {"id": "cloud-0001"}, {**cfg, "readTimeout": 3})) == [
        {"id": "cloud-0001"}]


def test_the_cli_timeout_reaches_the_request(loopback, monkeypatch):
    loopback.default = late(1.0)
    monkeypatch.setenv("EMBEDTHIS_ENDPOINT", loopback.url)
    monkeypatch.setenv("EMBEDTHIS_TOKEN", "fake-token-not-real")
    started = time.monotonic()
    done = run_cli("run", "embedthis.GetCloud", "-i", '{"id": "cloud-0001"}', "--timeout", "2,0.2")
    assert done.code == 4 and "did not answer in time" in done.stderr
    assert time.monotonic() - started < 5  # GetCloud is idempotent: a few short attempts, not 30 s each


def test_wait_for_template_waits_longer_by_default():
    default = Transport().timeout
    assert step_timeout({}, get_action("embedthis.WaitForTemplate").spec("READ_TIMEOUT"), default) == (5.0, 600.0)
    assert step_timeout({}, get_action("embedthis.GetCloud").spec("READ_TIMEOUT"), default) == default
    assert step_timeout({"readTimeout": 60}, 600.0, default) == (5.0, 60.0)  # the step's own setting wins


@pytest.mark.parametrize(("cfg", "rule"), [({"readTimeout": 0}, "range"), ({"connectTimeout": -1}, "range"),
                                           ({"readTimeout": "soon"}, "type"), ({"readTimeout": True}, "type"),
                                           ({"readTimeout": 86400}, "range")])
def test_bad_timeouts_are_refused_before_sending(loopback, cfg, rule):
    with pytest.raises(ConfigurationError) as caught:
        list(Runtime().run("embedthis.GetCloud", {"id": "cloud-0001"},
                           {**TOKEN_CFG, "embedthisEndpoint": loopback.url, **cfg}))
    assert (caught.value.field, caught.value.rule) == (next(iter(cfg)), rule)
    assert loopback.requests == []


def test_cli_timeout_forms():
    assert parse_cli_timeout("45") == {"readTimeout": "45"}
    assert parse_cli_timeout("3, 45") == {"connectTimeout": "3", "readTimeout": "45"}
    with pytest.raises(ConfigurationError):
        parse_cli_timeout("1,2,3")
