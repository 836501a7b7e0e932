"""`--state FILE` keeps the sandbox's state across restarts; the CLI starts, prints an eval-able
environment, stops cleanly on SIGTERM, and refuses a bad state file or a busy port."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import requests

from jobs_connector.component.registry import ROOT
from tests.support.cli import run_cli
from tests.support.sandbox import aws, running_sandbox, token_post


def describe_first_job(server) -> dict:
    answer = aws(server, "iot-jobs-data", "GET", "/things/demo-thing/jobs/demo-job-1")
    assert answer.status_code == 200, answer.text
    return answer.json()["execution"]


def test_state_file_survives_a_restart(tmp_path):
    state = tmp_path / "sandbox.json"
    with running_sandbox(state_file=str(state)) as first:
        assert aws(first, "iot-jobs-data", "PUT", "/things/demo-thing/jobs/$next", {}).status_code == 200
        doomed = token_post(first, "/identity/v2/job/list", {}).json()["results"][0]["job_id"]
        assert token_post(first, "/identity/v2/job/delete", {"job_id": doomed}).status_code == 200
        saved = json.loads(state.read_text())
    assert saved["format"] == "jobs-connector-sandbox/1"
    assert saved["services"]["iot-jobs-data"]["things"]["demo-thing"]["demo-job-1"]["status"] == "IN_PROGRESS"

    with running_sandbox(state_file=str(state)) as second:
        execution = describe_first_job(second)
        assert (execution["status"], execution["versionNumber"]) == ("IN_PROGRESS", 2)
        assert token_post(second, "/identity/v2/job/get", {"job_id": doomed}).status_code == 404
    assert [p.name for p in tmp_path.iterdir()] == ["sandbox.json"]  # no temporary file left behind


def test_without_a_state_file_a_restart_starts_afresh():
    with running_sandbox() as first:
        aws(first, "iot-jobs-data", "PUT", "/things/demo-thing/jobs/$next", {})
        assert describe_first_job(first)["status"] == "IN_PROGRESS"
    with running_sandbox() as second:
        assert describe_first_job(second)["status"] == "QUEUED"


def _start_cli(state, env_file, log_file):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with open(env_file, "w") as out, open(log_file, "w") as err:
        process = subprocess.Popen([sys.executable, "-m", "lib", "sandbox", "--port", "0", "--state", str(state),
                                    "--print-env"], cwd=ROOT, stdout=out, stderr=err, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        lines = open(env_file).read().splitlines()
        if any(line.startswith("export EMBEDTHIS_TOKEN=") for line in lines):
            return process, lines
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise AssertionError(f"the sandbox did not start: {open(log_file).read()}")


def _stop_cli(process) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


@pytest.mark.slow
def test_cli_restart_with_state_file(tmp_path):
    state, env_file, log = tmp_path / "state.json", tmp_path / "env", tmp_path / "log"
    process, lines = _start_cli(state, env_file, log)
    try:
        exports = dict(line[len("export "):].split("=", 1) for line in lines if line.startswith("export "))
        assert exports["AWS_ACCESS_KEY_ID"] == "AKIDSANDBOX000000000"
        assert exports["SPACEONE_ENDPOINT"] == exports["EMBEDTHIS_ENDPOINT"] == exports["AWS_ENDPOINT_URL"]
        assert any(line.startswith("unset ") and "AWS_SESSION_TOKEN" in line for line in lines)
        server = SimpleNamespace(url=exports["AWS_ENDPOINT_URL"])
        assert aws(server, "iot-jobs-data", "PUT", "/things/demo-thing/jobs/$next", {}).status_code == 200
    finally:
        code = _stop_cli(process)
    assert code == 0
    banner = log.read_text()
    assert "listening on http://127.0.0.1:" in banner and "sandbox-secret-key-not-a-real-secret" in banner

    process, lines = _start_cli(state, env_file, log)
    try:
        url = next(line.split("=", 1)[1] for line in lines if line.startswith("export AWS_ENDPOINT_URL="))
        execution = describe_first_job(SimpleNamespace(url=url))
        assert (execution["status"], execution["versionNumber"]) == ("IN_PROGRESS", 2)
    finally:
        assert _stop_cli(process) == 0


def test_print_env_lines_are_eval_able(tmp_path):
    with running_sandbox() as server:
        show = 'echo "$AWS_ENDPOINT_URL $AWS_SECRET_ACCESS_KEY ${AWS_SESSION_TOKEN-unset}"'
        script = "\n".join([*server.shell_lines(), show])
        out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=10,
                             env={**os.environ, "AWS_SESSION_TOKEN": "x", "PATH": os.environ.get("PATH", "")})
    assert out.stdout.split() == [server.url, "sandbox-secret-key-not-a-real-secret", "unset"]


def test_a_bad_state_file_is_refused(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run_cli("sandbox", "--port", "0", "--state", str(broken))
    assert result.code == 2 and "not valid JSON" in result.stderr
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"hello": "world"}')
    result = run_cli("sandbox", "--port", "0", "--state", str(foreign))
    assert result.code == 2 and "not a sandbox state file" in result.stderr


def test_a_busy_port_is_refused_with_advice():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_cli("sandbox", "--port", str(busy.getsockname()[1]))
    assert result.code == 2 and "--port 0" in result.stderr


def test_a_stopped_sandbox_answers_nothing_even_on_a_kept_alive_connection():
    session = requests.Session()
    with running_sandbox() as server:
        assert session.get(f"{server.url}/_sandbox/health", timeout=10).status_code == 200
    with pytest.raises(requests.ConnectionError):
        session.get(f"{server.url}/_sandbox/health", timeout=10)
