"""--log-format json over the CLI as a process, for `watch` and `ipaas` (serve's lines are checked by
tests/integration/test_secrets_scan.py and test_webhooks_metrics.py): every stderr line is one JSON object
with its fields, and a planted secret the service echoes never shows, in JSON or in text."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jobs_connector.component.registry import ROOT
from tests.support.loopback import LoopbackServer, Reply

SECRETS = {"AWS_ACCESS_KEY_ID": "AKIDPLANTEDJSONLOG01", "AWS_SECRET_ACCESS_KEY": "planted-json-log-secret-key-01",
           "AWS_SESSION_TOKEN": "planted-json-log-session-01", "SPACEONE_API_KEY": "planted-json-spaceone-01",
           "ELASTICIO_API_KEY": "planted-json-platform-key-01"}


def run(argv: list[str], **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ELASTICIO_", "JOBS_CONNECTOR_"))}
    return subprocess.run([sys.executable, "-m", "lib", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**base, **SECRETS, "AWS_REGION": "eu-west-1", "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                               "AWS_CONFIG_FILE": os.devnull, **env})


def no_secret(text: str, names=tuple(SECRETS)) -> None:
    assert [name for name in names if SECRETS[name] in text] == []


@pytest.fixture
def echoing_api():
    """Refuses every call, quoting each planted value and giving a request id."""
    server = LoopbackServer(Reply(403, {"__type": "AccessDeniedException",
                                        "message": "denied " + " ".join(SECRETS.values())},
                                  {"x-amzn-RequestId": "req-json-log-0001"})).start()
    yield server
    server.stop()


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_watch_says_its_error_as_one_json_line_with_the_trigger_and_request_id(echoing_api, log_format):
    done = run(["watch", "iot-jobs-data.newPendingJobExecution", "--config", '{"thingName": "demo-thing"}', "--once",
                "--log-format", log_format], AWS_ENDPOINT_URL_IOT_JOBS_DATA=echoing_api.url)
    assert done.returncode == 3, done.stderr
    assert done.stdout == ""
    no_secret(done.stderr, [name for name in SECRETS if not name.startswith("ELASTICIO_")])  # not watch's
    if log_format == "text":  # as before: the line itself
        assert done.stderr.startswith("error: AuthError | HTTP 403") and "req-json-log-0001" in done.stderr
        return
    [line] = [json.loads(text) for text in done.stderr.splitlines()]
    assert line["level"] == "ERROR" and line["message"].startswith("error: AuthError | HTTP 403")
    assert line["action"] == "iot-jobs-data.newPendingJobExecution" and line["request_id"] == "req-json-log-0001"


def test_ipaas_service_call_logs_json_lines(loopback):
    done = run(["ipaas", "getMetaModel", "--log-format", "json"], ELASTICIO_POST_RESULT_URL=loopback.url,
               ELASTICIO_ACTION_OR_TRIGGER="iot-jobs-data.DescribeJobExecution", ELASTICIO_CFG="{}", LOG_LEVEL="DEBUG")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(text) for text in done.stderr.splitlines()]  # every line parses
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert any(line["message"] == "getMetaModel: success" and line["level"] == "INFO" for line in lines)
    assert json.loads(loopback.requests[0].body)["status"] == "success"
    no_secret(done.stderr)
