"""The local runner: list, describe, run with --dry-run and --verbose, and what it never shows."""

import json
import subprocess
import sys

from jobs_connector.component.registry import ROOT, component
from tests.conftest import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FAKE_SESSION_TOKEN
from tests.support.cli import run_cli
from tests.support.loopback import Reply

SECRETS = (FAKE_ACCESS_KEY, FAKE_SECRET_KEY, FAKE_SESSION_TOKEN)


def test_list_shows_every_action():
    result = run_cli("list")
    assert result.code == 0
    actions_part, triggers_part = result.stdout.split("\n\n", 1)
    listed = [line.split()[0] for line in actions_part.splitlines()]
    assert listed == list(component()["actions"])
    assert [line.split()[0] for line in triggers_part.splitlines()[1:]] == list(component()["triggers"])
    as_json = json.loads(run_cli("list", "--json").stdout)
    assert [a["action"] for a in as_json] == listed
    triggers = json.loads(run_cli("list", "--json", "--triggers").stdout)
    assert [t["trigger"] for t in triggers] == list(component()["triggers"])


def test_describe_shows_inputs_rules_outputs_and_example(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # describe wraps to the terminal: a wide one keeps each rule on one line
    result = run_cli("describe", "iot-jobs-data.UpdateJobExecution")
    assert result.code == 0
    out = result.stdout
    assert "POST /things/{thingName}/jobs/{jobId}" in out
    assert "* status" in out and "one of QUEUED | IN_PROGRESS | SUCCEEDED" in out
    assert "* thingName" in out and "max length 128" in out and "pattern ^(?:[a-zA-Z0-9:_-]+)$" in out
    assert "executionState.versionNumber" in out
    assert "jobs-connector run iot-jobs-data.UpdateJobExecution --input '{" in out
    info = json.loads(run_cli("describe", "iot-jobs-data.UpdateJobExecution", "--json").stdout)
    assert {i["field"] for i in info["inputs"] if i["required"]} == {"thingName", "jobId", "status"}
    assert info["idempotent"] is False


def test_describe_unknown_action_exit_2():
    assert run_cli("describe", "nope.Nothing").code == 2


def test_dry_run_prints_signed_request_without_secrets(aws_env, monkeypatch, loopback):
    monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_SESSION_TOKEN)
    result = run_cli("run", "iot-jobs-data.UpdateJobExecution", "--dry-run", "--endpoint", loopback.url,
                     "--input", '{"thingName": "t", "jobId": "j", "status": "SUCCEEDED"}')
    assert result.code == 0, result.stderr
    assert loopback.requests == []
    shown = json.loads(result.stdout)
    assert shown["method"] == "POST" and shown["url"] == loopback.url + "/things/t/jobs/j"
    assert shown["body"] == {"status": "SUCCEEDED"}
    auth = shown["headers"]["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=***/") and auth.endswith("Signature=***")
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token" in auth
    assert shown["headers"]["X-Amz-Security-Token"] == "***"
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr


def test_verbose_logs_requests_and_answers_without_secrets(aws_env, monkeypatch, loopback, no_sleep):
    monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_SESSION_TOKEN)
    loopback.script += [Reply(503, {"message": "busy"}, {"x-amzn-RequestId": "r-1"}),
                        Reply(200, {"execution": {"jobId": "j", "status": "QUEUED"}})]
    result = run_cli("run", "iot-jobs-data.DescribeJobExecution", "--verbose", "--endpoint", loopback.url,
                     "--input", '{"thingName": "t", "jobId": "j"}')
    assert result.code == 0, result.stderr
    err = result.stderr
    assert "> GET " + loopback.url + "/things/t/jobs/j  (attempt 1)" in err
    assert "< HTTP 503" in err and "retrying in" in err and "(attempt 2)" in err
    assert '"status": "QUEUED"' in err
    assert "Signature=***" in err and "X-Amz-Security-Token: ***" in err
    # the signature actually sent must not appear either
    sent_signature = loopback.requests[0].headers["Authorization"].rsplit("=", 1)[1]
    for secret in (*SECRETS, sent_signature):
        assert secret not in err and secret not in result.stdout
    assert result.messages == [{"execution": {"jobId": "j", "status": "QUEUED"}}]


def test_input_from_file_and_stdin(aws_env, loopback, tmp_path):
    body = tmp_path / "body.json"
    body.write_text('{"thingName": "from-file"}')
    assert run_cli("run", "iot-jobs-data.GetPendingJobExecutions", "--input", f"@{body}",
                   "--endpoint", loopback.url).code == 0
    proc = subprocess.run([sys.executable, "-m", "lib", "run", "iot-jobs-data.GetPendingJobExecutions",
                           "--input", "-", "--endpoint", loopback.url], input='{"thingName": "from-stdin"}',
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [r.path for r in loopback.requests] == ["/things/from-file/jobs", "/things/from-stdin/jobs"]
    assert json.loads(proc.stdout) == {}


def test_missing_input_file(aws_env):
    result = run_cli("run", "iot-jobs-data.GetPendingJobExecutions", "--input", "@/nonexistent/body.json")
    assert result.code == 2 and "input file /nonexistent/body.json cannot be read" in result.stderr


def test_config_flag_supplies_credentials(loopback):
    cfg = json.dumps({"accessKeyId": FAKE_ACCESS_KEY, "secretAccessKey": FAKE_SECRET_KEY, "region": "us-west-2",
                      "endpoint": loopback.url})
    result = run_cli("run", "iot-jobs-data.GetPendingJobExecutions", "--config", cfg, "--input", '{"thingName": "t"}')
    assert result.code == 0, result.stderr
    assert "/us-west-2/iot-jobs-data/aws4_request" in loopback.requests[0].headers["Authorization"]


def test_python_dash_m_lib_and_console_script_agree():
    proc = subprocess.run([sys.executable, "-m", "lib", "list"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0 and "iot-jobs-data.GetPendingJobExecutions" in proc.stdout
