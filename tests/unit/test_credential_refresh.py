"""Expiring credentials: a profile's `credential_process` (run as the AWS CLI runs it) is asked again when
its credentials are within 5 minutes of their Expiration, before a request is signed with them, never
after a failure; the runtime never hands out expired credentials; the config > environment > profile
order holds; a rotated shared credentials file is read on the next call.

The credential process is a small script written to tmp_path that counts its invocations and numbers
the keys it prints, so every request shows which credentials signed it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import sys
import threading

import pytest

from jobs_connector.base.errors import ConfigurationError
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from tests.conftest import FAKE_ACCESS_KEY
from tests.support.cli import run_cli
from tests.support.inputs import input_for, last_page, sample_output
from tests.support.rawhttp import RawServer, Respond
from tests.support.targets import all_actions

ACTION = next(a for a in all_actions() if a.service.auth == "sigv4" and not a.spec("PAGING"))
T0 = dt.datetime(2026, 11, 23, 12, 0, 0, tzinfo=dt.UTC)

SCRIPT = """\
import json, pathlib, sys
state, spec = pathlib.Path(sys.argv[1]), json.loads(pathlib.Path(sys.argv[2]).read_text())
count = int(state.read_text()) + 1 if state.exists() else 1
state.write_text(str(count))
if spec.get("exit"):
    print("AccessKeyId AKIDLEAKEDBYSTDOUT0 on failure")
    sys.exit(spec["exit"])
if "raw" in spec:
    print(spec["raw"])
    sys.exit(0)
out = {"Version": spec.get("version", 1), "AccessKeyId": f"AKIDPROCESS{count:09d}",
       "SecretAccessKey": f"process-secret-not-real-{count:04d}", "SessionToken": f"process-token-not-real-{count:04d}"}
if spec.get("expiration"):
    out["Expiration"] = spec["expiration"]
print(json.dumps(out))
"""


class Clock:
    def __init__(self, now: dt.datetime = T0):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


class Process:
    """The credential_process of profile 'worker', and what it will print next."""

    def __init__(self, tmp_path, monkeypatch):
        self.script, self.state, self.spec = tmp_path / "creds.py", tmp_path / "count", tmp_path / "spec.json"
        self.script.write_text(SCRIPT)
        self.config = tmp_path / "config"
        command = " ".join(shlex.quote(str(p)) for p in (sys.executable, self.script, self.state, self.spec))
        self.config.write_text(f"[profile worker]\ncredential_process = {command}\nregion = eu-west-1\n")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(self.config))
        monkeypatch.setenv("AWS_PROFILE", "worker")
        self.set()

    def set(self, expires: dt.datetime | None = None, **spec) -> None:
        if expires is not None:
            spec["expiration"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.spec.write_text(json.dumps(spec))

    @property
    def runs(self) -> int:
        return int(self.state.read_text()) if self.state.exists() else 0


@pytest.fixture
def process(tmp_path, monkeypatch):
    return Process(tmp_path, monkeypatch)


@pytest.fixture
def server():
    reply = last_page(ACTION, sample_output(ACTION.out_schema))
    with RawServer(lambda request: Respond(200, reply)) as running:
        yield running


def key_of(request) -> str:
    return re.search(r"Credential=([^/]+)/", request.header("Authorization")).group(1)


def call(runtime: Runtime, server, **kw) -> list:
    return list(runtime.run(ACTION.key, input_for(ACTION), {"endpoint": server.url}, **kw))


def test_credential_process_signs_the_call_and_is_kept_until_near_expiry(process, server):
    process.set(expires=T0 + dt.timedelta(hours=1))
    runtime = Runtime(clock=Clock())
    call(runtime, server)
    call(runtime, server)
    assert process.runs == 1  # kept: far from its expiry
    first = server.requests[0]
    assert key_of(first) == "AKIDPROCESS000000001"
    assert first.header("X-Amz-Security-Token") == "process-token-not-real-0001"


def test_refreshed_within_five_minutes_of_expiration_before_the_call(process, server):
    process.set(expires=T0 + dt.timedelta(hours=1))
    clock = Clock()
    runtime = Runtime(clock=clock)
    call(runtime, server)
    clock.now = T0 + dt.timedelta(minutes=54)  # 6 minutes left: still used
    call(runtime, server)
    assert process.runs == 1
    process.set(expires=T0 + dt.timedelta(hours=2))
    clock.now = T0 + dt.timedelta(minutes=56)  # 4 minutes left: fetched again before signing
    call(runtime, server)
    assert process.runs == 2
    assert [key_of(r) for r in server.requests] == ["AKIDPROCESS000000001"] * 2 + ["AKIDPROCESS000000002"]
    assert len(server.requests) == 3  # no request failed first


def test_refreshed_between_two_attempts_of_one_call(process):
    """A retry (or the next page) is signed anew, with credentials asked for again."""
    process.set(expires=T0 + dt.timedelta(minutes=6))
    clock = Clock()

    def backoff(seconds: float) -> None:  # the wait between the attempts, made two minutes long
        clock.now += dt.timedelta(minutes=2)

    answers = iter([Respond(503, {"message": "busy"})])
    reply = last_page(ACTION, sample_output(ACTION.out_schema))
    trace: list[str] = []
    with RawServer(lambda request: next(answers, None) or Respond(200, reply)) as server:
        call(Runtime(transport=Transport(sleep=backoff), clock=clock), server, trace=trace.append)
        keys = [key_of(r) for r in server.requests]
    assert keys == ["AKIDPROCESS000000001", "AKIDPROCESS000000002"]
    assert process.runs == 2
    shown = "\n".join(trace)
    for n in (1, 2):  # the renewed credentials are redacted too
        assert f"process-secret-not-real-{n:04d}" not in shown and f"process-token-not-real-{n:04d}" not in shown
        assert f"AKIDPROCESS00000000{n}" not in shown


def test_credentials_already_expired_at_the_source_are_refused_before_any_request(process, server):
    process.set(expires=T0 - dt.timedelta(seconds=1))
    with pytest.raises(ConfigurationError) as caught:
        call(Runtime(clock=Clock()), server)
    assert caught.value.rule == "expired" and server.requests == []


def test_without_expiration_they_are_kept(process, server):
    runtime = Runtime(clock=Clock())
    for _ in range(3):
        call(runtime, server)
    assert process.runs == 1


def test_sixteen_threads_start_the_process_once(process, server):
    process.set(expires=T0 + dt.timedelta(hours=1))
    runtime = Runtime(clock=Clock())
    threads = [threading.Thread(target=call, args=(runtime, server)) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert process.runs == 1 and len(server.requests) == 16


@pytest.mark.parametrize("spec, problem", [
    ({"exit": 3}, "failed with exit code 3"),
    ({"raw": "AccessKeyId=AKIDLEAKEDBYSTDOUT0 not json"}, "did not print a JSON object"),
    ({"raw": json.dumps({"Version": 2, "AccessKeyId": "AKIDLEAKEDBYSTDOUT0", "SecretAccessKey": "x"})},
     "Version other than 1"),
    ({"raw": json.dumps({"Version": 1, "AccessKeyId": "AKIDLEAKEDBYSTDOUT0"})},
     "did not print AccessKeyId and SecretAccessKey"),
    ({"raw": json.dumps({"Version": 1, "AccessKeyId": "AKIDLEAKEDBYSTDOUT0", "SecretAccessKey": "s",
                         "Expiration": "soon"})}, "not an ISO 8601 time"),
])
def test_a_failing_process_is_a_configuration_error_that_quotes_nothing(spec, problem, process, server):
    process.set(**spec)
    result = run_cli("run", ACTION.key, "--input", json.dumps(input_for(ACTION)), "--endpoint", server.url)
    assert result.code == 2 and problem in result.stderr, result.stderr
    assert "AKIDLEAKEDBYSTDOUT0" not in result.stderr + result.stdout
    assert "field: credential_process" in result.stderr
    assert server.requests == []


def test_the_cli_uses_the_profile_process(process, server):
    process.set(expires=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    result = run_cli("run", ACTION.key, "--input", json.dumps(input_for(ACTION)), "--endpoint", server.url)
    assert result.code == 0, result.stderr
    assert key_of(server.requests[0]) == "AKIDPROCESS000000001"


# -- the order: config > environment > profile (credentials file keys > credential_process > config keys)

def test_config_keys_and_environment_keys_come_before_the_process(process, server, monkeypatch):
    runtime = Runtime(clock=Clock())
    list(runtime.run(ACTION.key, input_for(ACTION), {"endpoint": server.url, "accessKeyId": "AKIDFROMCONFIG000000",
                                                       "secretAccessKey": "config-secret-not-real"}))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-not-real")
    monkeypatch.delenv("AWS_PROFILE")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    call(runtime, server)
    assert [key_of(r) for r in server.requests] == ["AKIDFROMCONFIG000000", FAKE_ACCESS_KEY]
    assert process.runs == 0


def test_profile_keys_in_the_credentials_file_come_before_the_process(process, server, tmp_path, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.write_text("[worker]\naws_access_key_id = AKIDFROMFILE00000001\n"
                           "aws_secret_access_key = file-secret-not-real\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    call(Runtime(clock=Clock()), server)
    assert key_of(server.requests[0]) == "AKIDFROMFILE00000001" and process.runs == 0


def test_the_process_comes_before_keys_in_the_config_file(process, server):
    text = process.config.read_text()
    process.config.write_text(text + "aws_access_key_id = AKIDINCONFIGFILE0001\naws_secret_access_key = s-not-real\n")
    call(Runtime(clock=Clock()), server)
    assert key_of(server.requests[0]) == "AKIDPROCESS000000001"


def test_a_rotated_credentials_file_is_read_on_the_next_call(server, tmp_path, monkeypatch):
    credentials = tmp_path / "credentials"
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    runtime = Runtime()
    for key in ("AKIDROTATED000000001", "AKIDROTATED000000002"):
        credentials.write_text(f"[default]\naws_access_key_id = {key}\naws_secret_access_key = rotated-not-real\n"
                               "aws_session_token = rotated-token-not-real\n")
        call(runtime, server)
    assert [key_of(r) for r in server.requests] == ["AKIDROTATED000000001", "AKIDROTATED000000002"]
